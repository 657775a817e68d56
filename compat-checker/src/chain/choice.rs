//! What the caller asks of the chain check, before the releases are read: each part optional,
//! and one function ([`ChainChoice::profile_for`]) turns it into the profile that judges, whether
//! the chain was given or decided from the releases (`--chain auto`).

use super::detect::Hint;
use super::{Chain, Policy, Profile, ProfileError};

/// The chain, the upgrade path and (Sui) the protocol version asked for; what is absent is
/// decided: the chain from the releases, the path as the chain's default, the protocol version as
/// the newest known. A hint says what the caller knows of the chain besides the releases (the
/// rehearsal: the format of the state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainChoice {
    pub chain: Option<Chain>,
    pub policy: Option<Policy>,
    pub protocol_version: Option<u64>,
    /// Evidence for `--chain auto` beyond the releases; ignored when the chain is given.
    pub hint: Option<Hint>,
}

impl ChainChoice {
    /// Everything decided from the releases and the defaults.
    pub fn auto() -> ChainChoice {
        ChainChoice::default()
    }

    /// Exactly `profile`.
    pub fn given(profile: Profile) -> ChainChoice {
        ChainChoice {
            chain: Some(profile.chain),
            policy: Some(profile.policy),
            protocol_version: profile.protocol_version,
            hint: None,
        }
    }

    /// The profile on `chain` (given, or decided from the releases): the policy asked for or the
    /// chain's default, at the protocol version asked for or the newest known.
    pub fn profile_for(self, chain: Chain) -> Result<Profile, ProfileError> {
        let profile = Profile::new(chain, self.policy.unwrap_or_else(|| chain.default_policy()))?;
        match self.protocol_version {
            Some(v) => profile.at_protocol(v),
            None => Ok(profile),
        }
    }

    /// What can be refused before the releases are read: with the chain given, the whole
    /// profile; with `auto`, a protocol version no chain knows.
    pub fn validate(self) -> Result<(), ProfileError> {
        match self.chain {
            Some(chain) => self.profile_for(chain).map(|_| ()),
            None => match self.protocol_version {
                Some(v) => Profile::default_for(Chain::Sui).at_protocol(v).map(|_| ()),
                None => Ok(()),
            },
        }
    }
}

impl From<Profile> for ChainChoice {
    fn from(profile: Profile) -> ChainChoice {
        ChainChoice::given(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::protocol::SUI_NEWEST;

    #[test]
    fn absent_parts_take_the_chains_defaults_and_given_ones_are_checked() {
        let auto = ChainChoice::auto();
        assert_eq!(auto.profile_for(Chain::Aptos), Ok(Profile::default_for(Chain::Aptos)));
        let sui = auto.profile_for(Chain::Sui).unwrap();
        assert_eq!((sui.policy, sui.protocol_version), (Policy::Framework, Some(SUI_NEWEST)));
        let dep_only = ChainChoice { policy: Some(Policy::DepOnly), protocol_version: Some(67), ..auto };
        assert_eq!(dep_only.profile_for(Chain::Sui).unwrap().protocol_version, Some(67));
        assert!(matches!(dep_only.profile_for(Chain::Diem), Err(ProfileError::NoSuchPath { .. })));
        let versioned = ChainChoice { protocol_version: Some(67), ..auto };
        assert_eq!(versioned.profile_for(Chain::Aptos), Err(ProfileError::NotVersioned { chain: Chain::Aptos }));
        // Before protocol 3 Sui had no package upgrades; its framework path existed.
        let early = ChainChoice { chain: Some(Chain::Sui), protocol_version: Some(2), ..auto };
        assert!(early.validate().is_ok());
        let early_user = ChainChoice { policy: Some(Policy::Compatible), ..early };
        assert!(matches!(early_user.validate(), Err(ProfileError::UpgradesDisabled { version: 2, .. })));
        for unknown in [0, SUI_NEWEST + 1] {
            let v = ChainChoice { protocol_version: Some(unknown), ..auto };
            assert_eq!(v.validate(), Err(ProfileError::UnknownProtocolVersion { version: unknown }));
        }
        let given = Profile::new(Chain::Sui, Policy::Additive).unwrap().at_protocol(90).unwrap();
        assert_eq!(ChainChoice::given(given).profile_for(Chain::Sui), Ok(given));
    }
}
