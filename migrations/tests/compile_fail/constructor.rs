// A signer cannot be made with its constructor: it is crate-private, for the runner only.
use binary_format::AddressLength;
use migrations::{PrivilegedSigner, Scope, StructTag, SystemAccounts, Target};

fn main() {
    let scope = Scope { tag: StructTag::parse("0x1::Epoch::Epoch", AddressLength::Bytes16).unwrap(), target: Target::AnyUser, retires: None, system: SystemAccounts::default(), tables: Vec::new() };
    let _signer = PrivilegedSigner::new(scope);
}
