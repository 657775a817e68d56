// A signer cannot be written as a struct literal: its field is private.
use migrations::core_types::parse_struct_tag;
use migrations::{PrivilegedSigner, Scope, Target};

fn main() {
    let scope = Scope { tag: parse_struct_tag("0x1::Epoch::Epoch").unwrap(), target: Target::AnyUser, retires: None };
    let _signer = PrivilegedSigner { scope };
}
