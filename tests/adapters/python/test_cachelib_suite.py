"""cachelib's own shared backend tests (the mixins its Redis backend's tests use: CommonTests,
ClearTests, HasTests, SerializerTests, DeleteManyWithPrefixTests, from its sdist's tests/) against flightcache.contrib.cachelib.FlightcacheCache.

Run by mk/adapters.mk from the extracted sdist's tests folder (their conftest.py and test
modules are importable there). ADAPTER_STORE=sqlite puts a SQLite store behind the cache;
ADAPTER_STORE=redis a Redis store (the server ADAPTER_REDIS_URL, else CONFORMANCE_STORE,
names: tests/stores/redis_server.py starts one for the run).
"""

import os
import tempfile
import uuid

import pytest
from clear import ClearTests
from common import CommonTests
from delete_many_with_prefix import DeleteManyWithPrefixTests
from has import HasTests
from serializer import SerializerTests

from flightcache.contrib.cachelib import FlightcacheCache

_DIR = tempfile.mkdtemp(prefix="flightcache-cachelib-")


def _location() -> tuple[str, dict[str, str]]:
    """Each test of cachelib's gets a new cache: a SQLite file of its own, a namespace of its
    own on the one Redis server, or a cache of this process of its own."""
    store = os.environ.get("ADAPTER_STORE")
    if store == "sqlite":
        return f"sqlite://{_DIR}/{uuid.uuid4().hex}.db", {}
    if store == "redis":
        url = os.environ.get("ADAPTER_REDIS_URL") or os.environ["CONFORMANCE_STORE"]
        return url, {"namespace": f"cachelib-{uuid.uuid4().hex}"}
    return f"cachelib-test-{uuid.uuid4().hex}", {}


@pytest.fixture(autouse=True)
def cache_factory(request):
    def _factory(self, *args, **kwargs):
        location, options = _location()
        return FlightcacheCache(location, *args, **{**options, **kwargs})

    if request.cls:
        request.cls.cache_factory = _factory


class TestFlightcacheCache(
    CommonTests, ClearTests, HasTests, SerializerTests, DeleteManyWithPrefixTests
):
    pass
