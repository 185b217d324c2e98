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

fn open<V: Clone + 'static>(url: &str, clock: Option<&ManualClock>) -> Cache<V> {
    Cache::new(Config {
        store: Some(url.to_string()),
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
    let joined: u64 = caches.iter().map(|c| c.stats().remote_loads_joined).sum();
    assert_eq!(joined, 3, "the three other processes took the stored value");
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
