"""Readable at any size: figures and tables of a large review show a screenful and say where the rest is."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import matplotlib
import pytest
from livingreview.data.dataset import load_dataset
from livingreview.reporting import figures, rob, tables
from livingreview.reporting.scale import MAX_FIGURE_ROWS, MAX_TABLE_ROWS
from livingreview.versions.compare import MAX_IDS, _ids

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid dataset of 300 studies and 900 associations (the generator of bench/bench_scale.py)."""
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "bench_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    root = tmp_path_factory.mktemp("large")
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copy(ROOT / "references.bib", root / "references.bib")
    bench.generate(root, 300, 900)
    return root


def test_generated_dataset_is_valid(large: Path) -> None:
    from livingreview.checks.validate import validate_data

    report = validate_data(large / "data")
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.counts["studies"] == 300 and report.counts["effects"] == 900


def _labels(fig) -> list[str]:  # noqa: ANN001 - a matplotlib Figure
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


@pytest.mark.parametrize("plot", ["direction", "context", "traffic"])
def test_per_study_figures_show_a_screenful(large: Path, plot: str) -> None:
    data = load_dataset(large / "data")
    fig = {
        "direction": lambda: figures.direction_plot(data),
        "context": lambda: figures.context_plot(data),
        "traffic": lambda: rob.traffic_light(rob.load_rob(large / "data"), data),
    }[plot]()
    extra = len(data.syntheses) if plot == "context" else 0
    assert len(_labels(fig)) <= MAX_FIGURE_ROWS + extra
    assert fig.get_size_inches()[1] < 25
    assert "all are in data/" in fig.axes[0].get_title(loc="left")


@pytest.mark.parametrize("name", ["characteristics_table", "associations_table", "evidence_table"])
def test_long_tables_are_cut_with_a_note(large: Path, name: str) -> None:
    html = tables.show(getattr(tables, name)(load_dataset(large / "data")))._repr_html_()
    assert f"Showing the first {MAX_TABLE_ROWS:,} of" in html
    assert len(html) < 400_000


def test_shipped_figures_and_tables_are_whole(root: Path) -> None:
    data = load_dataset(root / "data")
    assert "Showing" not in figures.direction_plot(data).axes[0].get_title(loc="left")
    assert "Showing the first" not in tables.show(tables.evidence_table(data))._repr_html_()


def test_whats_new_id_lists_are_capped() -> None:
    ids = [f"Study{i:04d}" for i in range(1962)]
    text = _ids(ids)
    assert text.count("Study") == MAX_IDS and "1,937 more" in text
    assert _ids(ids[:3]) == "Study0000, Study0001, Study0002"
