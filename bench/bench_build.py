"""Benchmark: a cold `livingreview build` and a rebuild after adding one study (target < 30 s each).

Runs on a scratch copy of the checkout, so the working tree is untouched:

    python bench/bench_build.py
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


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
        fh.write("\n@article{Benchmark2026,\n  title = {Benchmark study},\n  year = {2026}\n}\n")


def timed_build(root: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "livingreview", "build", "--preview"], cwd=root, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"build failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "review"
        shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(".git", "_book", "_preview", ".quarto"))
        cold = timed_build(root)
        add_study(root)
        rebuild = timed_build(root)
    for name, seconds in (("cold build", cold), ("rebuild after adding one study", rebuild)):
        verdict = "ok" if seconds < TARGET_S else "OVER TARGET"
        print(f"{name:34s} {seconds:6.1f} s   (target < {TARGET_S:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
