//! Every rule a chain's own upgrade check applies, as data: a typed id, the chain, the upgrade
//! paths (policies) that apply it, what the chain calls the failure, what it means, the chain's
//! source that implements it, and a minimal example that is also its test fixture.
//!
//! The rules are restated from the chains' public code (named in `source`); `docs/chains.md`
//! is generated from this table and a test keeps the two equal. Every rule *rejects*: a rule that
//! fires on a module makes the chain refuse the upgrade.
//!
//! Examples are the body of module `0x1::M` (empty: no module); a first line `@v6` (or
//! `@v7, sui`) sets the bytecode version, otherwise the chain's usual one is used; further
//! modules follow as `module ...` lines; `// body f=1` makes function `f`'s body load 1 instead
//! of 0.

use super::protocol::{self, ProtocolGate};
use super::{Chain, Policy};
use serde::{Serialize, Serializer};
use std::fmt;

/// How the chain classifies a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainClass {
    /// Struct and public function linking: callers compiled against the old module fail.
    Linking,
    /// Struct layout: stored values no longer decode.
    Layout,
    /// Entry function linking: transactions calling the function fail.
    EntryLinking,
    /// Enum variants: Sui refuses new variants.
    Variants,
    /// The package as a whole (a module dropped, a new module with `init`).
    Package,
    /// Sui's inclusion checks (`additive`, `dep-only`): the module's code must be contained.
    Inclusion,
}

impl ChainClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainClass::Linking => "linking",
            ChainClass::Layout => "layout",
            ChainClass::EntryLinking => "entry-linking",
            ChainClass::Variants => "variants",
            ChainClass::Package => "package",
            ChainClass::Inclusion => "inclusion",
        }
    }
}

/// One rule of a chain's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainRule {
    pub id: ChainRuleId,
    pub chain: Chain,
    /// The upgrade paths that apply it.
    pub policies: &'static [Policy],
    pub class: ChainClass,
    /// When the rule rejects.
    pub summary: &'static str,
    /// The chain's code that implements it (`repository: path`).
    pub source: &'static str,
    /// Old and new body of the example module (also the rule's test fixture).
    pub example: (&'static str, &'static str),
    /// The Sui protocol versions the rule applies at on a user-package path (`None`: every
    /// version). The framework path does not depend on the protocol version.
    pub protocol: Option<ProtocolGate>,
}

impl ChainRule {
    /// Whether the rule applies on `policy` at protocol `version` (`None`: the chain has no
    /// protocol versions, or the newest is meant).
    pub fn applies(&self, policy: Policy, version: Option<u64>) -> bool {
        if !self.policies.contains(&policy) {
            return false;
        }
        match (self.protocol, version) {
            (Some(gate), Some(v)) if protocol::versioned(policy) => gate.contains(v),
            (Some(gate), None) if protocol::versioned(policy) => gate.contains(protocol::SUI_NEWEST),
            _ => true,
        }
    }
}

const DIEM_CHECKER: &str =
    "diem/diem: language/move-binary-format/src/compatibility.rs (normalized view: normalized.rs; run on republish by language/move-vm/runtime/src/runtime.rs)";
const APTOS_A1: &str = "lotuscommunity/diem (0L's Aptos-based VM): third_party/move/move-binary-format/src/compatibility.rs, called from aptos-move/aptos-vm/src/aptos_vm.rs with friend linking off (TREAT_FRIEND_AS_PRIVATE)";
const APTOS_CODE: &str = "0LNetworkCommunity/libra-framework: framework/libra-framework/sources/code.move (publish_package, EMODULE_MISSING); aptos-labs/aptos-core: aptos-move/framework/aptos-framework/sources/code.move";
const SUI_CHECKER: &str = "MystenLabs/sui: external-crates/move/crates/move-binary-format/src/compatibility.rs (Compatibility, presets framework_upgrade_check and upgrade_check)";
const SUI_FRAMEWORK: &str = "MystenLabs/sui: crates/sui-framework/src/lib.rs (compare_system_package)";
const SUI_UPGRADE: &str =
    "MystenLabs/sui: sui-execution/latest/sui-adapter/src/programmable_transactions/execution.rs (check_compatibility)";
const SUI_LINKAGE: &str = "MystenLabs/sui: sui-execution/latest/sui-adapter/src/static_programmable_transactions/linkage/single_linkage.rs (reject_existing_module_added_init_facts, behind enable_init_on_upgrade)";
const SUI_CHECKER_LOOSE: &str = "MystenLabs/sui: external-crates/move/crates/move-binary-format/src/compatibility.rs (type parameters compatible when only loosened), as sui-execution/v0/sui-adapter/src/programmable_transactions/execution.rs ran it before disallow_change_struct_type_params_on_upgrade";
const SUI_INCLUSION: &str =
    "MystenLabs/sui: external-crates/move/crates/move-binary-format/src/compatibility.rs (InclusionCheck: Subset for additive, Equal for dep-only)";

use Policy::{Additive, Compatible, DepOnly, Framework};
const DIEM_C: &[Policy] = &[Compatible];
const APTOS_C: &[Policy] = &[Compatible];
const SUI_ALL_CHECKS: &[Policy] = &[Framework, Compatible];
const SUI_FW: &[Policy] = &[Framework];
const SUI_USER: &[Policy] = &[Compatible];
const SUI_USER_ALL: &[Policy] = &[Compatible, Additive, DepOnly];
const SUI_INCL: &[Policy] = &[Additive, DepOnly];
const SUI_EQ: &[Policy] = &[DepOnly];

macro_rules! chain_rules {
    (@gate) => { None };
    (@gate $gate:expr) => { Some($gate) };
    ($($variant:ident = $id:literal, $chain:ident, $policies:ident, $class:ident, $summary:literal, $source:expr, $old:literal, $new:literal $(, protocol $gate:expr)?;)*) => {
        /// The id of a chain rule, serialized as its stable kebab-case id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ChainRuleId {
            $(#[doc = $summary] $variant,)*
        }

        impl ChainRuleId {
            /// Every chain rule, in documentation order.
            pub const ALL: &'static [ChainRuleId] = &[$(ChainRuleId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ChainRuleId::$variant => $id,)*
                }
            }

            pub fn rule(self) -> &'static ChainRule {
                match self {
                    $(ChainRuleId::$variant => {
                        const RULE: ChainRule = ChainRule {
                            id: ChainRuleId::$variant,
                            chain: Chain::$chain,
                            policies: $policies,
                            class: ChainClass::$class,
                            summary: $summary,
                            source: $source,
                            example: ($old, $new),
                            protocol: chain_rules!(@gate $($gate)?),
                        };
                        &RULE
                    })*
                }
            }
        }
    };
}

chain_rules! {
    // ---- Diem, Libra and 0L before its Aptos-based framework: the VM's republish check ----
    DiemStructMissing = "diem-struct-missing", Diem, DIEM_C, Linking,
        "A struct of the old module is missing from the new one.", DIEM_CHECKER,
        "struct S has key\n    a: u64\n  struct T has key\n    b: u64", "struct S has key\n    a: u64";
    DiemStructAbilityLost = "diem-struct-ability-lost", Diem, DIEM_C, Linking,
        "A struct lost an ability (gaining any, `key` included, is fine).", DIEM_CHECKER,
        "struct S has store, key\n    a: u64", "struct S has key\n    a: u64";
    DiemStructTparamCount = "diem-struct-tparam-count", Diem, DIEM_C, Linking,
        "A struct's number of type parameters changed.", DIEM_CHECKER,
        "struct S<T0> has key\n    a: u64", "struct S<T0, T1> has key\n    a: u64";
    DiemStructTparamUnphantom = "diem-struct-tparam-unphantom", Diem, DIEM_C, Linking,
        "A phantom type parameter became non-phantom (making one phantom is fine).", DIEM_CHECKER,
        "struct S<phantom T0> has key\n    a: u64", "struct S<T0> has key\n    a: u64";
    DiemStructTparamConstraintAdded = "diem-struct-tparam-constraint-added", Diem, DIEM_C, Linking,
        "A struct type parameter gained a constraint (dropping one is fine).", DIEM_CHECKER,
        "struct S<T0> has key\n    a: u64", "struct S<T0: copy> has key\n    a: u64";
    DiemStructFields = "diem-struct-fields", Diem, DIEM_C, Layout,
        "A struct's fields differ: names, types and order are compared (added, removed, reordered, renamed or retyped).", DIEM_CHECKER,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: bool";
    DiemFnExposedMissing = "diem-fn-exposed-missing", Diem, DIEM_C, Linking,
        "A public, script or friend function was removed or made private.", DIEM_CHECKER,
        "public fun f(): u64", "fun f(): u64";
    DiemFnVisibility = "diem-fn-visibility", Diem, DIEM_C, Linking,
        "A function's visibility changed other than friend to public (public and script stay what they are).", DIEM_CHECKER,
        "public fun f()", "friend fun f()";
    DiemFnParams = "diem-fn-params", Diem, DIEM_C, Linking,
        "A public, script or friend function's parameters changed.", DIEM_CHECKER,
        "public fun f(u64)", "public fun f(u128)";
    DiemFnReturn = "diem-fn-return", Diem, DIEM_C, Linking,
        "A public, script or friend function's results changed.", DIEM_CHECKER,
        "public fun f(): u64", "public fun f(): u128";
    DiemFnTparam = "diem-fn-tparam", Diem, DIEM_C, Linking,
        "A public, script or friend function's type parameter count changed or one gained a constraint.", DIEM_CHECKER,
        "public fun f<T0>()", "public fun f<T0: copy>()";
    DiemFriendDeclRemoved = "diem-friend-decl-removed", Diem, DIEM_C, Linking,
        "A friend declaration was removed.", DIEM_CHECKER,
        "friends 0x1::B\n  struct S has key\n    a: u64", "struct S has key\n    a: u64";

    // ---- Aptos-based frameworks (0L's libra-framework), `compatible` ----
    AptosStructMissing = "aptos-struct-missing", Aptos, APTOS_C, Linking,
        "A struct of the old module is missing from the new one.", APTOS_A1,
        "struct S has key\n    a: u64\n  struct T has key\n    b: u64", "struct S has key\n    a: u64";
    AptosStructAbilityLost = "aptos-struct-ability-lost", Aptos, APTOS_C, Linking,
        "A struct lost an ability (gaining any is fine).", APTOS_A1,
        "struct S has store, key\n    a: u64", "struct S has key\n    a: u64";
    AptosStructTparamCount = "aptos-struct-tparam-count", Aptos, APTOS_C, Linking,
        "A struct's number of type parameters changed.", APTOS_A1,
        "struct S<T0> has key\n    a: u64", "struct S<T0, T1> has key\n    a: u64";
    AptosStructTparamUnphantom = "aptos-struct-tparam-unphantom", Aptos, APTOS_C, Linking,
        "A phantom type parameter became non-phantom (making one phantom is fine).", APTOS_A1,
        "struct S<phantom T0> has key\n    a: u64", "struct S<T0> has key\n    a: u64";
    AptosStructTparamConstraintAdded = "aptos-struct-tparam-constraint-added", Aptos, APTOS_C, Linking,
        "A struct type parameter gained a constraint (dropping one is fine).", APTOS_A1,
        "struct S<T0> has key\n    a: u64", "struct S<T0: copy> has key\n    a: u64";
    AptosStructFields = "aptos-struct-fields", Aptos, APTOS_C, Layout,
        "A struct's fields differ: names, types and order are compared.", APTOS_A1,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: bool";
    AptosEnumVariants = "aptos-enum-variants", Aptos, APTOS_C, Layout,
        "A struct became an enum or the reverse, or an existing variant was removed, renamed, moved or changed (appending variants is fine).",
        "aptos-labs/aptos-core: third_party/move/move-binary-format/src/compatibility.rs (struct variants, bytecode v7)",
        "@v7\nenum S has key\n    A\n      a: u64\n    B", "@v7\nenum S has key\n    A\n      a: u64";
    AptosFnPublicMissing = "aptos-fn-public-missing", Aptos, APTOS_C, Linking,
        "A public function was removed or made private.", APTOS_A1,
        "public fun f()", "fun f()";
    AptosFnPublicVisibility = "aptos-fn-public-visibility", Aptos, APTOS_C, Linking,
        "A public function became friend-only.", APTOS_A1,
        "public fun f()", "friend fun f()";
    AptosFnEntryRemoved = "aptos-fn-entry-removed", Aptos, APTOS_C, Linking,
        "A public or private entry function is no longer `entry` (between two modules older than v5: its entry flag changed either way).", APTOS_A1,
        "public entry fun f()", "public fun f()";
    AptosFnPrivateEntryMissing = "aptos-fn-private-entry-missing", Aptos, APTOS_C, Linking,
        "A private entry function was removed or made a plain private function.", APTOS_A1,
        "entry fun f()", "fun f()";
    AptosFnSignature = "aptos-fn-signature", Aptos, APTOS_C, Linking,
        "A public or private entry function's parameters or results changed.", APTOS_A1,
        "public fun f(u64)", "public fun f(u128)";
    AptosFnTparam = "aptos-fn-tparam", Aptos, APTOS_C, Linking,
        "A public or private entry function's type parameter count changed or one gained a constraint.", APTOS_A1,
        "public fun f<T0>()", "public fun f<T0: copy>()";
    AptosPkgModuleMissing = "aptos-pkg-module-missing", Aptos, APTOS_C, Package,
        "A module of a republished package is missing from its new version (`EMODULE_MISSING`): the whole package is refused.", APTOS_CODE,
        "struct S has key\n    a: u64", "";

    // ---- Sui: system packages at an epoch change (`framework`) and user packages ----
    SuiFwModuleMissing = "sui-fw-module-missing", Sui, SUI_FW, Package,
        "A module of a system package is missing from its new version: the validator does not adopt the framework.", SUI_FRAMEWORK,
        "struct S has key\n    a: u64", "";
    SuiUserModuleMissing = "sui-user-module-missing", Sui, SUI_USER_ALL, Package,
        "A module of the package is missing from the upgrade: the upgrade fails.", SUI_UPGRADE,
        "struct S has key\n    a: u64", "";
    SuiUserNewModuleInit = "sui-user-new-module-init", Sui, SUI_USER_ALL, Package,
        "A module added by the upgrade has an `init` function, which the upgrade does not run: refused.", SUI_UPGRADE,
        "struct S has key\n    a: u64",
        "struct S has key\n    a: u64\nmodule 0x1::N (bytecode v7, sui)\n  fun init()", protocol protocol::NEW_MODULE_INIT;
    SuiUserExistingModuleInit = "sui-user-existing-module-init", Sui, SUI_USER_ALL, Package,
        "A module the package already had gains an `init` function (an upgrade runs `init` of new modules only).", SUI_LINKAGE,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n  fun init()", protocol protocol::EXISTING_MODULE_INIT;
    SuiStructMissing = "sui-struct-missing", Sui, SUI_ALL_CHECKS, Linking,
        "A struct of the old module is missing from the new one (or became an enum).", SUI_CHECKER,
        "struct S has key\n    a: u64\n  struct T has key\n    b: u64", "struct S has key\n    a: u64";
    SuiEnumMissing = "sui-enum-missing", Sui, SUI_ALL_CHECKS, Linking,
        "An enum of the old module is missing from the new one (or became a struct).", SUI_CHECKER,
        "enum E has copy, drop\n    A\n  struct S has key\n    a: u64", "struct S has key\n    a: u64";
    SuiDatatypeAbilityLost = "sui-datatype-ability-lost", Sui, SUI_ALL_CHECKS, Linking,
        "A struct or enum lost an ability.", SUI_CHECKER,
        "struct S has store, key\n    a: u64", "struct S has key\n    a: u64";
    SuiFwAbilityKeyAdded = "sui-fw-ability-key-added", Sui, SUI_FW, Linking,
        "A framework struct or enum gained `key` (a new `copy`, `drop` or `store` is allowed).", SUI_CHECKER,
        "struct S has store\n    a: u64", "struct S has store, key\n    a: u64";
    SuiUserAbilityAdded = "sui-user-ability-added", Sui, SUI_USER, Linking,
        "A struct or enum gained any ability (`copy`, `drop`, `store` or `key`).", SUI_CHECKER,
        "struct S has key\n    a: u64", "struct S has store, key\n    a: u64", protocol protocol::ABILITIES;
    SuiDatatypeTparamChanged = "sui-datatype-tparam-changed", Sui, SUI_ALL_CHECKS, Linking,
        "A struct or enum's type parameters changed in any way: count, phantom flag or constraints (even dropping one).", SUI_CHECKER,
        "struct S<T0: copy> has key\n    a: u64", "struct S<T0> has key\n    a: u64", protocol protocol::TPARAMS_STRICT;
    SuiUserTparamIncompatible = "sui-user-tparam-incompatible", Sui, SUI_USER, Linking,
        "A struct's type parameters changed other than by loosening: their count, a phantom parameter made non-phantom, or a constraint added.", SUI_CHECKER_LOOSE,
        "struct S<T0> has key\n    a: u64", "struct S<T0: copy> has key\n    a: u64", protocol protocol::TPARAMS_LOOSE;
    SuiStructFields = "sui-struct-fields", Sui, SUI_ALL_CHECKS, Layout,
        "A struct's fields differ: names, types and order are compared.", SUI_CHECKER,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: bool";
    SuiEnumVariantAdded = "sui-enum-variant-added", Sui, SUI_ALL_CHECKS, Variants,
        "An enum gained a variant (Sui refuses even an appended one).", SUI_CHECKER,
        "enum S has copy, drop\n    A", "enum S has copy, drop\n    A\n    B";
    SuiEnumVariantChanged = "sui-enum-variant-changed", Sui, SUI_ALL_CHECKS, Layout,
        "An existing variant was removed, renamed, moved or its fields changed.", SUI_CHECKER,
        "enum S has copy, drop\n    A\n      a: u64", "enum S has copy, drop\n    A\n      a: u128";
    SuiFnPublicMissing = "sui-fn-public-missing", Sui, SUI_ALL_CHECKS, Linking,
        "A public function was removed.", SUI_CHECKER,
        "public fun f()", "fun g()";
    SuiFnPublicVisibility = "sui-fn-public-visibility", Sui, SUI_ALL_CHECKS, Linking,
        "A public function became `public(package)` (friend) or private.", SUI_CHECKER,
        "public fun f()", "friend fun f()";
    SuiFnPublicSignature = "sui-fn-public-signature", Sui, SUI_ALL_CHECKS, Linking,
        "A public function's parameters, results or type parameters changed (dropping a type parameter constraint is fine).", SUI_CHECKER,
        "public fun f(u64)", "public fun f(u128)";
    SuiFwEntryRemoved = "sui-fw-entry-removed", Sui, SUI_FW, EntryLinking,
        "An entry function is no longer `entry` (between two modules older than v5: a non-private function's entry flag changed either way).", SUI_CHECKER,
        "public entry fun f()", "public fun f()";
    SuiFwPrivateEntryMissing = "sui-fw-private-entry-missing", Sui, SUI_FW, EntryLinking,
        "A private entry function was removed (a removed friend entry function is not refused).", SUI_CHECKER,
        "entry fun f()\n  fun g()", "fun g()";
    SuiFwEntrySignature = "sui-fw-entry-signature", Sui, SUI_FW, EntryLinking,
        "A private or friend entry function's parameters, results or type parameters changed.", SUI_CHECKER,
        "entry fun f(u64)", "entry fun f(u128)";
    SuiInclVersionDowngrade = "sui-incl-version-downgrade", Sui, SUI_INCL, Inclusion,
        "The module is written with an older bytecode version.", SUI_INCLUSION,
        "@v7, sui\nstruct S has key\n    a: u64", "@v6\nstruct S has key\n    a: u64";
    SuiInclDatatypeMissing = "sui-incl-datatype-missing", Sui, SUI_INCL, Inclusion,
        "A struct or enum of the old module is missing from the new one.", SUI_INCLUSION,
        "struct S has key\n    a: u64\n  struct T has key\n    b: u64", "struct S has key\n    a: u64";
    SuiInclStructChanged = "sui-incl-struct-changed", Sui, SUI_INCL, Inclusion,
        "A struct changed in any way (abilities, type parameters, fields).", SUI_INCLUSION,
        "struct S has key\n    a: u64", "struct S has store, key\n    a: u64";
    SuiInclEnumChanged = "sui-incl-enum-changed", Sui, SUI_INCL, Inclusion,
        "An enum changed in any way (abilities, type parameters, variants, even an appended one).", SUI_INCLUSION,
        "enum S has copy, drop\n    A", "enum S has copy, drop\n    A\n    B";
    SuiInclFnMissing = "sui-incl-fn-missing", Sui, SUI_INCL, Inclusion,
        "A function was removed, private ones included.", SUI_INCLUSION,
        "fun f()\n  public fun g()", "public fun g()";
    SuiInclFnChanged = "sui-incl-fn-changed", Sui, SUI_INCL, Inclusion,
        "A function's visibility, entry flag, type parameters, parameters or results changed, private ones included.", SUI_INCLUSION,
        "fun f(u64)", "fun f(u128)";
    SuiInclFnBodyChanged = "sui-incl-fn-body-changed", Sui, SUI_INCL, Inclusion,
        "A function's body changed (instructions or locals, with pool indices resolved), private ones included.", SUI_INCLUSION,
        "fun f(): u64", "fun f(): u64\n  // body f=1";
    SuiEqNewMember = "sui-eq-new-member", Sui, SUI_EQ, Inclusion,
        "A struct, enum or function was added: `dep-only` allows no new code.", SUI_INCLUSION,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n  fun g()";
    SuiEqFriendCount = "sui-eq-friend-count", Sui, SUI_EQ, Inclusion,
        "The number of friend declarations changed.", SUI_INCLUSION,
        "friends 0x1::B\n  struct S has key\n    a: u64", "struct S has key\n    a: u64";
    SuiDeponlyNewModule = "sui-deponly-new-module", Sui, SUI_EQ, Package,
        "A module was added: a `dep-only` upgrade keeps the package's module count.", SUI_UPGRADE,
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\nmodule 0x1::N (bytecode v7, sui)\n  struct T has key\n    b: u64", protocol protocol::DEP_ONLY_MODULES;
}

impl ChainRuleId {
    /// The rule with this kebab-case id.
    pub fn parse(id: &str) -> Option<ChainRuleId> {
        ChainRuleId::ALL.iter().copied().find(|r| r.as_str() == id)
    }

    pub fn class(self) -> ChainClass {
        self.rule().class
    }
}

impl fmt::Display for ChainRuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ChainRuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Every chain rule, in documentation order.
pub fn all() -> impl Iterator<Item = &'static ChainRule> {
    ChainRuleId::ALL.iter().map(|id| id.rule())
}

/// The chain profiles and their rules as Markdown: what `docs/chains.md` holds.
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(CHAINS_INTRO);
    for chain in Chain::ALL {
        let _ = writeln!(out, "\n## {}\n\n{}", chain.title(), chain_prose(chain));
        for &policy in chain.policies() {
            let profile = super::Profile::new(chain, policy).unwrap_or_else(|_| super::Profile::default_for(chain));
            let default = if policy == chain.default_policy() { " (default)" } else { "" };
            let _ = writeln!(out, "\n### `--chain {chain} --policy {policy}`{default}: {}\n", profile.describe());
            let rules: Vec<&ChainRule> = profile.rules_any_version().collect();
            if rules.is_empty() {
                let _ = writeln!(out, "{}", unchecked_prose(chain));
                continue;
            }
            let mut sources: Vec<&str> = Vec::new();
            for r in &rules {
                if !sources.contains(&r.source) {
                    sources.push(r.source);
                }
            }
            let versioned = chain == Chain::Sui;
            if versioned {
                out.push_str("| rule | class | rejects when | protocol | source |\n|---|---|---|---|---|\n");
            } else {
                out.push_str("| rule | class | rejects when | source |\n|---|---|---|---|\n");
            }
            for r in &rules {
                let n = sources.iter().position(|s| *s == r.source).map_or(0, |i| i + 1);
                let versions = match r.protocol.filter(|_| protocol::versioned(policy)) {
                    Some(gate) => format!(" {gate} |"),
                    None if versioned => " all |".to_owned(),
                    None => String::new(),
                };
                let _ = writeln!(out, "| `{}` | {} | {} |{versions} [{n}] |", r.id, r.class.as_str(), r.summary);
            }
            out.push_str("\nSources:\n");
            for (i, s) in sources.iter().enumerate() {
                let _ = writeln!(out, "{}. {s}", i + 1);
            }
        }
    }
    out.push_str(&protocol_markdown());
    out.push_str(CHAINS_OUTRO);
    out.push_str("\n## Examples\n\nEach example is also the rule's test fixture (`compat-checker/tests/chains.rs`): the body of\nmodule `0x1::M` in the text layout form (`@v6` sets the bytecode version, `// body f=1` makes\nfunction `f` load 1).\n");
    for r in all() {
        let _ = writeln!(out, "\n### `{}`\n\n```text\n// old\n{}\n// new\n{}\n```", r.id, r.example.0, r.example.1);
    }
    out
}

/// The section on Sui's protocol versions: which rules depend on one, from which version, the
/// flag and where Sui reads it.
fn protocol_markdown() -> String {
    use std::fmt::Write;
    let mut out = format!(
        "\n### Sui protocol versions (`--protocol-version N`)\n\n\
Sui turns upgrade checks on behind protocol-config feature flags, each set at one protocol version, so what a\n\
user-package upgrade may do depends on the version the network runs. `check` and `rehearse` take\n\
`--protocol-version N` ({}..={}; default {}, the newest known: `MAX_PROTOCOL_VERSION` in\n\
`crates/sui-protocol-config/src/lib.rs` of MystenLabs/sui at commit 0014992) and the report says which version\n\
judged (`chain: sui (dep-only, protocol 134; ...)`, JSON `chain.protocol_version`). Only the user paths\n\
(`compatible`, `additive`, `dep-only`) depend on it: the framework check (`compare_system_package`) belongs to the\n\
validator software, not to a protocol-config flag. Before version {} (`package_upgrades`) Sui refused every package\n\
upgrade: a user path at an older version is refused as bad input. Every rule not listed applies at every version.\n\n\
| rule | policies | protocol | flag | checked in |\n|---|---|---|---|---|\n",
        protocol::SUI_OLDEST,
        protocol::SUI_NEWEST,
        protocol::SUI_NEWEST,
        protocol::SUI_UPGRADES_FROM
    );
    for r in all().filter(|r| r.chain == Chain::Sui) {
        let Some(gate) = r.protocol else { continue };
        let policies: Vec<&str> = r.policies.iter().filter(|p| protocol::versioned(**p)).map(|p| p.as_str()).collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {gate} | {} | {} |",
            r.id,
            policies.join(", "),
            gate.flag,
            gate.source.trim_start_matches("MystenLabs/sui: ")
        );
    }
    let _ = writeln!(
        out,
        "\nEach flag is set in `crates/sui-protocol-config/src/lib.rs` (`get_for_version_impl`) for every network alike.\n\
Execution layers from protocol 18 on (`sui-execution/v1`, `v2`, `latest`) take the version-7 and version-8 flags as\n\
always on; `sui-execution/v0` reads them. `sui-datatype-tparam-changed` applies to the framework at every version."
    );
    out
}

const CHAINS_INTRO: &str = "# Chain profiles\n\n\
Generated from `compat-checker/src/chain/rules.rs` by `compat-checker chains`; a test keeps it current.\n\n\
`compat-checker check --chain auto|diem|aptos|sui --policy ...` answers what the chain's own upgrade check\n\
decides (`chain.accepts`, `chain.rejected_modules`), beside our verdict on stored data. Each rule below is\n\
restated in our own words from the chain's public code named in its `source` column; every rule rejects.\n\
Every module is compared and every failure reported (the chains stop at the first); that changes no verdict,\n\
since any failure rejects the whole upgrade.\n\n\
**Pairing.** Modules are paired by id (address and name). Real chains never move a module: a module of the same\n\
name at another address is a new module (Sui's `0xdee9::math` is not a new version of `0x2::math`). Only the\n\
`diem` profile, without a registry, takes a same-named module at another address inside the reserved stdlib\n\
range 0x0..=0x1000 for a new version (the seed's scheme); with a registry, the registry says.\n\n\
**Decoding as each chain's reader does.** Version 1 modules have no abilities: a nominal resource reads as\n\
`key, store`, a normal struct as `copy, drop, store`; struct type-parameter kinds all / copyable / resource read\n\
as no constraint / `copy, drop` / `key`, and function type parameters the same plus `store`; a v1 function is\n\
public or private, never friend or entry. So a v1 -> v2 pair shows abilities lost that the v2 source never\n\
declared, and Diem's check rejects them. Version 2-4 `script` functions: Aptos and Sui read them as `public entry`;\n\
Diem keeps `script` as its own visibility (a script function must stay script, and only a private one may become\n\
one). Sui's flavor byte is stripped before versions are compared.\n\n\
**`--chain auto`** decides from the releases and prints why: a Sui package snapshot or the Sui flavor byte\n\
means `sui`; an Aptos release bundle (`.mrb`) means `aptos`; Sui's framework modules (`0x2::object`,\n\
`0x2::tx_context`) mean `sui`; 16-byte addresses mean `diem`; the Aptos framework's own modules at 0x1\n\
(`account`, `code`, `object`, `fungible_asset`, `resource_account`, `aptos_governance`, libra-framework's\n\
`diem_governance` and `ol_account`, ...) mean `aptos`, even for bare modules whose address width is not known\n\
(Diem-family frameworks name theirs in CamelCase, Sui's 0x1 holds only the Move stdlib); then 32-byte addresses\n\
mean `aptos`. The new release decides when the two sides disagree. The rehearsal may add what the state's format\n\
says (an Aptos-format backup: `aptos`), which decides first. `--policy` (and `--protocol-version`) apply to the\n\
chain decided, in `check` and `rehearse` alike; `--policy` defaults to the chain's framework path (diem\n\
`framework`, aptos `compatible`, sui `framework`).\n";

fn chain_prose(chain: Chain) -> &'static str {
    match chain {
        Chain::Diem => "Diem, Libra and 0L before its Aptos-based framework (16-byte addresses). Framework releases reached the chain as\n\
write sets, with no compatibility check (Diem's release tool only printed the checker's result; the write set\n\
overwrote changed modules and, in later releases, deleted removed ones; 0L's upgrade oracle left them). An ordinary\n\
republish of a module is checked by the VM: the old and new module must be fully compatible (struct and function\n\
linking, struct layout). A module the release does not carry is not published and not checked. Exposed functions are\n\
public, script and friend ones; private ones are never compared.",
        Chain::Aptos => "Aptos-based frameworks, such as 0L's libra-framework (32-byte addresses). The VM checks each republished module\n\
unless the package's policy is `arbitrary`. The profile follows 0L's VM: the legacy checker, with friend linking off\n\
(`TREAT_FRIEND_AS_PRIVATE` is on from genesis), so nothing about a friend function is checked. Exposed functions\n\
are public ones and entry ones (private entry included). The framework's own `code.move` adds package checks: a\n\
republished package must keep every module it had (`EMODULE_MISSING`), reported under the removed module's id. A\n\
package is named by the release bundle where both sides are `.mrb` files; otherwise one package per address.",
        Chain::Sui => "Sui (32-byte addresses). `framework` is what each validator checks before adopting new system packages at an epoch\n\
change (`compare_system_package`): per package address of the new build, every old module must be there and pass\n\
the framework preset (struct and public function linking, layout, private entry linking, only a new `key` refused,\n\
type parameters unchanged, no new enum variants); new modules and new packages are not checked; a package the new\n\
build does not carry is not upgraded. The user policies check a package upgrade: `compatible` (the same, except that\n\
entry functions are not protected and any new ability is refused), `additive` (every old module contained, unchanged,\n\
bodies included) and `dep-only` (nothing but dependencies changes). Friend (`public(package)`) functions are never\n\
checked by `framework` and `compatible`. A user package whose upgrade carries another address is paired by module name.",
    }
}

fn unchecked_prose(chain: Chain) -> &'static str {
    match chain {
        Chain::Diem => "No rule: the write set is applied as it is, so `accepts` is always true. What the VM's republish check would say\n\
is reported as a note (informational, as Diem's release tool printed it). This is the path on which a layout change\n\
of a stored struct halts the network (0L's `Timer`): our storage verdict is what guards it.",
        _ => "No rule: the VM checks nothing under the `arbitrary` policy, so `accepts` is always true. What the `compatible`\n\
check would say is reported as a note.",
    }
}

const CHAINS_OUTRO: &str = "\n## Not modelled, or not established\n\n\
- Aptos: package policy metadata (`EUPGRADE_WEAKER_POLICY`, `EUPGRADE_IMMUTABLE`, `EINCOMPATIBLE_POLICY_DISABLED`),\n  \
module-name clashes between packages and dependency checks are not evaluated: `--policy` states the path. Current\n  \
Aptos (the newer checker, friend entry functions checked as public, `#[persistent]` attributes) is not modelled;\n  \
0L's exempted framework addresses after its PR #193 were not read.\n\
- Diem: native structs (Diem's normalizer has no defined view of them; we compare their empty field lists).\n  \
Libra-era VMs refused any republish of an existing module id; the profile follows Diem's later VM, which\n  \
republishes a module when it is fully compatible.\n\
- Sui: the framework check as of the current code, at every protocol version (its history follows the validator\n  \
software, not protocol flags), except that a removed friend entry function is not refused (the older form,\n  \
which counted it against friend linking; the newest form refuses it). Protocol flags that change no verdict are\n  \
not modelled: `missing_type_is_compatibility_error` (version 5) only changed the error a removed type gives; the\n  \
bytecode version a network accepts (v7, enums: version 49 on devnet, 52 on testnet, 55 on mainnet) is a\n  \
deserializer limit, not an upgrade rule. Which types a `Bag` holds cannot be told from layouts.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_prefixed_by_their_chain_and_each_rule_has_a_policy() {
        let mut ids: Vec<&str> = ChainRuleId::ALL.iter().map(|r| r.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "two chain rules share an id");
        for r in all() {
            assert_eq!(ChainRuleId::parse(r.id.as_str()), Some(r.id));
            assert!(r.id.as_str().starts_with(r.chain.as_str()), "{}", r.id);
            assert!(r.id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", r.id);
            assert!(!r.policies.is_empty(), "{}", r.id);
            for p in r.policies {
                assert!(r.chain.policies().contains(p), "{}: {} is not a policy of {}", r.id, p, r.chain);
            }
        }
    }
}
