//! Where the cache reads the time: the monotonic clock for the in-process tier, the wall
//! clock (epoch milliseconds) for anything shared with other processes, or a manual clock
//! for tests that drives both.
//!
//! Every hit reads the precise monotonic clock, because an expired entry is never returned,
//! to the millisecond. On x86 Linux that read is `rdtsc` behind a fence, which keeps the
//! CPU from overlapping one lookup's memory misses with the next: in a tight loop of hits
//! on a large cache it costs about as much as the lookup itself. An upper bound of the time
//! from the unfenced counter was tried and measured no faster (`rdtsc` orders the same way
//! here), and the kernel's coarse clock lagged its stated resolution under load, so it
//! cannot prove an entry live. See the README's performance notes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The largest time a clock reports: one below [`crate::NEVER`], so that an entry that never
/// expires stays live whatever a manual clock is advanced by.
pub const MAX_TIME: u64 = u64::MAX - 1;

/// A clock in whole milliseconds.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The operating system's clocks: monotonic since the cache was made, and the wall clock.
    System(Instant),
    /// A clock that moves only when told to; share it between a test and its cache.
    Manual(ManualClock),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::System(Instant::now())
    }
}

impl Clock {
    /// Milliseconds on the monotonic clock (the in-process tier's time).
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System(origin) => origin.elapsed().as_millis() as u64,
            Clock::Manual(m) => m.now_ms(),
        }
    }

    /// Milliseconds since the Unix epoch (the time written into shared stores).
    pub fn epoch_ms(&self) -> u64 {
        match self {
            Clock::System(_) => wall_ms(),
            Clock::Manual(m) => m.epoch_ms(),
        }
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug)]
struct Manual {
    now: AtomicU64,
    /// The wall-clock time when the clock was made: its epoch time is this plus `now`.
    epoch_origin: u64,
}

/// A clock that starts at 0 and advances only by [`ManualClock::advance`]. Its epoch time
/// starts at the wall-clock time of its making and moves with it.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Manual>);

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock(Arc::new(Manual {
            now: AtomicU64::new(0),
            epoch_origin: wall_ms(),
        }))
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now_ms(&self) -> u64 {
        self.0.now.load(Ordering::Acquire)
    }

    pub fn epoch_ms(&self) -> u64 {
        self.0.epoch_origin.saturating_add(self.now_ms())
    }

    /// Moves the clock forward; it stops at [`MAX_TIME`] instead of wrapping around.
    pub fn advance(&self, ms: u64) {
        let _ = self
            .0
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(ms).min(MAX_TIME))
            });
    }
}

impl From<ManualClock> for Clock {
    fn from(m: ManualClock) -> Self {
        Clock::Manual(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_saturates_instead_of_wrapping() {
        let c = ManualClock::new();
        c.advance(u64::MAX);
        c.advance(u64::MAX);
        assert_eq!(c.now_ms(), MAX_TIME);
    }

    #[test]
    fn a_manual_clock_moves_its_epoch_time_too() {
        let c = ManualClock::new();
        let e0 = c.epoch_ms();
        c.advance(1500);
        assert_eq!(c.epoch_ms(), e0 + 1500);
        assert!(e0 > 1_600_000_000_000, "starts at the wall clock");
    }
}
