// A lent signer cannot outlive the loan.
use migrations::runner::Prepared;
use migrations::Runner;

fn keep_the_loan(runner: &Runner, prepared: &Prepared) {
    let kept = runner.with_signer(prepared, |signer| signer);
    let _ = kept.scope();
}

fn main() {}
