"""Benchmark of the author's loop: ``--help``, ``validate``, a cold build, a rebuild after correcting
one row and one after adding a study, each against its target (on 2 cores: 0.3 s, 1 s, 15 s, 10 s).

Runs on a scratch copy of the checkout, so the working tree is untouched:

    python bench/bench_build.py             # --repeats N for the quick commands (best of N)
                                            # --rebuilds N rebuilds of each kind (median)
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
TARGETS_S = {
    "--help": 0.3,
    "validate": 1.0,
    "cold build": 15.0,
    "rebuild after correcting one row": 10.0,  # the "one-row change"
    "rebuild after adding one study": 10.0,  # five tables and the bibliography change
}
IGNORE = shutil.ignore_patterns(".git", "_book", "_preview", ".quarto", ".cache", "__pycache__", "*.egg-info")


sys.path.insert(0, str(ROOT / "tests"))
from scratch import add_study, read_table, write_table  # noqa: E402  the tests' complete addition (study, association, screening, RoB, reference)


def correct_one_row(root: Path, n: int) -> None:
    """An author's correction that readers see: one association's timing (row ``n`` of effects.csv,
    shown in the associations table) reworded."""
    path = root / "data" / "effects.csv"
    header, rows = read_table(path)
    row = rows[n % len(rows)]
    row["timing"] += " (as reported)"
    write_table(path, header, rows)


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
    parser.add_argument("--rebuilds", type=int, default=3, help="rebuilds of each kind (median)")
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
        changes = {
            "rebuild after correcting one row": lambda i: correct_one_row(root, i),
            "rebuild after adding one study": lambda _i: add_study(root),
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in changes}
        for i in range(args.rebuilds):  # interleaved: both kinds see the same machine
            for name, change in changes.items():
                change(i)
                before = children_cpu()
                wall = timed(root, "build", "--preview", env=env)
                runs[name].append((wall, children_cpu() - before))  # the build, its kernels and pandoc
        for name, timings in runs.items():
            results[name] = statistics.median(wall for wall, _ in timings)
    for name, seconds in results.items():
        target = TARGETS_S[name]
        verdict = "ok" if seconds <= target else "OVER TARGET"
        print(f"{name:34s} {seconds:6.2f} s   (target ≤ {target:g} s: {verdict})")
        if name in runs:
            walls = ", ".join(f"{wall:.2f}" for wall, _ in runs[name])
            cpus = ", ".join(f"{cpu:.1f}" for _, cpu in runs[name])
            print(f"  median of {len(runs[name])}: {walls} s; CPU of all processes {cpus} s")
    print(f"speed probe at the end {speed_probe():.2f} s (a fixed Python loop; higher: a slower host)")


if __name__ == "__main__":
    main()
