//! What the corpus tests run the fuzz targets' bodies with, where `cargo fuzz` cannot be
//! installed (offline): a generator and a mutator that give the same inputs on every run, so
//! that a failure is reproduced by running the test again, and a turn for the tests that
//! measure the heap.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// splitmix64: a small deterministic generator (the same numbers for the same seed on every
/// machine), not for anything that needs randomness.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started at `seed`.
    pub const fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    // An endless generator of numbers, not an iterator: `next` is the name the tests read.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `seed` with one to four edits: a bit flipped, a byte set, a byte inserted, a run of up to 16
/// bytes duplicated in place (how lengths and counts come to disagree with what follows), or the
/// tail cut. Any seed, the empty one included.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        let at = rng.below(len + 1);
        // An edit of a byte at the end (`at == len`) cuts instead.
        match rng.below(5) {
            0 if at < len => {
                let bit = rng.below(8);
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << bit;
                }
            }
            1 if at < len => {
                let byte = rng.next() as u8;
                if let Some(b) = out.get_mut(at) {
                    *b = byte;
                }
            }
            2 => out.insert(at, rng.next() as u8),
            3 if at < len => {
                let end = (at + 1 + rng.below(16)).min(len);
                let run = out.get(at..end).unwrap_or_default().to_vec();
                out.splice(at..at, run);
            }
            _ => out.truncate(at.max(1)),
        }
    }
    out
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The turn of a test that measures the heap: the allocator's counters are process-wide and the
/// test harness runs tests on several threads, so such tests hold this while they run. A test
/// that failed while holding it does not stop the others (the poisoning is ignored: the lock
/// guards no data).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let first: Vec<u64> = (0..100).map(|_| a.next()).collect();
        let again: Vec<u64> = (0..100).map(|_| b.next()).collect();
        let other: Vec<u64> = (0..100).map(|_| c.next()).collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
        // splitmix64's first output for seed 0, as published with the algorithm.
        assert_eq!(Rng::new(0).next(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn below_stays_below() {
        let mut rng = Rng::new(3);
        for n in 1..200 {
            for _ in 0..50 {
                assert!(rng.below(n) < n);
            }
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn mutate_takes_an_empty_seed() {
        let _turn = one_at_a_time();
        let mut rng = Rng::new(11);
        for _ in 0..1_000 {
            let _ = mutate(&mut rng, &[]);
        }
    }

    #[test]
    fn mutants_mostly_differ_from_their_seed() {
        let _turn = one_at_a_time();
        let mut rng = Rng::new(12);
        let seed = b"a seed of a few dozen bytes, as the writers make";
        let changed = (0..1_000).filter(|_| mutate(&mut rng, seed) != seed).count();
        assert!(changed > 900, "{changed} of 1000 mutants differ from their seed");
        // Every kind of edit is reached: longer, shorter and same-length mutants.
        let lengths: Vec<usize> = (0..1_000).map(|_| mutate(&mut rng, seed).len()).collect();
        assert!(lengths.iter().any(|&l| l > seed.len()));
        assert!(lengths.iter().any(|&l| l < seed.len()));
        assert!(lengths.contains(&seed.len()));
    }

    #[test]
    fn a_failed_turn_does_not_block_the_next() {
        let _ = std::thread::spawn(|| {
            let _turn = one_at_a_time();
            panic!("a test failing in its turn");
        })
        .join();
        drop(one_at_a_time());
    }
}
