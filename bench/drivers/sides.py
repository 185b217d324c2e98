"""Where the two checkouts and the built drivers are (see setup.sh)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("FC_OUT", "/tmp/fc-drivers")
WT = {
    "base": os.path.abspath(os.environ.get("FC_BASE", os.path.join(HERE, "..", "..", "..", "flightcache-base"))),
    "new": os.path.abspath(os.environ.get("FC_NEW", os.path.join(HERE, "..", ".."))),
}


def cmd(lang, side, mode, n, maxn):
    """The command that runs one driver for `n` operations (key lists built for `maxn`)."""
    if lang == "rust":
        return [f"{OUT}/rust-{side}/target/release/fcdrv", mode, str(n)]
    if lang == "python":
        return [f"{WT[side]}/.venv/bin/python", f"{HERE}/py_driver.py", mode, str(n), str(maxn)]
    # --predictable: V8 single-threaded, no time-driven GC/JIT decisions (steadier counts)
    return ["node", "--expose-gc", "--predictable", f"{HERE}/node_driver.js", WT[side], mode, str(n), str(maxn)]
