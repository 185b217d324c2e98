"""Several handler processes, Python and Node, share one store (`make demo`): a SQLite
file, then a Redis server this demo starts on a free loopback port.

Six processes start at once and ask for the same token: one of them calls the (slow) API,
the others wait for its answer through the store. Then a process started afterwards (a
"restart") still finds the token. Last, the Redis server is killed, and a handler still
gets its token (from the API, as if there were no store).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent

PY_HANDLER = """
import os, sys, time
from flightcache import Cache
cache = Cache(store=sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
def authenticate():
    print(f"  python {os.getpid()}: calling the API", flush=True)
    time.sleep(0.3)
    return f"token-from-python-{os.getpid()}"
token = cache.get("token", authenticate, ttl=60_000)
print(f"  python {os.getpid()}: {token}", flush=True)
"""

JS_HANDLER = """
const { Cache } = require(process.env.FLIGHTCACHE_NODE)
const cache = new Cache({ store: process.argv[1] })
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
async function authenticate () {
  console.log(`  node ${process.pid}: calling the API`)
  await sleep(300)
  return `token-from-node-${process.pid}`
}
sleep(Number(process.argv[2]) * 1000 - Date.now()).then(async () => {
  const token = await cache.get('token', { ttl: 60_000, getValue: authenticate })
  console.log(`  node ${process.pid}: ${token}`)
})
"""


def share(url: str, env: dict[str, str]) -> None:
    start = time.time() + 1.0
    print(f"6 handler processes share {url}; one calls the API:")
    procs = []
    for i in range(6):
        if i % 2 == 0:
            cmd = [sys.executable, "-c", PY_HANDLER, url, str(start)]
        else:
            cmd = ["node", "-e", JS_HANDLER, "--", url, str(start)]
        procs.append(subprocess.Popen(cmd, env=env))
    for p in procs:
        p.wait()
        assert p.returncode == 0
    print("a process started later (a restart) finds the token in the store:")
    subprocess.run([sys.executable, "-c", PY_HANDLER, url, "0"], env=env, check=True)
    subprocess.run(["node", "-e", JS_HANDLER, "--", url, "0"], env=env, check=True)


def main() -> None:
    folder = tempfile.mkdtemp(prefix="flightcache-demo-")
    env = dict(os.environ, FLIGHTCACHE_NODE=str(HERE.parent / "bindings-node"))
    share(f"sqlite://{folder}/handlers.db", env)

    sys.path.insert(0, str(HERE.parent / "tests" / "stores"))
    from redis_server import RedisServer

    with RedisServer() as server:
        print()
        share(server.url, env)
        server.kill()
        print("the Redis server is killed; a handler still gets its token:")
        subprocess.run([sys.executable, "-c", PY_HANDLER, server.url, "0"], env=env, check=True)


if __name__ == "__main__":
    main()
