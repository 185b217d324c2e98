"""The Python runner of the conformance scenarios (tests/scenarios/*.json, format in
tests/README.md): one pytest test per scenario, driving the public package exactly as a user
does (``from flightcache import Cache, ManualClock``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import itertools
import json
import tempfile
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import flightcache
from flightcache import Cache, ManualClock

SCENARIO_DIR = Path(
    os.environ.get("CONFORMANCE_SCENARIOS") or Path(__file__).resolve().parent.parent / "scenarios"
)
SCENARIOS = sorted(SCENARIO_DIR.glob("*.json"))
LANG = "python"
SETTLE_DEADLINE = 5.0
WAIT_DEADLINE = 10.0
pytestmark = pytest.mark.timeout(60)

# The resilience options: cache options, and per-call options of get / get_entry / start.
POLICY = (
    "stale_ttl", "stale_if_error", "soft_timeout", "hard_timeout", "refresh_ahead",
    "fail_safe_backoff",
)
# How long a step marked `eventually` is retried (real time) until it holds.
EVENTUALLY_DEADLINE = 5.0
STATS_FIELDS = [
    "hits", "misses", "loads", "load_errors", "evictions", "expirations", "rejected", "entries",
    "bytes", "stale_hits", "refreshes", "refresh_errors",
]

STEP_FIELDS = {
    "op", "key", "value", "ttl", "by", "must_exist", "ns", "api", "load", "max_age", "ms", "options", "group",
    "callers", "loader", "message", "call", "fn", "args", "body", "anonymous", "async", "times",
    "steps", "langs", "expect", "error", "at_most", "at_least", "identical", "inner_error",
    "eventually", *POLICY,
}


class Absent:
    """What a step produced when the API returned "nothing" (None for a missing key)."""

    def __repr__(self) -> str:
        return "absent"


ABSENT = Absent()


class LoaderFailure(Exception):
    """What the scenarios' loaders raise: a plain exception of the user's own."""


# ---------------------------------------------------------------- error kinds, mapped once

def _is(base: type, *also: type) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, base) and all(isinstance(e, a) for a in also)


FlightcacheError = flightcache.FlightcacheError
ERROR_KINDS: dict[str, Callable[[BaseException], bool]] = {
    "invalid_argument": _is(FlightcacheError, ValueError),
    "wrong_type": _is(FlightcacheError, TypeError),
    "timeout": _is(FlightcacheError, TimeoutError),
    "not_found": _is(flightcache.KeyNotFoundError, KeyError),
    "reentrant": lambda e: isinstance(e, FlightcacheError)
    and not isinstance(e, (ValueError, TypeError, TimeoutError, KeyError)),
}


def kind_of(e: BaseException) -> str:
    """The language-neutral kind of an exception (loader errors are the loader's own)."""
    if isinstance(e, LoaderFailure):
        return "loader_error"
    for kind, test in ERROR_KINDS.items():
        if test(e):
            return kind
    return f"unexpected {type(e).__module__}.{type(e).__qualname__}: {e}"


class Failed(Exception):
    """An outcome that is an error."""

    def __init__(self, exc: BaseException):
        super().__init__(kind_of(exc))
        self.exc = exc
        self.kind = kind_of(exc)


# ---------------------------------------------------------------- values

def decode(v: Any) -> Any:
    """Turns a scenario's argument into the Python value it stands for."""
    if isinstance(v, dict):
        if "$nan" in v:
            return math.nan
        if "$inf" in v:
            return -math.inf if v["$inf"] < 0 else math.inf
        if "$bytes" in v:
            return v["$bytes"].encode("utf-8")
        if "$timedelta_ms" in v:
            return datetime.timedelta(milliseconds=v["$timedelta_ms"])
        if "$int" in v:
            return int(v["$int"])
        if "$type" in v:
            return {"list": [], "object": {}, "int": 1, "float": 1.5, "bool": True, "null": None}[
                v["$type"]
            ]
        if "$ttl_of" in v:
            field = v["$ttl_of"]
            return lambda value: value[field]
        if any(k.startswith("$") for k in v):
            raise AssertionError(f"{v} cannot be passed in Python (give the step \"langs\")")
    return v


def expected(v: Any) -> Any:
    if isinstance(v, dict):
        if "$absent" in v:
            return ABSENT
        if "$bytes" in v:
            return v["$bytes"].encode("utf-8")
        if "$inf" in v:
            return -math.inf if v["$inf"] < 0 else math.inf
    return v


def same(want: Any, got: Any) -> bool:
    """JSON equality that tells a boolean from a number (Python's True == 1)."""
    if want is ABSENT or got is ABSENT:
        return want is got
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return want == got
    if isinstance(want, list) and isinstance(got, (list, tuple)):
        return len(want) == len(got) and all(same(a, b) for a, b in zip(want, got))
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(same(want[k], got[k]) for k in want)
    return type(want) is type(got) and want == got


def show(outcome: Any) -> str:
    if isinstance(outcome, Failed):
        return f"error {outcome.kind}"
    return repr(outcome)


# ---------------------------------------------------------------- loaders

class Deferred:
    """A loader that waits until the scenario resolves or rejects it."""

    def __init__(self) -> None:
        self.calls = 0
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error
        self.done.set()

    def _outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def call(self) -> Any:
        with self.lock:
            self.calls += 1
        if not self.done.wait(WAIT_DEADLINE):
            raise AssertionError("the deferred loader was never resolved")
        return self._outcome()

    async def acall(self) -> Any:
        with self.lock:
            self.calls += 1
        deadline = time.monotonic() + WAIT_DEADLINE
        while not self.done.is_set():
            if time.monotonic() > deadline:
                raise AssertionError("the deferred loader was never resolved")
            await asyncio.sleep(0.001)
        return self._outcome()


class Counter:
    """A memoized function's body: returns how many times it has run."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def call(self) -> int:
        with self.lock:
            self.calls += 1
            return self.calls

    async def acall(self) -> int:
        return self.call()


# ---------------------------------------------------------------- the runner

class Runner:
    def __init__(self, options: dict[str, Any], clock: str = "manual"):
        self.clock = ManualClock()
        # `"clock": "system"`: the cache keeps the system clock (real time; `advance` moves
        # nothing it reads).
        self.cache = Cache(
            **({} if clock == "system" else {"clock": self.clock}), **cache_options(options)
        )
        self.deferred: dict[str, Deferred] = {}
        self.groups: dict[str, list[concurrent.futures.Future[Any]]] = {}
        self.memos: dict[str, tuple[Callable[..., Any], Any, bool]] = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=64)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.not_here = 0
        self.raised: list[BaseException] = []

    # An event loop in a thread of its own, for the async API.
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, daemon=True).start()
        return self._loop

    def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def run_async(self, make: Callable[[], Any]) -> Any:
        """Calls `make` on the event loop's thread (as asyncio code does) and awaits it."""

        async def main() -> Any:
            return await make()

        return asyncio.run_coroutine_threadsafe(main(), self.loop).result(WAIT_DEADLINE)

    def target(self, step: dict[str, Any]) -> Any:
        c = self.cache
        ns = step.get("ns")
        for name in [ns] if isinstance(ns, str) else ns or []:
            c = c.namespace(name)
        return c

    def deferred_loader(self, name: str) -> Deferred:
        return self.deferred.setdefault(name, Deferred())

    def make_loader(self, spec: Any, key: Any, target: Any, is_async: bool, step: dict) -> Any:
        """The get_value of a step: a callable (async in the async API)."""
        if isinstance(spec, str):
            d = self.deferred_loader(spec)
            return d.acall if is_async else d.call
        if "reenter" in spec:
            value = spec.get("value")

            def inner_kind(e: BaseException | None) -> None:
                step["__inner"] = "no error" if e is None else kind_of(e)

            if is_async:

                async def areenter() -> Any:
                    try:
                        await asyncio.wait_for(target.aget(key, lambda: "inner"), 2.0)
                        inner_kind(None)
                    except asyncio.TimeoutError:
                        step["__inner"] = "deadlock (no answer in 2 s)"
                    except BaseException as e:  # noqa: BLE001 - any error is the result
                        inner_kind(e)
                    return value

                return areenter

            def reenter() -> Any:
                try:
                    target.get(key, lambda: "inner")
                    inner_kind(None)
                except BaseException as e:  # noqa: BLE001
                    inner_kind(e)
                return value

            return reenter
        if spec.get("made"):
            assert is_async, "an awaitable already made is for aget"
            value, message = decode(spec.get("value")), spec.get("error")

            async def made() -> Any:
                if message is not None:
                    e = LoaderFailure(message)
                    self.raised.append(e)
                    raise e
                return value

            return made  # called once per caller, below: each caller makes its own
        if "value" in spec:
            value = decode(spec["value"])
            if is_async:

                async def avalue() -> Any:
                    return value

                return avalue
            return lambda: value
        if "error" in spec:
            message = spec["error"]

            def fail() -> Any:
                e = LoaderFailure(message)
                self.raised.append(e)
                raise e

            if is_async:

                async def afail() -> Any:
                    return fail()

                return afail
            return fail
        raise AssertionError(f"unknown loader {spec}")

    def get_call(self, step: dict[str, Any]) -> Callable[[], Any]:
        """One caller of the step's get, as a function to run in any thread."""
        target = self.target(step)
        key = decode(step["key"])
        is_async = step.get("api") == "async"
        kwargs: dict[str, Any] = {}
        if "max_age" in step:
            kwargs["max_age"] = decode(step["max_age"])
        if "ttl" in step:
            kwargs["ttl"] = decode(step["ttl"])
        for name in POLICY:
            if name in step:
                kwargs[name] = decode(step[name])
        entry = step["op"] == "get_entry"
        loader = (
            self.make_loader(step["load"], key, target, is_async, step) if "load" in step else None
        )
        made = isinstance(step.get("load"), dict) and step["load"].get("made")

        def call() -> Any:
            kw = dict(kwargs)
            if loader is not None:
                # An awaitable already made (a coroutine object) instead of a callable.
                kw["get_value"] = loader() if made else loader
            if entry:
                e = (self.run_async(lambda: target.aget_entry(key, **kw)) if is_async
                     else target.get_entry(key, **kw))
                return {
                    "value": ABSENT if e.status == "miss" else e.value,
                    "status": e.status,
                    "source": e.source,
                    "age_ms": ABSENT if e.age_ms is None else e.age_ms,
                    "remaining_ttl": ABSENT if e.remaining_ttl is None else e.remaining_ttl,
                }
            if is_async:
                v = self.run_async(lambda: target.aget(key, **kw))
            else:
                v = target.get(key, **kw)
            # get returns None both for a stored None and for nothing: `in` tells them apart
            # (with max_age, a value too old for this call is still `in` the cache).
            if v is None and loader is None and ("max_age" in kw or key not in target):
                return ABSENT
            return v

        return call

    def settle(self, base: int, n: int, loader: Any) -> None:
        """Waits until `n` more gets than `base` reached the cache and the group's waiting
        loader was called (for at most a second: a group may join another loader's flight),
        then a little longer for each caller to join or start its flight."""
        deadline = time.monotonic() + SETTLE_DEADLINE
        while True:
            s = self.cache.stats()
            if s["hits"] + s["misses"] >= base + n:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"only {s['hits'] + s['misses'] - base} of {n} callers "
                                     "reached the cache")
            time.sleep(0.001)
        if isinstance(loader, Deferred):
            deadline = time.monotonic() + 1.0
            while loader.calls == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
        time.sleep(0.02)

    def memo(self, step: dict[str, Any]) -> None:
        name = step["fn"]
        body_name = step.get("body", "count")
        body: Any = Counter() if body_name == "count" else self.deferred_loader(body_name)
        is_async = bool(step.get("async"))
        if step.get("anonymous"):
            fn: Any = lambda *args: body.call()  # noqa: E731 - a lambda is the point
        elif is_async:

            async def fn(*args: Any) -> Any:
                return await body.acall()

        else:

            def fn(*args: Any) -> Any:
                return body.call()

        if not step.get("anonymous"):
            fn.__name__ = fn.__qualname__ = name
            fn.__module__ = "conformance"
        kwargs: dict[str, Any] = {}
        if "ttl" in step:
            kwargs["ttl"] = decode(step["ttl"])
        if "key" in step:
            kwargs["key"] = step["key"]
        self.memos[name] = (self.cache.memoize(**kwargs)(fn), body, is_async)

    def memo_call(self, step: dict[str, Any]) -> Callable[[], Any]:
        wrapped, _, is_async = self.memos[step["fn"] if "fn" in step else step["call"]]
        args = [decode(a) for a in step.get("args", [])]
        if is_async:
            return lambda: self.run_async(lambda: wrapped(*args))
        return lambda: wrapped(*args)

    def step(self, step: dict[str, Any]) -> Any:
        op = step["op"]
        c = self.target(step) if op not in ("start", "await", "memo", "call") else None
        key = decode(step.get("key"))
        is_async = step.get("api") == "async"
        if op in ("get", "get_entry"):
            return self.get_call(step)()
        if op == "sleep":
            time.sleep(step["ms"] / 1000)
            return None
        if op == "read_for":
            get = self.get_call({"op": "get", "key": step["key"]})
            end = time.monotonic() + step["ms"] / 1000
            while True:
                v = get()
                if time.monotonic() >= end:
                    return v
        if op == "set":
            ttl = {"ttl": decode(step["ttl"])} if "ttl" in step else {}
            value = decode(step["value"])
            if is_async:
                return self.run_async(lambda: c.aset(key, value, **ttl))
            return c.set(key, value, **ttl)
        if op == "add":
            ttl = {"ttl": decode(step["ttl"])} if "ttl" in step else {}
            value = decode(step["value"])
            if is_async:
                return self.run_async(lambda: c.aadd(key, value, **ttl))
            return c.add(key, value, **ttl)
        if op == "del":
            return self.run_async(lambda: c.adelete(key)) if is_async else c.delete(key)
        if op == "has":
            return c.exists(key)
        if op == "expire":
            return c.expire(key, decode(step["ttl"]))
        if op == "remaining_ttl":
            r = c.remaining_ttl(key)
            return ABSENT if r is None else r
        if op == "incr":
            by = [decode(step["by"])] if "by" in step else []
            must = {"must_exist": step["must_exist"]} if "must_exist" in step else {}
            if is_async:
                return self.run_async(lambda: c.aincr(key, *by, **must))
            return c.incr(key, *by, **must)
        if op == "keys":
            return sorted(c.keys())
        if op == "clear":
            c.clear()
            return None
        if op == "len":
            return len(c)
        if op == "stats":
            s = c.stats()
            return {f: s[f] for f in STATS_FIELDS}
        if op == "ping":
            return c.ping()
        if op == "advance":
            self.clock.advance(decode(step["ms"]))
            return None
        if op == "new":
            Cache(clock=ManualClock(), **cache_options(step["options"]))
            return True
        if op == "start":
            n = step.get("callers", 1)
            s = self.cache.stats()
            base = s["hits"] + s["misses"]
            call = self.memo_call(step) if "call" in step else self.get_call(step)
            futures = [self.pool.submit(call) for _ in range(n)]
            self.groups.setdefault(step["group"], []).extend(futures)
            if "call" in step:
                loader: Any = self.memos[step["call"]][1]
            else:
                load = step.get("load")
                loader = self.deferred_loader(load) if isinstance(load, str) else None
            self.settle(base, n, loader)
            return None
        if op in ("resolve", "reject"):
            d = self.deferred_loader(step["loader"])
            if op == "resolve":
                d.settle(value=decode(step.get("value")))
            else:
                e = LoaderFailure(step.get("message", "rejected"))
                self.raised.append(e)
                d.settle(error=e)
            return None
        if op == "calls":
            if "loader" in step:
                return self.deferred_loader(step["loader"]).calls
            return self.memos[step["fn"]][1].calls
        if op == "await":
            results = []
            futures = self.groups.pop(step["group"])
            _, pending = concurrent.futures.wait(futures, WAIT_DEADLINE)
            if pending:
                raise AssertionError(f"{len(pending)} caller(s) did not finish (hung)")
            for f in futures:
                e = f.exception()
                results.append(Failed(e) if e is not None else f.result())
            self.check_group(step, results)
            return None
        if op == "memo":
            self.memo(step)
            return None
        if op == "call":
            return self.memo_call(step)()
        raise AssertionError(f"unknown op {op!r}")

    def check_group(self, step: dict[str, Any], results: list[Any]) -> None:
        if "callers" in step:
            assert len(results) == step["callers"], f"{len(results)} callers"
        for i, r in enumerate(results):
            err = check(step, r) or self.check_loader_error(r)
            if err:
                raise AssertionError(f"caller {i}: {err}")
        if step.get("identical") is False:
            # Every caller received an object of its own (the copy option).
            for i, a in enumerate(results):
                for b in results[i + 1 :]:
                    if not isinstance(a, Failed) and not isinstance(b, Failed):
                        assert a is not b, "two callers received the very same object"
        if step.get("identical"):
            first = results[0]
            for r in results[1:]:
                a = first.exc if isinstance(first, Failed) else first
                b = r.exc if isinstance(r, Failed) else r
                assert a is b, "the callers did not all receive the identical result"

    def check_loader_error(self, outcome: Any) -> str | None:
        """A loader error must be the very exception the loader raised."""
        if isinstance(outcome, Failed) and outcome.kind == "loader_error":
            if not any(outcome.exc is e for e in self.raised):
                return "a loader_error that is not the loader's own exception object"
        return None


_stores = itertools.count()


def store_url() -> str | None:
    """The store each cache of this run uses (`CONFORMANCE_STORE`: memory, sqlite), a new
    one per cache."""
    kind = os.environ.get("CONFORMANCE_STORE")
    if not kind:
        return None
    n = next(_stores)
    if kind == "memory":
        return f"memory://conformance-{os.getpid()}-{n}"
    if kind.startswith("redis"):
        return kind
    if kind == "sqlite":
        folder = Path(tempfile.gettempdir()) / f"flightcache-conformance-py-{os.getpid()}"
        folder.mkdir(exist_ok=True)
        return f"sqlite://{folder}/{n}.db"
    raise ValueError(f"CONFORMANCE_STORE={kind!r}: use memory or sqlite")


def cache_options(options: dict[str, Any]) -> dict[str, Any]:
    """The scenario's options as Cache keyword arguments; `size_of: N` is a function giving N."""
    out = {k: decode(v) for k, v in options.items()}
    if "size_of" in out:
        n = out["size_of"]
        out["size_of"] = lambda value: n
    url = store_url()
    if url is not None:
        out["store"] = url
    return out


def check(step: dict[str, Any], got: Any) -> str | None:
    """Compares an outcome with the step's expect / error / at_most / at_least."""
    if "error" in step:
        if isinstance(got, Failed) and got.kind == step["error"]:
            return None
        return f"expected error {step['error']}, got {show(got)}"
    for bound, most in (("at_most", True), ("at_least", False)):
        if bound not in step:
            continue
        if isinstance(got, Failed):
            return f"unexpected error {got.kind} ({got.exc!r})"
        limit = step[bound]
        pairs = limit.items() if isinstance(limit, dict) else [(step["op"], limit)]
        for name, lim in pairs:
            val = got[name] if isinstance(limit, dict) else got
            if not (val <= lim if most else val >= lim):
                return f"{name} = {val}, expected {'at most' if most else 'at least'} {lim}"
    if "expect" in step:
        want = expected(step["expect"])
        if isinstance(got, Failed):
            return f"expected {want!r}, got error {got.kind} ({got.exc!r})"
        if step["op"] in ("stats", "get_entry"):
            bad = {k: got[k] for k in want if not same(expected(want[k]), got[k])}
            if bad:
                return f"expected stats {want}, got {got}"
        elif not same(want, got):
            return f"expected {want!r}, got {got!r}"
    elif isinstance(got, Failed) and "at_most" not in step and "at_least" not in step:
        return f"unexpected error {got.kind} ({got.exc!r})"
    return None


def substitute(v: Any, i: int) -> Any:
    if isinstance(v, str):
        return v.replace("{i}", str(i))
    if isinstance(v, list):
        return [substitute(x, i) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, i) for k, x in v.items()}
    return v


def run_steps(r: Runner, steps: list[dict[str, Any]], path: str = "") -> None:
    for i, step in enumerate(steps, 1):
        at = f"{path}{i}"
        unknown = set(step) - STEP_FIELDS
        assert not unknown, f"step {at} has unknown fields {unknown}"
        if "langs" in step and LANG not in step["langs"]:
            r.not_here += 1
            continue
        if step["op"] == "repeat":
            for n in range(step["times"]):
                run_steps(r, [substitute(s, n) for s in step["steps"]], f"{at}.{n}.")
            continue
        where = f"step {at} {json.dumps(step, ensure_ascii=False)[:160]}"
        deadline = time.monotonic() + EVENTUALLY_DEADLINE
        while True:
            try:
                got = r.step(step)
            except AssertionError as e:
                raise AssertionError(f"{where}: {e}") from None
            except BaseException as e:  # noqa: BLE001 - an error is an outcome to compare
                got = Failed(e)
            if step["op"] == "await":
                break
            err = check(step, got) or r.check_loader_error(got)
            # `eventually`: background work (a refresh) settles on its own; retried a while.
            if not err or not step.get("eventually") or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if step["op"] == "await":
            continue
        if not err and "inner_error" in step and step.get("__inner") != step["inner_error"]:
            err = (f"the loader's own call of its key gave {step.get('__inner')!r}, "
                   f"expected {step['inner_error']!r}")
        if err:
            raise AssertionError(f"{where}: {err}")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) <= {
        "description",
        "options",
        "steps",
        "in_process_only",
        "clock",
    }, f"unknown fields in {path.name}"
    if os.environ.get("CONFORMANCE_STORE") and "in_process_only" in doc:
        pytest.skip(f"in-process only: {doc['in_process_only']}")
    if os.environ.get("CONFORMANCE_STORE", "").startswith("redis"):
        # One server for every scenario: each starts with none of flightcache's keys.
        Cache(store=os.environ["CONFORMANCE_STORE"]).clear()
    r = Runner(doc.get("options", {}), doc.get("clock", "manual"))
    try:
        run_steps(r, doc["steps"])
        assert not r.groups, f"groups started but never awaited: {list(r.groups)}"
    finally:
        r.close()


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 60
