//! TTL rules and the schedule of the sweep that reclaims expired entries.
//!
//! quick_cache has no TTL. Each entry carries its deadline (checked on every read, so an
//! expired entry is never returned), and a sweep removes expired entries that nobody reads.
//! The sweep runs during ordinary calls, on the caller's thread, so host values are only
//! ever dropped by host threads. It runs once the earliest deadline has passed, at most
//! once per `interval`; the interval grows with the cost of a sweep so that sweeping never
//! takes more than about 1% of the time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::Instant;

use crate::clock::Now;
use crate::error::{Error, Result};

/// Deadline of an entry that never expires.
pub const NEVER: u64 = u64::MAX;
/// The cache's default TTL: 7 days.
pub const DEFAULT_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
const MIN_SWEEP_INTERVAL_MS: u64 = 1000;
/// How often a binding asks each cache to reclaim what has expired when nobody calls it
/// (`purge_expired`); the sweep schedule above decides whether anything is done.
pub const SWEEP_POLL_MS: u64 = 1000;

/// Reads a TTL given in milliseconds. Fractions of a millisecond are dropped; infinity
/// means "never expires".
pub fn parse_ttl(name: &str, ms: f64) -> Result<u64> {
    if ms.is_nan() {
        return Err(Error::invalid(format!(
            "{name} must be a number of milliseconds >= 0, got NaN"
        )));
    }
    if ms < 0.0 {
        return Err(Error::invalid(format!(
            "{name} must be a number of milliseconds >= 0, got {ms}"
        )));
    }
    if ms.is_infinite() || ms >= NEVER as f64 {
        return Ok(NEVER);
    }
    Ok(ms as u64)
}

pub(crate) struct Expiry {
    default_ttl: u64,
    max_ttl: Option<u64>,
    /// No stored entry has an earlier deadline (it may be earlier than the true minimum).
    earliest: AtomicU64,
    /// `max(earliest, last sweep + interval)`, or 0 when [`Expiry::poke`]d: the hit path
    /// reads only this.
    next_sweep: AtomicU64,
    /// The sweep schedule itself, which a poke does not change.
    scheduled: AtomicU64,
    last_sweep: AtomicU64,
    interval: AtomicU64,
    sweeping: AtomicBool,
}

impl Expiry {
    pub fn new(default_ttl: u64, max_ttl: Option<u64>) -> Self {
        Expiry {
            default_ttl,
            max_ttl,
            earliest: AtomicU64::new(NEVER),
            next_sweep: AtomicU64::new(NEVER),
            scheduled: AtomicU64::new(NEVER),
            last_sweep: AtomicU64::new(0),
            interval: AtomicU64::new(MIN_SWEEP_INTERVAL_MS),
            sweeping: AtomicBool::new(false),
        }
    }

    /// The TTL to apply for a call's `ttl` option: validated, defaulted and capped.
    #[inline]
    pub fn resolve(&self, ttl: Option<f64>) -> Result<u64> {
        let ttl = match ttl {
            Some(ms) => parse_ttl("ttl", ms)?,
            None => self.default_ttl,
        };
        Ok(self.max_ttl.map_or(ttl, |cap| ttl.min(cap)))
    }

    pub fn deadline(now: u64, ttl: u64) -> u64 {
        if ttl == NEVER {
            NEVER
        } else {
            now.saturating_add(ttl)
        }
    }

    /// Whether housekeeping is due (a sweep, or invalidations to apply); this is the one
    /// check the hit path pays for.
    #[inline]
    pub fn sweep_due(&self, now: u64) -> bool {
        now >= self.next_sweep.load(Relaxed)
    }

    /// [`Expiry::sweep_due`] on a lazily read time (the hit path).
    #[inline]
    pub fn sweep_due_at(&self, now: &mut Now<'_>) -> bool {
        now.reached(self.next_sweep.load(Relaxed))
    }

    /// Makes the next call do its housekeeping at once (invalidations arrived). Any thread
    /// may poke; the housekeeping runs on the host thread that notices.
    pub fn poke(&self) {
        self.next_sweep.store(0, SeqCst);
    }

    /// Undoes a poke, once its cause is handled: back to the sweep schedule. Returns
    /// whether the schedule itself says a sweep is due.
    pub fn unpoke(&self, now: u64) -> bool {
        let s = self.scheduled.load(SeqCst);
        self.next_sweep.store(s, SeqCst);
        now >= s
    }

    /// Whether some stored entry may have expired (for calls that report counts).
    pub fn any_expired(&self, now: u64) -> bool {
        now >= self.earliest.load(SeqCst)
    }

    /// Records the deadline of an entry just stored.
    #[inline]
    pub fn note(&self, deadline: u64) {
        if deadline < self.earliest.load(SeqCst) {
            self.earliest.fetch_min(deadline, SeqCst);
            let allowed = self
                .last_sweep
                .load(SeqCst)
                .saturating_add(self.interval.load(Relaxed));
            self.scheduled.fetch_min(deadline.max(allowed), SeqCst);
            self.next_sweep.fetch_min(deadline.max(allowed), SeqCst);
        }
    }

    /// Claims the sweep; `None` when another thread is sweeping.
    pub fn begin_sweep(&self, now: u64) -> Option<SweepTicket<'_>> {
        if self.sweeping.swap(true, Acquire) {
            return None;
        }
        self.last_sweep.store(now, SeqCst);
        self.earliest.store(NEVER, SeqCst);
        // A poke (0) stays: invalidations that arrive during the sweep are still handled.
        let _ = self
            .next_sweep
            .fetch_update(SeqCst, SeqCst, |n| (n != 0).then_some(NEVER));
        self.scheduled.store(NEVER, SeqCst);
        Some(SweepTicket {
            expiry: self,
            now,
            started: Instant::now(),
            min_survivor: NEVER,
        })
    }
}

/// A sweep in progress: it learns the earliest deadline that survives it.
pub(crate) struct SweepTicket<'a> {
    expiry: &'a Expiry,
    pub now: u64,
    started: Instant,
    pub min_survivor: u64,
}

impl Drop for SweepTicket<'_> {
    fn drop(&mut self) {
        let e = self.expiry;
        let took_ms = self.started.elapsed().as_millis() as u64;
        let interval = (took_ms * 100).max(MIN_SWEEP_INTERVAL_MS);
        e.interval.store(interval, Relaxed);
        e.earliest.fetch_min(self.min_survivor, SeqCst);
        let next = self.min_survivor.max(self.now.saturating_add(interval));
        e.scheduled.fetch_min(next, SeqCst);
        e.next_sweep.fetch_min(next, SeqCst);
        e.sweeping.store(false, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("ttl", 0.0).unwrap(), 0);
        assert_eq!(parse_ttl("ttl", 1.9).unwrap(), 1);
        assert_eq!(parse_ttl("ttl", f64::INFINITY).unwrap(), NEVER);
        let e = parse_ttl("ttl", -1.0).unwrap_err();
        assert_eq!(e.kind(), "invalid_argument");
        assert!(e.to_string().contains("-1"), "{e}");
        assert!(parse_ttl("ttl", f64::NAN)
            .unwrap_err()
            .to_string()
            .contains("NaN"));
    }

    #[test]
    fn default_and_cap() {
        let e = Expiry::new(DEFAULT_TTL_MS, Some(1000));
        assert_eq!(e.resolve(None).unwrap(), 1000);
        assert_eq!(e.resolve(Some(10.0)).unwrap(), 10);
        assert_eq!(e.resolve(Some(f64::INFINITY)).unwrap(), 1000);
        let e = Expiry::new(DEFAULT_TTL_MS, None);
        assert_eq!(e.resolve(None).unwrap(), 604_800_000);
    }

    #[test]
    fn sweep_is_due_after_the_earliest_deadline_and_the_interval() {
        let e = Expiry::new(DEFAULT_TTL_MS, None);
        assert!(!e.sweep_due(0));
        e.note(500);
        assert!(
            !e.sweep_due(999),
            "not before the first interval has passed"
        );
        assert!(e.sweep_due(1000));
        let mut t = e.begin_sweep(1000).unwrap();
        assert!(e.begin_sweep(1000).is_none(), "one sweeper at a time");
        t.min_survivor = 1500;
        drop(t);
        assert!(!e.sweep_due(1999));
        assert!(e.sweep_due(2000));
        assert!(e.any_expired(1500));
    }
}
