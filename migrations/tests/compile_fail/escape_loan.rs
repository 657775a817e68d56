// A lent signer cannot outlive the loan.
use migrations::Runner;

fn keep_the_loan(runner: &Runner) {
    let kept = runner.with_signer(|signer| signer);
    let _ = kept.scope();
}

fn main() {}
