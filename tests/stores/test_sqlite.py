"""The SQLite store across processes, Python and Node mixed: one load per key, a killed
leader taken over, restarts, invalidations, values that cross languages, and files that
cannot be used. Every process is started by the test and waited for (or killed) by it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flightcache import Cache

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
NODE_PKG = ROOT / "bindings-node"

pytestmark = pytest.mark.timeout(180)


def worker(lang: str, *args: str) -> list[str]:
    if lang == "python":
        return [sys.executable, str(HERE / "worker.py"), *args]
    return ["node", str(HERE / "worker.js"), *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["NODE_PATH"] = str(HERE / "node_modules")
    return e


def run(lang: str, *args: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    e = env()
    if options:
        e["FLIGHTCACHE_TEST_OPTIONS"] = json.dumps(options)
    out = subprocess.run(worker(lang, *args), capture_output=True, text=True, env=e, timeout=60)
    assert out.returncode == 0, f"{lang} {args}: {out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path}/cache.db"


@pytest.fixture(autouse=True)
def node_link() -> None:
    # `require('flightcache')` in worker.js is the package in bindings-node.
    nm = HERE / "node_modules"
    nm.mkdir(exist_ok=True)
    link = nm / "flightcache"
    if not link.exists():
        link.symlink_to(NODE_PKG)


@pytest.mark.parametrize("trial", range(3))
def test_one_loader_call_for_eight_processes_python_and_node(
    db: str, tmp_path: Path, trial: int
) -> None:
    log = tmp_path / f"loads-{trial}.log"
    key = f"cold-{trial}"
    start_at = int(time.time() * 1000) + 1500  # every process is up by then
    procs = [
        subprocess.Popen(
            worker(lang, db, "load", key, "25", str(log), "200", str(start_at)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for lang in ["python", "node"] * 4
    ]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    calls = log.read_text().splitlines()
    print(f"trial {trial}: loader calls {len(calls)} ({calls})")
    assert len(calls) == 1, calls
    results = {r for o in outs for r in o["results"]}
    assert len(results) == 1, results
    assert sum(len(o["results"]) for o in outs) == 200


def test_one_refresh_for_eight_processes_served_stale(db: str, tmp_path: Path) -> None:
    """stale_ttl with a store: every caller of 8 processes (Python and Node) gets the stale
    value at once, and one background refresh runs for all of them (the store's lease)."""
    # Written with stale_ttl in force: the store keeps it past its TTL.
    stored = run("python", db, "set", "hot", json.dumps("v0"), "300", options={"stale_ttl": 60_000})
    assert stored["stored"] is True
    time.sleep(0.6)
    log = tmp_path / "refreshes.log"
    start_at = int(time.time() * 1000) + 1500
    e = env()
    e["FLIGHTCACHE_TEST_OPTIONS"] = json.dumps({"stale_ttl": 60_000})
    e["FLIGHTCACHE_TEST_LINGER_MS"] = "1500"
    procs = [
        subprocess.Popen(
            worker(lang, db, "load", "hot", "25", str(log), "200", str(start_at)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
        )
        for lang in ["python", "node"] * 4
    ]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    calls = log.read_text().splitlines()
    print(f"refresh loader calls across 8 processes: {len(calls)} ({calls})")
    assert len(calls) == 1, calls
    refreshed = run("python", db, "get", "hot")["value"]
    assert refreshed.startswith("from "), refreshed
    # A caller whose read came after the refresh (a busy machine) gets the new value.
    results = [r for o in outs for r in o["results"]]
    assert set(results) <= {"v0", refreshed}, set(results)
    stale = sum(o["stats"].get("stale_hits", o["stats"].get("staleHits", 0)) for o in outs)
    print(f"stale values served: {stale} of {len(results)}")
    assert stale == results.count("v0") and stale > 0


@pytest.mark.parametrize("holder", ["python", "node"])
def test_a_killed_leader_is_taken_over_and_no_waiter_hangs(
    db: str, tmp_path: Path, holder: str
) -> None:
    log, ready = tmp_path / "loads.log", tmp_path / "ready"
    hold = subprocess.Popen(
        worker(holder, db, "hold", "k", str(log), str(ready)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
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
            worker(lang, db, "load", "k", "5", str(log), "10", str(now)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for lang in (holder, other)
    ]
    time.sleep(1.0)  # the waiters are waiting for the holder's load
    killed = time.monotonic()
    os.kill(hold.pid, signal.SIGKILL)
    hold.wait()
    results = []
    for p in waiters:
        stdout, stderr = p.communicate(timeout=30)
        assert p.returncode == 0, stderr
        results.extend(json.loads(stdout.strip().splitlines()[-1])["results"])
    took = time.monotonic() - killed
    calls = log.read_text().splitlines()
    print(f"takeover after kill -9 of a {holder} leader: done {took * 1000:.0f} ms after the kill")
    assert len(calls) == 2, calls  # the killed load, and one takeover
    assert len(set(results)) == 1 and not results[0].startswith("error"), results
    # Within the lease (5 s): the dead holder's lock was released by the kernel.
    assert took < 5.0


def test_an_entry_outlives_the_process_that_wrote_it_until_its_ttl(db: str) -> None:
    assert run("python", db, "set", "k", json.dumps("kept"), "1500") == {"stored": True}
    assert run("node", db, "get", "k")["value"] == "kept"
    assert run("python", db, "get", "k")["value"] == "kept"
    time.sleep(1.6)
    assert run("node", db, "get", "k").get("value") is None
    assert run("python", db, "get", "k")["value"] is None


def test_a_write_in_another_process_is_seen_within_l1_staleness(db: str) -> None:
    c = Cache(store=db, l1_staleness=100)
    c.set("k", "old")
    assert c.get("k") == "old"  # now a copy in this process
    run("node", db, "set", "k", json.dumps("new"))
    written = time.monotonic()
    while c.get("k") != "new":
        assert time.monotonic() - written < 2.0, "the other process's write was never seen"
        time.sleep(0.005)
    seen = (time.monotonic() - written) * 1000
    print(f"another process's write seen after {seen:.0f} ms (l1_staleness 100 ms)")
    # The poll runs every l1_staleness / 2; the margin covers a busy machine.
    assert seen < 100 + 400
    run("python", db, "set", "k", json.dumps(None))
    while "k" not in c or c.get("k") is not None:
        time.sleep(0.005)


def watch_from_node(url: str, tmp_path: Path, write: Any) -> tuple[dict[str, Any], float]:
    """A Node process reads "k" with getSync in a synchronous loop (its JS copies answer)
    while `write()` changes it from this process: what it saw last, and how many ms after
    the write it saw the change."""
    ready = tmp_path / "ready"
    p = subprocess.Popen(worker("node", url, "watch", "k", str(ready), "10"),
                         env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.stderr else ""
        time.sleep(0.01)
    time.sleep(0.2)  # copies answered for a while before the change
    written = time.time()
    write()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    # Node's clock reads whole milliseconds: a change seen at once may read as before it.
    return got, max(0.0, (got["at"] - written) * 1000)


def node_reader_sees_a_write(url: str, tmp_path: Path) -> None:
    """This process writes "k" through the store at `url` while a Node process reads it
    with getSync in a synchronous loop, answered from its JS copy: the change reaches the
    copy from the store's thread, with no event-loop turn, within l1_staleness."""
    c = Cache(store=url, l1_staleness=100)
    c.set("k", "old")
    got, took = watch_from_node(url, tmp_path, lambda: c.set("k", "new"))
    print(f"Node getSync answered its copy {got['reads']} times, then saw the write after "
          f"{took:.1f} ms (l1_staleness 100 ms)")
    assert got["first"] == "old" and got["last"] is None, got
    assert got["reads"] > 1000
    assert took < 100 + 400


def test_a_synchronous_node_reader_sees_another_process_s_write(db: str, tmp_path: Path) -> None:
    node_reader_sees_a_write(db, tmp_path)


VALUES: list[Any] = [
    "text with ünïcödé",
    "",
    0,
    -42,
    {"$int": str(2**53 + 1)},
    {"$int": str(-(2**63))},
    0.25,
    -1.5e300,
    True,
    False,
    None,
    {"$bytes": "00ff10"},
    [1, "two", [3.5], {"four": None}],
    {"nested": {"deep": [True, None, {"$bytes": ""}]}, "n": 1, "é": "é"},
    [],
    {},
]


def raw(path: str, key: str) -> bytes:
    with sqlite3.connect(path) as c:
        row = c.execute("SELECT value FROM fc_entries WHERE key = ?", (f"fc:v1:{key}",)).fetchone()
    assert row is not None, key
    return bytes(row[0])


@pytest.mark.parametrize("i", range(len(VALUES)))
def test_every_value_of_the_data_model_crosses_python_and_node(db: str, i: int) -> None:
    v = json.dumps(VALUES[i])
    assert run("python", db, "set", "py", v) == {"stored": True}
    assert run("node", db, "set", "js", v) == {"stored": True}
    got_js = run("node", db, "echo", "py", "py-via-js")
    got_py = run("python", db, "echo", "js", "js-via-py")
    expect = VALUES[i]
    assert got_js["value"] == expect and got_py["value"] == expect
    assert run("python", db, "get", "py-via-js")["value"] == expect
    assert run("node", db, "get", "js-via-py")["value"] == expect
    path = db.removeprefix("sqlite://")
    # The same bytes from both languages (past the 32-byte header, whose times differ).
    bodies = {k: raw(path, k)[32:] for k in ["py", "js", "py-via-js", "js-via-py"]}
    assert len(set(bodies.values())) == 1, bodies
    kinds = {raw(path, k)[:4] for k in bodies}
    assert kinds == {b"FC\x01\x00"}


def test_a_file_that_is_not_a_cache_is_an_error_at_construction(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    with pytest.raises(ValueError, match="not a SQLite database"):
        Cache(store=f"sqlite://{garbage}")
    assert len(garbage.read_bytes()) == 8192, "left alone"

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE users (name TEXT)")
        c.execute("INSERT INTO users VALUES ('ada')")
    with pytest.raises(ValueError, match="not a flightcache one"):
        Cache(store=f"sqlite://{other}")
    with sqlite3.connect(other) as c:
        assert c.execute("SELECT name FROM users").fetchall() == [("ada",)]


def test_a_newer_format_is_left_alone(db: str) -> None:
    Cache(store=db).set("k", "v")
    path = db.removeprefix("sqlite://")
    with sqlite3.connect(path) as c:
        c.execute("UPDATE fc_meta SET value = 99 WHERE name = 'format'")
    with pytest.raises(ValueError, match="newer flightcache"):
        Cache(store=db)
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT count(*) FROM fc_entries").fetchone() == (1,)


def test_a_read_only_file_is_an_error_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    Cache(store=f"sqlite://{path}").set("k", "v")
    if os.geteuid() == 0:
        # Root writes to a file whatever its mode: make it immutable instead.
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o400)
    try:
        with pytest.raises(ValueError, match="read-only|not writable"):
            Cache(store=f"sqlite://{path}")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_folder_is_an_error_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Cache(store=f"sqlite://{tmp_path}/missing/folder/x.db")


def test_the_file_is_made_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Cache(store=f"sqlite://{path}").set("k", "v")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_file_deleted_while_open_is_made_again_and_shared(db: str) -> None:
    c = Cache(store=db)
    c.set("before", 1)
    path = Path(db.removeprefix("sqlite://"))
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    # The handler keeps working meanwhile, and soon writes reach the file others open.
    deadline = time.monotonic() + 5
    while True:
        c.set("after", 2)
        if path.exists() and run("node", db, "get", "after")["value"] == 2:
            break
        assert time.monotonic() < deadline, (
            "writes never reached the file at the path: "
            f"{sorted((p.name, p.stat().st_ino) for p in path.parent.iterdir())}, "
            f"store error {c.store_error!r}, stats {c.stats()}"
        )
        time.sleep(0.1)
    # The file was replaced: every copy of the old one was dropped, as anything may have
    # changed; what is written now is what every process reads.
    assert c.get("after") == 2


def test_a_loaded_value_the_store_cannot_hold_is_returned_and_not_kept(db: str) -> None:
    c = Cache(store=db)
    got = c.get("s", lambda: {1, 2})
    assert got == {1, 2}
    assert c.get("s") is None
    assert run("node", db, "get", "s").get("value") is None
    assert c.stats().rejected == 1
    with pytest.raises(TypeError, match="set"):
        c.set("s", {3})
