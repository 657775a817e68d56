//! Registry files: any text, parsed and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| upgrade_spec_fuzz::check_registry(data));
