//! Declarations files: any text, parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| upgrade_spec_fuzz::check_declarations(data));
