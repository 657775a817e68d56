// A lent signer cannot be copied into one the migration owns.
use migrations::core_types::parse_struct_tag;
use migrations::{PrivilegedSigner, Runner, Target};

fn main() {
    let runner = Runner::new(parse_struct_tag("0x1::Epoch::Epoch").unwrap(), Target::System);
    let _owned: PrivilegedSigner = runner.with_signer(|signer| PrivilegedSigner::clone(signer));
}
