//! Where the cache reads the time: the monotonic clock for the in-process tier, the wall
//! clock (epoch milliseconds) for anything shared with other processes, or a manual clock
//! for tests that drives both.
//!
//! An expired entry is never returned, to the millisecond, yet reading the precise
//! monotonic clock on every hit cost as much as the lookup itself (on x86, the time-stamp
//! counter read keeps the CPU from overlapping one lookup's memory misses with the next).
//! So a call reads the time in two steps (`Now`): first a cheap *upper bound* of the
//! time ([`Clock::upper_ms`]: on Linux, the kernel's coarse monotonic clock, which the
//! kernel moves on each timer tick and the vDSO reads without a system call, plus a margin
//! of five ticks), which proves an entry live whenever its deadline is later than the
//! bound; only a decision the bound cannot settle (a deadline, a refresh point or the
//! sweep within about the margin) reads the precise clock. Every decision is therefore the
//! one the precise clock would give, as long as the kernel's timekeeping is less than the
//! margin behind (here at 250 Hz it was at most 7.1 ms behind, also with every CPU busy;
//! `bench/clock_lag.py` measures it; the kernel takes the update over from a CPU that
//! stalls it for five ticks). Off Linux, and on a `ManualClock`, the bound is the precise
//! time itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest time a clock reports: one below [`crate::NEVER`], so that an entry that never
/// expires stays live whatever a manual clock is advanced by.
pub const MAX_TIME: u64 = u64::MAX - 1;

/// A clock in whole milliseconds.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The operating system's clocks: monotonic since the cache was made, and the wall clock.
    System(SystemClock),
    /// A clock that moves only when told to; share it between a test and its cache.
    Manual(ManualClock),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::System(SystemClock::new())
    }
}

/// The monotonic clock, counted from the clock's making.
#[derive(Clone, Debug)]
pub struct SystemClock {
    origin: kernel::Origin,
    /// The bound's clock at (or just before) `origin`, in ns, and the margin added to it.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    coarse: Option<(u64, u64)>,
}

impl SystemClock {
    pub fn new() -> Self {
        // Read before `origin`: the bound counts from no later than the precise clock does.
        let coarse = kernel::origin_and_margin();
        SystemClock {
            origin: kernel::Origin::now(),
            coarse,
        }
    }

    #[inline]
    fn now_ms(&self) -> u64 {
        self.origin.elapsed_ms()
    }

    /// At least [`SystemClock::now_ms`] at any instant of the call (see the module's
    /// comment for the condition).
    #[inline]
    fn upper_ms(&self) -> u64 {
        match self.coarse {
            Some((origin_ns, margin_ns)) => {
                (kernel::now_ns() + margin_ns).saturating_sub(origin_ns) / 1_000_000
            }
            None => self.now_ms(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// Milliseconds on the monotonic clock (the in-process tier's time).
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System(s) => s.now_ms(),
            Clock::Manual(m) => m.now_ms(),
        }
    }

    /// An upper bound of [`Clock::now_ms`] that is cheaper to read: at least the precise
    /// time at any instant of the call while the kernel's timekeeping is less than five
    /// ticks behind, and at most about six ticks more (the coarse clock plus its margin; see
    /// the module's documentation). Exact on a `ManualClock`. Use it through `Now`.
    #[inline]
    pub fn upper_ms(&self) -> u64 {
        match self {
            Clock::System(s) => s.upper_ms(),
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

/// The time of one call, read lazily: the cheap bound first ([`Clock::upper_ms`]), the
/// precise clock only when a decision needs it. Every decision is the one the precise
/// clock gives: a time the bound has not reached has not been reached. Once the precise
/// time is read, later decisions of the call use it.
pub(crate) struct Now<'c> {
    clock: &'c Clock,
    /// The bound, or the precise time once `exact`.
    time: u64,
    exact: bool,
}

impl<'c> Now<'c> {
    #[inline]
    pub fn new(clock: &'c Clock) -> Self {
        match clock {
            Clock::System(s) => Now {
                clock,
                time: s.upper_ms(),
                exact: false,
            },
            Clock::Manual(m) => Now {
                clock,
                time: m.now_ms(),
                exact: true,
            },
        }
    }

    /// Whether the time has reached `t` (ms).
    #[inline]
    pub fn reached(&mut self, t: u64) -> bool {
        t <= self.time && t <= self.exact()
    }

    /// An upper bound of the precise time now: the bound, or the precise time once read.
    #[inline]
    pub fn bound(&self) -> u64 {
        self.time
    }

    /// The precise time (read once per call).
    #[inline]
    pub fn exact(&mut self) -> u64 {
        if !self.exact {
            self.time = self.clock.now_ms();
            self.exact = true;
        }
        self.time
    }
}

/// The kernel's monotonic clocks, read through the vDSO (Linux): the coarse one (the time
/// of the last timer tick) for the bound, the precise one for the origin and exact reads.
mod kernel {
    /// Ticks the kernel's timekeeping may be behind before the bound could be low. The
    /// kernel itself takes the update over from a CPU that has stalled it for five ticks.
    #[cfg(target_os = "linux")]
    const MARGIN_TICKS: u64 = 5;

    #[cfg(target_os = "linux")]
    #[inline]
    fn read(clock: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
        // both clocks read here exist on every Linux the crate builds for.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ns(&ts)
    }

    #[cfg(target_os = "linux")]
    #[inline]
    fn ns(ts: &libc::timespec) -> u64 {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// When a [`super::SystemClock`] was made, on the precise monotonic clock (the one
    /// `Instant` reads). On Linux, read as nanoseconds: `Instant::elapsed` spent about 40
    /// instructions more per read on `Timespec` arithmetic and a 128-bit conversion, and a
    /// miss reads the precise clock twice.
    #[cfg(target_os = "linux")]
    #[derive(Clone, Copy, Debug)]
    pub struct Origin(u64);

    #[cfg(target_os = "linux")]
    impl Origin {
        pub fn now() -> Origin {
            Origin(read(libc::CLOCK_MONOTONIC))
        }

        #[inline]
        pub fn elapsed_ms(&self) -> u64 {
            read(libc::CLOCK_MONOTONIC).saturating_sub(self.0) / 1_000_000
        }
    }

    #[cfg(not(target_os = "linux"))]
    #[derive(Clone, Copy, Debug)]
    pub struct Origin(std::time::Instant);

    #[cfg(not(target_os = "linux"))]
    impl Origin {
        pub fn now() -> Origin {
            Origin(std::time::Instant::now())
        }

        #[inline]
        pub fn elapsed_ms(&self) -> u64 {
            self.0.elapsed().as_millis() as u64
        }
    }

    /// The coarse clock now, in ns (the vDSO reads it without a system call).
    #[cfg(target_os = "linux")]
    #[inline]
    pub fn now_ns() -> u64 {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    #[cfg(not(target_os = "linux"))]
    #[inline]
    pub fn now_ns() -> u64 {
        0
    }

    /// The precise monotonic clock now (the clock `Instant` reads, and the coarse one
    /// follows) and the margin, in ns; `None` where no coarse clock can serve.
    #[cfg(target_os = "linux")]
    pub fn origin_and_margin() -> Option<(u64, u64)> {
        let mut res = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `read`.
        let ok = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) } == 0;
        let tick_ns = ns(&res);
        // A tick longer than 20 ms would leave the bound too loose to settle anything.
        if !ok || tick_ns == 0 || tick_ns > 20_000_000 {
            return None;
        }
        Some((read(libc::CLOCK_MONOTONIC), MARGIN_TICKS * tick_ns))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn origin_and_margin() -> Option<(u64, u64)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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

    #[test]
    fn the_bound_is_never_below_the_precise_time_and_close_above_it() {
        let c = Clock::default();
        let start = Instant::now();
        // Across many ticks of the kernel's clock.
        while start.elapsed() < std::time::Duration::from_millis(300) {
            let before = c.now_ms();
            let upper = c.upper_ms();
            let after = c.now_ms();
            assert!(before <= upper, "bound {upper} below the time {before}");
            // The bound is at most the margin (five ticks) and a tick above the time of its
            // reading: a sanity check that it follows the clock, not a timing.
            assert!(
                upper <= after + 1000,
                "bound {upper} far above the time {after}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_bound_is_the_coarse_clock() {
        let Clock::System(s) = Clock::default() else {
            unreachable!()
        };
        let (_, margin_ns) = s
            .coarse
            .expect("a coarse clock with a tick of at most 20 ms");
        assert!(
            margin_ns > 0 && margin_ns <= 100_000_000,
            "margin {margin_ns} ns"
        );
    }

    #[test]
    fn a_call_decides_as_the_precise_clock_does() {
        let m = ManualClock::new();
        m.advance(1000);
        let clock = Clock::from(m.clone());
        let mut now = Now::new(&clock);
        assert!(
            now.reached(1000) && !now.reached(1001),
            "exact on a manual clock"
        );
        assert_eq!(now.exact(), 1000);

        let clock = Clock::default();
        let far = clock.now_ms() + 60_000;
        let mut now = Now::new(&clock);
        assert!(!now.reached(far));
        assert!(now.reached(0), "0 needs the precise time");
        let exact = now.exact();
        assert!(now.reached(exact) && !now.reached(exact + 1));
        assert!(exact <= clock.now_ms(), "the precise time, read once");
    }
}
