//! flightcache's core against raw quick_cache and moka (with TTL), in one run:
//! get hit on 100,000 keys in random order, set with eviction (bound 100,000, a stream of
//! 1,000,000 keys), get-or-load on a hit, and heap bytes per entry (a counting allocator).
//! Prints a table of medians and ratios at the end, and the get hit and the set again with
//! the three libraries interleaved round by round (criterion runs one library after another,
//! so a machine whose speed drifts moved the criterion ratio from 0.81x to 1.61x between two
//! runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use flightcache::{Cache, Config, LoadOptions};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Relaxed);
        System.realloc(p, l, n)
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 100_000;
const STREAM: usize = 1_000_000;
const TTL: Duration = Duration::from_secs(7 * 24 * 3600);

type Value = u64;

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key:{i:011}")).collect()
}

/// A fixed pseudo-random permutation (no extra dependency, same order for every library).
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

fn flight(cap: usize) -> Cache<Value> {
    Cache::new(Config {
        max_entries: cap as u64,
        ..Config::default()
    })
    .unwrap()
}
fn quick(cap: usize) -> quick_cache::sync::Cache<String, Value> {
    quick_cache::sync::Cache::new(cap)
}
fn moka(cap: usize) -> moka::sync::Cache<String, Value> {
    moka::sync::Cache::builder()
        .max_capacity(cap as u64)
        .time_to_live(TTL)
        .build()
}

/// All three filled with every key; room for 25% more, so that no shard has evicted any.
fn filled(
    keys: &[String],
) -> (
    Cache<Value>,
    quick_cache::sync::Cache<String, Value>,
    moka::sync::Cache<String, Value>,
) {
    let cap = N + N / 4;
    let (f, q, m) = (flight(cap), quick(cap), moka(cap));
    for (i, k) in keys.iter().enumerate() {
        f.set(k, i as Value, None).unwrap();
        q.insert(k.clone(), i as Value);
        m.insert(k.clone(), i as Value);
    }
    m.run_pending_tasks();
    assert_eq!(f.len(), N, "flightcache holds every key");
    assert_eq!(q.len(), N, "quick_cache holds every key");
    (f, q, m)
}

fn bench_get_hit(c: &mut Criterion) {
    let keys = keys(N);
    let order = shuffled(N);
    let mut g = c.benchmark_group("get_hit");
    g.throughput(Throughput::Elements(1));
    let (f, q, m) = filled(&keys);
    macro_rules! run {
        ($name:expr, $get:expr) => {
            g.bench_function($name, |b| {
                let mut i = 0usize;
                b.iter(|| {
                    i = if i + 1 == N { 0 } else { i + 1 };
                    black_box($get(keys[order[i]].as_str()))
                })
            });
        };
    }
    run!("flightcache", |k: &str| f.get(k));
    run!("quick_cache", |k: &str| q.get(k));
    run!("moka", |k: &str| m.get(k));
    g.finish();
}

fn bench_set_evict(c: &mut Criterion) {
    let stream = keys(STREAM);
    let mut g = c.benchmark_group("set_evict");
    g.throughput(Throughput::Elements(1));
    macro_rules! run {
        ($name:expr, $make:expr, $set:expr) => {
            g.bench_function($name, |b| {
                let cache = $make(N);
                let mut i = 0usize;
                b.iter(|| {
                    i = if i + 1 == STREAM { 0 } else { i + 1 };
                    $set(&cache, &stream[i], i as Value)
                })
            });
        };
    }
    run!("flightcache", flight, |c: &Cache<Value>, k: &String, v| {
        c.set(k, v, None).unwrap();
    });
    run!("quick_cache", quick, |c: &quick_cache::sync::Cache<
        String,
        Value,
    >,
                                k: &String,
                                v| c
        .insert(k.clone(), v));
    run!("moka", moka, |c: &moka::sync::Cache<String, Value>,
                        k: &String,
                        v| c
        .insert(k.clone(), v));
    g.finish();
}

fn bench_load_hit(c: &mut Criterion) {
    let keys = keys(N);
    let order = shuffled(N);
    let mut g = c.benchmark_group("get_or_load_hit");
    g.throughput(Throughput::Elements(1));
    let (f, q, m) = filled(&keys);
    let opts = LoadOptions::default();
    macro_rules! run {
        ($name:expr, $get:expr) => {
            g.bench_function($name, |b| {
                let mut i = 0usize;
                b.iter(|| {
                    i = if i + 1 == N { 0 } else { i + 1 };
                    black_box($get(&keys[order[i]]))
                })
            });
        };
    }
    run!("flightcache", |k: &String| f
        .get_or_load(k, &opts, || Ok(0))
        .unwrap());
    run!("quick_cache", |k: &String| q
        .get_or_insert_with(k.as_str(), || Ok::<_, ()>(0))
        .unwrap());
    run!("moka", |k: &String| m.get_with_by_ref(k.as_str(), || 0));
    g.finish();
}

/// Rounds of the interleaved get hit, and hits per library per round.
const ROUNDS: usize = 21;
const ROUND_OPS: usize = 200_000;

/// `time(lib)` (ns per operation of one round of library `lib`: 0 flightcache, 1 quick_cache,
/// 2 moka) round by round, the three one after another in a rotating order, so that each
/// round's ratios compare runs a few milliseconds apart. Returns the medians of each
/// library's ns per operation and of the per-round ratios flightcache / quick_cache and
/// flightcache / moka.
fn interleaved(mut time: impl FnMut(usize) -> f64) -> ([f64; 3], f64, f64) {
    // One untimed round each: caches and branch predictors warm.
    for lib in 0..3 {
        time(lib);
    }
    let mut ns: [Vec<f64>; 3] = Default::default();
    let (mut to_quick, mut to_moka) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut this = [0.0; 3];
        for k in 0..3 {
            let lib = (round + k) % 3;
            this[lib] = time(lib);
        }
        for lib in 0..3 {
            ns[lib].push(this[lib]);
        }
        to_quick.push(this[0] / this[1]);
        to_moka.push(this[0] / this[2]);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [a, b, c] = &mut ns;
    (
        [med(a), med(b), med(c)],
        med(&mut to_quick),
        med(&mut to_moka),
    )
}

/// Criterion's `get_hit`, interleaved.
fn interleaved_get_hit() -> ([f64; 3], f64, f64) {
    let keys = keys(N);
    let order = shuffled(N);
    let (f, q, m) = filled(&keys);
    let mut i = 0usize;
    interleaved(|lib| {
        let t = Instant::now();
        for _ in 0..ROUND_OPS {
            i = if i + 1 == N { 0 } else { i + 1 };
            let k = keys[order[i]].as_str();
            match lib {
                0 => black_box(f.get(k)),
                1 => black_box(q.get(k)),
                _ => black_box(m.get(k)),
            };
        }
        t.elapsed().as_nanos() as f64 / ROUND_OPS as f64
    })
}

/// Criterion's `set_evict`, interleaved: each library goes on through the same stream of
/// keys from where its last round stopped.
fn interleaved_set_evict() -> ([f64; 3], f64, f64) {
    let stream = keys(STREAM);
    let (f, q, m) = (flight(N), quick(N), moka(N));
    let mut at = [0usize; 3];
    interleaved(|lib| {
        let i = &mut at[lib];
        let t = Instant::now();
        for _ in 0..ROUND_OPS {
            *i = if *i + 1 == STREAM { 0 } else { *i + 1 };
            let k = &stream[*i];
            match lib {
                0 => {
                    f.set(k, *i as Value, None).unwrap();
                }
                1 => q.insert(k.clone(), *i as Value),
                _ => m.insert(k.clone(), *i as Value),
            }
        }
        t.elapsed().as_nanos() as f64 / ROUND_OPS as f64
    })
}

/// Heap bytes per entry with 100,000 resident entries (16-byte keys, u64 values).
fn bytes_per_entry() -> Vec<(&'static str, f64)> {
    let keys: Vec<String> = (0..N).map(|i| format!("k{i:015}")).collect();
    let mut out = Vec::new();
    macro_rules! measure {
        ($name:expr, $make:expr, $insert:expr) => {{
            let before = LIVE.load(Relaxed);
            let cache = $make(N);
            for (i, k) in keys.iter().enumerate() {
                $insert(&cache, k, i as Value);
            }
            let after = LIVE.load(Relaxed);
            out.push(($name, (after - before) as f64 / N as f64));
            drop(cache);
        }};
    }
    measure!("flightcache", flight, |c: &Cache<Value>, k: &String, v| {
        c.set(k, v, None).unwrap();
    });
    measure!(
        "quick_cache",
        quick,
        |c: &quick_cache::sync::Cache<String, Value>, k: &String, v| c.insert(k.clone(), v)
    );
    measure!("moka", moka, |c: &moka::sync::Cache<String, Value>,
                            k: &String,
                            v| {
        c.insert(k.clone(), v);
        c.run_pending_tasks();
    });
    out
}

fn median_ns(dir: &std::path::Path, group: &str, name: &str) -> Option<f64> {
    let text =
        std::fs::read_to_string(dir.join(group).join(name).join("new/estimates.json")).ok()?;
    let at = text.find("\"median\"")?;
    let rest = &text[at..];
    let p = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let end = rest[p..].find([',', '}'])?;
    rest[p..p + end].trim().parse().ok()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    bench_get_hit(&mut c);
    bench_set_evict(&mut c);
    bench_load_hit(&mut c);
    c.final_summary();

    println!("\n== flightcache core vs quick_cache vs moka (criterion medians, ns per op) ==");
    println!(
        "{:<18} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "workload", "flightcache", "quick_cache", "moka", "fc/quick", "fc/moka"
    );
    for group in ["get_hit", "set_evict", "get_or_load_hit"] {
        let f = median_ns(&dir, group, "flightcache");
        let q = median_ns(&dir, group, "quick_cache");
        let m = median_ns(&dir, group, "moka");
        if let (Some(f), Some(q), Some(m)) = (f, q, m) {
            println!(
                "{group:<18} {f:>12.1} {q:>12.1} {m:>12.1} {:>10.2} {:>10.2}",
                f / q,
                f / m
            );
        }
    }
    println!(
        "\n== interleaved: {ROUNDS} rounds of {ROUND_OPS} operations per library (medians, ns per op; ratios: medians of the per-round ratios) =="
    );
    let (hit, hit_q, hit_m) = interleaved_get_hit();
    let (set, set_q, set_m) = interleaved_set_evict();
    for (name, ns, q, m) in [
        ("get_hit", hit, hit_q, hit_m),
        ("set_evict", set, set_q, set_m),
    ] {
        println!(
            "{name:<18} {:>12.1} {:>12.1} {:>12.1} {q:>10.2} {m:>10.2}",
            ns[0], ns[1], ns[2]
        );
    }
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    for (what, ok, f, other, ratio) in [
        (
            "get hit <= 1.3x quick_cache",
            hit_q <= 1.3,
            hit[0],
            hit[1],
            hit_q,
        ),
        ("get hit <= 0.5x moka", hit_m <= 0.5, hit[0], hit[2], hit_m),
        (
            "set <= 1.5x quick_cache",
            set_q <= 1.5,
            set[0],
            set[1],
            set_q,
        ),
    ] {
        println!(
            "  {} {what} (interleaved): {f:.1} vs {other:.1} ns, {ratio:.2}x",
            mark(ok)
        );
    }
    let mem = bytes_per_entry();
    println!("\n== heap bytes per entry, {N} entries (16-byte keys, u64 values) ==");
    for (name, b) in &mem {
        println!("{name:<18} {b:>8.1}");
    }
    println!(
        "flightcache - quick_cache: {:+.1} bytes per entry (target <= +32)",
        mem[0].1 - mem[1].1
    );
    println!("targets: get hit <= 1.3x quick_cache and <= 0.5x moka; set <= 1.5x quick_cache");
}
