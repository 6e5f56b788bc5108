"""Property-based tests of the gate (hypothesis, bounded and derandomised so CI runs the same cases).

Any single-cell corruption gives exit 1 and well-formed ``file:row:column: message`` lines, one of
them naming the corrupted cell, and the loaders refuse a bad typed cell the same way — never a
traceback. Valid variations (column order, line endings, quoting, hostile free text) pass the gate
and every step of the commands runs on them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from livingreview.checks.gate import check_project
from livingreview.checks.validate import NAN_TEXT
from livingreview.cli import main
from livingreview.data.cells import CellError, DataError, parse_cell
from livingreview.data.dataset import load_dataset
from livingreview.project.paths import Project
from scratch import current_version, next_version

ROOT = Path(__file__).resolve().parents[1]
PROBLEM_RE = re.compile(r"^[^:\s][^:]*:\d+:[^:]+: .+$")
PACKAGE = json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))
RESOURCES = {r["path"]: r for r in PACKAGE["resources"]}
FAST = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Text meant to break parsers and renderers; as free text it is valid data.
HOSTILE = [
    "\u2028",
    "\u2029",
    "\f",
    "\x85",
    "\v",
    "\r\n",
    "\n",
    '"',
    ",",
    "```",
    "<script>alert(1)</script>",
    "{{< var review.version >}}",
    "@fig-direction",
    "\\input{/etc/passwd}",
    "١٢٣",
    "１５",
    "²",
    "1_523",
    "\u200b",
    "\u202e",
    "😀",
]
BAD_TYPED = [
    "1_523",
    "１５２３",
    "²",
    "sNaN",
    "NaN",
    "inf",
    "1,5",
    "0x1A",
    "1e999",
    "٣",
    "--1",
    "1.2.3",
    "2099-1-1",
    "20261101",
    "yes",
]


def rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        records = list(csv.reader(fh))
    return records[0], records[1:]


def write(
    path: Path, header: list[str], rows: list[list[str]], terminator: str = "\n", quote_all: bool = False
) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(
            fh, lineterminator=terminator, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writerow(header)
        writer.writerows(rows)


NONEMPTY = sorted(path for path in RESOURCES if rows_of(ROOT / "data" / path)[1])


def _parses(kind: str, text: str) -> bool:
    try:
        parse_cell(kind, text)
    except CellError:
        return False
    return True


@st.composite
def corruption(draw: st.DrawFn) -> tuple[str, int, str, str]:
    """(file, row index, column, value) such that the value makes that cell invalid on its own."""
    path = draw(st.sampled_from(NONEMPTY))
    header, rows = rows_of(ROOT / "data" / path)
    field = draw(st.sampled_from(RESOURCES[path]["schema"]["fields"]))
    name, kind, c = field["name"], field["type"], field.get("constraints", {})
    i = draw(st.integers(0, len(rows) - 1))
    text = st.text(min_size=1, max_size=12)
    if kind != "string":
        value = draw(st.one_of(st.sampled_from(BAD_TYPED), text))
        assume(not _parses(kind, value))
    elif "enum" in c:
        value = draw(st.one_of(st.sampled_from(HOSTILE), text))
        assume(value not in c["enum"])
    elif "pattern" in c:
        value = draw(st.one_of(st.sampled_from(HOSTILE), text))
        assume(not re.fullmatch(c["pattern"], value))
    else:
        spaced = text.map(lambda t: f" {t}")
        choices = [spaced, st.sampled_from(sorted(NAN_TEXT)), st.just("x" * 131_073)]
        if c.get("required"):
            choices.append(st.just(""))
        value = draw(st.one_of(*choices))
    return path, i, name, value


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pristine")
    shutil.copytree(ROOT / "data", base / "data")
    shutil.copy(ROOT / "references.bib", base / "references.bib")
    return base


def cli(*args: str) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, (out.getvalue() + err.getvalue()).splitlines()


@FAST
@given(case=corruption())
def test_single_cell_corruption_is_one_line_each(pristine: Path, case: tuple[str, int, str, str]) -> None:
    path, i, column, value = case
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(pristine, work, dirs_exist_ok=True)
        header, rows = rows_of(work / "data" / path)
        rows[i][header.index(column)] = value
        write(work / "data" / path, header, rows)
        code, lines = cli("validate", str(work / "data"))
        assert code == 1, lines
        problems, summary = lines[:-1], lines[-1]
        assert summary.startswith("data invalid:")
        assert problems and all(PROBLEM_RE.match(line) for line in problems), lines
        assert any(
            line.startswith(f"{path}:{i + 2}:") and column in line.split(":", 3)[2].split(",")
            for line in problems
        ), (case, problems)
        kind = next(f["type"] for f in RESOURCES[path]["schema"]["fields"] if f["name"] == column)
        if kind != "string" and value == value.strip() and len(value) <= 131_072:
            with pytest.raises(DataError, match=rf"^{re.escape(path)}:{i + 2}:{column}: "):
                load_dataset(work / "data")


FREE_TEXT = {
    "effects.csv": ["quote", "notes", "outcome_measure", "alliance_measure", "statistic_reported"],
    "studies.csv": ["population", "setting", "medication", "notes"],
    "searches.csv": ["strategy", "notes"],
}
free_text = st.lists(st.sampled_from(HOSTILE) | st.text(min_size=1, max_size=8), min_size=1, max_size=4).map(
    lambda parts: "x" + "".join(parts) + "x"
)


@st.composite
def variation(draw: st.DrawFn) -> dict:
    tables = {}
    for path in sorted(RESOURCES):
        header, _ = rows_of(ROOT / "data" / path)
        tables[path] = draw(st.permutations(range(len(header))))
    edits = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(FREE_TEXT)), st.integers(0, 200), free_text),
            min_size=1,
            max_size=6,
        )
    )
    return {
        "order": tables,
        "terminator": draw(st.sampled_from(["\n", "\r\n"])),
        "quote_all": draw(st.booleans()),
        "edits": edits,
        "column": draw(st.integers(0, 10)),
    }


def apply_variation(root: Path, v: dict) -> None:
    for path, order in v["order"].items():
        header, rows = rows_of(root / "data" / path)
        for table, index, text in v["edits"]:
            if table == path:
                columns = FREE_TEXT[table]
                rows[index % len(rows)][header.index(columns[(index + v["column"]) % len(columns)])] = text
        write(
            root / "data" / path,
            [header[j] for j in order],
            [[row[j] for j in order] for row in rows],
            v["terminator"],
            v["quote_all"],
        )


PROJECT_IGNORE = shutil.ignore_patterns(
    ".git", "_book", "_preview", "__pycache__", ".pytest_cache", "bench", "tests"
)


def _project(tmp: Path, v: dict) -> Path:
    root = tmp / "review"
    shutil.copytree(ROOT, root, ignore=PROJECT_IGNORE)
    apply_variation(root, v)
    return root


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(v=variation())
def test_valid_variations_pass_the_gate_and_every_step(
    tmp_path_factory: pytest.TempPathFactory, v: dict
) -> None:
    from livingreview.book.variables import compute_project_variables
    from livingreview.project.snapshots import same_data
    from livingreview.releases.release import plan_release, required_level
    from livingreview.versions.compare import whats_new

    root = _project(tmp_path_factory.mktemp("variation"), v)
    report = check_project(Project(root))
    assert report.ok, [str(p) for p in report.problems]
    # execute: _variables.yml (every table loaded, pooled, PRISMA; the data-independent metafor summary
    # is left out: tests/ is not copied)
    compute_project_variables(Project(root))
    changes = whats_new(Project(root), current_version(root))  # whats-new
    if same_data(root / "releases" / f"v{current_version(root)}", root):
        return  # a variation that changes nothing has nothing to release
    level, _ = required_level(changes, protocol_change=False)
    assert plan_release(Project(root), next_version(root, level)).level == level  # release, dated today


HOSTILE_VARIATION = {
    "order": {path: list(range(len(rows_of(ROOT / "data" / path)[0])))[::-1] for path in sorted(RESOURCES)},
    "terminator": "\r\n",
    "quote_all": True,
    "edits": [
        (table, index, "x" + "".join(HOSTILE[index % 7 :: 3]) + "x")
        for index, table in enumerate(sorted(FREE_TEXT) * 4)
    ],
    "column": 0,
}


def test_hostile_variation_runs_every_notebook(tmp_path: Path) -> None:
    from notebook_runner import run_notebooks

    root = _project(tmp_path, HOSTILE_VARIATION)
    assert check_project(Project(root)).ok
    assert run_notebooks(root) > 0  # every data notebook's cells, with figures and tables rendered
