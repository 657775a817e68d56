//! Writes the input to a scratch file and runs `read_info`, `verify` and `import` on it, as it is,
//! re-signed and resealed (see `devnet_fuzz::check_snapshot`): no panic, one-line errors naming the
//! file, and a verified snapshot holds valid struct tags and imports to a store with its root, count
//! and per-tag counts, which exports again to the same info.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    devnet_fuzz::check_snapshot(data);
});
