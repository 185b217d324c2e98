//! The resilience policies of a load (SPEC "Resilience and hit metadata"): how long an
//! expired value is kept and may be served, how long callers wait for a slow loader, when a
//! value is refreshed ahead of its expiry, and how long a failed load is not retried.
//!
//! Each is a cache option and a per-call option; a call's own values override the cache's.
//! Windows and the back-off run on the cache's clock; timeouts bound real waiting.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::memory::entry::{Entry, Times, MAX_WINDOW_MS};
use crate::memory::expiry::{parse_ttl, NEVER};

/// The back-off after a failed load when `stale_if_error` is on (SPEC default).
pub const DEFAULT_FAIL_SAFE_BACKOFF_MS: u64 = 1_000;
/// XFetch's β: 1 is the paper's choice (earlier refreshes for larger values).
const XFETCH_BETA: f64 = 1.0;

/// The policies as given (a cache's options, or a call's): milliseconds, unvalidated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicyOptions {
    pub stale_ttl: Option<f64>,
    pub stale_if_error: Option<f64>,
    pub soft_timeout: Option<f64>,
    pub hard_timeout: Option<f64>,
    pub refresh_ahead: Option<f64>,
    pub fail_safe_backoff: Option<f64>,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self::NONE
    }
}

impl PolicyOptions {
    /// No policy given: the cache's (or, for a cache, none).
    pub const NONE: PolicyOptions = PolicyOptions {
        stale_ttl: None,
        stale_if_error: None,
        soft_timeout: None,
        hard_timeout: None,
        refresh_ahead: None,
        fail_safe_backoff: None,
    };

    /// The options' names, as both languages spell them (Node in camelCase).
    pub const NAMES: [&'static str; 6] = [
        "stale_ttl",
        "stale_if_error",
        "soft_timeout",
        "hard_timeout",
        "refresh_ahead",
        "fail_safe_backoff",
    ];

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.stale_ttl.is_none()
            && self.stale_if_error.is_none()
            && self.soft_timeout.is_none()
            && self.hard_timeout.is_none()
            && self.refresh_ahead.is_none()
            && self.fail_safe_backoff.is_none()
    }
}

/// The policies in force for one call (validated, the call's over the cache's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Policy {
    pub stale_ttl: u64,
    pub stale_if_error: u64,
    pub soft_timeout: Option<Duration>,
    pub hard_timeout: Option<Duration>,
    /// A fraction of the TTL in (0, 1].
    pub refresh_ahead: Option<f64>,
    pub fail_safe_backoff: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stale_ttl: 0,
            stale_if_error: 0,
            soft_timeout: None,
            hard_timeout: None,
            refresh_ahead: None,
            fail_safe_backoff: DEFAULT_FAIL_SAFE_BACKOFF_MS,
        }
    }
}

/// A stale window: milliseconds below 2^32 - 1 (about 49.7 days), or endless (Infinity).
/// An entry keeps its window in 32 bits (see `Times`).
fn window(name: &str, v: f64) -> Result<u64> {
    let ms = parse_ttl(name, v)?;
    if ms != NEVER && ms > MAX_WINDOW_MS {
        return Err(Error::invalid(format!(
            "{name} must be at most {MAX_WINDOW_MS} ms (about 49.7 days) or Infinity, got {v}"
        )));
    }
    Ok(ms)
}

fn timeout(name: &str, v: f64) -> Result<Option<Duration>> {
    let ms = parse_ttl(name, v)?;
    Ok((ms != NEVER).then(|| Duration::from_millis(ms)))
}

impl Policy {
    /// `o`'s values over `self`'s, each validated (an error names the option and value).
    pub fn with(&self, o: &PolicyOptions) -> Result<Policy> {
        let mut p = *self;
        if let Some(v) = o.stale_ttl {
            p.stale_ttl = window("stale_ttl", v)?;
        }
        if let Some(v) = o.stale_if_error {
            p.stale_if_error = window("stale_if_error", v)?;
        }
        if let Some(v) = o.soft_timeout {
            p.soft_timeout = timeout("soft_timeout", v)?;
        }
        if let Some(v) = o.hard_timeout {
            p.hard_timeout = timeout("hard_timeout", v)?;
        }
        if let Some(v) = o.refresh_ahead {
            if !(v > 0.0 && v <= 1.0) {
                return Err(Error::invalid(format!(
                    "refresh_ahead must be a fraction of the TTL in (0, 1] (0.8: refresh \
                     after 80% of it), got {v}"
                )));
            }
            p.refresh_ahead = Some(v);
        }
        if let Some(v) = o.fail_safe_backoff {
            p.fail_safe_backoff = parse_ttl("fail_safe_backoff", v)?;
        }
        Ok(p)
    }

    /// How long past its deadline an entry written under this policy is kept.
    pub fn keep_ms(&self) -> u64 {
        self.stale_ttl.max(self.stale_if_error)
    }

    /// The times of a value written at `now` with `deadline`, whose load took `load_ms`.
    pub fn times(&self, now: u64, deadline: u64, load_ms: u32, epoch: u32) -> Times {
        Times::new(
            now,
            deadline,
            deadline.saturating_add(self.keep_ms()),
            self.refresh_at(now, deadline, load_ms),
            load_ms,
            epoch,
        )
    }

    /// When a hit starts a refresh of a value made at `born`: after `refresh_ahead` of its
    /// TTL, or earlier by XFetch (Vattani et al.: `deadline - δ·β·ln(1/u)`, δ the load's
    /// duration), never later. The random draw is made once per value, so one process
    /// starts at most one refresh per value; across processes the earliest draw wins and
    /// the store's lease keeps it to one load.
    pub fn refresh_at(&self, born: u64, deadline: u64, load_ms: u32) -> u64 {
        let Some(r) = self.refresh_ahead else {
            return NEVER;
        };
        if deadline == NEVER {
            return NEVER;
        }
        let ttl = deadline.saturating_sub(born);
        let by_fraction = born.saturating_add((ttl as f64 * r) as u64);
        let early = (load_ms as f64) * XFETCH_BETA * -unit_random().ln();
        let by_xfetch = deadline.saturating_sub(early.min(ttl as f64) as u64);
        by_fraction.min(by_xfetch)
    }

    /// Whether `e`, expired, may be served at once while a refresh runs.
    pub fn serves_stale<V>(&self, e: &Entry<V>, now: u64) -> bool {
        !e.live(now) && e.kept(now) && now < e.times.deadline.saturating_add(self.stale_ttl)
    }

    /// Whether `e` may be served instead of a failed (or timed out) load.
    pub fn serves_on_error<V>(&self, e: &Entry<V>, now: u64) -> bool {
        e.kept(now) && now < e.times.deadline.saturating_add(self.stale_if_error)
    }
}

/// Failed loads under `stale_if_error`, per key: until when the key is not loaded again,
/// and the error its callers get meanwhile when no stale value may be served.
#[derive(Default)]
pub(crate) struct Failures {
    map: parking_lot::Mutex<std::collections::HashMap<Box<str>, (u64, Error)>>,
    /// Whether any record may exist: writes skip the lock when none does.
    any: std::sync::atomic::AtomicBool,
}

/// Records kept before expired ones are pruned.
const FAILURES_PRUNE_AT: usize = 1024;

impl Failures {
    pub fn record(&self, full: &str, until: u64, e: Error, now: u64) {
        let mut m = self.map.lock();
        if m.len() >= FAILURES_PRUNE_AT {
            m.retain(|_, (u, _)| *u > now);
        }
        m.insert(full.into(), (until, e));
        self.any.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The error of a failed load of `full` whose back-off has not passed.
    pub fn active(&self, full: &str, now: u64) -> Option<Error> {
        if !self.any.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        let mut m = self.map.lock();
        match m.get(full) {
            Some((until, e)) if *until > now => Some(e.clone()),
            Some(_) => {
                m.remove(full);
                None
            }
            None => None,
        }
    }

    /// A write of the key (or a load that succeeded) ends its back-off.
    pub fn forget(&self, full: &str) {
        if self.any.load(std::sync::atomic::Ordering::SeqCst) {
            self.map.lock().remove(full);
        }
    }

    pub fn forget_prefix(&self, prefix: &str) {
        if self.any.load(std::sync::atomic::Ordering::SeqCst) {
            self.map.lock().retain(|k, _| !k.starts_with(prefix));
        }
    }
}

/// A number in (0, 1], from a per-thread xorshift seeded by the std hasher's keys.
fn unit_random() -> f64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_values_override_and_are_checked() {
        let cache = Policy::default()
            .with(&PolicyOptions {
                stale_ttl: Some(1000.0),
                ..Default::default()
            })
            .unwrap();
        let call = cache
            .with(&PolicyOptions {
                stale_if_error: Some(5000.0),
                soft_timeout: Some(50.0),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(call.stale_ttl, 1000);
        assert_eq!(call.stale_if_error, 5000);
        assert_eq!(call.soft_timeout, Some(Duration::from_millis(50)));
        assert_eq!(call.keep_ms(), 5000);
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let e = cache
                .with(&PolicyOptions {
                    refresh_ahead: Some(bad),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(e.to_string().contains("refresh_ahead"), "{e}");
        }
        let e = cache
            .with(&PolicyOptions {
                stale_ttl: Some(-1.0),
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.to_string().contains("stale_ttl"), "{e}");
    }

    #[test]
    fn refresh_ahead_is_never_later_than_its_fraction() {
        let p = Policy {
            refresh_ahead: Some(0.8),
            ..Default::default()
        };
        for _ in 0..1000 {
            let at = p.refresh_at(1_000, 61_000, 200);
            assert!(at <= 49_000, "{at}");
            assert!(at >= 1_000);
        }
        // A slow load moves the refresh earlier (XFetch): with δ = TTL, a draw lands
        // before 80% of the TTL when δ·ln(1/u) > 20% of it, with probability e^-0.2.
        let early = (0..10_000)
            .filter(|_| p.refresh_at(0, 10_000, 10_000) < 8_000)
            .count();
        assert!((7_800..8_600).contains(&early), "{early}");
        assert_eq!(Policy::default().refresh_at(0, 10, 1), NEVER);
    }
}
