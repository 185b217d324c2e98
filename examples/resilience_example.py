"""Resilience policies: a token refreshed ahead of its expiry, a failing API answered from
the last good value, and the "Cached" badge. A ManualClock stands in for time passing."""

import itertools
import time

from flightcache import Cache, ManualClock

clock = ManualClock()
cache = Cache(clock=clock, ttl=60_000, refresh_ahead=0.8, stale_if_error=600_000)

issued = itertools.count(1)


def fetch_token() -> str:
    return f"token-{next(issued)}"


def wait_for(key: str, value: str) -> None:
    """Background refreshes run on a thread of their own: give this one a moment."""
    for _ in range(500):
        if cache.get(key) == value:
            return
        time.sleep(0.01)
    raise SystemExit(f"{key} never became {value}")


# refresh_ahead: a hit after 80% of the TTL returns the token at once and fetches the next one
# in the background, so a hot key never expires and no caller waits for the token API.
assert cache.get("token", fetch_token) == "token-1"
clock.advance(50_000)
assert cache.get("token", fetch_token) == "token-1"
wait_for("token", "token-2")


# stale_if_error: when the API fails, callers get the last good value (within 10 minutes of
# its expiry) instead of the error; the failure is counted, and for a second
# (fail_safe_backoff) nobody calls the API again.
def rates() -> dict[str, float]:
    return {"EUR": 0.92}


def rates_api_down() -> dict[str, float]:
    raise ConnectionError("rates API unreachable")


cache.get("rates", rates)
clock.advance(61_000)
assert cache.get("rates", rates_api_down) == {"EUR": 0.92}

# get_entry: the value with how it was served, what a platform shows as a "Cached" badge.
entry = cache.get_entry("rates", rates_api_down)
badge = "Cached" if entry.status != "loaded" else "Live"
print(f"{badge}: {entry.value} ({entry.status} from {entry.source}, {entry.age_ms:.0f} ms old)")
stats = cache.stats()
print(f"load errors {stats.load_errors}, stale hits {stats.stale_hits}, refreshes {stats.refreshes}")
