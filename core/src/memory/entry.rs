//! What the cache stores for each key, and how quick_cache weighs and evicts it.

use quick_cache::{Lifecycle, Weighter};

use super::bounds::Bounds;
use crate::clock::Now;
use crate::memory::expiry::NEVER;

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
///
/// 32 bytes: the two windows past and before the deadline are kept as 32-bit millisecond
/// lengths (an entry of a `u64` value takes 48 bytes, not 56, and a random hit touches less
/// memory). A stale window is below 2^32 - 1 ms (about 49.7 days) or endless (the options
/// are checked: `MAX_WINDOW_MS`); a refresh more than that ahead of the deadline starts that
/// far ahead instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    /// When the value was written (or, for a copy of a store's entry, made), for `max_age`
    /// and ages.
    pub born: u64,
    /// The first millisecond at which the entry is expired.
    pub deadline: u64,
    /// How long past `deadline` an expired entry is kept for stale serving (`ENDLESS`:
    /// for ever).
    kept_for: u32,
    /// How long before `deadline` a hit starts one refresh ahead of expiry (`ENDLESS`: no
    /// refresh).
    refresh_lead: u32,
    /// How long the load that made the value took (ms, on the cache's clock).
    pub load_ms: u32,
    /// The listening epoch the value was read or written in (see `invalidations`).
    pub epoch: u32,
}

/// The one 32-bit window length that stands for "without end".
const ENDLESS: u32 = u32::MAX;

/// The longest stale window an option may ask for (ms); longer ones are refused, except
/// an endless one.
pub(crate) const MAX_WINDOW_MS: u64 = ENDLESS as u64 - 1;

impl Times {
    /// `keep_until` is at or after `deadline`; `refresh_at` at or before it, or `NEVER`.
    pub fn new(
        born: u64,
        deadline: u64,
        keep_until: u64,
        refresh_at: u64,
        load_ms: u32,
        epoch: u32,
    ) -> Times {
        let mut t = Times {
            born,
            deadline,
            kept_for: 0,
            refresh_lead: ENDLESS,
            load_ms,
            epoch,
        };
        t.set_keep_until(keep_until);
        t.set_refresh_at(refresh_at);
        t
    }

    /// The first millisecond at which an expired entry is no longer kept for stale serving
    /// (`deadline` when no stale window applies).
    #[inline]
    pub fn keep_until(&self) -> u64 {
        if self.kept_for == ENDLESS {
            NEVER
        } else {
            self.deadline.saturating_add(self.kept_for as u64)
        }
    }

    /// From this millisecond a hit starts one refresh ahead of expiry (`NEVER`: no
    /// refresh).
    #[inline]
    pub fn refresh_at(&self) -> u64 {
        if self.refresh_lead == ENDLESS || self.deadline == NEVER {
            NEVER
        } else {
            self.deadline.saturating_sub(self.refresh_lead as u64)
        }
    }

    pub fn set_keep_until(&mut self, keep_until: u64) {
        self.kept_for = if keep_until == NEVER {
            ENDLESS
        } else {
            keep_until.saturating_sub(self.deadline).min(MAX_WINDOW_MS) as u32
        };
    }

    pub fn set_refresh_at(&mut self, refresh_at: u64) {
        self.refresh_lead = if refresh_at == NEVER || self.deadline == NEVER {
            ENDLESS
        } else {
            self.deadline.saturating_sub(refresh_at).min(MAX_WINDOW_MS) as u32
        };
    }

    /// The same times with a new deadline (`expire`): the stale window keeps its length (none
    /// when the old deadline was `NEVER`, which left no length to keep).
    pub fn with_deadline(self, deadline: u64, refresh_at: u64) -> Times {
        let kept_for = if self.deadline == NEVER {
            0
        } else {
            self.kept_for
        };
        let mut t = Times {
            deadline,
            kept_for,
            ..self
        };
        t.set_refresh_at(refresh_at);
        t
    }

    /// Expired now and kept no longer (a value handed to waiters but not kept).
    pub fn ended_at(self, now: u64) -> Times {
        Times::new(self.born, now, now, NEVER, self.load_ms, self.epoch)
    }
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
        self.times.keep_until() > now
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_of_a_word_takes_48_bytes() {
        assert_eq!(std::mem::size_of::<Times>(), 32);
        assert_eq!(std::mem::size_of::<Entry<u64>>(), 48);
    }

    #[test]
    fn the_windows_come_back_as_given() {
        let t = Times::new(100, 1_000, 6_000, 800, 5, 2);
        assert_eq!(
            (t.born, t.deadline, t.keep_until(), t.refresh_at()),
            (100, 1_000, 6_000, 800)
        );
        assert_eq!((t.load_ms, t.epoch), (5, 2));
        let t = Times::new(100, 1_000, 1_000, NEVER, 0, 0);
        assert_eq!((t.keep_until(), t.refresh_at()), (1_000, NEVER));
        let t = Times::new(0, 1_000, NEVER, NEVER, 0, 0);
        assert_eq!(
            t.keep_until(),
            NEVER,
            "an endless stale window stays endless"
        );
        let t = Times::new(0, NEVER, NEVER, 5, 0, 0);
        assert_eq!((t.keep_until(), t.refresh_at()), (NEVER, NEVER));
        let w = MAX_WINDOW_MS;
        let t = Times::new(0, 10, 10 + w, 10, 0, 0);
        assert_eq!(
            t.keep_until(),
            10 + w,
            "the longest window an option may ask for"
        );
        let t = Times::new(0, 1_000, NEVER, NEVER, 0, 0).with_deadline(500, NEVER);
        assert_eq!(
            t.keep_until(),
            NEVER,
            "a shorter TTL keeps an endless window endless"
        );
        let t = Times::new(0, 1_000, 3_000, NEVER, 0, 0).with_deadline(500, 400);
        assert_eq!(
            (t.deadline, t.keep_until(), t.refresh_at()),
            (500, 2_500, 400)
        );
        let t = Times::new(0, 10, 10, 10, 0, 0).ended_at(7);
        assert_eq!((t.deadline, t.keep_until(), t.refresh_at()), (7, 7, NEVER));
    }

    #[test]
    fn a_refresh_further_ahead_than_32_bits_starts_that_far_ahead() {
        let day = 86_400_000;
        let t = Times::new(0, 100 * day, 100 * day, 10 * day, 0, 0);
        assert_eq!(t.refresh_at(), 100 * day - MAX_WINDOW_MS);
        assert!(t.refresh_at() > 10 * day && t.refresh_at() < 100 * day);
    }
}
