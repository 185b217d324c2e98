//! What a handler sees: one load for many concurrent callers, hits, and expiry.
//! Run with `cargo run --release -p flightcache --example handler` (part of `make demo`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use flightcache::{Cache, Config, LoadOptions, ManualClock};

fn main() {
    let clock = ManualClock::new();
    let cache: Cache<Arc<String>> = Cache::new(Config {
        clock: clock.clone().into(),
        ..Config::default()
    })
    .unwrap();
    let logins = Arc::new(AtomicUsize::new(0));

    // 20 handler invocations arrive at once; the token is fetched once.
    let authenticate = {
        let logins = logins.clone();
        move || {
            let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(Duration::from_millis(100));
            Ok(Arc::new(format!("token-{n}")))
        }
    };
    let barrier = Arc::new(Barrier::new(20));
    let handlers: Vec<_> = (0..20)
        .map(|_| {
            let (cache, barrier, authenticate) =
                (cache.clone(), barrier.clone(), authenticate.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let opts = LoadOptions {
                    ttl: Some(60_000.0).into(),
                    ..Default::default()
                };
                cache.get_or_load("token", &opts, authenticate).unwrap()
            })
        })
        .collect();
    let tokens: Vec<Arc<String>> = handlers.into_iter().map(|h| h.join().unwrap()).collect();
    let same = tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0]));
    println!(
        "20 concurrent handlers -> {} login(s), all got {:?} (same object: {same})",
        logins.load(Ordering::SeqCst),
        tokens[0]
    );

    let opts = LoadOptions {
        ttl: Some(60_000.0).into(),
        ..Default::default()
    };
    let t = cache
        .get_or_load("token", &opts, authenticate.clone())
        .unwrap();
    println!(
        "next handler -> {t:?} from the cache (logins still {})",
        logins.load(Ordering::SeqCst)
    );

    clock.advance(59_999);
    println!(
        "after 59.999 s -> remaining ttl {:?} ms, still cached: {}",
        cache.remaining_ttl("token").wait_ms().unwrap(),
        cache.has("token").wait_bool().unwrap()
    );
    clock.advance(1);
    println!(
        "after 60 s -> cached: {} (expired to the millisecond)",
        cache.has("token").wait_bool().unwrap()
    );
    let t = cache.get_or_load("token", &opts, authenticate).unwrap();
    println!(
        "next handler -> {t:?} (logins now {})",
        logins.load(Ordering::SeqCst)
    );
    let s = cache.stats();
    println!(
        "stats: hits={} misses={} loads={} entries={}",
        s.hits, s.misses, s.loads, s.entries
    );
}
