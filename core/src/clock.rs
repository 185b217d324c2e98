//! Where the cache reads the time: the monotonic clock, or a manual one for tests.
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
use std::time::Instant;

/// A clock in whole milliseconds since the clock was made.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The operating system's monotonic clock.
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
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System(origin) => origin.elapsed().as_millis() as u64,
            Clock::Manual(m) => m.now_ms(),
        }
    }
}

/// A clock that starts at 0 and advances only by [`ManualClock::advance`].
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::AcqRel);
    }
}

impl From<ManualClock> for Clock {
    fn from(m: ManualClock) -> Self {
        Clock::Manual(m)
    }
}
