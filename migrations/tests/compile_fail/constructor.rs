// A signer cannot be made with its constructor: it is crate-private, for the runner only.
use migrations::core_types::parse_struct_tag;
use migrations::{PrivilegedSigner, Scope, Target};

fn main() {
    let scope = Scope { tag: parse_struct_tag("0x1::Epoch::Epoch").unwrap(), target: Target::AnyUser, retires: None };
    let _signer = PrivilegedSigner::new(scope);
}
