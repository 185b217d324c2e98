//! Where the cache reads the time: the monotonic clock, or a manual one for tests.

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
