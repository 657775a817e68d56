//! Sui's protocol versions: which of the rules Sui's check applies depend on the protocol version
//! the network runs, and from which version each applies.
//!
//! Sui turns behaviour on behind protocol-config feature flags
//! (`crates/sui-protocol-config/src/lib.rs`), each set at one protocol version; the execution
//! layer reads the flag when it checks a package upgrade. A rule here says which versions it
//! applies at, the flag and where Sui reads it. Only user-package upgrades (`compatible`,
//! `additive`, `dep-only`) depend on it: the framework check (`compare_system_package`) is the
//! validator software's own, not a protocol-config behaviour.

use super::Policy;
use std::fmt;

/// The newest Sui protocol version known to this checker: `MAX_PROTOCOL_VERSION` in
/// `crates/sui-protocol-config/src/lib.rs` of MystenLabs/sui at commit 0014992 (134). The default
/// when none is given.
pub const SUI_NEWEST: u64 = 134;

/// The oldest Sui protocol version (`MIN_PROTOCOL_VERSION`).
pub const SUI_OLDEST: u64 = 1;

/// The version that enabled package upgrades at all (`package_upgrades`, set at version 3):
/// before it, Sui refused every user-package upgrade.
pub const SUI_UPGRADES_FROM: u64 = 3;

/// The protocol versions a rule applies at, and the flag that decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolGate {
    /// The first version the rule applies at.
    pub from: u64,
    /// The first version it no longer applies at (a later flag replaced it), if any.
    pub until: Option<u64>,
    /// What Sui's protocol config says, in a few words: the flag and the version that set it.
    pub flag: &'static str,
    /// Where Sui reads the flag when it checks an upgrade (`repository: path (function)`).
    pub source: &'static str,
}

impl ProtocolGate {
    /// Whether the rule applies at protocol `version`.
    pub fn contains(&self, version: u64) -> bool {
        version >= self.from && self.until.is_none_or(|u| version < u)
    }
}

impl fmt::Display for ProtocolGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.until {
            Some(u) => write!(f, "{} to {}", self.from, u.saturating_sub(1)),
            None => write!(f, "{} and later", self.from),
        }
    }
}

/// Whether `policy` is a user-package path, the only ones that depend on the protocol version.
pub fn versioned(policy: Policy) -> bool {
    matches!(policy, Policy::Compatible | Policy::Additive | Policy::DepOnly)
}

const V0_EXECUTION: &str = "MystenLabs/sui: sui-execution/v0/sui-adapter/src/programmable_transactions/execution.rs (check_module_compatibility)";
const LATEST_COMPATIBILITY: &str =
    "MystenLabs/sui: sui-execution/latest/sui-adapter/src/programmable_transactions/execution.rs (check_compatibility)";
const LATEST_UPGRADE: &str =
    "MystenLabs/sui: sui-execution/latest/sui-adapter/src/programmable_transactions/execution.rs (execute_move_upgrade)";
const LINKAGE: &str = "MystenLabs/sui: sui-execution/latest/sui-adapter/src/static_programmable_transactions/linkage/single_linkage.rs (reject_existing_module_added_init_facts)";

/// `disallow_adding_abilities_on_upgrade` (version 7): a `compatible` upgrade may not add any
/// ability; before it, any could be added.
pub const ABILITIES: ProtocolGate = ProtocolGate {
    from: 7,
    until: None,
    flag: "`disallow_adding_abilities_on_upgrade`, set at version 7",
    source: V0_EXECUTION,
};

/// `disallow_change_struct_type_params_on_upgrade` (version 8): a `compatible` upgrade may not
/// change a struct's type parameters at all.
pub const TPARAMS_STRICT: ProtocolGate = ProtocolGate {
    from: 8,
    until: None,
    flag: "`disallow_change_struct_type_params_on_upgrade`, set at version 8",
    source: V0_EXECUTION,
};

/// Before `disallow_change_struct_type_params_on_upgrade`: type parameters could be loosened
/// (a constraint dropped, a parameter made phantom), nothing else.
pub const TPARAMS_LOOSE: ProtocolGate = ProtocolGate {
    from: SUI_UPGRADES_FROM,
    until: Some(8),
    flag: "before `disallow_change_struct_type_params_on_upgrade` (set at version 8)",
    source: V0_EXECUTION,
};

/// `disallow_new_modules_in_deps_only_packages` (version 68): a `dep-only` upgrade keeps the
/// package's module count.
pub const DEP_ONLY_MODULES: ProtocolGate = ProtocolGate {
    from: 68,
    until: None,
    flag: "`disallow_new_modules_in_deps_only_packages`, set at version 68",
    source: LATEST_COMPATIBILITY,
};

/// `check_for_init_during_upgrade` (version 90) refuses a new module with `init`, until
/// `enable_init_on_upgrade` (version 130) runs it instead.
pub const NEW_MODULE_INIT: ProtocolGate = ProtocolGate {
    from: 90,
    until: Some(130),
    flag: "`check_for_init_during_upgrade`, set at version 90, until `enable_init_on_upgrade` at version 130",
    source: LATEST_UPGRADE,
};

/// `enable_init_on_upgrade` (version 130): `init` of new modules runs, and an existing module
/// that gains `init` is refused.
pub const EXISTING_MODULE_INIT: ProtocolGate =
    ProtocolGate { from: 130, until: None, flag: "`enable_init_on_upgrade`, set at version 130", source: LINKAGE };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_contains_its_first_version_and_not_its_end() {
        assert!(!DEP_ONLY_MODULES.contains(67));
        assert!(DEP_ONLY_MODULES.contains(68) && DEP_ONLY_MODULES.contains(SUI_NEWEST));
        assert!(NEW_MODULE_INIT.contains(90) && NEW_MODULE_INIT.contains(129));
        assert!(!NEW_MODULE_INIT.contains(89) && !NEW_MODULE_INIT.contains(130));
        assert_eq!(NEW_MODULE_INIT.to_string(), "90 to 129");
        assert_eq!(DEP_ONLY_MODULES.to_string(), "68 and later");
    }
}
