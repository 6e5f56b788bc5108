"""Benchmark of the author's loop: ``--help``, ``validate``, a cold build and a rebuild after adding
one study, each against its target (on 2 cores: 0.3 s, 1 s, 15 s, 10 s).

Runs on a scratch copy of the checkout, so the working tree is untouched:

    python bench/bench_build.py             # --repeats N for the quick commands (best of N)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS_S = {"--help": 0.3, "validate": 1.0, "cold build": 15.0, "rebuild after adding one study": 10.0}
IGNORE = shutil.ignore_patterns(".git", "_book", "_preview", ".quarto", ".cache", "__pycache__", "*.egg-info")


sys.path.insert(0, str(ROOT / "tests"))
from scratch import add_study  # noqa: E402  the tests' complete addition (study, association, screening, RoB, reference)


def timed(root: Path, *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=root, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"livingreview {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    if "without encryption" in done.stdout + done.stderr:
        sys.exit("a kernel transport warning was printed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of --help and validate (best of)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (compare on an idle machine)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "review"
        shutil.copytree(ROOT, root, ignore=IGNORE)
        results = {
            "--help": min(timed(root, "--help") for _ in range(args.repeats)),
            "validate": min(timed(root, "validate") for _ in range(args.repeats)),
            "cold build": timed(root, "build", "--preview"),
        }
        add_study(root)
        results["rebuild after adding one study"] = timed(root, "build", "--preview")
    for name, seconds in results.items():
        target = TARGETS_S[name]
        verdict = "ok" if seconds <= target else "OVER TARGET"
        print(f"{name:32s} {seconds:6.2f} s   (target ≤ {target:g} s: {verdict})")


if __name__ == "__main__":
    main()
