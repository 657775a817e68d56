// A runner, and so a signer, cannot be made for an arbitrary scope: only from a catalogue
// entry's instance (`Runner::for_instance`).
use binary_format::AddressLength;
use migrations::{Runner, StructTag, SystemAccounts, Target};

fn main() {
    let _runner = Runner::new(StructTag::parse("0x1::Epoch::Epoch", AddressLength::Bytes16).unwrap(), Target::Everyone, SystemAccounts::default());
}
