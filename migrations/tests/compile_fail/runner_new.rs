// A runner, and so a signer, cannot be made for an arbitrary scope: only from a catalogue
// entry (`Runner::new` takes a catalogue and an entry's id), never from its parts.
use migrations::{Runner, SystemAccounts, Target};

fn main() {
    let _runner = Runner { target: Target::Everyone, system: SystemAccounts::default() };
}
