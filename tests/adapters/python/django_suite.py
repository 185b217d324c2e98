"""Django's own cache backend tests (BaseCacheTests from tests/cache/tests.py of Django's
source distribution, the tests its Redis backend runs) against
flightcache.contrib.django.FlightcacheCache.

    python django_suite.py DJANGO_TESTS_DIR [memory|sqlite|redis]

DJANGO_TESTS_DIR is the sdist's tests/ folder (mk/adapters.mk extracts it). Like the Redis
backend's tests, the culling caches ("cull", "zero_cull") are left out: flightcache bounds
entries by eviction, not by Django's culling. Prints "django (STORE): N passed, N failed,
N skipped" and exits non-zero when a test fails that tests/adapters/README.md does not list.
With redis, ADAPTER_REDIS_URL (else CONFORMANCE_STORE: tests/stores/redis_server.py starts a
server for the run) names the server.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest

tests_dir, store = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "memory")
sys.path.insert(0, tests_dir)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="flightcache-adapter-tests",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cache"],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    USE_TZ=True,
    MIDDLEWARE=[],
    ROOT_URLCONF=None,
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
)
django.setup()

from django.test import TestCase, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402

from cache import tests as django_tests  # noqa: E402
from flightcache.exceptions import WrongTypeError  # noqa: E402

if store == "sqlite":
    location = "sqlite://" + os.path.join(tempfile.mkdtemp(prefix="flightcache-django-"), "c.db")
elif store == "redis":
    location = os.environ.get("ADAPTER_REDIS_URL") or os.environ["CONFORMANCE_STORE"]
elif store == "memory":
    location = "flightcache-django-tests"
else:
    sys.exit(f"django_suite.py: unknown store {store!r} (memory, sqlite or redis)")


@override_settings(
    CACHES=django_tests.caches_setting_for_tests(
        BACKEND="flightcache.contrib.django.FlightcacheCache",
        LOCATION=location,
        exclude={"cull", "zero_cull"},
    )
)
class FlightcacheCacheTests(django_tests.BaseCacheTests, TestCase):
    # incr on a value that is not an integer: flightcache's wrong_type error (a TypeError).
    incr_decr_type_error = WrongTypeError


# The failures that are deliberate, each with its reason (also in tests/adapters/README.md).
_NOT_PICKLED = "values are kept by reference without a store (OPTIONS PICKLE: True pickles them)"
KNOWN = {
    "memory": {
        "test_add_fail_on_pickleerror": _NOT_PICKLED,
        "test_set_fail_on_pickleerror": _NOT_PICKLED,
    },
    "sqlite": {},
    "redis": {},
}


class Runner(DiscoverRunner):
    def run_suite(self, suite, **kwargs):
        self.result = super().run_suite(suite, **kwargs)
        return self.result


def main() -> int:
    runner = Runner(verbosity=0, interactive=False)
    loader = unittest.defaultTestLoader
    suite = loader.loadTestsFromTestCase(FlightcacheCacheTests)
    old = runner.setup_test_environment()
    try:
        dbs = runner.setup_databases()
        try:
            runner.run_suite(suite)
        finally:
            runner.teardown_databases(dbs)
    finally:
        runner.teardown_test_environment()
    r = runner.result
    failed = {t.id().rsplit(".", 1)[-1]: msg for t, msg in r.failures + r.errors}
    known = KNOWN.get(store, {})
    total, skipped = r.testsRun, len(r.skipped)
    print(f"django ({store}): {total - len(failed) - skipped} passed, {len(failed)} failed, {skipped} skipped")
    for t, why in r.skipped:
        print(f"  skipped: {t.id().rsplit('.', 1)[-1]} ({why})")
    for name in sorted(failed):
        print(f"  failed: {name}" + (f"  (known: {known[name]})" if name in known else ""))
    unexpected = sorted(set(failed) - set(known))
    if unexpected:
        for name in unexpected:
            print(f"--- {name}\n{failed[name]}")
        return 1
    del old
    return 0 if total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
