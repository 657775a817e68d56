//! The one BCS reader over arbitrary bytes: a scripted program of its methods, a struct tag in
//! every width, or a value of one of a few layouts checked against the derived plans (the first
//! byte picks which; see `binary_format_fuzz::bcs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| binary_format_fuzz::bcs::check_bcs(data));
