#!/usr/bin/env python3
"""Lock-prefixed (atomic read-modify-write) instructions a Rust driver executes per operation,
by function: callgrind with --dump-instr=yes at two sizes, the difference per operation.

    python3 bench/drivers/locks.py SIDE MODE [N1 N2]      (SIDE: base or new; see README.md)

On this machine each costs about 20 cycles, which the instruction count does not show: the
load miss was 1.20x the old one in instructions but 1.44x in time while it made 37 of them
against 22. Only the driver's own code is counted (libc's are not: glibc's malloc makes
none in a single-threaded process)."""
import collections
import re
import subprocess
import sys

from sides import OUT

side, mode = sys.argv[1], sys.argv[2]
n1, n2 = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (50_000, 100_000)
binary = f"{OUT}/rust-{side}/target/release/fcdrv"

locks = {}
for line in subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary],
                           capture_output=True, text=True, check=True).stdout.splitlines():
    m = re.match(r"\s*([0-9a-f]+):\s+(lock .*|xchg\s+%\w+,\(.*)$", line)
    if m:
        locks[int(m.group(1), 16)] = m.group(2).strip()


def run(n):
    out = f"{OUT}/locks-{side}-{mode}-{n}.out"
    subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no",
                    "--compress-strings=no", f"--callgrind-out-file={out}", binary, mode, str(n)],
                   capture_output=True, check=True)
    counts = collections.Counter()
    ob = fn = None
    for line in open(out):
        if line.startswith("ob="):
            ob = line[3:].strip()
        elif line.startswith("fn="):
            fn = line[3:].strip()
        elif ob == binary and line.startswith("0x"):
            # "address line count" (--compress-pos=no)
            parts = line.split()
            a = int(parts[0], 16)
            if a in locks and len(parts) >= 3:
                counts[(fn, a)] += int(parts[-1])
    return counts


a, b = run(n1), run(n2)
per_fn = collections.Counter()
for k in set(a) | set(b):
    d = (b[k] - a[k]) / (n2 - n1)
    if d > 0.01:
        per_fn[k[0]] += d
for f, d in per_fn.most_common():
    print(f"{d:6.2f}  {f[:150]}")
print(f"{sum(per_fn.values()):6.2f}  lock-prefixed instructions per {mode} ({side})")
