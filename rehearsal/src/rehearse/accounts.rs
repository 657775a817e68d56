//! Counting distinct accounts in a state too large to hold their set: exact up to a bound, then
//! an estimate (HyperLogLog) from which the exact set is no longer kept. Both merge across key
//! ranges the same way whatever the split (a set's union; registers' maxima), so the count does
//! not depend on the number of threads.

use migrations::AccountAddress;
use std::collections::BTreeSet;

/// Distinct accounts counted exactly before the count becomes an estimate (memory: this many
/// addresses).
pub const EXACT_UP_TO: usize = 200_000;
/// log2 of the registers of the estimate: 2^14 registers, about 0.8% standard error.
const P: u32 = 14;

/// Distinct accounts seen.
#[derive(Debug, Clone)]
pub struct Accounts {
    exact: Option<BTreeSet<AccountAddress>>,
    registers: Vec<u8>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts { exact: Some(BTreeSet::new()), registers: registers() }
    }
}

/// A 64-bit mix of an address's bytes (splitmix64 over its 8-byte words): addresses of real chains
/// are hashes already, but a devnet's are counters.
fn hash(a: &AccountAddress) -> u64 {
    hash_bytes(a.as_bytes())
}

/// A 64-bit hash of `bytes` that is the same on every machine, build and run (a splitmix64
/// round per 8 bytes): what the estimates count.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w.get_mut(..chunk.len()).unwrap_or_default().copy_from_slice(chunk);
        h ^= u64::from_le_bytes(w);
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}

/// The registers of an estimate, empty.
pub(crate) fn registers() -> Vec<u8> {
    vec![0; 1 << P]
}

/// Counts the 64-bit hash `h` in the estimate's registers.
#[inline]
pub(crate) fn register(registers: &mut [u8], h: u64) {
    let index = (h >> (64 - P)) as usize;
    let rank = ((h << P) | (1 << (P - 1))).leading_zeros() as u8 + 1;
    if let Some(r) = registers.get_mut(index) {
        *r = (*r).max(rank);
    }
}

/// The estimate of distinct hashes counted in `registers` (HyperLogLog, with the small-range
/// correction).
pub(crate) fn estimate(registers: &[u8]) -> u64 {
    let m = f64::from(1u32 << P);
    let sum: f64 = registers.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let mut estimate = alpha * m * m / sum;
    let zeros = registers.iter().filter(|r| **r == 0).count();
    if estimate <= 2.5 * m && zeros > 0 {
        estimate = m * (m / zeros as f64).ln();
    }
    estimate.round() as u64
}

impl Accounts {
    /// Counts `a`.
    #[inline]
    pub fn add(&mut self, a: &AccountAddress) {
        register(&mut self.registers, hash(a));
        if let Some(set) = &mut self.exact {
            set.insert(*a);
            if set.len() > EXACT_UP_TO {
                self.exact = None;
            }
        }
    }

    /// Both ranges' accounts.
    pub fn merge(&mut self, other: Accounts) {
        for (r, o) in self.registers.iter_mut().zip(other.registers) {
            *r = (*r).max(o);
        }
        match (&mut self.exact, other.exact) {
            (Some(set), Some(more)) => {
                set.extend(more);
                if set.len() > EXACT_UP_TO {
                    self.exact = None;
                }
            }
            _ => self.exact = None,
        }
    }

    /// The count, and whether it is exact.
    pub fn count(&self) -> (u64, bool) {
        if let Some(set) = &self.exact {
            return (set.len() as u64, true);
        }
        (estimate(&self.registers), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;

    #[test]
    fn exact_then_close_and_the_same_for_any_split() {
        let w = AddressLength::Bytes16;
        let mut one = Accounts::default();
        for n in 0..1000u64 {
            one.add(&AccountAddress::from_u64(n % 700, w));
        }
        assert_eq!(one.count(), (700, true));
        let (mut a, mut b, mut whole) = (Accounts::default(), Accounts::default(), Accounts::default());
        for n in 0..300_000u64 {
            let acc = AccountAddress::from_u64(n, w);
            whole.add(&acc);
            if n % 3 == 0 {
                a.add(&acc)
            } else {
                b.add(&acc)
            }
        }
        a.merge(b);
        let (count, exact) = a.count();
        assert!(!exact);
        assert_eq!(a.count(), whole.count(), "the same whatever the split");
        assert!((count as f64 - 300_000.0).abs() / 300_000.0 < 0.03, "{count}");
    }
}
