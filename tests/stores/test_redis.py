"""The Redis store across processes, Python and Node mixed: one load per key, a killed
leader taken over, a Redis killed and frozen under load, coherence of the in-process
copies (a dropped subscription included), TLS and AUTH, and values that cross languages.
Every Redis server is started by the test on a free loopback port with its own folder and
stopped by its process id; every worker process is waited for (or killed) by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from flightcache import Cache

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from redis_server import RedisServer, free_port  # noqa: E402
from test_sqlite import VALUES, env, node_reader_sees_a_write, run, worker  # noqa: E402,F401 - node_link is autouse there
from test_sqlite import node_link  # noqa: E402,F401

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as s:
        yield s


@pytest.fixture
def redis(server: RedisServer) -> str:
    # A server of the tests' own: emptied between tests.
    server.command("FLUSHALL")
    return server.url


def with_options(**options: Any) -> dict[str, str]:
    e = env()
    e["FLIGHTCACHE_TEST_OPTIONS"] = json.dumps(options)
    return e


def stat(out: dict[str, Any], name: str) -> int:
    """A counter from a worker's stats (Python spells them snake_case, Node camelCase)."""
    camel = name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:])
    return int(out["stats"].get(name, out["stats"].get(camel, 0)))


def loads(log: Path) -> list[tuple[str, int, float]]:
    out = []
    for line in log.read_text().splitlines():
        lang, pid, at = line.split()
        out.append((lang, int(pid), float(at)))
    return out


@pytest.mark.parametrize("trial", range(3))
def test_one_loader_call_for_eight_processes_of_fifty_callers(
    redis: str, tmp_path: Path, trial: int
) -> None:
    log = tmp_path / f"loads-{trial}.log"
    key = f"cold-{trial}"
    start_at = int(time.time() * 1000) + 2000  # every process is up by then
    procs = [
        subprocess.Popen(
            worker(lang, redis, "load", key, "50", str(log), "200", str(start_at)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for lang in ["python", "node"] * 4
    ]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=90)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    calls = loads(log)
    joined = sum(stat(o, "remote_loads_joined") for o in outs)
    print(f"trial {trial}: loader calls {len(calls)} ({calls}); "
          f"calls answered by another process's load: {joined}")
    assert len(calls) == 1, calls
    results = {r for o in outs for r in o["results"]}
    assert len(results) == 1 and not next(iter(results)).startswith("error"), results
    assert sum(len(o["results"]) for o in outs) == 400


@pytest.mark.parametrize("holder", ["python", "node"])
def test_a_killed_leader_is_taken_over_within_the_lease(
    redis: str, tmp_path: Path, holder: str
) -> None:
    lease_ms = 1000
    e = with_options(lease=lease_ms)
    log, ready = tmp_path / "loads.log", tmp_path / "ready"
    hold = subprocess.Popen(
        worker(holder, redis, "hold", "k", str(log), str(ready)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=e,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert hold.poll() is None, hold.stderr.read() if hold.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    other = "node" if holder == "python" else "python"
    now = int(time.time() * 1000)
    waiters = [
        subprocess.Popen(
            worker(lang, redis, "load", "k", "5", str(log), "10", str(now)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=e,
        )
        for lang in (holder, other)
    ]
    time.sleep(1.5)  # the waiters wait for the holder's load, which renews its lease
    killed = time.time()
    os.kill(hold.pid, signal.SIGKILL)
    hold.wait()
    results = []
    for p in waiters:
        stdout, stderr = p.communicate(timeout=30)
        assert p.returncode == 0, stderr
        results.extend(json.loads(stdout.strip().splitlines()[-1])["results"])
    calls = loads(log)
    assert len(calls) == 2, calls  # the killed load, and one takeover
    took_ms = (calls[1][2] - killed) * 1000
    print(f"takeover after kill -9 of a {holder} leader: a new loader {took_ms:.0f} ms "
          f"after the kill (lease {lease_ms} ms)")
    assert len(set(results)) == 1 and not results[0].startswith("error"), results
    # The lease was renewed at most lease/3 before the kill; waiters poll every 100 ms.
    # The margin above lease + 100 ms covers a busy two-core machine.
    assert took_ms < lease_ms + 100 + 400


def steady_workers(url: str, tmp_path: Path, seconds: float, store_timeout: int) -> list[Any]:
    procs = []
    readies = []
    for i, lang in enumerate(["python", "node", "python", "node"]):
        ready = tmp_path / f"ready-{i}"
        readies.append(ready)
        procs.append(subprocess.Popen(
            worker(lang, url, "steady", f"p{i}", str(seconds), str(ready)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=with_options(store_timeout=store_timeout),
        ))
    deadline = time.monotonic() + 30
    while not all(r.exists() for r in readies):
        for p in procs:
            assert p.poll() is None, p.communicate()[1]
        assert time.monotonic() < deadline, "the workers never warmed up"
        time.sleep(0.01)
    return procs


def finish(procs: list[Any]) -> list[dict[str, Any]]:
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outs


def recovered_after(outs: list[dict[str, Any]], since: float) -> float:
    """Seconds from `since` to the first set the store took, in every worker (the largest)."""
    worst = 0.0
    for o in outs:
        taken = [t for t, stored in o["sets"] if stored and t >= since]
        assert taken, f"the store was never used again after {since}: {o['stats']}"
        worst = max(worst, taken[0] - since)
    return worst


def test_redis_killed_then_frozen_under_load_never_fails_a_handler(tmp_path: Path) -> None:
    store_timeout = 100
    with RedisServer() as server:
        procs = steady_workers(server.url, tmp_path, 9.0, store_timeout)
        time.sleep(1.0)
        server.kill()
        killed = time.time()
        time.sleep(1.5)
        server.restart()
        back_1 = time.time()
        time.sleep(2.5)
        server.freeze()
        frozen = time.time()
        time.sleep(1.5)
        server.thaw()
        back_2 = time.time()
        outs = finish(procs)
    for o in outs:
        assert o["error_count"] == 0, o["errors"]
        assert o["wrong"] == 0, o
    max_ms = max(o["max_ms"] for o in outs)
    calls = sum(o["calls"] for o in outs)
    errors = sum(stat(o, "store_errors") for o in outs)
    # Down from `killed` to `back_1`, and from `frozen` to `back_2`: were sets refused then?
    for o in outs:
        during = [s for t, s in o["sets"] if killed + 0.3 < t < back_1 - 0.1]
        assert during and not any(during), "the store was down: sets answer false"
    r1 = recovered_after(outs, back_1)
    r2 = recovered_after(outs, back_2)
    print(
        f"Redis killed then frozen under load: {calls} calls from 4 processes, 0 errors, "
        f"slowest call {max_ms:.0f} ms (store_timeout {store_timeout} ms), "
        f"{errors} store errors counted; store used again {r1 * 1000:.0f} ms after the "
        f"restart and {r2 * 1000:.0f} ms after the thaw"
    )
    assert max_ms < store_timeout + 400, max_ms
    assert r1 < 2.0 and r2 < 2.0, (r1, r2)


def seen_within(c: Cache, key: str, want: Any, bound: float = 2.0) -> float:
    """Polls this process's cache until it answers `want`; the time it first did."""
    start = time.monotonic()
    while True:
        got = c.get(key)
        if got == want:
            return time.time()
        assert time.monotonic() - start < bound, f"{key}: still {got!r}, want {want!r}"
        time.sleep(0.001)


def write_elsewhere(
    c: Cache, lang: str, url: str, key: str, value: Any, *ttl: str
) -> float:
    """Writes from another process while this one keeps reading `key`; returns how long
    after that process's write this process first answered the new value (ms)."""
    at_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"fc-at-{os.getpid()}-{time.monotonic_ns()}"
    e = env()
    e["FLIGHTCACHE_TEST_AT"] = str(at_file)
    want = None if ttl == ("0",) else value
    p = subprocess.Popen(
        worker(lang, url, "set", key, json.dumps(value), *ttl),
        env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen = seen_within(c, key, want, bound=10.0)
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    written = float(at_file.read_text())
    at_file.unlink()
    return max(0.0, (seen - written) * 1000)


def test_another_process_s_set_and_del_are_seen_within_l1_staleness(redis: str) -> None:
    c = Cache(store=redis, l1_staleness=100)
    c.set("k", "old")
    assert c.get("k") == "old"
    reads = c.stats().store_hits + c.stats().store_misses
    assert c.get("k") == "old"
    assert c.stats().store_hits + c.stats().store_misses == reads, "a trusted copy"
    seen_set = [write_elsewhere(c, lang, redis, "k", f"new-{lang}") for lang in ["node", "python"]]
    c.set("gone", "here")
    assert c.get("gone") == "here"
    seen_del = write_elsewhere(c, "node", redis, "gone", "x", "0")  # ttl 0: removed
    print(f"another process's set seen after {seen_set[0]:.1f} ms (Node writer) and "
          f"{seen_set[1]:.1f} ms (Python writer), its removal after {seen_del:.1f} ms "
          f"(l1_staleness 100 ms)")
    assert max(*seen_set, seen_del) < 100 + 400


def test_a_synchronous_node_reader_sees_another_process_s_write(
    redis: str, tmp_path: Path
) -> None:
    node_reader_sees_a_write(redis, tmp_path)


def test_a_dropped_subscription_lets_no_old_value_through(
    redis: str, server: RedisServer
) -> None:
    """This process reads as a user whose right to the change channel the test takes away:
    Redis then drops its subscription and refuses a new one, for as long as the test likes,
    while another process writes. No copy may be answered unchecked meanwhile."""
    server.command("ACL", "SETUSER", "reader", "on", ">pw", "~*", "&*", "+@all")
    url = redis.replace("redis://", "redis://reader:pw@")
    c = Cache(store=url, l1_staleness=100)

    def store_reads() -> int:
        st = c.stats()
        return int(st.store_hits + st.store_misses)

    for round in range(3):
        c.set("k", f"old-{round}")
        c.set("k2", "mine")
        assert c.get("k") == f"old-{round}"
        server.command("ACL", "SETUSER", "reader", "resetchannels")
        took = write_elsewhere(c, "node", redis, "k", f"new-{round}")
        took_del = write_elsewhere(c, "python", redis, "k", "x", "0")
        before = store_reads()
        assert c.get("k2") == "mine"
        assert store_reads() > before, "while deaf, every read asks Redis"
        print(f"round {round}: subscription refused; another process's set seen "
              f"{took:.1f} ms after it was made, its removal {took_del:.1f} ms after")
        assert took < 100 + 400 and took_del < 100 + 400
        server.command("ACL", "SETUSER", "reader", "allchannels")
        # The subscription comes back by itself, and copies are trusted again.
        c.set("k", "back")
        deadline = time.monotonic() + 5
        while True:
            before = store_reads()
            assert c.get("k") == "back"
            if store_reads() == before:
                break
            assert time.monotonic() < deadline, "the subscription never came back"
            time.sleep(0.02)

    # A connection cut (CLIENT KILL) is noticed and redialled at once.
    c.set("k", "old")
    assert c.get("k") == "old"
    cut = server.command("CLIENT", "KILL", "TYPE", "pubsub")
    assert cut.startswith(b":"), cut
    took = write_elsewhere(c, "node", redis, "k", "new")
    print(f"subscriptions cut ({cut.strip().decode()}): the write seen {took:.1f} ms after")
    assert took < 100 + 400


def test_fills_racing_writes_never_bring_an_old_value_back(redis: str) -> None:
    """One process writes 0..N-1 to a key as fast as it can while this one reads it in a
    tight loop (each read that misses fills the in-process tier from Redis, racing the
    writes' announcements). When the writer is done, this process must see N-1."""
    c = Cache(store=redis, l1_staleness=100)
    n = 400
    for lang in ["node", "python"]:
        c.set("race", -1)
        stop = threading.Event()
        seen: list[Any] = []

        def reader() -> None:
            while not stop.is_set():
                seen.append(c.get("race"))

        t = threading.Thread(target=reader)
        t.start()
        try:
            out = run(lang, redis, "writes", "race", str(n))
        finally:
            stop.set()
            t.join()
        assert out == {"last": n - 1}
        seen_within(c, "race", n - 1, bound=0.5)
        print(f"{lang} writer: {len(seen)} reads raced {n} writes; the last one seen")
        # And it stays: no fill from an older read lands afterwards.
        time.sleep(0.3)
        assert c.get("race") == n - 1


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import trustme

    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    out = {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}
    ca.cert_pem.write_to_path(str(out["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(out["cert"]))
    cert.private_key_pem.write_to_path(str(out["key"]))
    other = trustme.CA()
    out["other_ca"] = d / "other-ca.pem"
    other.cert_pem.write_to_path(str(out["other_ca"]))
    return out


def test_tls_with_a_test_certificate_and_password(certs: dict[str, Path]) -> None:
    with RedisServer(password="s3cret", tls=(certs["cert"], certs["key"], certs["ca"])) as s:
        url = s.url
        assert url.startswith("rediss://:s3cret@127.0.0.1:")
        c = Cache(store=url)
        assert c.ping()
        assert c.set("tls", {"over": "tls"})
        assert run("node", url, "get", "tls")["value"] == {"over": "tls"}
        assert run("node", url, "set", "from-node", json.dumps([1, 2])) == {"stored": True}
        assert run("python", url, "get", "from-node")["value"] == [1, 2]
        assert c.store_error is None

        # A server whose certificate this CA did not sign: the store is down, clearly.
        wrong = url.replace(str(certs["ca"]), str(certs["other_ca"]))
        w = Cache(store=wrong, store_timeout=500)
        assert not w.ping()
        assert not w.set("k", "v")
        assert w.get("k") == "v", "the in-process tier still has it"
        assert w.get("x", lambda: "loaded") == "loaded"
        err = w.store_error or ""
        print(f"untrusted certificate: {err}")
        assert "certificate" in err.lower() or "unknownissuer" in err.lower(), err


def test_auth_wrong_password_and_unreachable_host_are_a_store_that_is_down() -> None:
    with RedisServer(password="s3cret") as s:
        good = Cache(store=s.url)
        assert good.ping() and good.set("k", 1) and good.stats().store_errors == 0
        for url, words in [
            (s.url.replace("s3cret", "wrong"), ("wrongpass", "invalid", "auth")),
            (s.url.replace(":s3cret@", ""), ("noauth", "auth")),
            (f"redis://127.0.0.1:{free_port()}/0", ("refused", "connect")),
        ]:
            t0 = time.monotonic()
            c = Cache(store=url, store_timeout=200)
            made_ms = (time.monotonic() - t0) * 1000
            assert c.get("k", lambda: "loaded here") == "loaded here"
            assert c.set("k2", "v") is False
            assert c.get("k2") == "v"
            assert c.ping() is False
            assert c.stats().store_errors >= 1
            err = (c.store_error or "").lower()
            print(f"{url}: constructed in {made_ms:.0f} ms; store error: {c.store_error}")
            assert any(w in err for w in words), (url, c.store_error)
            assert "s3cret" not in (c.store_error or "")
        # Node says the same.
        out = subprocess.run(
            ["node", "-e", """
const { Cache } = require('flightcache')
const c = new Cache({ store: process.argv[1], storeTimeout: 200 })
;(async () => {
  const v = await c.get('k', { getValue: async () => 'loaded here' })
  console.log(JSON.stringify({ v, stored: await c.set('k2', 'v'), ping: await c.ping(), error: c.storeError }))
})()
""", s.url.replace("s3cret", "wrong")],
            capture_output=True, text=True, env=env(), timeout=30, cwd=HERE,
        )
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["v"] == "loaded here" and got["stored"] is False and got["ping"] is False
        assert "authentication" in got["error"].lower(), got


def raw(server: RedisServer, key: str) -> bytes:
    reply = server.command("GET", "fc:v1:{" + key + "}")
    assert reply.startswith(b"$"), reply
    head, _, rest = reply.partition(b"\r\n")
    return rest[: int(head[1:])]


@pytest.mark.parametrize("i", range(len(VALUES)))
def test_every_value_of_the_data_model_crosses_python_and_node(
    redis: str, server: RedisServer, i: int
) -> None:
    v = json.dumps(VALUES[i])
    assert run("python", redis, "set", "py", v) == {"stored": True}
    assert run("node", redis, "set", "js", v) == {"stored": True}
    got_js = run("node", redis, "echo", "py", "py-via-js")
    got_py = run("python", redis, "echo", "js", "js-via-py")
    expect = VALUES[i]
    assert got_js["value"] == expect and got_py["value"] == expect
    assert run("python", redis, "get", "py-via-js")["value"] == expect
    assert run("node", redis, "get", "js-via-py")["value"] == expect
    # The same bytes from both languages (past the 32-byte header, whose times differ),
    # and the same envelope as the SQLite store's.
    bodies = {k: raw(server, k)[32:] for k in ["py", "js", "py-via-js", "js-via-py"]}
    assert len(set(bodies.values())) == 1, bodies
    assert {raw(server, k)[:4] for k in bodies} == {b"FC\x01\x00"}


def test_keys_and_clear_touch_only_flightcache_keys(redis: str, server: RedisServer) -> None:
    server.command("SET", "someone-else", "x")
    c = Cache(store=redis)
    ns = c.namespace("ns")
    c.set("a", 1)
    ns.set("b", 2)
    assert sorted(c.keys()) == ["a", "ns:b"]
    assert ns.keys() == ["b"]
    ns.clear()
    assert c.keys() == ["a"]
    c.clear()
    assert c.keys() == []
    assert server.command("GET", "someone-else") == b"$1\r\nx\r\n"


def test_a_bound_redis_does_not_keep_is_an_error_that_says_where_the_bound_lives(
    redis: str,
) -> None:
    with pytest.raises(ValueError, match="maxmemory"):
        Cache(store=redis, store_max_entries=10)
    with pytest.raises(ValueError, match="maxmemory"):
        Cache(store=redis, store_max_bytes=1 << 20)
