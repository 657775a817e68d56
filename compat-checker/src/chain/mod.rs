//! Chain profiles: what each chain's own upgrade check decides about a release, on the upgrade
//! path (policy) the release takes there.
//!
//! - `diem` (Diem, Libra, 0L before its Aptos-based framework): `framework` (write sets, no
//!   check) and `compatible` (the VM's republish check);
//! - `aptos` (Aptos-based frameworks such as 0L's libra-framework): `compatible` (the VM's check
//!   as 0L runs it, friend functions private, plus the framework's own `code.move` checks) and
//!   `arbitrary` (no check);
//! - `sui`: `framework` (system packages at an epoch change), and the user-package policies
//!   `compatible`, `additive` and `dep-only`.
//!
//! Every rule is data ([`rules`]); every module is checked, none stops the others, and the
//! verdict names each module the chain would reject with each rule that rejects it. Sui's user
//! paths also depend on the protocol version the network runs ([`protocol`]).

pub mod bodies;
mod choice;
pub mod detect;
mod evaluate;
pub mod protocol;
pub mod rules;

pub use choice::ChainChoice;
pub use evaluate::evaluate;
pub use rules::{ChainClass, ChainRule, ChainRuleId};

use binary_format::{AddressLength, Module, ModuleId};
use layout_diff::diff::lineage::Versioning;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A chain whose upgrade rules the checker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Chain {
    Diem,
    Aptos,
    Sui,
}

impl Chain {
    pub const ALL: [Chain; 3] = [Chain::Diem, Chain::Aptos, Chain::Sui];

    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Diem => "diem",
            Chain::Aptos => "aptos",
            Chain::Sui => "sui",
        }
    }

    /// The chain's name in sentences.
    pub fn title(self) -> &'static str {
        match self {
            Chain::Diem => "Diem",
            Chain::Aptos => "Aptos",
            Chain::Sui => "Sui",
        }
    }

    /// The upgrade paths of the chain, the default first.
    pub fn policies(self) -> &'static [Policy] {
        match self {
            Chain::Diem => &[Policy::Framework, Policy::Compatible],
            Chain::Aptos => &[Policy::Compatible, Policy::Arbitrary],
            Chain::Sui => &[Policy::Framework, Policy::Compatible, Policy::Additive, Policy::DepOnly],
        }
    }

    /// The policy used when none is given: how the chain's framework releases ship.
    pub fn default_policy(self) -> Policy {
        self.policies().first().copied().unwrap_or(Policy::Compatible)
    }

    /// Where modules move without a registry: only the seed's Diem-family scheme versions
    /// modules at new addresses (inside 0x0..=0x1000); real chains' modules never move.
    pub fn versioning(self) -> Versioning {
        match self {
            Chain::Diem => Versioning::ReservedRange,
            Chain::Aptos | Chain::Sui => Versioning::Fixed,
        }
    }

    /// Whether the chain's check ignores friend functions (treats them as private).
    pub fn friends_are_private(self) -> bool {
        matches!(self, Chain::Aptos | Chain::Sui)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Chain {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Chain, ProfileError> {
        Chain::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| ProfileError::UnknownChain(s.to_owned()))
    }
}

/// The upgrade path a release takes on its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// The chain's framework path: a Diem write set, or Sui's system package upgrade.
    Framework,
    /// The chain's compatibility check for an ordinary upgrade.
    Compatible,
    /// Aptos: no check at all.
    Arbitrary,
    /// Sui: existing code must stay as it is; new code may be added.
    Additive,
    /// Sui: nothing but dependencies may change.
    DepOnly,
}

impl Policy {
    pub const ALL: [Policy; 5] =
        [Policy::Framework, Policy::Compatible, Policy::Arbitrary, Policy::Additive, Policy::DepOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Framework => "framework",
            Policy::Compatible => "compatible",
            Policy::Arbitrary => "arbitrary",
            Policy::Additive => "additive",
            Policy::DepOnly => "dep-only",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Policy, ProfileError> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| ProfileError::UnknownPolicy(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown chain `{0}`: use diem, aptos or sui")]
    UnknownChain(String),
    #[error("unknown policy `{0}`: use framework, compatible, arbitrary, additive or dep-only")]
    UnknownPolicy(String),
    #[error("{chain} has no `{policy}` upgrade path: use {}", .chain.policies().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))]
    NoSuchPath { chain: Chain, policy: Policy },
    #[error("a protocol version applies to Sui only: {chain}'s rules do not depend on one")]
    NotVersioned { chain: Chain },
    #[error(
        "Sui protocol version {version} is not known: use {} to {} (the newest this checker knows)",
        protocol::SUI_OLDEST,
        protocol::SUI_NEWEST
    )]
    UnknownProtocolVersion { version: u64 },
    #[error("Sui accepted no package upgrade before protocol version {} (`package_upgrades`): protocol {version} has no `{policy}` path", protocol::SUI_UPGRADES_FROM)]
    UpgradesDisabled { version: u64, policy: Policy },
    /// What `--chain auto` decided does not fit the rest of the choice.
    #[error("{error} (the releases point to {chain}: {why})")]
    Decided { chain: Chain, why: String, error: Box<ProfileError> },
}

/// A chain, the upgrade path the release takes on it, and (Sui) the protocol version whose rules
/// judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Profile {
    pub chain: Chain,
    pub policy: Policy,
    /// Sui's protocol version (`None` for chains whose rules do not depend on one).
    pub protocol_version: Option<u64>,
}

impl Profile {
    /// The profile, if `chain` has the `policy` path; Sui's at the newest protocol version known.
    pub fn new(chain: Chain, policy: Policy) -> Result<Profile, ProfileError> {
        if chain.policies().contains(&policy) {
            Ok(Profile { chain, policy, protocol_version: Self::newest(chain) })
        } else {
            Err(ProfileError::NoSuchPath { chain, policy })
        }
    }

    fn newest(chain: Chain) -> Option<u64> {
        (chain == Chain::Sui).then_some(protocol::SUI_NEWEST)
    }

    /// The chain with its default policy.
    pub fn default_for(chain: Chain) -> Profile {
        Profile { chain, policy: chain.default_policy(), protocol_version: Self::newest(chain) }
    }

    /// The profile judged by the rules of Sui protocol `version`.
    pub fn at_protocol(self, version: u64) -> Result<Profile, ProfileError> {
        if self.chain != Chain::Sui {
            return Err(ProfileError::NotVersioned { chain: self.chain });
        }
        if !(protocol::SUI_OLDEST..=protocol::SUI_NEWEST).contains(&version) {
            return Err(ProfileError::UnknownProtocolVersion { version });
        }
        if protocol::versioned(self.policy) && version < protocol::SUI_UPGRADES_FROM {
            return Err(ProfileError::UpgradesDisabled { version, policy: self.policy });
        }
        Ok(Profile { protocol_version: Some(version), ..self })
    }

    /// Every profile, in order (Sui's at the newest protocol version).
    pub fn all() -> impl Iterator<Item = Profile> {
        Chain::ALL.into_iter().flat_map(|c| {
            c.policies().iter().map(move |&p| Profile { chain: c, policy: p, protocol_version: Self::newest(c) })
        })
    }

    /// The rules this profile applies at its protocol version (none for a path without a check).
    pub fn rules(self) -> impl Iterator<Item = &'static ChainRule> {
        rules::all().filter(move |r| r.chain == self.chain && r.applies(self.policy, self.protocol_version))
    }

    /// The rules of this path at any protocol version.
    pub fn rules_any_version(self) -> impl Iterator<Item = &'static ChainRule> {
        rules::all().filter(move |r| r.chain == self.chain && r.policies.contains(&self.policy))
    }

    /// Whether `rule` applies on this path at this profile's protocol version.
    pub fn applies(self, rule: ChainRuleId) -> bool {
        let r = rule.rule();
        r.chain == self.chain && r.applies(self.policy, self.protocol_version)
    }

    /// Whether the chain checks anything on this path.
    pub fn checks(self) -> bool {
        self.rules().next().is_some()
    }

    /// What the path is, in a few words.
    pub fn describe(self) -> &'static str {
        match (self.chain, self.policy) {
            (Chain::Diem, Policy::Framework) => "framework write set, applied without a check",
            (Chain::Diem, _) => "module republish, checked by the VM",
            (Chain::Aptos, Policy::Arbitrary) => "package upgrade with the arbitrary policy, not checked",
            (Chain::Aptos, _) => "package upgrade with the compatible policy (friend functions private)",
            (Chain::Sui, Policy::Framework) => "system packages adopted at an epoch change",
            (Chain::Sui, Policy::Compatible) => "package upgrade, compatible policy",
            (Chain::Sui, Policy::Additive) => "package upgrade, additive policy",
            (Chain::Sui, _) => "package upgrade, dep-only policy",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol_version {
            Some(v) => write!(f, "{} ({}, protocol {v})", self.chain, self.policy),
            None => write!(f, "{} ({})", self.chain, self.policy),
        }
    }
}

/// One side of an upgrade as a chain check sees it: the modules, and where the container says
/// more (module bytes for body comparisons, packages).
#[derive(Debug, Clone, Default)]
pub struct ReleaseView<'a> {
    pub modules: Vec<&'a Module>,
    /// Each module's bytes, where known (Sui's inclusion checks compare bodies).
    pub bytes: BTreeMap<ModuleId, &'a [u8]>,
    /// The package each module belongs to, where the container names it (Aptos release bundles).
    pub packages: BTreeMap<ModuleId, String>,
    /// The file each module came from: its `.mv` file, or the container it was read from.
    pub origins: BTreeMap<ModuleId, String>,
    pub address_length: Option<AddressLength>,
    /// The container the release came in.
    pub kind: Option<releases::containers::ContainerKind>,
}

impl<'a> ReleaseView<'a> {
    /// A view of bare modules.
    pub fn of(modules: &[&'a Module]) -> ReleaseView<'a> {
        ReleaseView { modules: modules.to_vec(), ..ReleaseView::default() }
    }

    /// A view of a loaded release: bytes, and packages from Aptos release bundle origins
    /// (`file:Package/module`).
    pub fn of_release(release: &'a releases::Release) -> ReleaseView<'a> {
        use releases::containers::ContainerKind;
        let mut v = ReleaseView {
            modules: release.modules.iter().map(|m| &m.module).collect(),
            address_length: Some(release.address_length),
            kind: Some(release.kind),
            ..ReleaseView::default()
        };
        for m in &release.modules {
            v.bytes.insert(m.module.id(), m.bytes.as_slice());
            // A module read from a container points at the container file.
            let file = match release.kind {
                ContainerKind::Folder | ContainerKind::Module => m.origin.clone(),
                _ => release.source.display().to_string(),
            };
            v.origins.insert(m.module.id(), file);
            if release.kind == ContainerKind::AptosReleaseBundle {
                if let Some(package) = m.origin.rsplit_once(':').and_then(|(_, rest)| rest.split_once('/')) {
                    v.packages.insert(m.module.id(), package.0.to_owned());
                }
            }
        }
        v
    }
}

/// A module the chain rejects, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub module: ModuleId,
    pub rule: ChainRuleId,
    /// The struct, enum or function (absent for a whole module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    pub reason: String,
}

/// What the chain's own check decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainVerdict {
    #[serde(rename = "name")]
    pub chain: Chain,
    pub policy: Policy,
    /// The Sui protocol version whose rules judged (absent for chains without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u64>,
    pub accepts: bool,
    /// Modules the chain rejects, sorted (removed ones under their old id).
    pub rejected_modules: Vec<ModuleId>,
    /// Every reason, sorted by module, item and rule.
    pub rejections: Vec<Rejection>,
    /// Whether the chain checks anything on this path.
    pub checked: bool,
    /// How the chain was chosen: `given`, or what `auto` saw.
    pub decided: String,
    /// What else the chain would say (informational: nothing here rejects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ChainVerdict {
    /// Whether `module` is rejected.
    pub fn rejects(&self, module: &ModuleId) -> bool {
        self.rejected_modules.binary_search(module).is_ok()
    }

    /// The sentence the report opens with for the chain.
    pub fn sentence(&self) -> String {
        let chain = self.chain.title();
        let what = match (self.chain, self.policy) {
            (Chain::Sui, Policy::Framework) => "this framework upgrade".to_owned(),
            (Chain::Diem, Policy::Compatible) => "this release published as modules".to_owned(),
            (_, p) => format!("this upgrade under the {p} policy"),
        };
        if !self.checked {
            return match self.chain {
                Chain::Diem => format!("{chain} applies framework write sets without a check"),
                _ => format!("{chain} does not check an upgrade under the {} policy", self.policy),
            };
        }
        if self.accepts {
            format!("{chain} would accept {what}")
        } else {
            let n = self.rejected_modules.len();
            format!(
                "{chain} would reject {what}: {n} module{} fail{} its check",
                plural(n),
                if n == 1 { "s" } else { "" }
            )
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The verdict of `profile`'s check on `old` -> `new`; `decided` says how the profile was chosen.
pub fn verdict(profile: Profile, old: &ReleaseView<'_>, new: &ReleaseView<'_>, decided: String) -> ChainVerdict {
    let (mut rejections, notes) = evaluate(profile, old, new);
    rejections.sort_by(|a, b| {
        (&a.module, &a.item, a.rule.as_str(), &a.old).cmp(&(&b.module, &b.item, b.rule.as_str(), &b.old))
    });
    rejections.dedup();
    let mut rejected_modules: Vec<ModuleId> = rejections.iter().map(|r| r.module.clone()).collect();
    rejected_modules.dedup();
    ChainVerdict {
        chain: profile.chain,
        policy: profile.policy,
        protocol_version: profile.protocol_version,
        accepts: rejections.is_empty(),
        rejected_modules,
        rejections,
        checked: profile.checks(),
        decided,
        notes,
    }
}
