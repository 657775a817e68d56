//! Reads the input as a release container (module bundle, Aptos release bundle, Sui package
//! snapshot): no panic, bounded allocation, a one-line reason when it is none; what decodes holds
//! only modules, and a bundle encodes back to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rehearsal_fuzz::check_container(data);
});
