//! What the cache stores for each key, and how quick_cache weighs and evicts it.

use quick_cache::{Lifecycle, Weighter};

use super::bounds::Bounds;
use crate::clock::Now;

/// A stored key. Keys up to 24 bytes live inside the entry itself: a lookup then compares
/// the key without following a pointer to another cache line, and no allocation is made.
pub(crate) type Key = compact_str::CompactString;

#[derive(Clone)]
pub(crate) struct Entry<V> {
    pub value: V,
    /// The value's size in bytes, as the caller measured it.
    pub size: u64,
    pub times: Times,
}

/// When an entry was made, how long it lives, and what may happen to it on the way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    /// When the value was written (or, for a copy of a store's entry, made), for `max_age`
    /// and ages.
    pub born: u64,
    /// The first millisecond at which the entry is expired.
    pub deadline: u64,
    /// The first millisecond at which an expired entry is no longer kept for stale serving
    /// (`deadline` when no stale window applies).
    pub keep_until: u64,
    /// From this millisecond a hit starts one refresh ahead of expiry (`NEVER`: no refresh).
    pub refresh_at: u64,
    /// How long the load that made the value took (ms, on the cache's clock).
    pub load_ms: u32,
    /// The listening epoch the value was read or written in (see `invalidations`).
    pub epoch: u32,
}

impl<V> Entry<V> {
    /// Not expired.
    #[inline]
    pub fn live(&self, now: u64) -> bool {
        self.times.deadline > now
    }

    /// Still kept: live, or expired within its stale window.
    #[inline]
    pub fn kept(&self, now: u64) -> bool {
        self.times.keep_until > now
    }

    #[inline]
    pub fn fresh(&self, now: u64, max_age: Option<u64>) -> bool {
        self.live(now) && max_age.is_none_or(|m| now.saturating_sub(self.times.born) < m)
    }

    /// [`Entry::fresh`] on a lazily read time: the same answer, from the cheap bound when
    /// it settles it.
    #[inline]
    pub fn fresh_at(&self, now: &mut Now<'_>, max_age: Option<u64>) -> bool {
        // `now - born < m` is `now < born + m` (and false for m = 0, even before `born`).
        !now.reached(self.times.deadline)
            && max_age.is_none_or(|m| m > 0 && !now.reached(self.times.born.saturating_add(m)))
    }
}

/// An entry's weight folds both bounds into one number (see `bounds`).
#[derive(Clone)]
pub(crate) struct EntryWeighter(pub Bounds);

impl<V> Weighter<Key, Entry<V>> for EntryWeighter {
    #[inline]
    fn weight(&self, key: &Key, entry: &Entry<V>) -> u64 {
        self.0.weight(key.len() as u64 + entry.size)
    }
}

/// Hands every entry quick_cache lets go of (evicted, or replaced by a newer value) back
/// to the call that caused it, which counts it and drops it after its locks are released.
#[derive(Clone, Default)]
pub(crate) struct Released;

/// Most writes release at most one entry: keep those off the heap.
pub(crate) type ReleasedEntries<V> = smallvec::SmallVec<[(Key, Entry<V>); 2]>;

impl<V> Lifecycle<Key, Entry<V>> for Released {
    type RequestState = ReleasedEntries<V>;

    #[inline]
    fn on_evict(&self, state: &mut Self::RequestState, key: Key, entry: Entry<V>) {
        state.push((key, entry));
    }
}
