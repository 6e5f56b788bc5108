"""Benchmark of the author's loop: ``--help``, ``validate``, a cold build and a rebuild after adding
one study, each against its target (on 2 cores: 0.3 s, 1 s, 15 s, 10 s).

Runs on a scratch copy of the checkout, so the working tree is untouched:

    python bench/bench_build.py             # --repeats N for the quick commands (best of N)
"""

from __future__ import annotations

import argparse
import csv
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


def append(path: Path, row: dict[str, str]) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, header, lineterminator="\n").writerow(row)


def add_study(root: Path) -> None:
    """The smallest complete addition an author makes: study, association, screening, reference."""
    data = root / "data"
    url = "https://example.org/benchmark-study"
    append(
        data / "studies.csv",
        {
            "study_id": "Benchmark2026",
            "citation_key": "Benchmark2026",
            "year": "2026",
            "design": "prospective_cohort",
            "diagnosis": "depression",
            "population": "benchmark",
            "country": "not reported",
            "setting": "not reported",
            "medication": "not specified",
            "arms": "single arm",
            "n_analysed": "50",
            "arm_relevance": "A",
            "extraction_level": "abstract",
            "source_url": url,
        },
    )
    append(
        data / "effects.csv",
        {
            "effect_id": "Benchmark2026-1",
            "study_id": "Benchmark2026",
            "outcome_domain": "symptoms",
            "outcome_measure": "not named",
            "arm": "medication",
            "alliance_measure": "not named",
            "rater": "patient",
            "timing": "not reported",
            "statistic_type": "significance_only",
            "statistic_reported": "none",
            "direction": "positive",
            "significant": "yes",
            "quote": "benchmark quote",
            "source_url": url,
        },
    )
    append(
        data / "screening.csv",
        {
            "record_id": "Benchmark2026",
            "citation": "Benchmark 2026",
            "study_id": "Benchmark2026",
            "decision": "included",
            "source_url": url,
            "notes_file": "literature-notes-2.md",
        },
    )
    with (root / "references.bib").open("a", encoding="utf-8") as fh:
        fh.write(
            "\n@article{Benchmark2026,\n  author = {Benchmark, A.},\n"
            "  title = {Benchmark study},\n  year = {2026}\n}\n"
        )


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
