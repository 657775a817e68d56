//! `--chain auto`: which chain a release pair ships to, decided from what the releases show, with
//! the reason said.
//!
//! In order of strength: a Sui package snapshot or the Sui flavor byte in a module's version
//! word; an Aptos release bundle (`.mrb`); Sui's framework modules (`0x2::object`,
//! `0x2::tx_context`) or Aptos's (`0x1::account`, `0x1::code`) at their addresses; then the
//! address width: 16 bytes is the Diem family, 32 bytes without Sui's marks is Aptos-based. The
//! new release decides when the two disagree (it is what ships).

use super::Chain;
use binary_format::{Address, AddressLength, Module, ModuleId};
use releases::containers::ContainerKind;

/// What a release shows about its chain.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub kind: Option<ContainerKind>,
    pub address_length: Option<AddressLength>,
    pub modules: &'a [&'a Module],
}

fn has(modules: &[&Module], address: u64, name: &str) -> bool {
    let id = ModuleId::new(Address::from_u64(address), name);
    modules.iter().any(|m| m.id() == id)
}

/// The chain one release points to, and why; `None` when it shows nothing.
fn decide_one(e: &Evidence<'_>) -> Option<(Chain, String)> {
    if e.kind == Some(ContainerKind::SuiSnapshot) {
        return Some((Chain::Sui, "a Sui package snapshot".to_owned()));
    }
    if let Some(m) = e.modules.iter().find(|m| m.bytecode_version.is_sui()) {
        return Some((Chain::Sui, format!("the Sui flavor byte in {}'s bytecode version", m.id())));
    }
    if e.kind == Some(ContainerKind::AptosReleaseBundle) {
        return Some((Chain::Aptos, "an Aptos release bundle (.mrb)".to_owned()));
    }
    if has(e.modules, 2, "object") || has(e.modules, 2, "tx_context") {
        return Some((Chain::Sui, "Sui's framework modules at 0x2 (object, tx_context)".to_owned()));
    }
    match e.address_length {
        Some(AddressLength::Bytes16) => Some((Chain::Diem, "16-byte addresses (the Diem family)".to_owned())),
        Some(AddressLength::Bytes32) if has(e.modules, 1, "account") || has(e.modules, 1, "code") => {
            Some((Chain::Aptos, "32-byte addresses with Aptos's framework modules at 0x1".to_owned()))
        }
        Some(AddressLength::Bytes32) => {
            Some((Chain::Aptos, "32-byte addresses without Sui's marks (Aptos-based)".to_owned()))
        }
        Some(AddressLength::Bytes20) => Some((Chain::Diem, "20-byte addresses (a Diem-style Move build)".to_owned())),
        None => None,
    }
}

/// The chain of `old` -> `new`, and the sentence saying why.
pub fn decide(old: &Evidence<'_>, new: &Evidence<'_>) -> (Chain, String) {
    match (decide_one(old), decide_one(new)) {
        (_, Some((c, why))) => (c, format!("auto: {why}")),
        (Some((c, why)), None) => (c, format!("auto: {why} (old release)")),
        (None, None) => (Chain::Diem, "auto: nothing points to a chain; the seed's Diem family assumed".to_owned()),
    }
}
