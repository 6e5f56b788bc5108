"""The publishing workflow cannot run here: check that it parses, names real commands, agrees with README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from livingreview.cli import make_parser

WORKFLOW = Path(".github") / "workflows" / "publish.yml"


@pytest.fixture(scope="module")
def workflow(root: Path) -> dict:
    return yaml.safe_load((root / WORKFLOW).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def subcommands() -> set[str]:
    parser = make_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def readme_test_command(root: Path) -> str:
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if "python -m pytest" in line and line.startswith("pip ")]
    assert len(lines) == 1, lines
    return lines[0].strip()


def test_runs_on_version_tags_with_write_permission(workflow: dict) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["tags"] == ["v*.*.*"]
    assert workflow["permissions"]["contents"] == "write"


def test_sets_up_python_and_quarto_and_publishes_without_rendering(steps: list[dict]) -> None:
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "actions/setup-python" in uses
    setup = uses["quarto-dev/quarto-actions/setup"]
    assert set(setup.get("with", {})) <= {"version", "tinytex"}
    publish = uses["quarto-dev/quarto-actions/publish"]
    assert publish["with"]["target"] == "gh-pages"
    assert str(publish["with"]["render"]).lower() == "false"


def test_runs_the_readme_test_command_verbatim_then_builds(root: Path, steps: list[dict]) -> None:
    runs = [step.get("run", "") for step in steps]
    command = readme_test_command(root)
    tests = next(i for i, run in enumerate(runs) if command in run)
    build = next(i for i, run in enumerate(runs) if "livingreview build" in run)
    assert tests < build
    assert command in (root / ".ci" / "run").read_text(encoding="utf-8")


def test_names_only_commands_that_exist(steps: list[dict]) -> None:
    used = {m for step in steps for m in re.findall(r"livingreview ([a-z][a-z-]*)", step.get("run", ""))}
    assert used and used <= subcommands()


def test_attaches_the_pdf_to_the_release(steps: list[dict]) -> None:
    assert any("gh release" in step.get("run", "") and "_book/*.pdf" in step["run"] for step in steps)


def test_readme_documents_every_command_and_the_workflow(root: Path) -> None:
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in subcommands():
        assert f"`livingreview {name}" in readme, name
    assert str(WORKFLOW) in readme
