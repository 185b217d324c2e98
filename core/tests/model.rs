//! Model-based test: random sequences of every operation on a cache with a manual clock,
//! checked at every step against a map with deadlines.
//!
//! The model cannot know which entry the eviction policy picks, so a key the cache no
//! longer has while the model does is taken as evicted, and the test checks that the
//! cache counted at least that many evictions. Everything else must agree exactly.

use std::collections::HashMap;

use std::sync::atomic::{AtomicU32, Ordering};

use flightcache::{Cache, Clock, Config, LoadOptions, LoaderError, ManualClock, DEFAULT_TTL_MS};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

#[derive(Debug, Clone)]
enum Op {
    Set(u8, i64, Option<u16>),
    Del(u8),
    Get(u8),
    GetOrLoad(u8, i64, Option<u16>, bool),
    GetMaxAge(u8, u16),
    Has(u8),
    Incr(u8, i8),
    Expire(u8, u16),
    RemainingTtl(u8),
    Keys,
    Clear,
    Advance(u16),
}

fn ttl_strategy() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![Just(None), Just(Some(0)), (1u16..300).prop_map(Some)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let key = 0u8..12;
    prop_oneof![
        4 => (key.clone(), any::<i64>(), ttl_strategy()).prop_map(|(k, v, t)| Op::Set(k, v, t)),
        1 => key.clone().prop_map(Op::Del),
        4 => key.clone().prop_map(Op::Get),
        3 => (key.clone(), any::<i64>(), ttl_strategy(), prop::bool::weighted(0.2))
            .prop_map(|(k, v, t, f)| Op::GetOrLoad(k, v, t, f)),
        1 => (key.clone(), 0u16..200).prop_map(|(k, a)| Op::GetMaxAge(k, a)),
        1 => key.clone().prop_map(Op::Has),
        2 => (key.clone(), any::<i8>()).prop_map(|(k, b)| Op::Incr(k, b)),
        1 => (key.clone(), 0u16..300).prop_map(|(k, t)| Op::Expire(k, t)),
        1 => key.clone().prop_map(Op::RemainingTtl),
        1 => Just(Op::Keys),
        1 => Just(Op::Clear),
        3 => (0u16..150).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    value: i64,
    born: u64,
    deadline: u64,
}

struct Model {
    map: HashMap<String, Slot>,
    now: u64,
    disappeared: u64,
    gets: u64,
    loads: u64,
    load_errors: u64,
}

impl Model {
    fn live(&self, k: &str) -> Option<Slot> {
        self.map.get(k).copied().filter(|s| s.deadline > self.now)
    }
    fn write(&mut self, k: &str, value: i64, ttl: Option<u16>) {
        let ttl = ttl.map_or(DEFAULT_TTL_MS, u64::from);
        if ttl == 0 {
            self.map.remove(k);
        } else {
            self.map.insert(
                k.into(),
                Slot {
                    value,
                    born: self.now,
                    deadline: self.now + ttl,
                },
            );
        }
    }
    /// The cache lacks a key the model has: it must have been evicted.
    fn evicted(&mut self, k: &str) {
        self.map.remove(k);
        self.disappeared += 1;
    }
}

fn ms(t: Option<u16>) -> Option<f64> {
    t.map(f64::from)
}

fn run(
    ops: Vec<Op>,
    config: Config,
    clock: ManualClock,
    serialized: bool,
) -> Result<(), TestCaseError> {
    let max_entries = config.max_entries;
    let max_bytes = config.max_bytes;
    let cache: Cache<i64> = if serialized {
        // SAFETY: this thread alone calls the cache.
        unsafe { Cache::new_serialized(config) }.unwrap()
    } else {
        Cache::new(config).unwrap()
    };
    let mut m = Model {
        map: HashMap::new(),
        now: 0,
        disappeared: 0,
        gets: 0,
        loads: 0,
        load_errors: 0,
    };
    for op in ops {
        match op {
            Op::Set(k, v, t) => {
                let k = format!("k{k}");
                let evictions = cache.stats().evictions;
                let stored = cache.set(&k, v, ms(t)).unwrap();
                m.write(&k, v, t);
                if !stored && t != Some(0) {
                    // The policy may evict the new entry at once (a key re-admitted from
                    // quick_cache's ghost list); then set says so and counts it.
                    prop_assert!(
                        cache.stats().evictions > evictions,
                        "set refused {k} uncounted"
                    );
                    m.evicted(&k);
                } else {
                    prop_assert_eq!(stored, t != Some(0));
                }
            }
            Op::Del(k) => {
                let k = format!("k{k}");
                let had = cache.del(&k).wait_bool().unwrap();
                let model_had = m.live(&k).is_some();
                if model_had && !had {
                    m.evicted(&k);
                } else {
                    prop_assert_eq!(had, model_had);
                }
                m.map.remove(&k);
            }
            Op::Get(k) => {
                let k = format!("k{k}");
                m.gets += 1;
                let got = cache.get(&k);
                match (got, m.live(&k)) {
                    (Some(v), Some(s)) => prop_assert_eq!(v, s.value),
                    (Some(v), None) => prop_assert!(false, "{k} returned {v}, model has none"),
                    (None, Some(_)) => m.evicted(&k),
                    (None, None) => {}
                }
            }
            Op::GetMaxAge(k, age) => {
                let k = format!("k{k}");
                m.gets += 1;
                let got = cache.get_fresh(&k, Some(f64::from(age))).unwrap();
                let want = m.live(&k).filter(|s| m.now - s.born < u64::from(age));
                match (got, want) {
                    (Some(v), Some(s)) => prop_assert_eq!(v, s.value),
                    (Some(v), None) => prop_assert!(false, "{k} returned {v}, too old or absent"),
                    (None, Some(_)) => m.evicted(&k),
                    (None, None) => {}
                }
            }
            Op::GetOrLoad(k, v, t, fail) => {
                let k = format!("k{k}");
                m.gets += 1;
                let mut called = false;
                let r = cache.get_or_load(
                    &k,
                    &LoadOptions {
                        ttl: ms(t).into(),
                        ..Default::default()
                    },
                    || {
                        called = true;
                        if fail {
                            Err(LoaderError::new("fails"))
                        } else {
                            Ok(v)
                        }
                    },
                );
                let before = m.live(&k);
                if called {
                    m.loads += 1;
                    if let Some(_s) = before {
                        // The cache loaded although the model had a value: evicted.
                        m.evicted(&k);
                    }
                    if fail {
                        m.load_errors += 1;
                        prop_assert!(r.is_err());
                    } else {
                        prop_assert_eq!(r.unwrap(), v);
                        m.write(&k, v, t);
                    }
                } else {
                    let s = before
                        .ok_or_else(|| TestCaseError::fail(format!("{k}: hit without a value")))?;
                    prop_assert_eq!(r.unwrap(), s.value);
                }
            }
            Op::Has(k) => {
                let k = format!("k{k}");
                let has = cache.has(&k).wait_bool().unwrap();
                match (has, m.live(&k).is_some()) {
                    (true, false) => prop_assert!(false, "has({k}) but model has none"),
                    (false, true) => m.evicted(&k),
                    _ => {}
                }
            }
            Op::Incr(k, by) => {
                let k = format!("k{k}");
                let by = i64::from(by);
                let got = cache
                    .incr(&k, by, &mut flightcache::Plain)
                    .and_then(|o| o.wait_int());
                match m.live(&k) {
                    Some(s) => match s.value.checked_add(by) {
                        Some(n) => {
                            let got = got.unwrap();
                            if got == by && n != by {
                                // Started from 0: the old value had been evicted.
                                m.evicted(&k);
                                m.write(&k, by, None);
                            } else {
                                prop_assert_eq!(got, n);
                                m.map.insert(
                                    k,
                                    Slot {
                                        value: n,
                                        born: m.now,
                                        deadline: s.deadline,
                                    },
                                );
                            }
                        }
                        None => prop_assert_eq!(got.unwrap_err().kind(), "invalid_argument"),
                    },
                    None => {
                        prop_assert_eq!(got.unwrap(), by);
                        m.write(&k, by, None);
                    }
                }
            }
            Op::Expire(k, t) => {
                let k = format!("k{k}");
                let had = cache
                    .expire(&k, f64::from(t))
                    .and_then(|o| o.wait_bool())
                    .unwrap();
                match (had, m.live(&k)) {
                    (true, Some(s)) => {
                        if t == 0 {
                            m.map.remove(&k);
                        } else {
                            m.map.insert(
                                k,
                                Slot {
                                    deadline: m.now + u64::from(t),
                                    ..s
                                },
                            );
                        }
                    }
                    (false, Some(_)) => m.evicted(&k),
                    (true, None) => {
                        prop_assert!(false, "expire({k}) found a value the model lacks")
                    }
                    (false, None) => {}
                }
            }
            Op::RemainingTtl(k) => {
                let k = format!("k{k}");
                match (cache.remaining_ttl(&k).wait_ms().unwrap(), m.live(&k)) {
                    (Some(r), Some(s)) => prop_assert_eq!(r, (s.deadline - m.now) as f64),
                    (Some(r), None) => prop_assert!(false, "{k} has ttl {r}, model has none"),
                    (None, Some(_)) => m.evicted(&k),
                    (None, None) => {}
                }
            }
            Op::Keys => {
                let keys = cache.keys().wait_keys().unwrap();
                for k in &keys {
                    prop_assert!(m.live(k).is_some(), "keys() lists {k}, model has none");
                }
                let gone: Vec<String> = m
                    .map
                    .keys()
                    .filter(|k| m.live(k).is_some() && !keys.contains(k))
                    .cloned()
                    .collect();
                for k in gone {
                    m.evicted(&k);
                }
            }
            Op::Clear => {
                cache.clear().wait_done().unwrap();
                m.map.clear();
            }
            Op::Advance(d) => {
                clock.advance(u64::from(d));
                m.now += u64::from(d);
            }
        }
        // Invariants after every step.
        let st = cache.stats();
        prop_assert!(st.entries <= max_entries, "{st:?}");
        if let Some(mb) = max_bytes {
            prop_assert!(st.bytes <= mb, "{st:?}");
        }
        prop_assert_eq!(st.hits + st.misses, m.gets);
        prop_assert_eq!(st.loads, m.loads);
        prop_assert_eq!(st.load_errors, m.load_errors);
        prop_assert!(
            st.evictions >= m.disappeared,
            "{} keys vanished, {st:?}",
            m.disappeared
        );
        let keys = cache.keys().wait_keys().unwrap();
        prop_assert_eq!(
            st.entries as usize,
            keys.len(),
            "stats() sweeps expired entries first"
        );
        let bytes: u64 = keys.iter().map(|k| k.len() as u64 + 8).sum();
        prop_assert_eq!(st.bytes, bytes);
    }
    Ok(())
}

const CASES: u32 = 2000;

/// Runs CASES random sequences on each form of the in-process tier (the locked map, and
/// the unlocked one of a host that runs one call at a time) and says how many ran, so the
/// count shows in `cargo test`.
fn check(name: &str, config: impl Fn(Clock) -> Config) {
    check_form(name, &config, false);
    check_form(&format!("{name}, serialized"), &config, true);
}

fn check_form(name: &str, config: &impl Fn(Clock) -> Config, serialized: bool) {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    });
    let ran = AtomicU32::new(0);
    let result = runner.run(&prop::collection::vec(op_strategy(), 1..80), |ops| {
        ran.fetch_add(1, Ordering::Relaxed);
        let clock = ManualClock::new();
        run(ops, config(clock.clone().into()), clock, serialized)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let ran = ran.load(Ordering::Relaxed);
    assert!(ran >= CASES, "{name}: only {ran} cases ran");
    println!("{name}: {ran} random sequences matched the model");
}

#[test]
fn matches_the_model_with_an_entries_bound() {
    check("entries bound", |clock| Config {
        max_entries: 6,
        clock,
        ..Config::default()
    });
}

#[test]
fn matches_the_model_with_a_bytes_bound() {
    // Each entry is 2-3 key bytes + 8 value bytes: at most about 5 fit.
    check("bytes bound", |clock| Config {
        max_entries: 100,
        max_bytes: Some(55),
        clock,
        ..Config::default()
    });
}

#[test]
fn matches_the_model_without_pressure() {
    check("no pressure", |clock| Config {
        clock,
        ..Config::default()
    });
}
