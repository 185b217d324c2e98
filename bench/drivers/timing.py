#!/usr/bin/env python3
"""Wall-clock ns/op of the drivers, base and new interleaved (base, new, base, new, ...), and
the medians (see README.md).

    python3 bench/drivers/timing.py ROUNDS [--only LANG[:MODE]]

Every sample is appended to $FC_OUT/timing-samples.jsonl."""
import argparse
import json
import os
import re
import statistics
import subprocess
import time

from sides import OUT, cmd

PLAN = {
    "rust": (["get_random", "set_evict", "load_hit", "load_miss"], 1_000_000),
    "python": (["get_hot", "get_random", "set_evict", "loader_hit", "load_miss_distinct"], 500_000),
    "node": (["getSync_string", "getSync_object", "await_get", "setSync", "load_fresh"], 500_000),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rounds", type=int)
    ap.add_argument("--only", action="append")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    samples = {}
    for r in range(a.rounds):
        for lang, (modes, n) in PLAN.items():
            for mode in modes:
                if a.only and not any(o == lang or o == f"{lang}:{mode}" for o in a.only):
                    continue
                for side in ("base", "new"):
                    out = subprocess.run(cmd(lang, side, mode, n, n), capture_output=True, text=True,
                                         env=dict(os.environ, PYTHONHASHSEED="0"), check=True).stdout
                    ns = float(re.search(r"([\d.]+) ns/op", out).group(1))
                    samples.setdefault((lang, mode, side), []).append(ns)
                    with open(f"{OUT}/timing-samples.jsonl", "a") as fh:
                        fh.write(json.dumps({"t": time.time(), "round": r, "lang": lang, "mode": mode,
                                             "side": side, "n": n, "ns": ns,
                                             "load": open("/proc/loadavg").read().split()[0]}) + "\n")
        print(f"round {r + 1} done", flush=True)
    for lang, (modes, n) in PLAN.items():
        for mode in modes:
            if (lang, mode, "base") not in samples:
                continue
            b, w = samples[(lang, mode, "base")], samples[(lang, mode, "new")]
            mb, mw = statistics.median(b), statistics.median(w)
            print(f"{lang:7} {mode:22} base {mb:9.1f}  new {mw:9.1f}  new/base {mw / mb:.3f}  "
                  f"(runs {len(b)}+{len(w)}; base {b}, new {w})")


if __name__ == "__main__":
    main()
