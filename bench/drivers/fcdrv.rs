//! Instruction-count / timing driver for flightcache's core (issue 8 measurement).
//! usage: fcdrv MODE N            MODE: get_random | get_hot | set_evict | load_hit | load_miss
//! Setup and warm-up are the same whatever N is; only the measured loop runs N times, so
//! (Ir(2N) - Ir(N)) / N is the cost of one operation. Prints ns/op of the measured loop.
use std::hint::black_box;
use std::time::Instant;
use flightcache::{Cache, Config, LoadOptions};

const KEYS: usize = 100_000;
const STREAM: usize = 1_000_000;
const HOT: usize = 1_000;

fn keys(n: usize, p: &str) -> Vec<String> { (0..n).map(|i| format!("{p}{i:011}")).collect() }
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..n).rev() { x ^= x << 13; x ^= x >> 7; x ^= x << 17; v.swap(i, (x % (i as u64 + 1)) as usize); }
    v
}
fn flight(cap: usize) -> Cache<u64> {
    Cache::new(Config { max_entries: cap as u64, ..Config::default() }).unwrap()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mode = a[1].as_str();
    let n: usize = a[2].parse().unwrap();
    let warm = 200_000usize;
    let t;
    match mode {
        "get_random" | "get_hot" | "load_hit" => {
            let ks = keys(KEYS, "key:");
            let c = flight(KEYS + KEYS / 4);
            for (i, k) in ks.iter().enumerate() { c.set(k, i as u64, None).unwrap(); }
            let order: Vec<usize> = if mode == "get_hot" {
                shuffled(KEYS).into_iter().map(|i| i % HOT).collect()
            } else { shuffled(KEYS) };
            let opts = LoadOptions::default();
            let mut run = |count: usize| {
                let mut i = 0usize; let mut s = 0u64;
                for _ in 0..count {
                    i = if i + 1 == KEYS { 0 } else { i + 1 };
                    let k = ks[order[i]].as_str();
                    s = s.wrapping_add(if mode == "load_hit" {
                        c.get_or_load(k, &opts, || Ok(0)).unwrap()
                    } else { c.get(k).unwrap() });
                }
                black_box(s);
            };
            run(warm);
            let t0 = Instant::now(); run(n); t = t0.elapsed();
        }
        "set_evict" => {
            // Bound 100k; the stream of 1M keys is made in full whatever N is.
            let ks = keys(STREAM, "s:");
            let c = flight(KEYS);
            let mut i = 0usize;
            let mut run = |count: usize| {
                for _ in 0..count {
                    i = if i + 1 == STREAM { 0 } else { i + 1 };
                    c.set(&ks[i], i as u64, None).unwrap();
                }
            };
            run(warm); // fills past the bound: every later set evicts
            let t0 = Instant::now(); run(n); t = t0.elapsed();
        }
        "load_miss" => {
            // get_or_load of keys never seen, the loader runs each time; bound 100k (evicts).
            let ks = keys(STREAM, "m:");
            let c = flight(KEYS);
            let opts = LoadOptions::default();
            let mut i = 0usize;
            let mut run = |count: usize| {
                let mut s = 0u64;
                for _ in 0..count {
                    i += 1;
                    s = s.wrapping_add(c.get_or_load(&ks[i % STREAM], &opts, || Ok(i as u64)).unwrap());
                }
                black_box(s);
            };
            run(warm);
            let t0 = Instant::now(); run(n); t = t0.elapsed();
        }
        _ => panic!("mode?"),
    }
    println!("{mode} n={n} {:.2} ns/op", t.as_nanos() as f64 / n as f64);
}
