//! What the resilience policies (issue 11) cost on a hit, from Rust: a cache with every policy
//! set (stale_ttl, stale_if_error, soft_timeout, hard_timeout, refresh_ahead,
//! fail_safe_backoff) against one with none, the same 1,000 live keys, a one-hour TTL (so no
//! refresh or stale path is reached). The two sides take turns every 1,000 hits (ABBA; the
//! machine may be shared); each sample is the mean of 1,000 hits. Prints ns/op median and p99
//! and the ratio. Run by `make resilience-bench`:
//! `cargo run --release -p flightcache --example resilience_bench [--quick]`.

use std::hint::black_box;
use std::time::Instant;

use flightcache::{Cache, Config, LoadOptions, PolicyOptions};

const HOUR: f64 = 3_600_000.0;
const N_KEYS: usize = 1_000;

fn pct(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (reps, turns) = if quick { (5, 200) } else { (21, 1_000) };
    let make = |policy: PolicyOptions| {
        Cache::<String>::new(Config {
            ttl: HOUR,
            policy,
            ..Config::default()
        })
        .unwrap()
    };
    let plain = make(PolicyOptions::default());
    let policed = make(PolicyOptions {
        stale_ttl: Some(60_000.0),
        stale_if_error: Some(60_000.0),
        soft_timeout: Some(100.0),
        hard_timeout: Some(1_000.0),
        refresh_ahead: Some(0.8),
        fail_safe_backoff: Some(1_000.0),
    });
    let keys: Vec<String> = (0..N_KEYS).map(|i| format!("key-{i}")).collect();
    for c in [&plain, &policed] {
        for k in &keys {
            c.set(k, format!("{k}-value"), None).unwrap();
        }
    }
    let opts = LoadOptions::default();
    type Op = fn(&Cache<String>, &[String], &LoadOptions<'_>) -> f64;
    fn get(c: &Cache<String>, keys: &[String], _: &LoadOptions<'_>) -> f64 {
        let t = Instant::now();
        for k in keys {
            black_box(c.get(k));
        }
        t.elapsed().as_nanos() as f64 / keys.len() as f64
    }
    fn get_or_load(c: &Cache<String>, keys: &[String], o: &LoadOptions<'_>) -> f64 {
        let t = Instant::now();
        for k in keys {
            black_box(
                c.get_or_load(k, o, || panic!("a loader was called on a hit"))
                    .unwrap(),
            );
        }
        t.elapsed().as_nanos() as f64 / keys.len() as f64
    }
    let ops: [(&str, Op); 2] = [("get hit", get), ("get_or_load hit", get_or_load)];
    println!("(a) Rust core hit cost, every policy set vs none ({reps} repetitions x {turns} turns of {N_KEYS} hits per side; ns/op)");
    println!(
        "{:18} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6}   per-rep ratio med [min, max]",
        "operation", "none p50", "all p50", "ratio", "none p99", "all p99", "ratio"
    );
    for (name, op) in ops {
        for _ in 0..50 {
            op(&plain, &keys, &opts);
            op(&policed, &keys, &opts);
        }
        let (mut none, mut all, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..reps {
            let (mut n, mut a) = (Vec::new(), Vec::new());
            let mut policed_first = r % 2 == 1;
            for _ in 0..turns {
                if policed_first {
                    a.push(op(&policed, &keys, &opts));
                    n.push(op(&plain, &keys, &opts));
                } else {
                    n.push(op(&plain, &keys, &opts));
                    a.push(op(&policed, &keys, &opts));
                }
                policed_first = !policed_first;
            }
            n.sort_by(f64::total_cmp);
            a.sort_by(f64::total_cmp);
            ratios.push(pct(&a, 0.5) / pct(&n, 0.5));
            none.extend(n);
            all.extend(a);
        }
        none.sort_by(f64::total_cmp);
        all.sort_by(f64::total_cmp);
        ratios.sort_by(f64::total_cmp);
        let (n50, a50, n99, a99) = (
            pct(&none, 0.5),
            pct(&all, 0.5),
            pct(&none, 0.99),
            pct(&all, 0.99),
        );
        println!(
            "{name:18} {n50:9.1} {a50:9.1} {:6.3} {n99:9.1} {a99:9.1} {:6.3}   {:.3} [{:.3}, {:.3}]",
            a50 / n50,
            a99 / n99,
            pct(&ratios, 0.5),
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
    for c in [&plain, &policed] {
        let s = c.stats();
        assert_eq!((s.loads, s.refreshes, s.stale_hits), (0, 0, 0));
    }
}
