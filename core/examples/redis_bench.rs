//! The Redis store from Rust: a store hit (a read the in-process tier cannot answer: the
//! reading cache keeps 10 entries, Redis 5,000) and a set, p50 and p99 in microseconds, with
//! redis-rs on a plain synchronous connection doing GET + serde_json / SET of the same
//! 32-character value beside it (one round trip: the floor under any Redis client), the two
//! sides taking turns every 250 operations. Run by `make store-bench`:
//!
//! `cargo run --release -p flightcache --example redis_bench -- [--quick] [redis://127.0.0.1:PORT/0]`
//!
//! The URL is the argument, else `$CONFORMANCE_STORE` (what
//! `python3 tests/stores/redis_server.py -- CMD` sets). The bench empties that database
//! first (FLUSHDB). Nothing here is asserted by a test.

use std::time::Instant;

use flightcache::{Cache, Config, Lookup};

fn percentiles(mut ts: Vec<u128>) -> (f64, f64) {
    ts.sort_unstable();
    (
        ts[ts.len() / 2] as f64 / 1000.0,
        ts[ts.len() * 99 / 100] as f64 / 1000.0,
    )
}

fn median(xs: &[(f64, f64)], i: usize) -> f64 {
    let mut v: Vec<f64> = xs.iter().map(|x| if i == 0 { x.0 } else { x.1 }).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    flightcache_redis::register();
    let quick = std::env::args().any(|a| a == "--quick");
    let url = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("redis://"))
        .or_else(|| std::env::var("CONFORMANCE_STORE").ok())
        .filter(|u| u.starts_with("redis://"))
        .unwrap_or_else(|| {
            eprintln!(
                "redis_bench: give a redis:// URL, or run it as \
                 `python3 tests/stores/redis_server.py -- cargo run --release -p flightcache --example redis_bench`"
            );
            std::process::exit(2)
        });
    let (reps, ops, n) = if quick {
        (3, 3_000, 5_000)
    } else {
        (5, 10_000, 5_000)
    };
    let mut raw = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("a plain connection to the Redis server");
    redis::cmd("FLUSHDB").exec(&mut raw).unwrap();
    let open = |max_entries| {
        Cache::<String>::new(Config {
            store: Some(url.clone()),
            max_entries,
            ..Config::default()
        })
        .unwrap()
    };
    let writer = open(10_000);
    let reader = open(10);
    let value = "v".repeat(32);
    let encoded = serde_json::to_vec(&value).unwrap();
    for i in 0..n {
        writer.set(&format!("k{i}"), value.clone(), None).unwrap();
        redis::cmd("SET")
            .arg(format!("rs:k{i}"))
            .arg(&encoded)
            .exec(&mut raw)
            .unwrap();
    }
    let mut seed: u64 = 42;
    let mut rand = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let (mut hits, mut sets, mut raw_gets, mut raw_sets) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The machine may be shared (load from other work comes and goes within seconds), so the
    // two sides take turns every CHUNK operations on the same keys: reads, then writes.
    const CHUNK: usize = 250;
    let started = Instant::now();
    for _ in 0..reps {
        let keys: Vec<String> = (0..ops).map(|_| format!("k{}", rand(n))).collect();
        let (mut hit_ts, mut get_ts, mut set_ts, mut rset_ts) = (
            Vec::with_capacity(ops),
            Vec::with_capacity(ops),
            Vec::with_capacity(ops),
            Vec::with_capacity(ops),
        );
        for chunk in keys.chunks(CHUNK) {
            for k in chunk {
                let t = Instant::now();
                let v = match reader.read(k) {
                    Lookup::Hit(v) => Some(v),
                    Lookup::Absent => None,
                    Lookup::Pending(op) => op.wait_value().unwrap(),
                };
                hit_ts.push(t.elapsed().as_nanos());
                assert_eq!(v.as_deref(), Some(value.as_str()));
            }
            for k in chunk {
                let t = Instant::now();
                let got: Vec<u8> = redis::cmd("GET")
                    .arg(format!("rs:{k}"))
                    .query(&mut raw)
                    .unwrap();
                let v: String = serde_json::from_slice(&got).unwrap();
                get_ts.push(t.elapsed().as_nanos());
                assert_eq!(v, value);
            }
        }
        for chunk in keys.chunks(CHUNK) {
            for k in chunk {
                let t = Instant::now();
                writer.set(k, value.clone(), None).unwrap();
                set_ts.push(t.elapsed().as_nanos());
            }
            for k in chunk {
                let t = Instant::now();
                redis::cmd("SET")
                    .arg(format!("rs:{k}"))
                    .arg(serde_json::to_vec(&value).unwrap())
                    .exec(&mut raw)
                    .unwrap();
                rset_ts.push(t.elapsed().as_nanos());
            }
        }
        hits.push(percentiles(hit_ts));
        raw_gets.push(percentiles(get_ts));
        sets.push(percentiles(set_ts));
        raw_sets.push(percentiles(rset_ts));
        // the sets' change messages are handled before the next repetition
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let secs = started.elapsed().as_secs();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    println!(
        "Rust, Redis store ({reps} repetitions of {ops} operations, {secs} s; median p50 / p99, microseconds; load average {load})"
    );
    let line = |name: &str, xs: &[(f64, f64)], note: &str| {
        println!(
            "  {name:32} p50 {:8.2}  p99 {:8.2}{note}",
            median(xs, 0),
            median(xs, 1)
        )
    };
    let hit99 = median(&hits, 1);
    let verdict = if hit99 <= 150.0 { "met" } else { "NOT met" };
    line(
        "flightcache store hit",
        &hits,
        &format!(" (target p99 <= 150: {verdict})"),
    );
    line("redis-rs GET + serde_json", &raw_gets, "");
    line("flightcache set", &sets, "");
    line("redis-rs SET serde_json", &raw_sets, "");
    println!(
        "  store hit / redis-rs GET: p50 {:.2}x  p99 {:.2}x;  set / redis-rs SET: p50 {:.2}x  p99 {:.2}x",
        median(&hits, 0) / median(&raw_gets, 0),
        hit99 / median(&raw_gets, 1),
        median(&sets, 0) / median(&raw_sets, 0),
        median(&sets, 1) / median(&raw_sets, 1)
    );
    let pair = |xs: &[(f64, f64)]| serde_json::json!([median(xs, 0), median(xs, 1)]);
    println!(
        "{}",
        serde_json::json!({"rust_redis": {
            "flightcache store hit": pair(&hits),
            "redis-rs GET + serde_json": pair(&raw_gets),
            "flightcache set": pair(&sets),
            "redis-rs SET serde_json": pair(&raw_sets),
        }})
    );
    let stats = reader.stats();
    println!(
        "  store hits counted: {} (store errors {})",
        stats.store_hits, stats.store_errors
    );
    assert!(stats.store_hits as usize >= reps * ops * 95 / 100);
}
