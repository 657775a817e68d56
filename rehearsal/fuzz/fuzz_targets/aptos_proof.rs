//! Parses the input as a `state.proof`: no panic, bounded allocation, errors inside the input;
//! a proof that parses is checked against any root without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_proof(data);
});
