// A signer cannot be written as a struct literal: its field is private.
use binary_format::AddressLength;
use migrations::{PrivilegedSigner, Scope, StructTag, SystemAccounts, Target};

fn main() {
    let scope = Scope { tag: StructTag::parse("0x1::Epoch::Epoch", AddressLength::Bytes16).unwrap(), target: Target::AnyUser, retires: None, system: SystemAccounts::default(), tables: Vec::new() };
    let _signer = PrivilegedSigner { scope };
}
