//! Registry files: any text, parsed and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stdlib_fuzz::check_registry(data));
