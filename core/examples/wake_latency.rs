//! How long waking a sleeping thread takes on this machine: two threads hand a turn back
//! and forth through channels, p50 and p99 of a round trip in microseconds. A store call
//! crosses threads twice (the caller hands its request to the store runtime, the runtime
//! wakes the caller), so on a machine where this is slow, so are store round trips (see the
//! README, "A blocking wait"). Pin it to one CPU (`taskset -c 0`) to see the cost without a
//! CPU's wake-up. Nothing here is asserted by a test.
//!
//! `cargo run --release -p flightcache --example wake_latency`

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

fn main() {
    let (to_other, from_main) = channel::<u32>();
    let (to_main, from_other) = channel::<u32>();
    std::thread::spawn(move || {
        while let Ok(v) = from_main.recv() {
            if to_main.send(v).is_err() {
                return;
            }
        }
    });
    let mut rounds = Vec::with_capacity(20_000);
    for i in 0..20_000u32 {
        let t = Instant::now();
        to_other.send(i).expect("the other thread is alive");
        from_other.recv().expect("the other thread answers");
        rounds.push(t.elapsed());
        if i % 100 == 0 {
            // Let both threads fall asleep now and then, as between a handler's calls.
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    rounds.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "thread hand-off round trip: p50 {:.1} µs, p99 {:.1} µs",
        us(rounds[rounds.len() / 2]),
        us(rounds[rounds.len() * 99 / 100])
    );
}
