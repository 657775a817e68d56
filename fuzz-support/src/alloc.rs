//! The heap bound of the fuzz targets: untrusted input must never make a reader allocate more
//! than a bounded multiple of what the input holds (a count claiming four billion elements in
//! five bytes is the classic way to exhaust a node's memory).
//!
//! [`Counting`] forwards every call to the system allocator and keeps two process-wide counters:
//! the live heap bytes and their peak. [`measured`] runs one call and returns the peak it added
//! over what was live before it; [`Budget::check`] holds that peak against `factor × input +
//! slack`. The counters are process-wide, so a test that measures takes its turn with
//! [`one_at_a_time`](crate::corpus::one_at_a_time), and a fuzz target runs on one thread.
//!
//! The allocator is registered here (`#[global_allocator]`): it counts in every binary that links
//! this crate, and only there. A workspace whose targets call [`measured`] must therefore depend
//! on this crate normally (not only as a dev-dependency), or its fuzz binaries would measure
//! nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their peak; the memory itself comes from [`System`].
#[derive(Debug)]
pub struct Counting;

/// Live heap bytes.
static CURRENT: AtomicUsize = AtomicUsize::new(0);
/// The highest `CURRENT` since [`measured`] last reset it.
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    CURRENT.fetch_sub(n, Ordering::Relaxed);
}

// The one unsafe code in the workspace: implementing `GlobalAlloc` is unsafe by definition.
// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the peak of heap bytes it added to what was live before
/// it. The counters are process-wide: what other threads allocate meanwhile counts too.
pub fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// A bound on the heap one call may take: `factor` bytes per input byte, plus `slack` for fixed
/// costs (error messages, small vectors, buffers). Each fuzz workspace names its own next to
/// the targets it bounds, with why its factor is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Live heap bytes allowed per input byte.
    pub factor: usize,
    /// Live heap bytes allowed on top.
    pub slack: usize,
}

impl Budget {
    /// The peak allowed for an input of `input_len` bytes (saturating: never overflows).
    pub const fn limit(&self, input_len: usize) -> usize {
        self.factor.saturating_mul(input_len).saturating_add(self.slack)
    }

    /// Holds `peak` (from [`measured`]) against the limit for `input`; `what` names the call.
    ///
    /// # Panics
    ///
    /// When `peak` is above the limit: this is the fuzz targets' contract, and a panic is how a
    /// fuzzer or a corpus test is told.
    pub fn check(&self, input: &[u8], peak: usize, what: &str) {
        let limit = self.limit(input.len());
        assert!(
            peak <= limit,
            "{what} allocated {peak} bytes at its peak for {} input bytes (budget {limit})",
            input.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::one_at_a_time;
    use std::hint::black_box;

    const N: usize = 1 << 20;

    #[test]
    fn an_allocation_of_n_bytes_peaks_at_least_n() {
        let _turn = one_at_a_time();
        // Each way memory is taken: alloc, alloc_zeroed, and realloc growing a vector.
        let (len, peak) = measured(|| black_box(Vec::<u8>::with_capacity(N)).capacity());
        assert!(len >= N && peak >= N, "alloc: {peak} for {len}");
        let (len, peak) = measured(|| black_box(vec![0u8; N]).len());
        assert!(len == N && peak >= N, "alloc_zeroed: {peak} for {len}");
        let (len, peak) = measured(|| {
            let mut v = black_box(Vec::<u8>::with_capacity(16));
            v.resize(N, 1);
            black_box(v).len()
        });
        assert!(len == N && peak >= N, "realloc: {peak} for {len}");
    }

    /// The least of three measurements of `f`: the counters are process-wide, and a thread of
    /// the test harness that read the live bytes before a measurement began (while this test's
    /// megabyte was live) may raise the peak after it began. Such a late update only ever
    /// inflates one measurement; a leak inflates all three. (Seen once under load: 1 MiB counted
    /// after the free.)
    fn least_of_three(f: impl Fn() -> usize) -> usize {
        (0..3).map(|_| measured(&f).1).min().unwrap_or(usize::MAX)
    }

    #[test]
    fn a_freed_allocation_does_not_grow_the_next_measurement() {
        let _turn = one_at_a_time();
        let (v, peak) = measured(|| black_box(vec![1u8; N]));
        assert!(peak >= N);
        drop(v);
        let after = least_of_three(|| 0);
        assert!(after < N, "{after} bytes still counted after a free");
        // Memory live before a call is not the call's.
        let kept = black_box(vec![2u8; N]);
        let peak = least_of_three(|| black_box(vec![3u8; 16]).len());
        assert!(peak < N, "{peak} bytes for a 16-byte vector beside {} kept", kept.len());
    }

    #[test]
    fn a_budget_passes_at_its_bound() {
        let budget = Budget { factor: 4, slack: 100 };
        assert_eq!(budget.limit(10), 140);
        budget.check(&[0; 10], 140, "at the bound");
        budget.check(&[], 100, "the slack alone");
        Budget { factor: usize::MAX, slack: usize::MAX }.check(&[0; 3], usize::MAX, "saturating");
    }

    #[test]
    #[should_panic(expected = "over allocated 141 bytes at its peak for 10 input bytes (budget 140)")]
    fn a_budget_panics_above_its_bound() {
        Budget { factor: 4, slack: 100 }.check(&[0; 10], 141, "over");
    }
}
