"""Benchmark at the scale of a large living review: 2,000 studies and 10,000 associations.

Generates a dataset that passes ``livingreview validate`` (every study a renamed copy of a shipped
one, with its associations, screening record, risk-of-bias judgements and reference), in a scratch
copy of the checkout, then times ``validate`` and ``build --preview`` and reports the peak memory of
the whole process tree (the command, its kernels and renderers) and the size of every output:

    python bench/bench_scale.py [--studies 2000] [--effects 10000] [--keep DIR]

Targets (issue 11): build ≤ 90 s and peak ≤ 2 GB on 2 cores; no notebook over 2 MB. Linux only
(memory is read from /proc). The benchmark is not a test and never fails on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(ROOT_TESTS))
from scratch import read_table, write_table  # noqa: E402  the tests' CSV helpers

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".git", "_book", "_preview", "__pycache__", ".pytest_cache", ".hypothesis", "bench"
)
TARGET_BUILD_S = 90.0
TARGET_PEAK_MB = 2048.0
NOTEBOOK_MB = 2.0


def letters(i: int) -> str:
    """0 → 'Aa', 1 → 'Ab', …: a distinct alphabetic tag per study (study ids are letters then a year)."""
    out = ""
    for _ in range(3):
        i, r = divmod(i, 26)
        out = string.ascii_lowercase[r] + out
    return "Scale" + out


def generate(root: Path, n_studies: int, n_effects: int) -> None:
    """Replace the studies of the project at ``root`` by ``n_studies`` renamed copies (and their rows)."""
    data = root / "data"
    s_head, studies = read_table(data / "studies.csv")
    e_head, effects = read_table(data / "effects.csv")
    c_head, screening = read_table(data / "screening.csv")
    r_head, rob = read_table(data / "risk_of_bias.csv")
    by_study = {s["study_id"]: [e for e in effects if e["study_id"] == s["study_id"]] for s in studies}
    record = {r["study_id"]: r for r in screening if r["study_id"]}
    judged = {s["study_id"]: [r for r in rob if r["study_id"] == s["study_id"]] for s in studies}
    per_study = [n_effects // n_studies + (1 if i < n_effects % n_studies else 0) for i in range(n_studies)]
    new_s, new_e, new_c, new_r, bib = [], [], [], [], []
    for i in range(n_studies):
        t = studies[i % len(studies)]
        ident = f"{letters(i)}{t['year']}"
        new_s.append(dict(t, study_id=ident, citation_key=ident))
        pool = by_study[t["study_id"]]
        for k in range(per_study[i]):
            new_e.append(dict(pool[k % len(pool)], effect_id=f"{ident}-{k + 1}", study_id=ident))
        new_c.append(dict(record[t["study_id"]], record_id=f"R{ident}", study_id=ident))
        new_r += [dict(r, study_id=ident) for r in judged[t["study_id"]]]
        bib.append(
            f"@article{{{ident},\n  author = {{Scale, A.}},\n  title = {{Synthetic study {i + 1}}},\n"
            f"  journal = {{Benchmark Journal}},\n  year = {{{t['year']}}}\n}}\n"
        )
    write_table(data / "studies.csv", s_head, new_s)
    write_table(data / "effects.csv", e_head, new_e)
    write_table(data / "screening.csv", c_head, [r for r in screening if not r["study_id"]] + new_c)
    write_table(data / "risk_of_bias.csv", r_head, new_r)
    q_head, searches = read_table(data / "searches.csv")
    write_table(data / "searches.csv", q_head, [dict(s, records_found="") for s in searches])
    with (root / "references.bib").open("a", encoding="utf-8") as fh:
        fh.write("\n" + "\n".join(bib))


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (MB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        todo += children.get(p, [])
    return total / 2**20


def measure(args: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak MB of the process tree, exit code, last lines of output) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "livingreview", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = [0.0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    done.set()
    watcher.join()
    return time.perf_counter() - start, peak[0], proc.returncode, "\n".join(out.splitlines()[-12:])


def size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--effects", type=int, default=10_000)
    parser.add_argument(
        "--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder)"
    )
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    root = base / "review"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(ROOT, root, ignore=IGNORE)
    generate(root, args.studies, args.effects)
    print(f"dataset: {args.studies} studies, {args.effects} associations in {root}")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    ok = True
    for command in (["validate"], ["build", "--preview"]):
        seconds, peak, code, tail = measure(command, root)
        print(f"{' '.join(command):<16} {seconds:7.1f} s   peak {peak:7.0f} MB   exit {code}")
        if code != 0:
            print(tail)
            ok = False
            break
        if command[0] == "build":
            print(f"  target: ≤ {TARGET_BUILD_S:.0f} s and ≤ {TARGET_PEAK_MB:.0f} MB")
    print("outputs:")
    for path in [*sorted((root / "analysis").glob("*.ipynb")), root / "_variables.yml", root / "_preview"]:
        flag = " (over target)" if path.suffix == ".ipynb" and size_mb(path) > NOTEBOOK_MB else ""
        print(f"  {path.relative_to(root)}: {size_mb(path):.2f} MB{flag}")
    for csv_path in sorted((root / "_preview").rglob("*.csv")) if (root / "_preview").is_dir() else []:
        print(f"  {csv_path.relative_to(root)}: {size_mb(csv_path):.2f} MB")
    if not args.keep:
        shutil.rmtree(base)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
