//! What a host checks before answering a hit from its own copy of a value, without calling
//! the core.
//!
//! A call from JS into native code costs Node several times lru-cache's whole hit (the
//! call, reading the key, making the answer). So Node's `getSync` keeps, per key it has
//! read, the JS value, the time the value stays fresh until, and the generation of the
//! key's slot in this block when it read it; it answers from that copy while the slot's
//! generation and the block's epoch are unchanged and the time is before the deadline,
//! and otherwise asks the core, which refreshes the copy.
//!
//! The rule that keeps such copies right lives here and in [`super::table`], the one place
//! the map changes: every write or removal of a key bumps its slot's generation, and every
//! change that lets go of many keys at once (an eviction, a sweep, a clear) bumps the
//! epoch, after which the host drops its whole copy (which holds values: it must not
//! outlive the entries). Changes of other processes arrive on a store's thread, which never
//! touches the map: it raises the `PENDING` word at once, the host answers no copy while it
//! is raised, and its next call into the core removes what changed (bumping only the keys
//! this process holds) and lowers it. Two keys may share a slot: that only sends a copy to
//! the core now and then.
//!
//! The block is read by the host as 32-bit words (a JS `Uint32Array` over this memory):
//! the layout below is the contract, and [`MirrorBlock`] hands it out.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;

/// Bumped when the host must drop every copy.
pub const EPOCH: usize = 0;
/// The entries the host may copy, at most (the cache's entry bound): a copy that holds more
/// is dropped whole.
pub const CAPACITY: usize = 1;
/// What the last [`Mirror::record`] found: the slot, its generation, and for how many
/// milliseconds the host may answer its copy (0: it must not copy the value), counted from
/// a reading of its own clock in whole milliseconds taken before the call.
pub const FILL_SLOT: usize = 2;
pub const FILL_GENERATION: usize = 3;
pub const FILL_LIVE_MS: usize = 4;
/// Not 0 while changes of other processes wait for the host's next call into the core.
pub const PENDING: usize = 5;
/// The first slot; there are [`SLOTS`].
pub const SLOTS_AT: usize = 8;
pub const SLOTS: usize = 4096;

/// When a host may answer a copy without reading its clock again. Node's `Date.now()` costs
/// more than the rest of a copy's hit together (35 ns; with it, a hit on 100,000 random keys
/// measured 244-287 ns, without it 50-62), and the ordered counter read under it keeps the
/// CPU from overlapping one hit's memory misses with the next. So within one synchronous
/// stretch of host code (it never yields: the host forgets its reading when it does), once
/// the host has read its clock [`BURST_READS`] times in a row within one millisecond, it may
/// answer up to [`BURST_HITS`] hits with its latest reading before reading again, and only
/// copies with more than [`BURST_TRUST_MS`] left at that reading. A deadline can therefore
/// pass unseen only in a stretch that goes on for more than `BURST_TRUST_MS` after a reading
/// with fewer than `BURST_HITS` hits in between, and then by at most how far it went on
/// beyond that margin; lru-cache's cached time (`ttlResolution`) serves past deadlines for as
/// long as its event loop is blocked.
pub const BURST_READS: u32 = 32;
pub const BURST_HITS: u32 = 64;
pub const BURST_TRUST_MS: u32 = 1000;

/// A key's slot and its generation, as [`Mirror::seen`] read them.
#[derive(Clone, Copy)]
pub(crate) struct Seen {
    slot: usize,
    generation: u32,
}

pub(crate) struct Mirror {
    words: Box<[AtomicU32]>,
    hasher: quick_cache::DefaultHashBuilder,
    /// Whether the host may hold a copy: until the first [`Mirror::record`], the table's
    /// changes need no bump (a cache only written pays nothing). Set and read on the host's
    /// thread; a store's thread bumps regardless.
    copied: AtomicBool,
}

impl Mirror {
    pub fn new(capacity: u64) -> Self {
        let words: Box<[AtomicU32]> = (0..SLOTS_AT + SLOTS).map(|_| AtomicU32::new(0)).collect();
        words[CAPACITY].store(capacity.min(u32::MAX as u64) as u32, Relaxed);
        Mirror {
            words,
            hasher: Default::default(),
            copied: AtomicBool::new(false),
        }
    }

    #[inline]
    pub fn slot(&self, full: &str) -> usize {
        SLOTS_AT + self.hasher.hash_one(full) as usize % SLOTS
    }

    /// `full` was written or removed (on the host's thread, the only one that bumps).
    #[inline]
    pub fn bump(&self, full: &str) {
        self.bump_slot(self.slot(full));
    }

    #[inline]
    pub fn bump_slot(&self, slot: usize) {
        let w = &self.words[slot];
        w.store(w.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Many entries went at once: every copy goes.
    pub fn bump_epoch(&self) {
        let w = &self.words[EPOCH];
        w.store(w.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Changes of other processes were queued, and the expiry poked so that the host's
    /// next call removes them (from a store's thread, after both).
    pub fn announce(&self) {
        self.words[PENDING].store(1, SeqCst);
    }

    /// The host's call is about to take the queued changes: lowered first, so that a change
    /// queued after the take raises it again (a full fence: not sunk below the take).
    pub fn taking(&self) {
        self.words[PENDING].swap(0, SeqCst);
    }

    /// Whether the host may hold copies (on the host's thread).
    #[inline]
    pub fn copied(&self) -> bool {
        self.copied.load(Relaxed)
    }

    /// A hit on `full`, fresh for at least `live_ms` more (0: not to be copied), for the
    /// host to read in the `FILL_*` words. The host answers its copy for less: its clock
    /// reads whole milliseconds (its reading may be up to one behind), and it may run at
    /// another rate than the core's (a wall clock slewed by NTP, by at most 500 ppm, where
    /// the monotonic clock is not): 1 ms and 1/1024 of the time are taken off.
    #[inline]
    pub fn record(&self, seen: Seen, live_ms: u64) {
        let live_ms = live_ms.saturating_sub(1 + live_ms / 1024);
        if live_ms > 0 && !self.copied() {
            self.copied.store(true, Relaxed);
        }
        self.words[FILL_SLOT].store(seen.slot as u32, Relaxed);
        self.words[FILL_GENERATION].store(seen.generation, Relaxed);
        self.words[FILL_LIVE_MS].store(live_ms.min(u32::MAX as u64) as u32, Relaxed);
    }

    /// `full`'s slot and generation, read before the call looks at the key (its
    /// housekeeping may remove the key, and bump it, before the read).
    #[inline]
    pub fn seen(&self, full: &str) -> Seen {
        let slot = self.slot(full);
        Seen {
            slot,
            generation: self.words[slot].load(Relaxed),
        }
    }
}

/// The block as a host holds it: kept alive as long as the host reads it.
#[derive(Clone)]
pub struct MirrorBlock(pub(crate) Arc<Mirror>);

impl MirrorBlock {
    pub const EPOCH: usize = EPOCH;
    pub const CAPACITY: usize = CAPACITY;
    pub const FILL_SLOT: usize = FILL_SLOT;
    pub const FILL_GENERATION: usize = FILL_GENERATION;
    pub const FILL_LIVE_MS: usize = FILL_LIVE_MS;
    pub const PENDING: usize = PENDING;
    pub const BURST_READS: u32 = BURST_READS;
    pub const BURST_HITS: u32 = BURST_HITS;
    pub const BURST_TRUST_MS: u32 = BURST_TRUST_MS;

    /// The first word; the block is [`MirrorBlock::len`] 32-bit words, valid while this
    /// value (or a clone) lives. The host only reads it, on the thread that calls the
    /// cache; the core writes it with atomic operations (from a store's thread too).
    pub fn as_ptr(&self) -> *const u32 {
        self.0.words.as_ptr().cast()
    }

    pub fn len(&self) -> usize {
        self.0.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reports_the_generation_of_the_key_slot() {
        let m = Mirror::new(10);
        assert_eq!(m.words[CAPACITY].load(Relaxed), 10);
        m.bump("a");
        m.bump("a");
        m.record(m.seen("a"), 2048);
        let slot = m.words[FILL_SLOT].load(Relaxed) as usize;
        assert_eq!(slot, m.slot("a"));
        assert!((SLOTS_AT..SLOTS_AT + SLOTS).contains(&slot));
        assert_eq!(m.words[FILL_GENERATION].load(Relaxed), 2);
        assert_eq!(m.words[FILL_LIVE_MS].load(Relaxed), 2048 - 1 - 2);
        m.record(m.seen("a"), 1);
        assert_eq!(
            m.words[FILL_LIVE_MS].load(Relaxed),
            0,
            "nothing left to answer"
        );
        m.record(m.seen("a"), u64::MAX);
        assert_eq!(m.words[FILL_LIVE_MS].load(Relaxed), u32::MAX);
        m.announce();
        assert_eq!(m.words[PENDING].load(Relaxed), 1);
        m.taking();
        assert_eq!(m.words[PENDING].load(Relaxed), 0);
    }
}
