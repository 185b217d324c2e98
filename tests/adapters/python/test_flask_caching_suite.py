"""Flask-Caching's generic backend tests (GenericCacheTests from its sdist's
tests/test_backend_cache.py) against the flightcache backend, made the way Flask-Caching
makes it: through CACHE_TYPE = "flightcache.contrib.cachelib.factory".

Run by mk/adapters.mk from the extracted sdist's tests folder. ADAPTER_STORE=sqlite puts a
SQLite store behind the cache, ADAPTER_STORE=redis a Redis store (ADAPTER_REDIS_URL, else
CONFORMANCE_STORE: tests/stores/redis_server.py starts one for the run).
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
            store = os.environ.get("ADAPTER_STORE")
            options = {}
            if store == "sqlite":
                options["location"] = f"sqlite://{_DIR}/{uuid.uuid4().hex}.db"
            elif store == "redis":
                # One server: a namespace of its own per cache.
                url = os.environ.get("ADAPTER_REDIS_URL") or os.environ["CONFORMANCE_STORE"]
                options.update(location=url, namespace=f"flask-{uuid.uuid4().hex}")
            else:
                options["location"] = f"flask-test-{uuid.uuid4().hex}"
            app.config.update(
                CACHE_TYPE="flightcache.contrib.cachelib.factory",
                CACHE_OPTIONS=options,
            )
            cache = flask_caching.Cache(app)
            with app.app_context():
                backend = cache.cache
            assert isinstance(backend, FlightcacheCache)
            return backend

        return make
