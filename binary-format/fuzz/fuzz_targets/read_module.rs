//! Parses the input with every address length and every detail level, and with `read_module` and
//! `read_layouts`; checks errors, allocation, and the serialize/parse identity of full parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| binary_format_fuzz::check_read(data));
