"""How far the kernel's coarse monotonic clock lags the precise one, on this machine (Linux).

    python3 bench/clock_lag.py [SECONDS]

A hit's cheap bound of the time is the coarse clock plus five ticks (core/src/clock.rs); the
bound is right while the lag stays under the margin. Each sample reads precise, coarse,
precise; samples whose two precise reads are more than 50 us apart (the thread was held up
between them) are dropped. Prints the tick, the margin and the largest lag seen. Run it idle and
under load (a build) to see both. A measurement, not a test: nothing is asserted.
"""
import sys
import time

CLOCK_MONOTONIC_COARSE = 6  # <linux/time.h>; the time module does not name it

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
tick_ms = time.clock_getres(CLOCK_MONOTONIC_COARSE) * 1000
read = time.clock_gettime_ns
precise = time.CLOCK_MONOTONIC
end = time.monotonic() + seconds
worst = reads = dropped = 0
while time.monotonic() < end:
    p1 = read(precise)
    c = read(CLOCK_MONOTONIC_COARSE)
    p2 = read(precise)
    if p2 - p1 > 50_000:
        dropped += 1
        continue
    worst = max(worst, p2 - c)
    reads += 1
print(f"tick {tick_ms:.3f} ms, margin {5 * tick_ms:.3f} ms; {reads:,} samples ({dropped:,} dropped): "
      f"the coarse clock was at most {worst / 1e6:.3f} ms behind")
