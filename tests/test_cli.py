"""The command line: fast help, suggestions for typos, each subcommand's own usage on errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from livingreview.cli import main
from scratch import livingreview

HEAVY = ("matplotlib", "great_tables", "pandas", "numpy", "scipy", "statsmodels", "nbclient", "frictionless")


def imported_by(code: str) -> list[str]:
    """Top-level packages among HEAVY that ``code`` imports in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(done.stdout)  # noqa: S307 - our own printed list


def test_help_imports_nothing_heavy() -> None:
    assert imported_by("from livingreview import cli\ncli.make_parser()") == []
    done = subprocess.run([sys.executable, "-m", "livingreview", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "validate" in done.stdout and "meta" in done.stdout


def test_version_is_read_only_when_asked_for() -> None:
    """``--version`` prints the package version; other commands never import importlib.metadata."""
    from importlib.metadata import version

    done = subprocess.run([sys.executable, "-m", "livingreview", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"livingreview {version('livingreview')}"
    probe = "import sys, livingreview\nprint('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_typo_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["valdate"])
    assert exit_.value.code == 2
    assert "did you mean 'validate'?" in capsys.readouterr().err


def test_a_wrong_flag_prints_the_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--frce"])
    err = capsys.readouterr().err
    assert err.startswith("usage: livingreview build ") and "unrecognized arguments: --frce" in err


def test_meta_is_handed_to_its_own_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["meta", "--help"])
    assert exit_.value.code == 0
    assert "--method" in capsys.readouterr().out


def test_invalid_data_problems_and_summary_share_one_stream(data_copy: Path) -> None:
    path = data_copy / "effects.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",symptoms,", ",mood,", 1), encoding="utf-8")
    done = livingreview(data_copy.parent, "validate", str(data_copy))
    assert done.returncode == 1 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("effects.csv:") and lines[-1].startswith("data invalid:")


def test_the_builds_own_process_draws_nothing() -> None:
    """``_variables.yml`` is computed in the build's process while the kernels draw the figures:
    it needs no plotting library (importing matplotlib there costs every build half a second)."""
    code = (
        "from livingreview.book.variables import compute_project_variables\n"
        "from pathlib import Path\n"
        "from livingreview.project import Project\n"
        f"compute_project_variables(Project(Path({str(ROOT)!r})))"
    )
    assert "matplotlib" not in imported_by(code)
