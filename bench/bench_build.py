"""Benchmark of the author's loop: ``--help``, ``validate``, a cold build and a rebuild after adding
one study, each against its target (on 2 cores: 0.3 s, 1 s, 15 s, 10 s).

Runs on a scratch copy of the checkout, so the working tree is untouched:

    python bench/bench_build.py             # --repeats N for the quick commands (best of N)
                                            # --rebuilds N rebuilds, one more study each (median)
                                            # --no-bytecode to keep PYTHONDONTWRITEBYTECODE
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
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


def speed_probe() -> float:
    """Seconds for a fixed single-core Python loop: on a shared virtual machine the same code runs
    up to a third slower in some hours, which the load average does not show; compare runs by it."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(root: Path, *args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=root, capture_output=True, text=True, env=env
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
    parser.add_argument("--rebuilds", type=int, default=3, help="rebuilds, one more study each (median)")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if it is set (every process then compiles the package again)",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    if not args.no_bytecode:
        # Python's default, as on an author's machine: the first command caches the package's
        # bytecode in the copy (containers often set PYTHONDONTWRITEBYTECODE=1, which makes every
        # process -- the build and each kernel -- compile it again, about 0.3 s each).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (compare on an idle machine); "
          f"bytecode cache {'on' if 'PYTHONDONTWRITEBYTECODE' not in env else 'off'}; "
          f"speed probe {speed_probe():.2f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "review"
        shutil.copytree(ROOT, root, ignore=IGNORE)
        env["PYTHONPATH"] = str(root / "analysis")  # the copy's code, whatever is installed
        results = {
            "--help": min(timed(root, "--help", env=env) for _ in range(args.repeats)),
            "validate": min(timed(root, "validate", env=env) for _ in range(args.repeats)),
            "cold build": timed(root, "build", "--preview", env=env),
        }
        rebuilds, cpu = [], []
        for _ in range(args.rebuilds):  # each adds one more study
            add_study(root)
            before = children_cpu()
            rebuilds.append(timed(root, "build", "--preview", env=env))
            cpu.append(children_cpu() - before)  # the build, its kernels and pandoc
        results["rebuild after adding one study"] = statistics.median(rebuilds)
    for name, seconds in results.items():
        target = TARGETS_S[name]
        verdict = "ok" if seconds <= target else "OVER TARGET"
        print(f"{name:32s} {seconds:6.2f} s   (target ≤ {target:g} s: {verdict})")
    if len(rebuilds) > 1:
        print(f"  (median of {len(rebuilds)} rebuilds: " + ", ".join(f"{t:.2f}" for t in rebuilds) + " s)")
    print("  CPU time of each rebuild (all processes): " + ", ".join(f"{c:.1f}" for c in cpu) + " s")
    print(f"speed probe at the end {speed_probe():.2f} s (a fixed Python loop; higher: a slower host)")


if __name__ == "__main__":
    main()
