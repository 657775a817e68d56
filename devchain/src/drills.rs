//! Drills: damage done on purpose, so that an operator sees the chain survive it. Kept apart
//! from genesis and the plans, which are what a chain really runs.

/// Whether account `n` of `accounts` is one of `corrupt` accounts spread evenly (never the system
/// account 0).
pub fn is_corrupt(accounts: u32, corrupt: u32, n: u32) -> bool {
    if corrupt == 0 || n == 0 {
        return false;
    }
    let step = (accounts / corrupt.min(accounts).max(1)).max(1);
    n.is_multiple_of(step) && n / step <= corrupt
}

/// Corrupts a resource's bytes the way the quarantine drill does: one byte short, so that no
/// transform can read it.
pub fn corrupt(bytes: &mut Vec<u8>) {
    bytes.pop();
}
