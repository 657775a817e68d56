//! Counting distinct things (accounts, instantiations) in a state too large to hold their set:
//! exact up to a bound, then an estimate (HyperLogLog) from which the exact set is no longer
//! kept. Both merge across key ranges the same way whatever the split (a set's union;
//! registers' maxima), so the count does not depend on the number of threads. What is counted
//! is a 64-bit hash of each thing's bytes, the same on every machine and build (collisions
//! among a bound of 200,000 are about one in a billion).

/// Distinct accounts counted exactly before the count becomes an estimate.
pub const ACCOUNTS_EXACT_UP_TO: usize = 200_000;
/// log2 of the registers of the estimate: 2^14 registers, about 0.8% standard error.
const P: u32 = 14;

/// Distinct byte strings seen: exact up to a bound, then estimated.
///
/// The exact set is a vector of hashes, appended to as things come and sorted (duplicates
/// dropped) each time it holds twice the bound: a search tree took a search with a cache miss a
/// level for each thing, half of what counting accounts cost a rehearsal (0.14 s of a
/// million-account rehearsal's pass).
#[derive(Debug, Clone)]
pub struct Distinct {
    /// The hashes seen, while they may still be at most `exact_up_to` distinct ones: sorted and
    /// distinct up to the last compaction, as they came after it.
    exact: Option<Vec<u64>>,
    exact_up_to: usize,
    registers: Vec<u8>,
}

impl Default for Distinct {
    /// A counter of accounts.
    fn default() -> Self {
        Distinct::new(ACCOUNTS_EXACT_UP_TO)
    }
}

impl Distinct {
    /// Exact up to `exact_up_to` distinct things (memory: 16 bytes each, and 16 KiB).
    pub fn new(exact_up_to: usize) -> Distinct {
        Distinct { exact: Some(Vec::new()), exact_up_to, registers: vec![0; 1 << P] }
    }

    /// Counts the thing whose bytes are `bytes`.
    #[inline]
    pub fn add(&mut self, bytes: &[u8]) {
        let h = hash(bytes);
        let index = (h >> (64 - P)) as usize;
        let rank = ((h << P) | (1 << (P - 1))).leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
        if let Some(set) = &mut self.exact {
            set.push(h);
            if set.len() >= self.exact_up_to.saturating_mul(2).max(1024) {
                self.compact();
            }
        }
    }

    /// Sorts the exact set and drops its duplicates; past the bound, the count becomes an
    /// estimate for good (a set only grows).
    fn compact(&mut self) {
        if let Some(set) = &mut self.exact {
            set.sort_unstable();
            set.dedup();
            if set.len() > self.exact_up_to {
                self.exact = None;
            }
        }
    }

    /// Both ranges' things.
    pub fn merge(&mut self, other: Distinct) {
        for (r, o) in self.registers.iter_mut().zip(other.registers) {
            *r = (*r).max(o);
        }
        self.exact_up_to = self.exact_up_to.max(other.exact_up_to);
        match (&mut self.exact, other.exact) {
            (Some(set), Some(more)) => {
                set.extend(more);
                self.compact();
            }
            _ => self.exact = None,
        }
    }

    /// The count, and whether it is exact.
    pub fn count(&self) -> (u64, bool) {
        if let Some(set) = &self.exact {
            let mut set = set.clone();
            set.sort_unstable();
            set.dedup();
            if set.len() <= self.exact_up_to {
                return (set.len() as u64, true);
            }
        }
        // HyperLogLog, with the small-range correction.
        let m = f64::from(1u32 << P);
        let sum: f64 = self.registers.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let mut estimate = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|r| **r == 0).count();
        if estimate <= 2.5 * m && zeros > 0 {
            estimate = m * (m / zeros as f64).ln();
        }
        (estimate.round() as u64, false)
    }
}

/// A 64-bit mix of `bytes` (a splitmix64 round per 8-byte word, the length last): addresses of
/// real chains are hashes already, but a devnet's are counters, and names share long prefixes.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    mix(h, bytes.len() as u64)
}

/// One splitmix64 round of `word` into `h`.
#[inline]
fn mix(h: u64, word: u64) -> u64 {
    let mut z = (h ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash word by word as first written (a chunk of up to 8 bytes at a time, then the
    /// length): the counts a report gives do not change with how it is computed.
    #[test]
    fn the_hash_is_the_one_reports_were_counted_with() {
        fn first(bytes: &[u8]) -> u64 {
            let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
            for chunk in bytes.chunks(8).chain(std::iter::once(&(bytes.len() as u64).to_le_bytes()[..])) {
                let mut w = [0u8; 8];
                w[..chunk.len()].copy_from_slice(chunk);
                h ^= u64::from_le_bytes(w);
                h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = h;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                h = z ^ (z >> 31);
            }
            h
        }
        let bytes: Vec<u8> = (0..40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..bytes.len() {
            assert_eq!(hash(&bytes[..len]), first(&bytes[..len]), "{len} bytes");
        }
    }

    #[test]
    fn exact_then_close_and_the_same_for_any_split() {
        let mut one = Distinct::new(1_000);
        for n in 0..1000u64 {
            one.add(&(n % 700).to_le_bytes());
        }
        assert_eq!(one.count(), (700, true));
        let (mut a, mut b, mut whole) = (Distinct::default(), Distinct::default(), Distinct::default());
        for n in 0..300_000u64 {
            let thing = n.to_be_bytes();
            whole.add(&thing);
            if n % 3 == 0 {
                a.add(&thing)
            } else {
                b.add(&thing)
            }
        }
        a.merge(b);
        let (count, exact) = a.count();
        assert!(!exact);
        assert_eq!(a.count(), whole.count(), "the same whatever the split");
        assert!((count as f64 - 300_000.0).abs() / 300_000.0 < 0.03, "{count}");
    }

    /// Exact while there are at most the bound distinct things, however often each repeats
    /// and however they are split; an estimate from one more on.
    #[test]
    fn exact_up_to_the_bound_through_repeats_and_splits() {
        let bound = 3000;
        for extra in [0u64, 1] {
            let n = bound as u64 + extra;
            let mut whole = Distinct::new(bound);
            let mut parts = [Distinct::new(bound), Distinct::new(bound), Distinct::new(bound)];
            for round in 0..5 {
                for i in 0..n {
                    whole.add(&i.to_le_bytes());
                    parts[(i as usize + round) % 3].add(&i.to_le_bytes());
                }
            }
            let [mut a, b, c] = parts;
            a.merge(b);
            a.merge(c);
            assert_eq!(a.count(), whole.count(), "{n}");
            assert_eq!(whole.count().1, extra == 0, "{n}");
            if extra == 0 {
                assert_eq!(whole.count().0, n);
            }
        }
    }

    /// A devnet's accounts are counters in the last bytes of 16 or 32: estimated as closely as
    /// random ones, and counted exactly below the bound (no two collide).
    #[test]
    fn counter_addresses_of_every_width_are_estimated_closely() {
        for width in [16usize, 20, 32] {
            let address = |n: u64| {
                let mut a = vec![0u8; width];
                a[width - 8..].copy_from_slice(&n.to_be_bytes());
                a
            };
            let mut exact = Distinct::new(200_000);
            for n in 0..150_000u64 {
                exact.add(&address(n));
            }
            assert_eq!(exact.count(), (150_000, true), "{width}");
            let mut many = Distinct::default();
            for n in 0..1_000_000u64 {
                many.add(&address(n * 7 + 1));
            }
            let (count, _) = many.count();
            assert!((count as f64 - 1e6).abs() / 1e6 < 0.03, "{width}: {count}");
        }
    }
}
