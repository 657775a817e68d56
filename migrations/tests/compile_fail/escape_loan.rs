// A lent signer cannot outlive the loan.
use migrations::core_types::parse_struct_tag;
use migrations::{Runner, Target};

fn main() {
    let runner = Runner::new(parse_struct_tag("0x1::Epoch::Epoch").unwrap(), Target::System);
    let kept = runner.with_signer(|signer| signer);
    let _ = kept.scope();
}
