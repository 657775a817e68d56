//! `--chain auto`: which chain a release pair ships to, decided from what the releases show, with
//! the reason said.
//!
//! In order of strength:
//! 1. what the caller knows besides the releases ([`Hint`]: the rehearsal's state is an
//!    Aptos-format backup, which only Aptos-based chains write);
//! 2. a Sui package snapshot, or the Sui flavor byte in a module's version word;
//! 3. an Aptos release bundle (`.mrb`);
//! 4. Sui's framework modules at 0x2 (`object`, `tx_context`);
//! 5. 16-byte addresses: the Diem family (Diem, Libra, 0L before its Aptos-based framework). This
//!    comes before the module names below so that no Diem-family release is taken for Aptos by a
//!    name: Diem-family frameworks name their modules in CamelCase (`DiemAccount`, our stdlib's
//!    `Account`), Aptos's in snake_case;
//! 6. the Aptos framework's own modules at 0x1 (`account`, `code`, `object`, `fungible_asset`,
//!    `resource_account`, `aptos_governance`, and libra-framework's `diem_governance`,
//!    `ol_account`, ...), none of which Sui (whose 0x1 is the Move stdlib only) or a Diem-family
//!    framework has. This decides bare modules, whose address width is not known;
//! 7. 32-byte addresses without Sui's marks: Aptos-based; 20-byte ones: a Diem-style build.
//!
//! The new release decides when the two disagree (it is what ships); a hint, which is about the
//! chain rather than one release, decides before either.

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

/// What the caller knows about the chain besides the releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// The state the old release was read from is an Aptos-format backup (its state-snapshot
    /// manifest and chunks): only Aptos-based chains (Aptos, 0L's libra-framework) write one.
    AptosBackup,
}

impl Hint {
    pub fn chain(self) -> Chain {
        match self {
            Hint::AptosBackup => Chain::Aptos,
        }
    }

    /// Why it points to its chain, as the report says it.
    pub fn reason(self) -> &'static str {
        match self {
            Hint::AptosBackup => "the state is an Aptos-format backup (Aptos-based chains write it)",
        }
    }
}

/// Modules of the Aptos framework (and of 0L's libra-framework, built from it) at 0x1 that no
/// Sui release (0x1 holds the Move stdlib: `vector`, `option`, ...) and no Diem-family framework
/// (CamelCase names) has.
const APTOS_FRAMEWORK_MODULES: &[&str] = &[
    "account",
    "aptos_account",
    "aptos_coin",
    "aptos_governance",
    "code",
    "diem_governance",
    "fungible_asset",
    "libra_coin",
    "object",
    "ol_account",
    "resource_account",
    "transaction_context",
];

/// How many of the names found the reason quotes.
const QUOTED: usize = 4;

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
    if e.address_length == Some(AddressLength::Bytes16) {
        return Some((Chain::Diem, "16-byte addresses (the Diem family)".to_owned()));
    }
    let aptos: Vec<&str> = APTOS_FRAMEWORK_MODULES.iter().copied().filter(|n| has(e.modules, 1, n)).collect();
    if !aptos.is_empty() {
        let mut names = aptos.iter().take(QUOTED).copied().collect::<Vec<_>>().join(", ");
        if aptos.len() > QUOTED {
            names.push_str(&format!(" and {} more", aptos.len() - QUOTED));
        }
        let width = if e.address_length == Some(AddressLength::Bytes32) { ", 32-byte addresses" } else { "" };
        return Some((Chain::Aptos, format!("the Aptos framework's modules at 0x1 ({names}){width}")));
    }
    match e.address_length {
        Some(AddressLength::Bytes32) => {
            Some((Chain::Aptos, "32-byte addresses without Sui's marks (Aptos-based)".to_owned()))
        }
        Some(AddressLength::Bytes20) => Some((Chain::Diem, "20-byte addresses (a Diem-style Move build)".to_owned())),
        Some(AddressLength::Bytes16) | None => None,
    }
}

/// The chain of `old` -> `new`, and the sentence saying why.
pub fn decide(old: &Evidence<'_>, new: &Evidence<'_>) -> (Chain, String) {
    decide_with(None, old, new)
}

/// The chain of `old` -> `new` with what the caller knows besides the releases, and the sentence
/// saying why.
pub fn decide_with(hint: Option<Hint>, old: &Evidence<'_>, new: &Evidence<'_>) -> (Chain, String) {
    if let Some(h) = hint {
        return (h.chain(), format!("auto: {}", h.reason()));
    }
    match (decide_one(old), decide_one(new)) {
        (_, Some((c, why))) => (c, format!("auto: {why}")),
        (Some((c, why)), None) => (c, format!("auto: {why} (old release)")),
        (None, None) => (Chain::Diem, "auto: nothing points to a chain; the seed's Diem family assumed".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::text;

    fn modules(t: &str) -> Vec<Module> {
        text::parse(t).unwrap()
    }

    fn evidence<'a>(ms: &'a [&'a Module], width: Option<AddressLength>) -> Evidence<'a> {
        Evidence { kind: None, address_length: width, modules: ms }
    }

    fn decided(t: &str, width: Option<AddressLength>) -> (Chain, String) {
        let owned = modules(t);
        let ms: Vec<&Module> = owned.iter().collect();
        let e = evidence(&ms, width);
        decide(&e, &e)
    }

    /// libra-framework's own modules (0L's Aptos-based framework), as the rehearsal sees them:
    /// bare modules, no container, no width.
    const LIBRA_FRAMEWORK: &str = "module 0x1::account (bytecode v6)\n  struct Account has key\n    n: u64\n\
        module 0x1::diem_governance (bytecode v6)\n  public fun vote()\n\
        module 0x1::ol_account (bytecode v6)\n  public fun transfer()\n\
        module 0x1::vector (bytecode v6)\n  public fun length()\n";
    /// A Diem-family framework (0L before v7, our stdlib): CamelCase modules at 0x1.
    const DIEM_FRAMEWORK: &str = "module 0x1::DiemAccount (bytecode v4)\n  struct Balance has key\n    n: u64\n\
        module 0x1::Account (bytecode v4)\n  struct Account has key\n    n: u64\n\
        module 0x1::Vector (bytecode v4)\n  public fun length()\n";
    /// Sui's framework without the flavor byte (v6 modules): the stdlib at 0x1, `object` at 0x2.
    const SUI_FRAMEWORK: &str = "module 0x1::vector (bytecode v6)\n  public fun length()\n\
        module 0x2::object (bytecode v6)\n  struct UID has store\n    id: address\n\
        module 0x2::tx_context (bytecode v6)\n  struct TxContext has drop\n    n: u64\n";

    #[test]
    fn aptos_based_frameworks_are_recognised_from_their_modules_and_say_so() {
        let (chain, why) = decided(LIBRA_FRAMEWORK, None);
        assert_eq!(chain, Chain::Aptos);
        assert_eq!(why, "auto: the Aptos framework's modules at 0x1 (account, diem_governance, ol_account)");
        let (chain, why) = decided(LIBRA_FRAMEWORK, Some(AddressLength::Bytes32));
        assert_eq!(chain, Chain::Aptos);
        assert!(why.ends_with("ol_account), 32-byte addresses"), "{why}");
        // Many names: the first four, and how many more.
        let aptos: String = APTOS_FRAMEWORK_MODULES
            .iter()
            .map(|n| format!("module 0x1::{n} (bytecode v6)\n  public fun f()\n"))
            .collect();
        let (_, why) = decided(&aptos, None);
        assert!(why.contains("(account, aptos_account, aptos_coin, aptos_governance and 8 more)"), "{why}");
    }

    #[test]
    fn diem_family_and_sui_frameworks_are_recognised_as_before() {
        // 16-byte addresses decide the Diem family whatever the names.
        assert_eq!(decided(DIEM_FRAMEWORK, Some(AddressLength::Bytes16)).0, Chain::Diem);
        assert_eq!(decided(LIBRA_FRAMEWORK, Some(AddressLength::Bytes16)).0, Chain::Diem);
        // CamelCase names are no Aptos framework: bare Diem-family modules decide nothing.
        assert_eq!(
            decided(DIEM_FRAMEWORK, None),
            (Chain::Diem, "auto: nothing points to a chain; the seed's Diem family assumed".to_owned())
        );
        for width in [None, Some(AddressLength::Bytes32)] {
            let (chain, why) = decided(SUI_FRAMEWORK, width);
            assert_eq!(chain, Chain::Sui);
            assert!(why.contains("Sui's framework modules at 0x2"), "{why}");
        }
        // Our own stdlib, as the checker loads it.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/releases");
        for v in ["v1", "v2", "v3"] {
            let r = releases::load(&root.join(v), releases::LoadOptions::default()).unwrap();
            let ms: Vec<&Module> = r.modules.iter().map(|m| &m.module).collect();
            let with_width = Evidence { kind: Some(r.kind), address_length: Some(r.address_length), modules: &ms };
            assert_eq!(decide(&with_width, &with_width).0, Chain::Diem, "{v}");
            let bare = evidence(&ms, None);
            assert_eq!(decide(&bare, &bare).0, Chain::Diem, "{v} as bare modules");
        }
    }

    #[test]
    fn a_hint_of_the_states_format_decides_before_the_releases() {
        let owned = modules(DIEM_FRAMEWORK);
        let ms: Vec<&Module> = owned.iter().collect();
        let bare = evidence(&ms, None);
        let (chain, why) = decide_with(Some(Hint::AptosBackup), &bare, &bare);
        assert_eq!(chain, Chain::Aptos);
        assert_eq!(why, "auto: the state is an Aptos-format backup (Aptos-based chains write it)");
        // Without it the same modules decide nothing.
        assert_eq!(decide_with(None, &bare, &bare).0, Chain::Diem);
        // With Aptos modules too, the hint is what the reason names.
        let libra = modules(LIBRA_FRAMEWORK);
        let ls: Vec<&Module> = libra.iter().collect();
        let e = evidence(&ls, Some(AddressLength::Bytes32));
        assert!(decide_with(Some(Hint::AptosBackup), &e, &e).1.contains("Aptos-format backup"));
    }
}
