//! Decodes the input as a resource group's value: no panic, bounded allocation; a value that
//! decodes encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_group(data);
});
