#!/usr/bin/env python3
"""Instructions per operation, base and new (see README.md): runs each driver under callgrind
at N1 and N2 operations and prints median over reps of (Ir(N2) - Ir(N1)) / (N2 - N1).

    python3 bench/drivers/callgrind.py [--jobs 1] [--only LANG[:MODE]] [--reps 1] [--sides base,new]

Setup and warm-up in each driver do not depend on N, so the difference is the loop alone.
Results are appended to $FC_OUT/callgrind/results.jsonl; callgrind files stay there.
"""
import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import time

from sides import OUT as BASE_OUT, cmd

OUT = f"{BASE_OUT}/callgrind"
PLAN = {  # lang: (modes, N1, N2)
    "rust": (["get_random", "set_evict", "load_hit", "load_miss"], 200_000, 400_000),
    "python": (["get_random", "get_hot", "set_evict", "loader_hit", "load_miss_distinct"], 100_000, 200_000),
    "node": (["getSync_string", "getSync_object", "await_get", "setSync", "load_fresh"], 100_000, 300_000),
}


def one(lang, side, mode, n, maxn, rep):
    f = f"{OUT}/{lang}-{side}-{mode}-{n}-r{rep}.out"
    env = dict(os.environ, PYTHONHASHSEED="0")
    t = time.time()
    p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={f}"] +
                       cmd(lang, side, mode, n, maxn), env=env, capture_output=True, text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    if p.returncode != 0:
        raise RuntimeError(f"{lang} {side} {mode} {n}: rc {p.returncode}\n{p.stderr[-2000:]}")
    ir = None
    with open(f) as fh:
        for line in fh:
            if line.startswith("summary:") or line.startswith("totals:"):
                ir = int(line.split()[1])
    return ir, time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", action="append")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--sides", default="base,new", help="base,new or new: run only these; others are read from existing .out files")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    todo = []
    for rep in range(a.reps):
        for lang, (modes, n1, n2) in PLAN.items():
            for mode in modes:
                if a.only and not any(o == lang or o == f"{lang}:{mode}" for o in a.only):
                    continue
                for side in a.sides.split(","):   # interleaved
                    for n in (n1, n2):
                        todo.append((lang, side, mode, n, n2, rep))
    res = {}
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        futs = {ex.submit(one, *t): t for t in todo}
        for fu in cf.as_completed(futs):
            t = futs[fu]
            ir, secs = fu.result()
            res[t] = ir
            print(f"  {t[0]} {t[1]} {t[2]} n={t[3]} rep={t[5]}: Ir {ir:,} ({secs:.0f} s)", file=sys.stderr, flush=True)
    for lang, (modes, n1, n2) in PLAN.items():
        for mode in modes:
            for side in ("base", "new"):
                for rep in range(a.reps):
                    for n in (n1, n2):
                        k = (lang, side, mode, n, n2, rep)
                        f = f"{OUT}/{lang}-{side}-{mode}-{n}-r{rep}.out"
                        if k not in res and os.path.exists(f) and (not a.only or any(o == lang or o == f"{lang}:{mode}" for o in a.only)):
                            for line in open(f):
                                if line.startswith(("summary:", "totals:")):
                                    res[k] = int(line.split()[1])
    with open(f"{OUT}/results.jsonl", "a") as fh:
        for lang, (modes, n1, n2) in PLAN.items():
            for mode in modes:
                row = {}
                for side in ("base", "new"):
                    per = []
                    for rep in range(a.reps):
                        k1, k2 = (lang, side, mode, n1, n2, rep), (lang, side, mode, n2, n2, rep)
                        if k1 in res and k2 in res:
                            per.append((res[k2] - res[k1]) / (n2 - n1))
                    if per:
                        row[side] = statistics.median(per)
                        row[side + "_reps"] = per
                if "base" in row and "new" in row:
                    r = {"lang": lang, "mode": mode, "n1": n1, "n2": n2, **row, "ratio": row["new"] / row["base"]}
                    fh.write(json.dumps(r) + "\n")
                    print(f"{lang:7} {mode:20} base {row['base']:9.1f}  new {row['new']:9.1f}  new/base {r['ratio']:.3f}"
                          f"   reps base {[round(x) for x in row['base_reps']]} new {[round(x) for x in row['new_reps']]}", flush=True)


if __name__ == "__main__":
    main()
