"""The workflows cannot run here: check that they parse, pin what they use, name real commands and
agree with the README (static checks of .ci/run, ci.yml and publish.yml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from livingreview.cli import make_parser

WORKFLOWS = Path(".github") / "workflows"
WORKFLOW = WORKFLOWS / "publish.yml"
CI = WORKFLOWS / "ci.yml"
LOCK = "requirements.lock"


def load(root: Path, path: Path) -> dict:
    return yaml.safe_load((root / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workflow(root: Path) -> dict:
    return load(root, WORKFLOW)


@pytest.fixture(scope="module")
def ci(root: Path) -> dict:
    return load(root, CI)


def triggers(flow: dict) -> dict:
    return flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true


def all_steps(flow: dict) -> list[dict]:
    return [step for job in flow["jobs"].values() for step in job["steps"]]


@pytest.fixture(scope="module")
def steps(workflow: dict) -> list[dict]:
    return all_steps(workflow)


def subcommands() -> set[str]:
    parser, _ = make_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def readme_test_command(root: Path) -> str:
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = [line.strip() for line in readme.splitlines() if line.startswith("python -m pytest")]
    assert len(set(lines)) == 1, lines
    return lines[0]


def quarto_version(root: Path) -> str:
    """The Quarto version the sources are checked against (the vendored schema's folder)."""
    (folder,) = (root / "tests" / "vendor").glob("quarto-*")
    return folder.name.removeprefix("quarto-")


def quarto_setups(flow: dict) -> list[dict]:
    return [s for s in all_steps(flow) if s.get("uses", "").startswith("quarto-dev/quarto-actions/setup@")]


def test_publishes_only_from_version_tags(workflow: dict) -> None:
    assert triggers(workflow) == {"push": {"tags": ["v*.*.*"]}}, "no manual run from any branch"
    runs = " ".join(step.get("run", "") for step in all_steps(workflow))
    assert "git merge-base --is-ancestor" in runs and "origin/main" in runs


def test_least_privilege_permissions_per_job_and_a_concurrency_group(workflow: dict) -> None:
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert {name: job["permissions"] for name, job in jobs.items()} == {
        "build": {"contents": "read"},
        "publish": {"contents": "write"},
    }
    assert jobs["publish"]["needs"] == "build"
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    # Only the publishing job (no tests, no build, no third-party code run) can write.
    assert not any("pytest" in s.get("run", "") for s in jobs["publish"]["steps"])


def test_quarto_is_pinned_to_the_version_the_sources_are_checked_against(
    root: Path, workflow: dict, ci: dict
) -> None:
    version = quarto_version(root)
    setups = quarto_setups(workflow) + quarto_setups(ci)
    assert setups and all(str(s["with"]["version"]) == version for s in setups)
    assert f"Quarto {version}" in (root / "README.md").read_text(encoding="utf-8")


def test_sets_up_python_and_quarto_and_publishes_without_rendering(steps: list[dict]) -> None:
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "actions/setup-python" in uses
    setup = uses["quarto-dev/quarto-actions/setup"]
    assert set(setup.get("with", {})) <= {"version", "tinytex"}
    publish = uses["quarto-dev/quarto-actions/publish"]
    assert publish["with"]["target"] == "gh-pages"
    assert str(publish["with"]["render"]).lower() == "false"


def test_runs_the_readme_test_command_in_the_locked_environment_then_builds(
    root: Path, steps: list[dict]
) -> None:
    runs = [step.get("run", "") for step in steps]
    command = readme_test_command(root)
    tests = next(i for i, run in enumerate(runs) if command in run)
    assert f"-c {LOCK}" in runs[tests]
    build = next(i for i, run in enumerate(runs) if "livingreview build" in run)
    assert tests < build


def test_ci_script_lints_then_installs_the_lock_then_runs_the_readme_command(root: Path) -> None:
    script = (root / ".ci" / "run").read_text(encoding="utf-8")
    order = [script.index(s) for s in ("ruff check .", "ruff format --check .", f"-c {LOCK} -e")]
    assert order == sorted(order)
    assert script.rstrip().endswith(readme_test_command(root))


def test_ci_runs_on_every_push_and_pull_request(root: Path, ci: dict) -> None:
    assert set(triggers(ci)) == {"push", "pull_request"}
    assert ci["permissions"] == {"contents": "read"}
    runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in ci["jobs"].items()}
    assert "bash .ci/run" in runs["test"]
    assert "livingreview build" in runs["render"] and f"-c {LOCK}" in runs["render"]
    assert quarto_setups({"jobs": {"render": ci["jobs"]["render"]}})


def test_lock_pins_every_package_and_keeps_pyproject_lower_bounds(root: Path) -> None:
    lines = [x for x in (root / LOCK).read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9._-]+==[^=\s]+", x) for x in lines), lines[:3]
    pinned = {x.split("==")[0].lower().replace("_", "-") for x in lines}
    project = (root / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.findall(r'"([A-Za-z0-9_-]+)(?:\[[^\]]*\])?>=', project)
    for name in deps:
        if name not in {"quarto-cli", "pymare", "setuptools"}:  # render and bench extras are not locked
            assert name.lower().replace("_", "-") in pinned, name
    assert "==" not in project


def test_names_only_commands_that_exist(root: Path, steps: list[dict], ci: dict) -> None:
    runs = [step.get("run", "") for step in steps + all_steps(ci)]
    used = {m for run in runs for m in re.findall(r"livingreview ([a-z][a-z-]*)", run)}
    assert used and used <= subcommands()


def test_creates_the_release_with_the_pdf(steps: list[dict]) -> None:
    assert any("gh release create" in step.get("run", "") and "_book/*.pdf" in step["run"] for step in steps)


def test_readme_documents_every_command_and_the_workflows(root: Path) -> None:
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in subcommands():
        assert f"`livingreview {name}" in readme, name
    assert str(WORKFLOW) in readme and str(CI) in readme
    assert "do not create the GitHub release yourself" in readme
    assert "Then create the GitHub release" not in readme


def test_release_steps_push_the_tag_last_and_leave_the_release_to_the_workflow(root: Path) -> None:
    from livingreview.releases.release import next_steps

    steps = next_steps("9.9.9")
    assert steps.index("git push origin main") < steps.index("git push origin v9.9.9")
    assert "do not create the GitHub release yourself" in steps
