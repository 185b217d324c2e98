//! The two-tier rules with a shared store, on `memory://NAME` stores: two caches opened on
//! one name behave like two processes on one store (their own in-process tiers, one store
//! between them).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use flightcache::store::memory::set_fault;
use flightcache::store::Store;
use flightcache::{
    Cache, Cacheable, Config, LoadOptions, LoaderError, ManualClock, Plain, StoreErrorKind, Value,
};

fn store_name(test: &str) -> String {
    format!("memory://{test}-{}", std::process::id())
}

/// A cache on `url`. Store calls may take long on a loaded machine: a slow answer here
/// must not look like a store that is down.
fn open<V: Clone + 'static>(url: &str, clock: Option<&ManualClock>) -> Cache<V> {
    Cache::new(Config {
        store: Some(url.to_string()),
        store_timeout: Some(5_000.0),
        clock: clock.map_or_else(Default::default, |c| c.clone().into()),
        ..Config::default()
    })
    .unwrap()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn a_write_in_one_process_is_read_by_another() {
    let url = store_name("write");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    assert!(a.set("k", s("v1"), Some(60_000.0)).unwrap());
    let got = b.lookup("k", None).unwrap();
    let v = match got {
        flightcache::Lookup::Pending(op) => op.wait_value().unwrap(),
        _ => panic!("b has no copy yet: it reads the store"),
    };
    assert_eq!(v.as_deref(), Some("v1"));
    assert_eq!(b.get("k").as_deref(), Some("v1"), "b keeps a copy");
    let st = b.stats();
    assert_eq!((st.store_hits, st.store_errors), (1, 0));
}

#[test]
fn another_process_sees_a_write_instead_of_its_old_copy() {
    let url = store_name("inval");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    a.set("k", s("old"), None).unwrap();
    b.get_or_load("k", &LoadOptions::default(), || Ok(s("never")))
        .unwrap();
    assert_eq!(b.get("k").as_deref(), Some("old"));
    a.set("k", s("new"), None).unwrap();
    // The announcement reached b: its copy is gone before its next answer.
    assert_eq!(b.get("k"), None);
    assert_eq!(
        b.get_or_load("k", &LoadOptions::default(), || Ok(s("never")))
            .unwrap(),
        "new"
    );
    a.del("k").wait_bool().unwrap();
    assert_eq!(b.get("k"), None);
    assert!(!b.has("k").wait_bool().unwrap());
}

#[test]
fn one_load_per_key_across_processes() {
    let url = store_name("single");
    let caches: Vec<Cache<String>> = (0..4).map(|_| open(&url, None)).collect();
    let loads = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (c, loads, barrier) = (caches[i % 4].clone(), loads.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                c.get_or_load("token", &LoadOptions::default(), || {
                    loads.fetch_add(1, SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    Ok(s("secret"))
                })
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "secret");
    }
    assert_eq!(loads.load(SeqCst), 1, "one loader for every process");
    // Each other process waited for the load (joined it) or, when its first caller came
    // after the load (a busy machine), read the stored value: never loaded it.
    let took: Vec<u64> = caches
        .iter()
        .map(|c| {
            let s = c.stats();
            s.remote_loads_joined + s.store_hits
        })
        .collect();
    assert_eq!(
        took.iter().filter(|&&n| n > 0).count(),
        3,
        "the three other processes took the stored value: {took:?}"
    );
}

#[test]
fn a_loader_failure_reaches_the_waiters_of_other_processes() {
    let url = store_name("failure");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let leader = std::thread::spawn(move || {
        a.get_or_load("k", &LoadOptions::default(), || {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            Err(LoaderError::new("upstream 503").named("HTTPError"))
        })
    });
    started_rx.recv().unwrap();
    let e = b
        .get_or_load("k", &LoadOptions::default(), || Ok(s("not run")))
        .unwrap_err();
    assert_eq!(e.kind(), "loader_error");
    assert!(e.to_string().contains("HTTPError: upstream 503"), "{e}");
    assert_eq!(
        leader.join().unwrap().unwrap_err().to_string(),
        "upstream 503"
    );
    // The next call loads again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        b.get_or_load("k", &LoadOptions::default(), || Ok(s("second")))
            .unwrap(),
        "second"
    );
}

#[test]
fn a_dead_leader_is_taken_over_within_the_lease() {
    let url = store_name("takeover");
    let a: Cache<String> = Cache::new(Config {
        store: Some(url.clone()),
        lease: Some(300.0),
        ..Config::default()
    })
    .unwrap();
    let b: Cache<String> = Cache::new(Config {
        store: Some(url.clone()),
        lease: Some(300.0),
        ..Config::default()
    })
    .unwrap();
    // Another process took the lease and died: nobody renews or releases it.
    let name = url.strip_prefix("memory://").unwrap().to_string();
    let dead = flightcache::store::memory::named(&name);
    let taken = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(dead.lease("fc:v1:k", 42, 300))
        .unwrap();
    assert_eq!(taken, flightcache::store::LeaseState::Acquired);
    drop(a);
    let t = Instant::now();
    let v = b
        .get_or_load("k", &LoadOptions::default(), || Ok(s("b loaded")))
        .unwrap();
    let took = t.elapsed();
    assert_eq!(v, "b loaded");
    assert!(
        took < Duration::from_millis(300 + 100 + 400),
        "taken over after {took:?}"
    );
}

#[test]
fn a_store_that_is_down_never_fails_a_handler() {
    let name = format!("down-{}", std::process::id());
    let url = format!("memory://{name}");
    let c: Cache<Value> = open(&url, None);
    let s = |v: &str| Value::Str(v.to_string());
    c.set("warm", s("kept"), None).unwrap();
    set_fault(&name, Some(StoreErrorKind::Unavailable));
    assert_eq!(c.get("warm"), Some(s("kept")), "the copy is served");
    let loads = AtomicUsize::new(0);
    let v = c
        .get_or_load("cold", &LoadOptions::default(), || {
            loads.fetch_add(1, SeqCst);
            Ok(s("loaded here"))
        })
        .unwrap();
    assert_eq!(v, s("loaded here"));
    assert!(
        !c.set("x", s("y"), None).unwrap(),
        "set answers false, but keeps the value here"
    );
    assert_eq!(c.get("x"), Some(s("y")));
    assert!(!c.ping().wait_bool().unwrap());
    assert_eq!(c.incr("n", 2, &mut Plain).unwrap().wait_int().unwrap(), 2);
    let st = c.stats();
    assert!(st.store_errors >= 3, "{st:?}");
    assert!(
        c.store_error().unwrap().contains("fault"),
        "{:?}",
        c.store_error()
    );
    set_fault(&name, None);
    // The breaker lets calls through again after a while.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !c.ping().wait_bool().unwrap() {
        assert!(Instant::now() < deadline, "the store is used again");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(c.set("x", s("z"), None).unwrap());
}

#[test]
fn incr_is_atomic_across_processes() {
    let url = store_name("incr");
    let caches: Vec<Cache<i64>> = (0..4).map(|_| open(&url, None)).collect();
    let threads: Vec<_> = caches
        .iter()
        .cloned()
        .map(|c| {
            std::thread::spawn(move || {
                for _ in 0..250 {
                    c.incr("n", 1, &mut Plain).unwrap().wait_int().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        caches[0]
            .incr("n", 0, &mut Plain)
            .unwrap()
            .wait_int()
            .unwrap(),
        1000
    );
    caches[1].set("text", 5, None).unwrap();
    let c: Cache<String> = open(&url, None);
    c.set("s", s("abc"), None).unwrap();
    let e = c.incr("s", 1, &mut Plain).unwrap().wait_int().unwrap_err();
    assert_eq!(e.kind(), "wrong_type");
}

#[test]
fn deadlines_are_shared_keys_and_clear_stay_in_their_namespace() {
    let url = store_name("keys");
    let clock = ManualClock::new();
    let a: Cache<String> = open(&url, Some(&clock));
    let b: Cache<String> = open(&url, Some(&clock));
    a.namespace("x")
        .unwrap()
        .set("k1", s("1"), Some(1000.0))
        .unwrap();
    a.namespace("y").unwrap().set("k2", s("2"), None).unwrap();
    assert_eq!(
        b.namespace("x").unwrap().keys().wait_keys().unwrap(),
        vec![s("k1")]
    );
    assert_eq!(
        b.namespace("x")
            .unwrap()
            .remaining_ttl("k1")
            .wait_ms()
            .unwrap(),
        Some(1000.0)
    );
    clock.advance(1000);
    assert!(b
        .namespace("x")
        .unwrap()
        .keys()
        .wait_keys()
        .unwrap()
        .is_empty());
    b.namespace("y").unwrap().clear().wait_done().unwrap();
    assert!(a.keys().wait_keys().unwrap().is_empty());
}

#[test]
fn a_value_outside_the_shared_model_is_refused_and_changes_nothing() {
    #[derive(Clone)]
    struct Opaque;
    impl Cacheable for Opaque {
        fn size(&self) -> u64 {
            8
        }
    }
    let url = store_name("opaque");
    let c: Cache<Opaque> = open(&url, None);
    let e = c.set("k", Opaque, None).unwrap_err();
    assert_eq!(e.kind(), "wrong_type");
    assert!(c.get("k").is_none());
    // A loaded one is returned, not kept, counted.
    let v = c.get_or_load("k", &LoadOptions::default(), || Ok(Opaque));
    assert!(v.is_ok());
    assert!(c.get("k").is_none());
    assert_eq!(c.stats().rejected, 1);
}

thread_local! {
    static HOST_THREAD: Cell<bool> = const { Cell::new(false) };
}
static TOUCHED_OFF_HOST: AtomicBool = AtomicBool::new(false);

/// A value that records being cloned or dropped on a thread that is not a host thread.
struct HostOnly(Arc<String>);

impl Clone for HostOnly {
    fn clone(&self) -> Self {
        if !HOST_THREAD.with(Cell::get) {
            TOUCHED_OFF_HOST.store(true, SeqCst);
        }
        HostOnly(self.0.clone())
    }
}

impl Drop for HostOnly {
    fn drop(&mut self) {
        if !HOST_THREAD.with(Cell::get) {
            TOUCHED_OFF_HOST.store(true, SeqCst);
        }
    }
}

impl Cacheable for HostOnly {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn to_shared(&self) -> flightcache::Result<Value> {
        Ok(Value::Str((*self.0).clone()))
    }
    fn from_shared(v: Value) -> flightcache::Result<Self> {
        match v {
            Value::Str(s) => Ok(HostOnly(Arc::new(s))),
            _ => unreachable!(),
        }
    }
}

#[test]
fn a_host_value_never_leaves_a_host_thread() {
    let url = store_name("hostonly");
    let run = |url: String| {
        std::thread::spawn(move || {
            HOST_THREAD.with(|h| h.set(true));
            let a: Cache<HostOnly> = open(&url, None);
            let b: Cache<HostOnly> = open(&url, None);
            for i in 0..50 {
                let k = format!("k{}", i % 5);
                let _ = a.get_or_load(&k, &LoadOptions::default(), || {
                    Ok(HostOnly(Arc::new(format!("v{i}"))))
                });
                let _ = b.get_or_load(&k, &LoadOptions::default(), || {
                    Ok(HostOnly(Arc::new(format!("w{i}"))))
                });
                a.set(&k, HostOnly(Arc::new(format!("s{i}"))), None)
                    .unwrap();
                let _ = b.lookup(&k, None).unwrap();
                b.del(&k).wait_bool().unwrap();
            }
            drop((a, b));
        })
    };
    let threads: Vec<_> = (0..3).map(|_| run(url.clone())).collect();
    for t in threads {
        t.join().unwrap();
    }
    // Give the store runtime time to finish what it was doing.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !TOUCHED_OFF_HOST.load(SeqCst),
        "a host value was cloned or dropped on a store thread"
    );
}

/// A `get` without a loader, through both tiers.
fn read(c: &Cache<String>, key: &str) -> Option<String> {
    match c.read(key) {
        flightcache::Lookup::Hit(v) => Some(v),
        flightcache::Lookup::Absent => None,
        flightcache::Lookup::Pending(op) => op.wait_value().unwrap(),
    }
}

#[test]
fn a_copy_made_while_announcements_may_be_lost_is_checked_against_the_store() {
    let name = format!("deaf-{}", std::process::id());
    let url = format!("memory://{name}");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    a.set("k", s("old"), None).unwrap();
    a.set("gone", s("old"), None).unwrap();
    assert_eq!(read(&b, "k").as_deref(), Some("old"));
    assert_eq!(read(&b, "gone").as_deref(), Some("old"));
    let store_reads = |c: &Cache<String>| {
        let st = c.stats();
        st.store_hits + st.store_misses
    };
    let before = store_reads(&b);
    assert_eq!(read(&b, "k").as_deref(), Some("old"));
    assert_eq!(store_reads(&b), before, "a trusted copy is answered alone");

    // The subscription drops: a's writes reach the store, their announcements do not.
    flightcache::store::memory::set_deaf(&name, true);
    a.set("k", s("new"), None).unwrap();
    a.del("gone").wait_bool().unwrap();
    assert_eq!(
        read(&b, "k").as_deref(),
        Some("new"),
        "checked, not trusted"
    );
    assert_eq!(
        read(&b, "gone"),
        None,
        "removed elsewhere: removed here too"
    );
    assert_eq!(b.get("gone"), None, "and the copy is gone");
    assert_eq!(
        b.get_or_load("k", &LoadOptions::default(), || Ok(s("never")))
            .unwrap(),
        "new"
    );
    let during = store_reads(&b);
    assert_eq!(read(&b, "k").as_deref(), Some("new"));
    assert!(
        store_reads(&b) > during,
        "every read asks the store while deaf"
    );

    // Back: a copy read during the gap is checked once more, then trusted again.
    flightcache::store::memory::set_deaf(&name, false);
    let back = store_reads(&b);
    assert_eq!(read(&b, "k").as_deref(), Some("new"));
    assert_eq!(store_reads(&b), back + 1, "checked once after the gap");
    assert_eq!(read(&b, "k").as_deref(), Some("new"));
    assert_eq!(store_reads(&b), back + 1, "then trusted");
    a.set("k", s("newer"), None).unwrap();
    assert_eq!(read(&b, "k").as_deref(), Some("newer"), "announced again");
}

#[test]
fn an_unverified_copy_is_answered_when_the_store_cannot_be_asked() {
    let name = format!("deafdown-{}", std::process::id());
    let url = format!("memory://{name}");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    a.set("k", s("kept"), None).unwrap();
    assert_eq!(read(&b, "k").as_deref(), Some("kept"));
    flightcache::store::memory::set_deaf(&name, true);
    set_fault(&name, Some(StoreErrorKind::Unavailable));
    for _ in 0..5 {
        // Through the store's failures, then through the open breaker.
        assert_eq!(read(&b, "k").as_deref(), Some("kept"));
        let v = b
            .get_or_load("k", &LoadOptions::default(), || {
                panic!("the copy here is the answer while the store is down")
            })
            .unwrap();
        assert_eq!(v, "kept");
    }
    assert!(b.stats().store_errors >= 1);
}

#[test]
fn a_fill_that_raced_an_announcement_does_not_bring_the_old_value_back() {
    let name = format!("race-{}", std::process::id());
    let url = format!("memory://{name}");
    let patient = || -> Cache<String> {
        Cache::new(Config {
            store: Some(url.clone()),
            store_timeout: Some(10_000.0),
            ..Config::default()
        })
        .unwrap()
    };
    let (a, b) = (patient(), patient());
    for with_loader in [false, true] {
        a.set("k", s("old"), None).unwrap();
        b.clear_local();
        // b reads "old" from the store; its answer comes back only after a's write and
        // its announcement have reached b.
        flightcache::store::memory::set_read_delay(&name, Some(Duration::from_millis(300)));
        let reader = {
            let b = b.clone();
            std::thread::spawn(move || {
                if with_loader {
                    b.get_or_load("k", &LoadOptions::default(), || Ok(s("loaded")))
                        .unwrap()
                } else {
                    read(&b, "k").unwrap()
                }
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        flightcache::store::memory::set_read_delay(&name, None);
        a.set("k", s("new"), None).unwrap();
        // b handles the announcement (removing a copy it does not have yet) before the
        // read's answer arrives: only the key's generation stands between that answer
        // and the in-process tier.
        assert_eq!(b.get("unrelated"), None);
        let answer = reader.join().unwrap();
        assert_eq!(answer, "old", "the answer of its moment");
        assert_ne!(
            b.get("k").as_deref(),
            Some("old"),
            "but the old value is not kept (with a loader: {with_loader})"
        );
        assert_eq!(read(&b, "k").as_deref(), Some("new"));
    }
}

#[test]
fn add_is_atomic_across_processes_and_the_store_decides() {
    let url = store_name("add");
    let caches: Vec<Cache<i64>> = (0..4).map(|_| open(&url, None)).collect();
    let barrier = Arc::new(Barrier::new(caches.len()));
    let threads: Vec<_> = caches
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut won = 0;
                for k in 0..50 {
                    barrier.wait();
                    if c.add(&format!("k{k}"), i as i64, None).unwrap() {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 50, "exactly one add wins each key");
    for k in 0..50 {
        let key = format!("k{k}");
        let seen: Vec<_> = caches
            .iter()
            .map(|c| read_now(c, &key).unwrap_or_else(|| panic!("{key} is absent")))
            .collect();
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{key}: {seen:?}");
    }
    // A value another process holds: this process has no copy, the store says no.
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    assert!(a.set("x", s("from a"), None).unwrap());
    assert!(!b.add("x", s("from b"), None).unwrap());
    assert_eq!(read_now(&b, "x"), Some(s("from a")));
    let st = b.stats();
    assert_eq!((st.hits, st.misses, st.loads), (0, 1, 0), "{st:?}");
}

#[test]
fn incr_must_exist_asks_the_store() {
    let url = store_name("incr-must-exist");
    let a: Cache<i64> = open(&url, None);
    let b: Cache<i64> = open(&url, None);
    let e = b
        .incr_with("n", 1, true, &mut Plain)
        .unwrap()
        .wait_int()
        .unwrap_err();
    assert_eq!(e.kind(), "not_found");
    assert!(e.to_string().contains("\"n\""), "{e}");
    assert!(!a.has("n").wait_bool().unwrap(), "nothing was written");
    a.set("n", 41, None).unwrap();
    let n = b.incr_with("n", 1, true, &mut Plain).unwrap().wait_int();
    assert_eq!(n.unwrap(), 42);
    assert_eq!(read_now(&a, "n"), Some(42));
}

/// The value of `key` through both tiers, as a `get` without a loader reads it.
fn read_now<V: Cacheable + 'static>(c: &Cache<V>, key: &str) -> Option<V> {
    match c.read(key) {
        flightcache::Lookup::Hit(v) => Some(v),
        flightcache::Lookup::Absent => None,
        flightcache::Lookup::Pending(op) => op.wait_value().unwrap(),
    }
}

#[test]
fn a_waiter_that_takes_the_lease_after_the_holder_failed_gets_that_failure() {
    // Announcements are lost, so the waiting process finds the holder gone only when it asks
    // for the lease again: the failure the holder left is still its answer, not a new load.
    let url = store_name("failure-unheard");
    let a: Cache<String> = open(&url, None);
    let b: Cache<String> = open(&url, None);
    let name = url.trim_start_matches("memory://").to_string();
    flightcache::store::memory::set_deaf(&name, true);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let leader = std::thread::spawn(move || {
        a.get_or_load("k", &LoadOptions::default(), || {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(250));
            Err(LoaderError::new("upstream 503").named("HTTPError"))
        })
    });
    started_rx.recv().unwrap();
    let r = b.get_or_load("k", &LoadOptions::default(), || Ok(s("loaded again")));
    flightcache::store::memory::set_deaf(&name, false);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("HTTPError: upstream 503"), "{e}");
    assert!(leader.join().unwrap().is_err());
}
