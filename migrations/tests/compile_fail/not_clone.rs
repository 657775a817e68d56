// A lent signer cannot be copied into one the migration owns.
use migrations::runner::Prepared;
use migrations::{PrivilegedSigner, Runner};

fn keep_a_copy(runner: &Runner, prepared: &Prepared) -> PrivilegedSigner {
    runner.with_signer(prepared, |signer| PrivilegedSigner::clone(signer))
}

fn main() {}
