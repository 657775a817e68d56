// A lent signer cannot be copied into one the migration owns.
use migrations::{PrivilegedSigner, Runner};

fn keep_a_copy(runner: &Runner) -> PrivilegedSigner {
    runner.with_signer(|signer| PrivilegedSigner::clone(signer))
}

fn main() {}
