//! Where the cache reads the time: the monotonic clock for the in-process tier, the wall
//! clock (epoch milliseconds) for anything shared with other processes, or a manual clock
//! for tests that drives both.
//!
//! An expired entry is never returned, to the millisecond, yet the precise monotonic read
//! (on x86 Linux, `rdtsc` behind a fence, which keeps the CPU from overlapping one lookup's
//! memory misses with the next) cost as much as the lookup itself in a tight loop of hits.
//! So a call reads the time in two steps ([`Now`]): first a cheap *upper bound* of the
//! time ([`Clock::upper_ms`]: the unfenced time-stamp counter, scaled by a rate measured
//! against the precise clock, plus a safety margin), which proves an entry live whenever
//! its deadline is later than the bound; only a decision the bound cannot settle (a
//! deadline, a refresh point or the sweep within about a millisecond) reads the precise
//! clock. Every decision is therefore the one the precise clock would give. Where the
//! counter is not the kernel's clock source, or off x86-64 Linux, and on a `ManualClock`,
//! the bound is the precise time itself.

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
    origin: Instant,
    /// `origin` in nanoseconds after the process's counter base ([`tsc`]), for the bound.
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_os = "linux")),
        allow(dead_code)
    )]
    origin_ns: u64,
}

impl SystemClock {
    pub fn new() -> Self {
        let base = tsc::base();
        let origin = Instant::now();
        SystemClock {
            origin,
            origin_ns: origin.duration_since(base).as_nanos() as u64,
        }
    }

    #[inline]
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// At least [`SystemClock::now_ms`] at any instant of the call.
    #[inline]
    fn upper_ms(&self) -> u64 {
        match tsc::upper_ns() {
            Some(ns) => ns.saturating_sub(self.origin_ns) / 1_000_000,
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
    /// time at any instant of the call, and at most about a millisecond more. Exact on a
    /// `ManualClock`. Use it through [`Now`].
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

/// The cheap bound of the monotonic clock: the time-stamp counter read without a fence,
/// scaled by a rate measured against the precise clock.
mod tsc {
    use std::sync::OnceLock;
    use std::time::Instant;

    static BASE: OnceLock<Instant> = OnceLock::new();

    /// The instant the bound counts from (the first clock of the process).
    pub fn base() -> Instant {
        *BASE.get_or_init(Instant::now)
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    #[inline]
    pub fn upper_ns() -> Option<u64> {
        None
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub use imp::upper_ns;

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    mod imp {
        use std::arch::x86_64::{_mm_lfence, _rdtsc};
        use std::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering::*};
        use std::time::Instant;

        /// Added to every bound. It covers an unfenced read that the CPU ran early (by
        /// far less than a microsecond: `rdtsc` may start before the instructions before
        /// it), the pairing error of the anchor and the rate, and rounding.
        const MARGIN_NS: u64 = 1_000_000;
        /// A read more than this many ticks after the anchor reads the precise clock and
        /// moves the anchor (about 0.1 s at 2.6 GHz), so that an error of the rate adds
        /// little: the rate is over-estimated by 1/512 (0.2%, more than the kernel ever
        /// slews its clock against the counter, at most 0.05%), at most 0.2 ms here.
        const MAX_SPAN_TICKS: u64 = 1 << 28;
        /// The rate is measured over at least this long before the bound is used.
        const CALIBRATION_NS: u64 = 10_000_000;

        /// The anchor (a counter reading and the precise time just after it) and the
        /// rate, behind a sequence lock: `seq` is odd while they are being written.
        #[repr(align(64))]
        struct Anchor {
            seq: AtomicU64,
            tsc: AtomicU64,
            ns: AtomicU64,
            /// Nanoseconds per tick × 2^32, over-estimated; 0 until measured.
            mult: AtomicU64,
            /// The precise time just before the first anchor's reading (for the rate).
            first_before: AtomicU64,
        }

        static ANCHOR: Anchor = Anchor {
            seq: AtomicU64::new(0),
            tsc: AtomicU64::new(0),
            ns: AtomicU64::new(0),
            mult: AtomicU64::new(0),
            first_before: AtomicU64::new(0),
        };

        const UNKNOWN: u8 = 0;
        const USABLE: u8 = 1;
        const UNUSABLE: u8 = 2;
        /// Whether the counter may be used (see `counter_is_the_clock`: the kernel then
        /// checked it is in step on every CPU).
        static SOURCE: AtomicU8 = AtomicU8::new(UNKNOWN);

        /// At least the precise monotonic time (ns after [`super::base`]) at any instant
        /// of the call; at most about 1.2 ms more.
        #[inline]
        pub fn upper_ns() -> Option<u64> {
            let a = &ANCHOR;
            let seq = a.seq.load(Acquire);
            let (tsc, ns, mult) = (
                a.tsc.load(Relaxed),
                a.ns.load(Relaxed),
                a.mult.load(Relaxed),
            );
            // SAFETY: `rdtsc` exists on every x86-64 CPU, reads a register and touches no
            // memory. Without a fence it may run a little before the instructions ahead
            // of it, which reads an earlier time: MARGIN_NS covers that.
            let now = unsafe { _rdtsc() };
            fence(Acquire);
            if seq & 1 == 0 && a.seq.load(Relaxed) == seq && mult != 0 {
                if let Some(dt) = now.checked_sub(tsc).filter(|&d| d <= MAX_SPAN_TICKS) {
                    let elapsed = ((dt as u128 * mult as u128) >> 32) as u64;
                    return Some(ns + elapsed + MARGIN_NS);
                }
            }
            slow()
        }

        /// Whether the counter is the kernel's clock source, and runs at a constant rate
        /// that does not stop in idle states (so that it cannot stand still while time
        /// passes).
        fn counter_is_the_clock() -> bool {
            let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
            let source = read("/sys/devices/system/clocksource/clocksource0/current_clocksource");
            let cpu = read("/proc/cpuinfo");
            let flags = cpu.lines().find(|l| l.starts_with("flags")).unwrap_or("");
            let has = |f: &str| flags.split_whitespace().any(|x| x == f);
            source.trim() == "tsc" && has("constant_tsc") && has("nonstop_tsc")
        }

        /// A counter reading with the precise time just before and just after it: the
        /// time of the reading lies between the two, however long the thread was held up.
        /// A few tries for a narrow pair (a wide one is as safe, only less tight).
        fn pair(base: Instant) -> (u64, u64, u64) {
            let mut best = (0, 0, u64::MAX);
            for _ in 0..8 {
                let before = base.elapsed().as_nanos() as u64;
                // SAFETY: as in `upper_ns`; the fences keep the reading between the two
                // reads of the precise clock.
                let tsc = unsafe {
                    _mm_lfence();
                    let t = _rdtsc();
                    _mm_lfence();
                    t
                };
                let after = base.elapsed().as_nanos() as u64;
                if after - before < best.2 - best.1 {
                    best = (tsc, before, after);
                }
                if after - before <= 20_000 {
                    break;
                }
            }
            best
        }

        /// No bound yet, or the anchor is too old: the precise time (itself a bound),
        /// moving the anchor, and measuring the rate once enough time has passed.
        #[cold]
        fn slow() -> Option<u64> {
            match SOURCE.load(Relaxed) {
                USABLE => {}
                UNUSABLE => return None,
                _ => {
                    let tsc = counter_is_the_clock();
                    SOURCE.store(if tsc { USABLE } else { UNUSABLE }, Relaxed);
                    if !tsc {
                        return None;
                    }
                }
            }
            // The anchor takes the time after the reading (never below the time of the
            // reading); the rate is measured from the time before the first reading to the
            // time after this one (never below the true rate): both err on the safe side.
            let (tsc, before, ns) = pair(super::base());
            let a = &ANCHOR;
            let seq = a.seq.load(Relaxed);
            if seq & 1 == 1
                || a.seq
                    .compare_exchange(seq, seq + 1, Relaxed, Relaxed)
                    .is_err()
            {
                return Some(ns); // another thread is moving the anchor
            }
            fence(Release);
            let (tsc0, mut mult) = (a.tsc.load(Relaxed), a.mult.load(Relaxed));
            if mult == 0 && tsc0 == 0 {
                a.first_before.store(before, Relaxed);
            } else if mult == 0 {
                // Measure the rate against the first anchor, once it is far enough back.
                let before0 = a.first_before.load(Relaxed);
                if ns.saturating_sub(before0) < CALIBRATION_NS || tsc <= tsc0 {
                    a.seq.store(seq + 2, Release);
                    return Some(ns);
                }
                let per_tick = (ns - before0) as f64 / (tsc - tsc0) as f64;
                mult = (per_tick * (1.0 + 1.0 / 512.0) * 4_294_967_296.0).ceil() as u64;
            }
            a.tsc.store(tsc, Relaxed);
            a.ns.store(ns, Relaxed);
            a.mult.store(mult, Relaxed);
            a.seq.store(seq + 2, Release);
            Some(ns)
        }
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

    #[test]
    fn the_bound_is_never_below_the_precise_time_and_close_above_it() {
        let c = Clock::default();
        let start = Instant::now();
        // Past the rate's measurement (10 ms), and across a few moves of the anchor.
        while start.elapsed() < std::time::Duration::from_millis(300) {
            let before = c.now_ms();
            let upper = c.upper_ms();
            let after = c.now_ms();
            assert!(before <= upper, "bound {upper} below the time {before}");
            // The bound is about a millisecond above the time of its reading (more only
            // if the machine held the thread up while the rate was measured): a sanity
            // check that it follows the clock, not a timing.
            assert!(
                upper <= after + 1000,
                "bound {upper} far above the time {after}"
            );
        }
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
