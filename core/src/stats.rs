//! Counters striped by thread, so that counting a hit never makes two threads write the
//! same cache line.
//!
//! The first threads of the process to count anything each get a stripe of their own
//! (`OWNED` of them): only that thread writes it, so a count is a plain load and store, not
//! a locked add, which keeps the CPU from overlapping a hit's work around it (a hot Rust hit
//! took 27.4 ns with it, 25.5 without), and no count is lost. Threads beyond those share the
//! remaining stripes with atomic adds.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A snapshot of what the cache has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `get` calls that found a live value.
    pub hits: u64,
    /// `get` calls that did not (including callers that joined another caller's load).
    pub misses: u64,
    /// Loader runs.
    pub loads: u64,
    /// Loader runs that failed.
    pub load_errors: u64,
    /// Live entries removed to make room.
    pub evictions: u64,
    /// Expired entries removed, by a read, a sweep, or eviction.
    pub expirations: u64,
    /// Entries not stored because they were over a size limit.
    pub rejected: u64,
    /// Entries stored now.
    pub entries: u64,
    /// Bytes (keys plus values) stored now.
    pub bytes: u64,
    /// Reads answered by the shared store (not the in-process tier).
    pub store_hits: u64,
    /// Reads the shared store had no fresh entry for.
    pub store_misses: u64,
    /// Store calls that failed, timed out, or were skipped while the store was down.
    pub store_errors: u64,
    /// Calls answered by a load that ran in another process.
    pub remote_loads_joined: u64,
    /// Calls answered with an expired value (stale-while-revalidate, fail-safe, a soft or
    /// hard timeout); also counted in `hits`.
    pub stale_hits: u64,
    /// Background refreshes that stored a new value (of a value served stale, or ahead
    /// of its expiry).
    pub refreshes: u64,
    /// Background refreshes that failed.
    pub refresh_errors: u64,
}

#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    rejected: AtomicU64,
    /// Signed, in two's complement: a stripe's releases may outweigh its writes.
    bytes: AtomicU64,
    store_hits: AtomicU64,
    store_misses: AtomicU64,
    store_errors: AtomicU64,
    remote_loads_joined: AtomicU64,
    stale_hits: AtomicU64,
    refreshes: AtomicU64,
    refresh_errors: AtomicU64,
}

/// Stripes owned by one thread each, then stripes shared by the threads that came later.
const OWNED: usize = 48;
const SHARED: usize = 16;
const STRIPES: usize = OWNED + SHARED;

pub(crate) struct Counters {
    stripes: Box<[Stripe]>,
}

/// Stripe numbers handed out to threads, in the order they first count; never handed out
/// twice (a thread that ends leaves its stripe and its counts behind).
static NEXT_OWNED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe number, `usize::MAX` until it first counts.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's stripe, and whether it owns it.
#[inline]
fn stripe_index() -> (usize, bool) {
    let i = STRIPE.with(Cell::get);
    if i < OWNED {
        return (i, true);
    }
    if i != usize::MAX {
        return (i, false);
    }
    assign_stripe()
}

#[cold]
fn assign_stripe() -> (usize, bool) {
    let n = NEXT_OWNED.fetch_add(1, Relaxed);
    let i = if n < OWNED {
        n
    } else {
        // The later threads spread over the shared stripes by their number.
        OWNED + n % SHARED
    };
    STRIPE.with(|s| s.set(i));
    (i, i < OWNED)
}

/// Adds `n` to a counter of this thread's stripe: a plain load and store when the thread
/// owns the stripe (nobody else writes it), an atomic add when it shares it.
#[inline]
fn add(c: &AtomicU64, n: u64, owned: bool) {
    if owned {
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    } else {
        c.fetch_add(n, Relaxed);
    }
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }
}

impl Counters {
    #[inline]
    fn mine(&self) -> (&Stripe, bool) {
        let (i, owned) = stripe_index();
        (&self.stripes[i], owned)
    }

    #[inline]
    fn count(&self, field: impl Fn(&Stripe) -> &AtomicU64, n: u64) {
        let (st, owned) = self.mine();
        add(field(st), n, owned);
    }

    #[inline]
    pub fn hit(&self) {
        self.count(|s| &s.hits, 1);
    }
    pub fn hits(&self, n: u64) {
        self.count(|s| &s.hits, n);
    }
    #[inline]
    pub fn miss(&self) {
        self.count(|s| &s.misses, 1);
    }
    pub fn load(&self) {
        self.count(|s| &s.loads, 1);
    }
    pub fn load_error(&self) {
        self.count(|s| &s.load_errors, 1);
    }
    pub fn evicted(&self, n: u64) {
        if n > 0 {
            self.count(|s| &s.evictions, n);
        }
    }
    pub fn expired(&self, n: u64) {
        if n > 0 {
            self.count(|s| &s.expirations, n);
        }
    }
    pub fn rejected(&self) {
        self.count(|s| &s.rejected, 1);
    }
    pub fn store_hit(&self) {
        self.count(|s| &s.store_hits, 1);
    }
    pub fn store_miss(&self) {
        self.count(|s| &s.store_misses, 1);
    }
    pub fn store_error(&self) {
        self.count(|s| &s.store_errors, 1);
    }
    pub fn remote_load_joined(&self) {
        self.count(|s| &s.remote_loads_joined, 1);
    }
    /// A call counted as a miss was answered with a stale value after all.
    pub fn miss_became_stale_hit(&self) {
        let (st, owned) = self.mine();
        add(&st.misses, 1u64.wrapping_neg(), owned);
        add(&st.hits, 1, owned);
        add(&st.stale_hits, 1, owned);
    }
    pub fn stale_hit(&self) {
        self.count(|s| &s.stale_hits, 1);
    }
    pub fn refreshed(&self) {
        self.count(|s| &s.refreshes, 1);
    }
    pub fn refresh_error(&self) {
        self.count(|s| &s.refresh_errors, 1);
    }
    pub fn add_bytes(&self, delta: i64) {
        if delta != 0 {
            self.count(|s| &s.bytes, delta as u64);
        }
    }

    pub fn snapshot(&self, entries: u64) -> Stats {
        let mut s = Stats {
            entries,
            ..Stats::default()
        };
        let mut bytes = 0i64;
        for st in self.stripes.iter() {
            // A stripe's misses may be below zero (a miss counted on another thread's
            // stripe turned into a hit on this one): the sum is right, modulo 2^64.
            s.hits = s.hits.wrapping_add(st.hits.load(Relaxed));
            s.misses = s.misses.wrapping_add(st.misses.load(Relaxed));
            s.loads += st.loads.load(Relaxed);
            s.load_errors += st.load_errors.load(Relaxed);
            s.evictions += st.evictions.load(Relaxed);
            s.expirations += st.expirations.load(Relaxed);
            s.rejected += st.rejected.load(Relaxed);
            s.store_hits += st.store_hits.load(Relaxed);
            s.store_misses += st.store_misses.load(Relaxed);
            s.store_errors += st.store_errors.load(Relaxed);
            s.remote_loads_joined += st.remote_loads_joined.load(Relaxed);
            s.stale_hits += st.stale_hits.load(Relaxed);
            s.refreshes += st.refreshes.load(Relaxed);
            s.refresh_errors += st.refresh_errors.load(Relaxed);
            bytes = bytes.wrapping_add(st.bytes.load(Relaxed) as i64);
        }
        s.bytes = bytes.max(0) as u64;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_count_is_lost_by_threads_that_own_their_stripe_or_share_one() {
        // More threads than owned stripes: some count on their own stripe, the rest share.
        let c = Counters::default();
        let threads = OWNED + SHARED + 8;
        let start = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..20_000 {
                        c.hit();
                        c.miss();
                        c.add_bytes(3);
                    }
                    c.miss_became_stale_hit();
                    c.evicted(2);
                });
            }
        });
        let st = c.snapshot(0);
        let t = threads as u64;
        assert_eq!((st.hits, st.misses), (t * 20_001, t * 19_999));
        assert_eq!(
            (st.stale_hits, st.evictions, st.bytes),
            (t, 2 * t, 3 * 20_000 * t)
        );
        assert!(
            NEXT_OWNED.load(Relaxed) > OWNED,
            "some threads shared a stripe"
        );
    }
}
