"""cachelib's own shared backend tests (the mixins its Redis backend's tests use: CommonTests,
ClearTests, HasTests, SerializerTests, DeleteManyWithPrefixTests, from its sdist's tests/) against flightcache.contrib.cachelib.FlightcacheCache.

Run by mk/adapters.mk from the extracted sdist's tests folder (their conftest.py and test
modules are importable there). ADAPTER_STORE=sqlite puts a SQLite store behind the cache.
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


def _location() -> str:
    if os.environ.get("ADAPTER_STORE") == "sqlite":
        return f"sqlite://{_DIR}/{uuid.uuid4().hex}.db"
    # A cache of this process of its own per test, as each test of cachelib's gets a new one.
    return f"cachelib-test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def cache_factory(request):
    def _factory(self, *args, **kwargs):
        return FlightcacheCache(_location(), *args, **kwargs)

    if request.cls:
        request.cls.cache_factory = _factory


class TestFlightcacheCache(
    CommonTests, ClearTests, HasTests, SerializerTests, DeleteManyWithPrefixTests
):
    pass
