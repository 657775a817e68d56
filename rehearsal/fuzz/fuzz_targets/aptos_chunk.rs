//! Reads the input as a chunk file (plain or gzipped) of `(StateKey, StateValue)` records: no
//! panic, bounded allocation, one-line errors naming the file; every record that parses writes
//! back byte for byte, and the records, written as a backup, read back equal with the root
//! verified.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_chunk(data);
});
