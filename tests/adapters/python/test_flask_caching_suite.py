"""Flask-Caching's generic backend tests (GenericCacheTests from its sdist's
tests/test_backend_cache.py) against the flightcache backend, made the way Flask-Caching
makes it: through CACHE_TYPE = "flightcache.contrib.cachelib.factory".

Run by mk/adapters.mk from the extracted sdist's tests folder. ADAPTER_STORE=sqlite puts a
SQLite store behind the cache.
"""

import os
import tempfile
import uuid

import flask
import pytest
from test_backend_cache import GenericCacheTests

import flask_caching
from flightcache.contrib.cachelib import FlightcacheCache

_DIR = tempfile.mkdtemp(prefix="flightcache-flask-")


class TestFlightcacheBackend(GenericCacheTests):
    # flightcache keeps its own monotonic clock: a test's timeouts pass in real time.
    _can_use_fast_sleep = False

    @pytest.fixture
    def make_cache(self):
        def make():
            app = flask.Flask(__name__)
            if os.environ.get("ADAPTER_STORE") == "sqlite":
                location = f"sqlite://{_DIR}/{uuid.uuid4().hex}.db"
            else:
                location = f"flask-test-{uuid.uuid4().hex}"
            app.config.update(
                CACHE_TYPE="flightcache.contrib.cachelib.factory",
                CACHE_OPTIONS={"location": location},
            )
            cache = flask_caching.Cache(app)
            with app.app_context():
                backend = cache.cache
            assert isinstance(backend, FlightcacheCache)
            return backend

        return make
