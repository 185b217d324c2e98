//! One test per rule of the SPEC that the core owns.

use std::sync::atomic::{AtomicUsize, Ordering};

use flightcache::{
    Cache, Config, Error, Host, LoadOptions, LoaderError, Lookup, ManualClock, Op, Plain, Step,
    Ttl, Value,
};

/// The first step of a load, as a test sees it: this caller leads (runs the loader) or
/// waits for another caller's load.
enum L {
    Lead(Lead),
    Wait(Wait),
}

struct Lead(Op<String>);
struct Wait(Op<String>);

fn noop() -> std::task::Waker {
    flightcache::Parker::new().waker()
}

fn begin(c: &Cache<String>, key: &str, opts: &LoadOptions<'_>) -> Result<L, Error> {
    match c.load(key, opts)? {
        Lookup::Pending(mut op) => match op.step(&mut Plain, &noop()) {
            Step::RunLoader => Ok(L::Lead(Lead(op))),
            Step::Park(_) => Ok(L::Wait(Wait(op))),
            Step::Done(Err(e)) => Err(e),
            Step::Done(Ok(_)) => panic!("a load answered at once"),
            Step::Spawn(_) => panic!("no policy here runs a load in the background"),
        },
        _ => panic!("not a miss"),
    }
}

impl Lead {
    fn flight_id(&self) -> u64 {
        self.0.flight_id().expect("leads")
    }
    fn complete(mut self, v: String, _size: u64) -> Result<String, Error> {
        self.0.loaded(Ok(v));
        self.0.wait(&mut Plain)?.into_value()
    }
    fn fail(mut self, e: LoaderError) -> Error {
        self.0.loaded(Err(e));
        self.0.wait(&mut Plain).unwrap_err()
    }
}

impl Wait {
    fn wait(self) -> Result<String, Error> {
        self.0.wait(&mut Plain)?.into_value()
    }
}

fn cache_with(config: Config) -> (Cache<String>, ManualClock) {
    let clock = ManualClock::new();
    let cache = Cache::new(Config {
        clock: clock.clone().into(),
        ..config
    })
    .unwrap();
    (cache, clock)
}

fn cache() -> (Cache<String>, ManualClock) {
    cache_with(Config::default())
}

fn s(v: &str) -> String {
    v.to_string()
}

fn ttl(ms: f64) -> LoadOptions<'static> {
    LoadOptions {
        ttl: Some(ms).into(),
        ..Default::default()
    }
}

#[test]
fn expiry_is_exact_to_the_millisecond() {
    let (c, clock) = cache();
    clock.advance(1234);
    assert!(c.set("k", s("v"), Some(100.0)).unwrap());
    clock.advance(99);
    assert_eq!(c.get("k"), Some(s("v")), "present at t + d - 1");
    clock.advance(1);
    assert_eq!(c.get("k"), None, "absent at t + d");
    assert!(!c.has("k").wait_bool().unwrap());
}

#[test]
fn default_ttl_is_seven_days_and_a_call_overrides_it() {
    let (c, _) = cache();
    c.set("a", s("v"), None).unwrap();
    assert_eq!(c.remaining_ttl("a").wait_ms().unwrap(), Some(604_800_000.0));
    c.set("b", s("v"), Some(5.0)).unwrap();
    assert_eq!(c.remaining_ttl("b").wait_ms().unwrap(), Some(5.0));
    assert_eq!(c.remaining_ttl("missing").wait_ms().unwrap(), None);
    let (c, _) = cache_with(Config {
        ttl: 10.0,
        ..Config::default()
    });
    c.set("a", s("v"), None).unwrap();
    assert_eq!(c.remaining_ttl("a").wait_ms().unwrap(), Some(10.0));
}

#[test]
fn ttl_zero_loads_and_returns_but_stores_nothing() {
    let (c, _) = cache();
    assert!(!c.set("k", s("v"), Some(0.0)).unwrap());
    assert_eq!(c.get("k"), None);
    let v = c.get_or_load("k", &ttl(0.0), || Ok(s("loaded"))).unwrap();
    assert_eq!(v, "loaded");
    assert_eq!(c.get("k"), None);
    assert_eq!(c.stats().entries, 0);
}

#[test]
fn bad_ttls_are_errors_that_change_nothing() {
    let (c, _) = cache();
    c.set("k", s("old"), None).unwrap();
    for bad in [-1.0, f64::NAN, f64::NEG_INFINITY] {
        let e = c.set("k", s("new"), Some(bad)).unwrap_err();
        assert_eq!(e.kind(), "invalid_argument", "{bad}: {e}");
        assert!(e.to_string().contains("ttl"), "{e}");
        let e = c
            .get_or_load("other", &ttl(bad), || Ok(s("x")))
            .unwrap_err();
        assert_eq!(e.kind(), "invalid_argument");
        assert!(c.expire("k", bad).and_then(|o| o.wait_bool()).is_err());
    }
    assert_eq!(c.get("k"), Some(s("old")));
    assert_eq!(c.remaining_ttl("k").wait_ms().unwrap(), Some(604_800_000.0));
    assert!(!c.has("other").wait_bool().unwrap());
    assert_eq!(c.stats().loads, 0);
}

#[test]
fn max_ttl_caps_every_ttl() {
    let (c, _) = cache_with(Config {
        max_ttl: Some(1000.0),
        ..Config::default()
    });
    c.set("a", s("v"), None).unwrap();
    c.set("b", s("v"), Some(5000.0)).unwrap();
    c.set("c", s("v"), Some(10.0)).unwrap();
    assert_eq!(c.remaining_ttl("a").wait_ms().unwrap(), Some(1000.0));
    assert_eq!(c.remaining_ttl("b").wait_ms().unwrap(), Some(1000.0));
    assert_eq!(c.remaining_ttl("c").wait_ms().unwrap(), Some(10.0));
    c.expire("c", 1e9).and_then(|o| o.wait_bool()).unwrap();
    assert_eq!(c.remaining_ttl("c").wait_ms().unwrap(), Some(1000.0));
}

#[test]
fn ttl_may_be_computed_from_the_value() {
    let (c, clock) = cache();
    struct ExpiresIn;
    impl Host<String> for ExpiresIn {
        fn size_of(&mut self, v: &String) -> flightcache::Result<u64> {
            Ok(v.len() as u64)
        }
        fn ttl_of(&mut self, _: &String) -> flightcache::Result<Option<f64>> {
            Ok(Some(300.0))
        }
        fn export(&mut self, v: &String) -> flightcache::Result<Value> {
            Ok(Value::Str(v.clone()))
        }
        fn import(&mut self, _: Value) -> flightcache::Result<String> {
            unreachable!()
        }
    }
    let opts = LoadOptions {
        ttl: Ttl::FromValue,
        ..Default::default()
    };
    let Lookup::Pending(op) = c.load("token", &opts).unwrap() else {
        panic!("a miss")
    };
    op.run_blocking(&mut ExpiresIn, || Ok(s("tok"))).unwrap();
    assert_eq!(c.remaining_ttl("token").wait_ms().unwrap(), Some(300.0));
    clock.advance(300);
    assert_eq!(c.get("token"), None);
}

#[test]
fn expired_entries_are_reclaimed_without_being_read() {
    let (c, clock) = cache();
    for i in 0..100 {
        c.set(&format!("short{i}"), s("v"), Some(10.0)).unwrap();
    }
    c.set("long", s("v"), None).unwrap();
    clock.advance(2000);
    // Any write after the sweep interval reclaims them, without reading them.
    c.set("other", s("v"), None).unwrap();
    assert_eq!(
        c.purge_expired(),
        0,
        "the write's sweep already removed them"
    );
    let st = c.stats();
    assert_eq!(st.entries, 2);
    assert_eq!(st.expirations, 100);
    assert_eq!(st.bytes, ("long".len() + "other".len() + 2) as u64);
}

#[test]
fn purge_expired_reclaims_at_once() {
    let (c, clock) = cache();
    c.set("a", s("v"), Some(10.0)).unwrap();
    clock.advance(10);
    assert_eq!(c.purge_expired(), 1);
    assert_eq!(c.purge_expired(), 0);
}

#[test]
fn get_without_loader_returns_none_when_absent_or_expired() {
    let (c, clock) = cache();
    assert_eq!(c.get("nope"), None);
    c.set("k", s("v"), Some(1.0)).unwrap();
    clock.advance(1);
    assert_eq!(c.get("k"), None);
}

#[test]
fn the_empty_string_is_a_key() {
    let (c, _) = cache();
    c.set("", s("empty"), None).unwrap();
    assert_eq!(c.get(""), Some(s("empty")));
    assert_eq!(c.keys().wait_keys().unwrap(), vec![String::new()]);
}

#[test]
fn a_failing_loader_shares_its_error_and_stores_nothing() {
    let (c, _) = cache();
    let calls = AtomicUsize::new(0);
    let e = c
        .get_or_load("k", &LoadOptions::default(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(LoaderError::new("upstream 503"))
        })
        .unwrap_err();
    assert_eq!(e.kind(), "loader_error");
    assert_eq!(e.to_string(), "upstream 503");
    assert!(!c.has("k").wait_bool().unwrap());
    let v = c
        .get_or_load("k", &LoadOptions::default(), || Ok(s("ok")))
        .unwrap();
    assert_eq!(v, "ok");
    let st = c.stats();
    assert_eq!((st.loads, st.load_errors), (2, 1));
}

#[test]
fn waiters_get_the_very_same_error() {
    let (c, _) = cache();
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let L::Wait(w1) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let L::Wait(w2) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let err = LoaderError::new("boom");
    g.fail(err.clone());
    for w in [w1, w2] {
        match w.wait() {
            Err(Error::Loader(e)) => assert!(e.same_as(&err)),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert!(!c.has("k").wait_bool().unwrap());
}

#[test]
fn a_panicking_loader_fails_every_waiter_and_the_next_call_loads_again() {
    let (c, _) = cache();
    let c2 = c.clone();
    // A waiter on another thread, then the leader's loader panics inside get_or_load.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let leader = std::thread::spawn(move || {
        c2.get_or_load(
            "k",
            &LoadOptions::default(),
            || -> Result<String, LoaderError> {
                entered_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                panic!("loader exploded")
            },
        )
    });
    entered_rx.recv().unwrap();
    let L::Wait(w) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    go_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap().unwrap_err().kind(), "loader_error");
    let e = w.wait().unwrap_err();
    assert_eq!(e.kind(), "loader_error");
    assert!(e.to_string().contains("loader exploded"), "{e}");
    assert!(!c.has("k").wait_bool().unwrap());
    // get_or_load catches a loader's panic itself.
    let e = c
        .get_or_load(
            "k",
            &LoadOptions::default(),
            || -> Result<String, LoaderError> { panic!("again") },
        )
        .unwrap_err();
    assert!(e.to_string().contains("again"), "{e}");
    assert_eq!(
        c.get_or_load("k", &LoadOptions::default(), || Ok(s("fine")))
            .unwrap(),
        "fine"
    );
    assert_eq!(c.stats().load_errors, 2);
}

#[test]
fn a_dropped_leader_is_taken_over_by_a_waiter() {
    let (c, _) = cache();
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let Lookup::Pending(w) = c.load("k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let waiter = std::thread::spawn(move || {
        w.run_blocking(&mut Plain, || Ok(s("taken over")))
            .and_then(|a| a.into_value())
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(g); // the leader's task was cancelled
    assert_eq!(waiter.join().unwrap().unwrap(), "taken over");
    assert_eq!(c.get("k"), Some(s("taken over")));
}

#[test]
fn a_set_during_a_flight_wins() {
    let (c, _) = cache();
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let L::Wait(w) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    c.set("k", s("newer"), None).unwrap();
    assert_eq!(g.complete(s("loaded"), 6).unwrap(), "loaded");
    assert_eq!(
        w.wait().unwrap(),
        "loaded",
        "waiters still get the load's value"
    );
    assert_eq!(
        c.get("k"),
        Some(s("newer")),
        "but it does not overwrite the write"
    );
}

#[test]
fn a_del_during_a_flight_wins_and_later_callers_load_again() {
    let (c, _) = cache();
    let L::Lead(g1) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    assert!(!c.del("k").wait_bool().unwrap());
    let L::Lead(g2) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!("a caller after the del starts a new load")
    };
    g1.complete(s("old"), 3).unwrap();
    assert_eq!(c.get("k"), None, "the first load's result is not stored");
    g2.complete(s("new"), 3).unwrap();
    assert_eq!(c.get("k"), Some(s("new")));
}

#[test]
fn a_loader_asking_for_its_own_key_gets_reentrant() {
    let (c, _) = cache();
    let inner = c.clone();
    let e = c
        .get_or_load("k", &LoadOptions::default(), || {
            let e = inner
                .get_or_load("k", &LoadOptions::default(), || Ok(s("x")))
                .unwrap_err();
            assert_eq!(e.kind(), "reentrant");
            Err(LoaderError::new(e))
        })
        .unwrap_err();
    assert!(e.to_string().contains("own key"), "{e}");
    // Async callers pass the flights they run inside.
    let L::Lead(g) = begin(&c, "j", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let within = [g.flight_id()];
    let e = begin(
        &c,
        "j",
        &LoadOptions {
            within: &within,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), "reentrant");
    drop(g);
}

#[test]
fn waiting_callers_time_out() {
    let (c, _) = cache_with(Config {
        load_timeout: Some(20.0),
        ..Config::default()
    });
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let L::Wait(w) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let e = w.wait().unwrap_err();
    assert_eq!(e.kind(), "timeout");
    assert!(e.to_string().contains("\"k\""), "{e}");
    // A per-call timeout takes the place of the cache's.
    let L::Wait(w) = begin(
        &c,
        "k",
        &LoadOptions {
            timeout: Some(1.0),
            ..Default::default()
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(w.wait().unwrap_err().kind(), "timeout");
    g.complete(s("v"), 1).unwrap();
    assert_eq!(c.get("k"), Some(s("v")));
}

#[test]
fn max_age_zero_forces_a_single_flight_refresh() {
    let (c, clock) = cache();
    c.set("k", s("old"), None).unwrap();
    clock.advance(50);
    let fresh = LoadOptions {
        max_age: Some(0.0),
        ..Default::default()
    };
    let L::Lead(g) = begin(&c, "k", &fresh).unwrap() else {
        panic!("must refresh")
    };
    let L::Wait(w) = begin(&c, "k", &fresh).unwrap() else {
        panic!("must join")
    };
    // A caller without max_age still sees the old value meanwhile.
    assert_eq!(c.get("k"), Some(s("old")));
    g.complete(s("new"), 3).unwrap();
    assert_eq!(w.wait().unwrap(), "new");
    assert_eq!(c.get_fresh("k", Some(60.0)).unwrap(), Some(s("new")));
    clock.advance(60);
    assert_eq!(
        c.get_fresh("k", Some(60.0)).unwrap(),
        None,
        "older than max_age"
    );
    assert_eq!(c.get("k"), Some(s("new")), "but still live");
    assert_eq!(
        c.get_fresh("k", Some(-1.0)).unwrap_err().kind(),
        "invalid_argument"
    );
}

#[test]
fn entries_bound_holds_and_evictions_are_counted() {
    let (c, _) = cache_with(Config {
        max_entries: 100,
        ..Config::default()
    });
    for i in 0..1000 {
        c.set(&format!("k{i}"), s("v"), None).unwrap();
        assert!(c.stats().entries <= 100);
    }
    let st = c.stats();
    assert_eq!(st.evictions + st.entries, 1000);
}

#[test]
fn bytes_bound_holds() {
    let (c, _) = cache_with(Config {
        max_entries: 1000,
        max_bytes: Some(500),
        ..Config::default()
    });
    for i in 0..1000 {
        c.set(&format!("k{i:03}"), "x".repeat(i % 40), None)
            .unwrap();
        let st = c.stats();
        assert!(st.bytes <= 500, "{st:?}");
    }
    // An entry as large as max_bytes is storable; one byte more is rejected and counted.
    assert!(c.set("big", "x".repeat(497), None).unwrap());
    assert_eq!(c.stats().bytes, 500);
    assert!(!c.set("big", "x".repeat(498), None).unwrap());
    assert_eq!(c.stats().rejected, 1);
    assert_eq!(
        c.get("big"),
        None,
        "the newer (rejected) write still replaced the old value"
    );
}

#[test]
fn key_and_value_limits_reject_and_count() {
    let (c, _) = cache_with(Config {
        max_key_bytes: Some(4),
        max_value_bytes: Some(3),
        ..Config::default()
    });
    assert!(c.set("abcd", s("xyz"), None).unwrap());
    assert!(!c.set("abcde", s("x"), None).unwrap());
    assert!(!c.set("k", s("wxyz"), None).unwrap());
    let v = c
        .get_or_load("big", &LoadOptions::default(), || Ok(s("large!")))
        .unwrap();
    assert_eq!(
        v, "large!",
        "a loaded value over the limit is still returned"
    );
    assert!(!c.has("big").wait_bool().unwrap());
    assert_eq!(c.stats().rejected, 3);
}

#[test]
fn incr_is_atomic_starts_at_zero_and_refuses_non_integers() {
    let clock = ManualClock::new();
    let c: Cache<i64> = Cache::new(Config {
        clock: clock.into(),
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        c.incr("n", 1, &mut flightcache::Plain)
            .and_then(|o| o.wait_int())
            .unwrap(),
        1
    );
    assert_eq!(
        c.incr("n", 5, &mut flightcache::Plain)
            .and_then(|o| o.wait_int())
            .unwrap(),
        6
    );
    assert_eq!(
        c.incr("n", -10, &mut flightcache::Plain)
            .and_then(|o| o.wait_int())
            .unwrap(),
        -4
    );
    c.set("max", i64::MAX, Some(100.0)).unwrap();
    assert_eq!(
        c.incr("max", 1, &mut flightcache::Plain)
            .and_then(|o| o.wait_int())
            .unwrap_err()
            .kind(),
        "invalid_argument"
    );
    assert_eq!(c.get("max"), Some(i64::MAX));
    assert_eq!(
        c.remaining_ttl("max").wait_ms().unwrap(),
        Some(100.0),
        "incr keeps the TTL"
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    c.incr("shared", 1, &mut flightcache::Plain)
                        .and_then(|o| o.wait_int())
                        .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(c.get("shared"), Some(8000));

    let (s_cache, _) = cache();
    s_cache.set("text", s("abc"), None).unwrap();
    // String does not implement Counter; the wrong_type path is exercised through
    // a value type that does but holds a non-integer:
    #[derive(Clone)]
    struct Mixed(Option<i64>);
    impl flightcache::Cacheable for Mixed {
        fn size(&self) -> u64 {
            8
        }
        fn to_shared(&self) -> flightcache::Result<flightcache::Value> {
            Ok(match self.0 {
                Some(n) => flightcache::Value::Int(n),
                None => flightcache::Value::Null,
            })
        }
        fn from_shared(v: flightcache::Value) -> flightcache::Result<Self> {
            Ok(Mixed(match v {
                flightcache::Value::Int(n) => Some(n),
                _ => None,
            }))
        }
    }
    let m: Cache<Mixed> = Cache::new(Config::default()).unwrap();
    m.set("t", Mixed(None), None).unwrap();
    let e = m
        .incr("t", 1, &mut flightcache::Plain)
        .and_then(|o| o.wait_int())
        .unwrap_err();
    assert_eq!(e.kind(), "wrong_type");
    assert!(e.to_string().contains("\"t\""), "{e}");
    assert!(m.get("t").unwrap().0.is_none(), "unchanged");
}

#[test]
fn expire_and_remaining_ttl() {
    let (c, clock) = cache();
    assert!(!c.expire("nope", 10.0).and_then(|o| o.wait_bool()).unwrap());
    c.set("k", s("v"), None).unwrap();
    assert!(c.expire("k", 10.0).and_then(|o| o.wait_bool()).unwrap());
    assert_eq!(c.remaining_ttl("k").wait_ms().unwrap(), Some(10.0));
    clock.advance(4);
    assert_eq!(c.remaining_ttl("k").wait_ms().unwrap(), Some(6.0));
    assert!(c.expire("k", 0.0).and_then(|o| o.wait_bool()).unwrap());
    assert!(!c.has("k").wait_bool().unwrap());
    c.set("inf", s("v"), Some(f64::INFINITY)).unwrap();
    assert_eq!(
        c.remaining_ttl("inf").wait_ms().unwrap(),
        Some(f64::INFINITY)
    );
}

#[test]
fn namespaces_do_not_see_each_other() {
    let (c, _) = cache();
    let a = c.namespace("a").unwrap();
    let b = c.namespace("b").unwrap();
    a.set("k", s("in a"), None).unwrap();
    b.set("k", s("in b"), None).unwrap();
    c.set("k", s("root"), None).unwrap();
    assert_eq!(a.get("k"), Some(s("in a")));
    assert_eq!(b.get("k"), Some(s("in b")));
    assert_eq!(a.keys().wait_keys().unwrap(), vec![s("k")]);
    a.clear().wait_done().unwrap();
    assert_eq!(a.get("k"), None);
    assert_eq!(b.get("k"), Some(s("in b")));
    assert_eq!(c.get("k"), Some(s("root")));
    assert_eq!(b.len(), 1);
    assert_eq!(c.namespace("x:y").err().unwrap().kind(), "invalid_argument");
    assert_eq!(c.namespace("").err().unwrap().kind(), "invalid_argument");
    // Flights are per namespace too.
    let L::Lead(_g) = begin(&a, "f", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    assert!(matches!(
        begin(&b, "f", &LoadOptions::default()).unwrap(),
        L::Lead(_)
    ));
}

#[test]
fn keys_clear_len() {
    let (c, clock) = cache();
    c.set("a", s("1"), None).unwrap();
    c.set("b", s("2"), Some(5.0)).unwrap();
    let mut keys = c.keys().wait_keys().unwrap();
    keys.sort();
    assert_eq!(keys, vec![s("a"), s("b")]);
    clock.advance(5);
    assert_eq!(c.keys().wait_keys().unwrap(), vec![s("a")]);
    assert_eq!(c.len(), 1);
    c.clear().wait_done().unwrap();
    assert_eq!(c.len(), 0);
    assert_eq!(c.stats().bytes, 0);
    assert!(c.ping().wait_bool().unwrap());
}

#[test]
fn clear_during_a_flight_keeps_the_result_out() {
    let (c, _) = cache();
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    c.clear().wait_done().unwrap();
    g.complete(s("v"), 1).unwrap();
    assert!(!c.has("k").wait_bool().unwrap());
}

#[test]
fn stats_add_up_after_a_known_sequence() {
    let (c, _) = cache_with(Config {
        max_value_bytes: Some(10),
        ..Config::default()
    });
    c.get("a"); // miss
    c.set("a", s("12345"), None).unwrap();
    c.get("a"); // hit
    c.get_or_load("b", &LoadOptions::default(), || Ok(s("xy")))
        .unwrap(); // miss + load
    c.get_or_load("b", &LoadOptions::default(), || Ok(s("no")))
        .unwrap(); // hit
    let _ = c.get_or_load("c", &LoadOptions::default(), || Err(LoaderError::new("x"))); // miss, load, error
    c.set("big", "x".repeat(11), None).unwrap(); // rejected
    let st = c.stats();
    assert_eq!(
        (
            st.hits,
            st.misses,
            st.loads,
            st.load_errors,
            st.rejected,
            st.entries,
            st.bytes
        ),
        (2, 3, 2, 1, 1, 2, 1 + 5 + 1 + 2)
    );
}

#[test]
fn waiting_callers_can_block_or_await() {
    let (c, _) = cache();
    let L::Lead(g) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let L::Wait(w) = begin(&c, "k", &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let blocking = std::thread::spawn(move || w.wait());
    let c2 = c.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let awaiting = rt.spawn(async move {
        c2.get_or_load_async("k", &LoadOptions::default(), || async { Ok(s("not this")) })
            .await
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    g.complete(s("v"), 1).unwrap();
    assert_eq!(blocking.join().unwrap().unwrap(), "v");
    assert_eq!(rt.block_on(awaiting).unwrap().unwrap(), "v");
}

#[test]
fn config_errors_name_the_bad_value() {
    let e = Cache::<String>::new(Config {
        max_entries: 0,
        ..Config::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("max_entries"), "{e}");
    let e = Cache::<String>::new(Config {
        ttl: -5.0,
        ..Config::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("-5"), "{e}");
    let e = Cache::<String>::new(Config {
        max_bytes: Some(0),
        ..Config::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("max_bytes"), "{e}");
}

/// An expired entry is never returned on the system clock either, where a hit proves an
/// entry live from a cheap bound of the time and reads the precise clock only near its
/// deadline: whenever the time read before a `get` is past the latest the deadline can be,
/// the `get` answers nothing.
#[test]
fn on_the_system_clock_an_entry_is_gone_at_its_deadline() {
    let c: Cache<String> = Cache::new(Config::default()).unwrap();
    for round in 0..40u32 {
        let ttl = 2 + (round % 4) as u64;
        c.set("k", "v".to_string(), Some(ttl as f64)).unwrap();
        // The deadline is the time read inside `set`, plus the TTL: at most this.
        let latest_deadline = c.now() + ttl;
        loop {
            let before = c.now();
            let got = c.get("k");
            if before >= latest_deadline {
                assert!(
                    got.is_none(),
                    "an entry returned at {before} ms, past its deadline"
                );
            }
            if got.is_none() {
                break;
            }
        }
    }
}

/// A value that counts its copies.
#[derive(Debug)]
struct Counted(std::sync::Arc<AtomicUsize>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::Relaxed);
        Counted(self.0.clone())
    }
}

impl flightcache::Cacheable for Counted {
    fn size(&self) -> u64 {
        8
    }
}

#[test]
fn a_hit_copies_the_value_once_and_get_with_not_at_all_on_a_serialized_cache() {
    let copies = std::sync::Arc::new(AtomicUsize::new(0));
    let locked: Cache<Counted> = Cache::new(Config::default()).unwrap();
    // SAFETY: this thread alone calls the cache.
    let serialized: Cache<Counted> = unsafe { Cache::new_serialized(Config::default()) }.unwrap();
    for (name, c) in [("locked", &locked), ("serialized", &serialized)] {
        assert!(c.set("k", Counted(copies.clone()), None).unwrap());
        copies.store(0, Ordering::Relaxed);
        assert!(c.get("k").is_some());
        assert_eq!(copies.load(Ordering::Relaxed), 1, "{name}: get copies once");
        copies.store(0, Ordering::Relaxed);
        assert!(c.get_with("k", |v| v.0.load(Ordering::Relaxed)).is_some());
        let want = if name == "locked" { 1 } else { 0 };
        assert_eq!(copies.load(Ordering::Relaxed), want, "{name}: get_with");
        assert_eq!(c.stats().hits, 2, "{name}");
    }
}

/// The words of a mirrored cache's block, read as its host reads them.
fn words(b: &flightcache::MirrorBlock) -> Vec<u32> {
    // SAFETY: the block is `len` words, alive while `b` is; this thread alone calls the
    // cache, so nothing writes them while they are read.
    unsafe { std::slice::from_raw_parts(b.as_ptr(), b.len()) }.to_vec()
}

#[test]
fn a_mirrored_cache_tells_its_host_of_every_change_to_what_it_copied() {
    use flightcache::MirrorBlock as M;
    let config = Config {
        max_entries: 8,
        ..Config::default()
    };
    // SAFETY: this thread alone calls the cache.
    let c: Cache<String> = unsafe { Cache::new_mirrored(config) }.unwrap();
    let block = c.mirror_block().expect("a block");
    let w = || words(&block);
    assert_eq!(w()[M::CAPACITY], 8);

    // A cache only written pays nothing: until the host keeps a copy, nothing is bumped.
    c.set("a", s("0"), Some(60_000.0)).unwrap();
    c.set("z", s("z"), None).unwrap();
    c.del("z").wait_bool().unwrap();
    assert!(
        w()[M::FILL_LIVE_MS + 1..].iter().all(|&g| g == 0),
        "no bump before a copy"
    );

    // A hit says where the key's generation is and how long the value stays fresh.
    c.set("a", s("1"), Some(60_000.0)).unwrap();
    assert_eq!(
        c.get_mirrored("a", |v| (v.into_owned(), true)),
        Some(s("1"))
    );
    let (slot, generation) = (w()[M::FILL_SLOT] as usize, w()[M::FILL_GENERATION]);
    assert_eq!(w()[slot], generation);
    let live = w()[M::FILL_LIVE_MS];
    assert!((59_000..=60_000).contains(&live), "fresh for {live} ms");
    // A value the host may not keep as it is: nothing to keep.
    c.get_mirrored("a", |v| (v.into_owned(), false));
    assert_eq!(w()[M::FILL_LIVE_MS], 0);
    assert_eq!(c.get_mirrored("nope", |v| (v.into_owned(), true)), None);

    // Every write or removal of the key moves its generation.
    let epoch = w()[M::EPOCH];
    c.set("a", s("2"), None).unwrap();
    assert_ne!(w()[slot], generation, "a replace");
    let generation = w()[slot];
    c.del("a").wait_bool().unwrap();
    assert_ne!(w()[slot], generation, "a delete");
    let generation = w()[slot];
    c.set("a", s("3"), None).unwrap();
    c.expire("a", 1.0).and_then(|o| o.wait_bool()).unwrap();
    assert_ne!(w()[slot], generation, "a new deadline");
    assert_eq!(w()[M::EPOCH], epoch, "no change let many keys go");

    // Many keys at once: the epoch.
    std::thread::sleep(std::time::Duration::from_millis(5));
    c.set("b", s("b"), Some(1.0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(c.purge_expired() > 0);
    assert_ne!(w()[M::EPOCH], epoch, "a sweep");
    let epoch = w()[M::EPOCH];
    c.set("c", s("c"), None).unwrap();
    c.clear().wait_done().unwrap();
    assert_ne!(w()[M::EPOCH], epoch, "a clear");
    let epoch = w()[M::EPOCH];
    for i in 0..5 {
        c.set(&format!("k{i}"), s("v"), None).unwrap();
    }
    assert_eq!(w()[M::EPOCH], epoch, "below the bound");
    // Fuller than three quarters of the bound: the policy must see every hit.
    assert!(c.get_mirrored("k0", |v| (v.into_owned(), true)).is_some());
    assert!(w()[M::FILL_LIVE_MS] > 0, "5 of 8");
    c.set("k5", s("v"), None).unwrap();
    assert!(c.get_mirrored("k0", |v| (v.into_owned(), true)).is_some());
    assert_eq!(w()[M::FILL_LIVE_MS], 0, "6 of 8: not to be copied");
    for i in 6..40 {
        c.set(&format!("k{i}"), s("v"), None).unwrap();
    }
    assert_ne!(w()[M::EPOCH], epoch, "an eviction");

    // The host's hits count as hits.
    let hits = c.stats().hits;
    c.count_mirror_hits(5);
    assert_eq!(c.stats().hits, hits + 5);

    // No block where the host's copies could be wrong: a manual clock (the host reads its
    // own), a cache handing out copies, or a cache not mirrored.
    let manual = Config {
        clock: ManualClock::new().into(),
        ..Config::default()
    };
    let copying = Config {
        copy: true,
        ..Config::default()
    };
    for (name, config) in [("manual clock", manual), ("copy", copying)] {
        // SAFETY: as above.
        let c: Cache<String> = unsafe { Cache::new_mirrored(config) }.unwrap();
        assert!(c.mirror_block().is_none(), "{name}");
    }
    // SAFETY: as above.
    let plain: Cache<String> = unsafe { Cache::new_serialized(Config::default()) }.unwrap();
    assert!(plain.mirror_block().is_none());
    assert_eq!(plain.get_mirrored("x", |v| (v.into_owned(), true)), None);
}
