//! The one BCS reader over arbitrary bytes: a scripted program of its methods (see
//! `binary_format_fuzz::bcs`). Struct tags and values are `decoders` in `migrations/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| binary_format_fuzz::bcs::check_program(data));
