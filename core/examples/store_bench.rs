//! The SQLite store from Rust: a store hit (a read the in-process tier cannot answer) and a
//! set, p50 and p99 in microseconds. Run by `make store-bench`:
//! `cargo run --release -p flightcache --example store_bench [--quick]`.

use std::time::Instant;

use flightcache::{Cache, Config, Lookup};

fn percentiles(mut ts: Vec<u128>) -> (f64, f64) {
    ts.sort_unstable();
    (
        ts[ts.len() / 2] as f64 / 1000.0,
        ts[ts.len() * 99 / 100] as f64 / 1000.0,
    )
}

fn main() {
    flightcache_sqlite::register();
    let quick = std::env::args().any(|a| a == "--quick");
    let (reps, ops, n) = if quick {
        (3, 5_000, 5_000)
    } else {
        (7, 20_000, 5_000)
    };
    let dir =
        std::env::temp_dir().join(format!("flightcache-store-bench-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/bench.db", dir.display());
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
    for i in 0..n {
        writer.set(&format!("k{i}"), value.clone(), None).unwrap();
    }
    let mut seed: u64 = 42;
    let mut rand = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let (mut hits, mut sets) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let keys: Vec<String> = (0..ops).map(|_| format!("k{}", rand(n))).collect();
        let mut ts = Vec::with_capacity(ops);
        for k in &keys {
            let t = Instant::now();
            let v = match reader.lookup(k, None).unwrap() {
                Lookup::Hit(v) => Some(v),
                Lookup::Absent => None,
                Lookup::Pending(op) => op.wait_value().unwrap(),
            };
            ts.push(t.elapsed().as_nanos());
            assert!(v.is_some());
        }
        hits.push(percentiles(ts));
        let mut ts = Vec::with_capacity(ops);
        for k in &keys {
            let t = Instant::now();
            writer.set(k, value.clone(), None).unwrap();
            ts.push(t.elapsed().as_nanos());
        }
        sets.push(percentiles(ts));
    }
    let med = |xs: &Vec<(f64, f64)>, i: usize| {
        let mut v: Vec<f64> = xs.iter().map(|x| if i == 0 { x.0 } else { x.1 }).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("Rust, SQLite store ({reps} repetitions of {ops} operations; median p50 / p99, microseconds)");
    println!(
        "  store hit   p50 {:8.2}  p99 {:8.2} (target p99 <= 50)",
        med(&hits, 0),
        med(&hits, 1)
    );
    println!(
        "  set         p50 {:8.2}  p99 {:8.2}",
        med(&sets, 0),
        med(&sets, 1)
    );
    println!("  store hits counted: {}", reader.stats().store_hits);
    let _ = std::fs::remove_dir_all(&dir);
}
