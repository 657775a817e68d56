//! Splits the input into modules (before each magic) and runs `detect_address_length` on them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| binary_format_fuzz::check_detect(data));
