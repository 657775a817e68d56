//! Parses the input (if UTF-8) as a devnet manifest (the JSON a chain keeps in its store): no panic, and a manifest that parses,
//! written back with `serde_json`, parses again to an equal one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    devnet_fuzz::check_manifest(data);
});
