//! The resilience policies over long simulated runs on the `ManualClock` (issue 11): a
//! loader failing for ten minutes with `stale_if_error`, and a hot key with
//! `refresh_ahead` for an hour.
//!
//! One thread plays every caller and the background work: a background operation's loader
//! "runs" from the moment the core asks for it until the simulated clock has moved by the
//! loader's duration, so the outcome depends on the rules only, never on scheduling.

use flightcache::{
    Cache, Config, Error, LoadOptions, LoaderError, Lookup, ManualClock, Op, Plain, PolicyOptions,
    Step,
};

/// Background work in flight: the operation, and when its loader started (the cache's
/// clock), once it has.
struct Background {
    op: Op<String>,
    loader_started: Option<u64>,
}

struct Sim {
    cache: Cache<String>,
    clock: ManualClock,
    background: Vec<Background>,
    /// How long a loader takes (simulated ms).
    load_ms: u64,
    /// Loader calls, by callers and by background work.
    loader_calls: u64,
    /// Callers that ran a loader or waited for one.
    callers_waited: u64,
    /// The values the loader returns: "v1", "v2", ...
    next_value: u64,
}

impl Sim {
    fn new(ttl: f64, policy: PolicyOptions, load_ms: u64) -> Sim {
        let clock = ManualClock::new();
        let cache = Cache::new(Config {
            clock: clock.clone().into(),
            ttl,
            policy,
            ..Config::default()
        })
        .unwrap();
        Sim {
            cache,
            clock,
            background: Vec::new(),
            load_ms,
            loader_calls: 0,
            callers_waited: 0,
            next_value: 0,
        }
    }

    fn load(&mut self, fail: bool) -> Result<String, LoaderError> {
        self.loader_calls += 1;
        if fail {
            return Err(LoaderError::new("the API is down"));
        }
        self.next_value += 1;
        Ok(format!("v{}", self.next_value))
    }

    /// One caller's `get(key, loader)`. A caller that must run the loader runs it for
    /// `load_ms` of simulated time (nobody else calls meanwhile).
    fn get(&mut self, key: &str, fail: bool) -> Result<String, Error> {
        let waker = flightcache::Parker::new().waker();
        let mut op = match self.cache.load(key, &LoadOptions::default())? {
            Lookup::Hit(v) => return Ok(v),
            Lookup::Absent => unreachable!("a load always answers"),
            Lookup::Pending(op) => op,
        };
        let mut waited = false;
        loop {
            match op.step(&mut Plain, &waker) {
                Step::Done(r) => {
                    self.callers_waited += waited as u64;
                    return r?.into_value();
                }
                Step::Spawn(other) => self.background.push(Background {
                    op: *other,
                    loader_started: None,
                }),
                Step::RunLoader => {
                    waited = true;
                    self.clock.advance(self.load_ms);
                    let r = self.load(fail);
                    op.loaded(r);
                }
                Step::Park(_) => panic!("a caller of {key:?} waited for another load"),
            }
        }
    }

    /// Moves background work on at the current simulated time.
    fn tick(&mut self) {
        let waker = flightcache::Parker::new().waker();
        let mut i = 0;
        while i < self.background.len() {
            let now = self.clock.now_ms();
            let bg = &mut self.background[i];
            let done = loop {
                match bg.op.step(&mut Plain, &waker) {
                    Step::Done(_) => break true,
                    Step::RunLoader => match bg.loader_started {
                        None => {
                            bg.loader_started = Some(now);
                            self.loader_calls += 1;
                            break false;
                        }
                        Some(t) if now >= t + self.load_ms => {
                            self.next_value += 1;
                            bg.op.loaded(Ok(format!("v{}", self.next_value)));
                        }
                        Some(_) => break false,
                    },
                    Step::Park(_) => break false,
                    Step::Spawn(other) => {
                        let op = *other;
                        self.background.push(Background {
                            op,
                            loader_started: None,
                        });
                        break false;
                    }
                }
            };
            if done {
                self.background.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[test]
fn fail_safe_serves_stale_for_ten_minutes_of_failures_and_spares_the_api() {
    const MINUTE: u64 = 60_000;
    let backoff = 1_000u64;
    let mut sim = Sim::new(
        MINUTE as f64,
        PolicyOptions {
            stale_if_error: Some((15 * MINUTE) as f64),
            fail_safe_backoff: Some(backoff as f64),
            ..Default::default()
        },
        0,
    );
    let keys = ["a", "b", "c"];
    for k in keys {
        assert_eq!(sim.get(k, false).unwrap(), format!("v{}", sim.next_value));
    }
    let good_loads = sim.loader_calls;
    // The API goes down as the values expire; callers ask every 10 ms for ten minutes.
    sim.clock.advance(MINUTE);
    let (mut served, mut errors) = (0u64, 0u64);
    let steps = 10 * MINUTE / 10;
    for _ in 0..steps {
        sim.clock.advance(10);
        for k in keys {
            match sim.get(k, true) {
                Ok(v) => {
                    assert!(v.starts_with('v'));
                    served += 1;
                }
                Err(_) => errors += 1,
            }
        }
    }
    let failed_calls = sim.loader_calls - good_loads;
    let stats = sim.cache.stats();
    println!(
        "fail-safe, 10 simulated minutes, {} keys, a call every 10 ms each: {served} stale \
         values served, {errors} errors served, {failed_calls} loader calls (at most one per key \
         per {backoff} ms back-off: {} allowed), load_errors {}, stale_hits {}",
        keys.len(),
        keys.len() as u64 * (10 * MINUTE / backoff + 1),
        stats.load_errors,
        stats.stale_hits,
    );
    assert_eq!(
        errors, 0,
        "an error was served while a stale value was in its window"
    );
    assert_eq!(served, steps * keys.len() as u64);
    assert!(failed_calls <= keys.len() as u64 * (10 * MINUTE / backoff + 1));
    // The back-off spares the API, but the loader is still tried about once a second.
    assert!(failed_calls >= keys.len() as u64 * (10 * MINUTE / backoff) / 2);
    assert_eq!(stats.load_errors, failed_calls);
    // Past the window, the error is the caller's again.
    sim.clock.advance(15 * MINUTE);
    assert!(matches!(sim.get("a", true), Err(Error::Loader(_))));
}

#[test]
fn refresh_ahead_keeps_a_hot_key_from_ever_making_a_caller_wait() {
    const TTL: u64 = 60_000;
    const HOUR: u64 = 3_600_000;
    let mut sim = Sim::new(
        TTL as f64,
        PolicyOptions {
            refresh_ahead: Some(0.9),
            ..Default::default()
        },
        200,
    );
    sim.get("hot", false).unwrap();
    assert_eq!(sim.callers_waited, 1);
    let mut last = String::new();
    let mut changes = 0u64;
    // 1,000 gets a second for a simulated hour.
    for _ in 0..HOUR {
        sim.clock.advance(1);
        sim.tick();
        let v = sim.get("hot", false).unwrap();
        if v != last {
            changes += 1;
            last = v;
        }
    }
    let stats = sim.cache.stats();
    let windows = HOUR / TTL;
    println!(
        "refresh-ahead, a simulated hour, 1,000 gets/s, TTL {TTL} ms, loader 200 ms, \
         refresh_ahead 0.9: {} callers waited for a load after the first, {} refreshes ({} \
         per {windows} TTL windows), {} loader calls, hits {}, misses {}",
        sim.callers_waited - 1,
        stats.refreshes,
        stats.refreshes as f64 / windows as f64,
        sim.loader_calls,
        stats.hits,
        stats.misses,
    );
    assert_eq!(
        sim.callers_waited, 1,
        "a caller waited for a load after the first"
    );
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.refresh_errors, 0);
    // One refresh when 90% of each value's life has gone: about 1.1 per TTL window.
    assert!(stats.refreshes >= windows && stats.refreshes <= windows * 12 / 10);
    assert_eq!(sim.loader_calls, stats.refreshes + 1);
    assert!(changes >= stats.refreshes);
}
