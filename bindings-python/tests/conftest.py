from __future__ import annotations

import pytest

from flightcache import Cache, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> Cache:
    return Cache(max_entries=1000, clock=clock)
