// A runner, and so a signer, cannot be made for an arbitrary scope: only from a catalogue
// entry's instance (`Runner::for_instance`).
use migrations::core_types::parse_struct_tag;
use migrations::{Runner, Target};

fn main() {
    let _runner = Runner::new(parse_struct_tag("0x1::Epoch::Epoch").unwrap(), Target::Everyone);
}
