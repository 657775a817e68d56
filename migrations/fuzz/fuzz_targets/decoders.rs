//! The decoders built on the one BCS reader over arbitrary bytes: a struct tag in every width, or
//! a value of one of a few layouts checked against the derived plans (the first byte picks which;
//! see `migrations_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    migrations_fuzz::check_decoders(data);
});
