//! Counters striped by thread, so that counting a hit never makes two threads write the
//! same cache line.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

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
    bytes: AtomicI64,
    store_hits: AtomicU64,
    store_misses: AtomicU64,
    store_errors: AtomicU64,
    remote_loads_joined: AtomicU64,
    stale_hits: AtomicU64,
    refreshes: AtomicU64,
    refresh_errors: AtomicU64,
}

const STRIPES: usize = 16;

pub(crate) struct Counters {
    stripes: Box<[Stripe]>,
}

thread_local! {
    static ANCHOR: u8 = const { 0 };
}

#[inline]
fn stripe_index() -> usize {
    // Each thread's thread-locals live at their own address: hashing it picks a stripe
    // without any lazily assigned state.
    let addr = ANCHOR.with(|a| a as *const u8 as usize);
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) % STRIPES
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
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    #[inline]
    pub fn hit(&self) {
        self.mine().hits.fetch_add(1, Relaxed);
    }
    #[inline]
    pub fn miss(&self) {
        self.mine().misses.fetch_add(1, Relaxed);
    }
    pub fn load(&self) {
        self.mine().loads.fetch_add(1, Relaxed);
    }
    pub fn load_error(&self) {
        self.mine().load_errors.fetch_add(1, Relaxed);
    }
    pub fn evicted(&self, n: u64) {
        if n > 0 {
            self.mine().evictions.fetch_add(n, Relaxed);
        }
    }
    pub fn expired(&self, n: u64) {
        if n > 0 {
            self.mine().expirations.fetch_add(n, Relaxed);
        }
    }
    pub fn rejected(&self) {
        self.mine().rejected.fetch_add(1, Relaxed);
    }
    pub fn store_hit(&self) {
        self.mine().store_hits.fetch_add(1, Relaxed);
    }
    pub fn store_miss(&self) {
        self.mine().store_misses.fetch_add(1, Relaxed);
    }
    pub fn store_error(&self) {
        self.mine().store_errors.fetch_add(1, Relaxed);
    }
    pub fn remote_load_joined(&self) {
        self.mine().remote_loads_joined.fetch_add(1, Relaxed);
    }
    /// A call counted as a miss was answered with a stale value after all.
    pub fn miss_became_stale_hit(&self) {
        let st = self.mine();
        st.misses.fetch_sub(1, Relaxed);
        st.hits.fetch_add(1, Relaxed);
        st.stale_hits.fetch_add(1, Relaxed);
    }
    pub fn stale_hit(&self) {
        self.mine().stale_hits.fetch_add(1, Relaxed);
    }
    pub fn refreshed(&self) {
        self.mine().refreshes.fetch_add(1, Relaxed);
    }
    pub fn refresh_error(&self) {
        self.mine().refresh_errors.fetch_add(1, Relaxed);
    }
    pub fn add_bytes(&self, delta: i64) {
        if delta != 0 {
            self.mine().bytes.fetch_add(delta, Relaxed);
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
            bytes += st.bytes.load(Relaxed);
        }
        s.bytes = bytes.max(0) as u64;
        s
    }
}
