//! A snapshot of a real small chain with a header forged from the input (height, settings,
//! schedule) and re-signed (see `devnet_fuzz::check_header`): verify refuses a height beyond
//! the devnet's highest, and an imported chain is refused with one line of bad input or
//! produces its next block.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = devnet_fuzz::check_header(data);
});
