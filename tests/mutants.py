#!/usr/bin/env python3
"""Shows that every scenario can fail in every runner.

For each scenario it writes a copy in which ONE expected value is changed (the last step,
outside `repeat`, that every language runs and that expects a value or an error), runs a
runner over the copies (CONFORMANCE_SCENARIOS points it there), and checks that the runner
reports every copy as failed. Usage:

    python3 tests/mutants.py rust|python|node -- <the runner's command>

Prints one line per mutant that a runner did NOT catch and a closing `caught N of N` line;
exits non-zero unless every mutant was caught. Standard library only.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
OTHER_KIND = {
    "invalid_argument": "wrong_type",
    "wrong_type": "invalid_argument",
    "timeout": "loader_error",
    "loader_error": "timeout",
    "reentrant": "timeout",
}


def changed(v):
    """A value that is surely different from v, as the scenario format reads it."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return v + 1
    if isinstance(v, str):
        return v + "~"
    if v is None:
        return "~"
    if isinstance(v, list):
        return v + ["~"]
    if isinstance(v, dict):
        if "$absent" in v or "$inf" in v:
            return "~"
        return {**v, "~": "~"}
    raise ValueError(v)


def mutate(doc, lang):
    """Changes the last expectation of the scenario that `lang`'s runner plays; returns a
    description of the change."""
    for i in range(len(doc["steps"]) - 1, -1, -1):
        step = doc["steps"][i]
        if lang not in step.get("langs", [lang]) or step["op"] == "repeat":
            continue
        if "error" in step:
            old = step["error"]
            step["error"] = OTHER_KIND[old]
            return f"step {i + 1} ({step['op']}): error {old} -> {step['error']}"
        if "expect" in step:
            old = step["expect"]
            if step["op"] == "stats":
                field = next(iter(old))
                step["expect"] = {**old, field: old[field] + 1}
            else:
                step["expect"] = changed(old)
            return f"step {i + 1} ({step['op']}): expect {json.dumps(old)} -> {json.dumps(step['expect'])}"
        for bound, impossible in (("at_most", -1), ("at_least", 10**15)):
            if bound in step:
                old = step[bound]
                if isinstance(old, dict):
                    step[bound] = {k: impossible for k in old}
                else:
                    step[bound] = impossible
                return f"step {i + 1} ({step['op']}): {bound} {json.dumps(old)} -> {json.dumps(step[bound])}"
    raise ValueError("no step to mutate")


# How each runner names a failed scenario.
FAILED = {
    "rust": re.compile(r"^test (\S+) \.\.\. FAILED", re.M),
    "python": re.compile(r"^FAILED \S+::test_scenario\[(\S+)\]", re.M),
    "node": re.compile(r"^not ok \d+ - (\S+)", re.M),
}


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--" or args[0] not in FAILED:
        print(__doc__)
        return 2
    lang, command = args[0], args[2:]
    with tempfile.TemporaryDirectory(prefix="conformance-mutants-") as tmp:
        changes = {}
        for path in sorted(SCENARIOS.glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            mutant = copy.deepcopy(doc)
            changes[path.stem] = mutate(mutant, lang)
            (Path(tmp) / path.name).write_text(json.dumps(mutant, ensure_ascii=False), "utf-8")
        env = {**os.environ, "CONFORMANCE_SCENARIOS": tmp}
        out = subprocess.run(command, env=env, capture_output=True, text=True)
        failed = set(FAILED[lang].findall(out.stdout))
        missed = [name for name in changes if name not in failed]
        for name in missed:
            print(f"NOT CAUGHT by {lang}: {name}: {changes[name]}")
        if not failed:
            print(out.stdout[-3000:], out.stderr[-3000:])
        print(f"mutants ({lang}): caught {len(changes) - len(missed)} of {len(changes)}")
        return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
