//! Parses the input as an Aptos-based snapshot's `state.manifest`: no panic, bounded allocation,
//! one-line errors; a manifest that parses keeps its promises (records numbered from 0 without
//! gap, keys in order, handles inside the backup).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_manifest(data);
});
