"""The README's resilience example (examples/resilience_example.py) runs as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_resilience_example() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "resilience_example.py")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Cached: {'EUR': 0.92} (stale from memory, 61000 ms old)",
        "load errors 1, stale hits 2, refreshes 1",
    ]
