#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Least privilege: outside this crate, a `PrivilegedSigner` cannot be built (by struct literal
//! or by its constructor), copied, or kept past the runner's loan. Each case under
//! `tests/compile_fail` must fail to compile with the error committed beside it.

#[test]
fn the_privileged_signer_cannot_be_built_or_kept_outside_the_crate() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
