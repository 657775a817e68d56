//! Reads the input as a JSON Lines state (plain or gzipped): no panic, bounded allocation,
//! one-line errors naming the file; every entry's key a canonical state key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_jsonl(data);
});
