"""The scheduled-search workflow cannot run here: check that it parses, runs at the policy's frequency
and calls only commands the CLI has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from livingreview.cli import make_parser
from livingreview.versions.policy import read_policy

WORKFLOW = Path(".github") / "workflows" / "search.yml"


@pytest.fixture(scope="module")
def workflow(root: Path) -> dict:
    return yaml.safe_load((root / WORKFLOW).read_text(encoding="utf-8"))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def cron_for(months: int) -> str:
    """The cron line for a search every ``months`` months (on the 1st, 06:00 UTC)."""
    return "0 6 1 * *" if months == 1 else f"0 6 1 */{months} *"


def test_runs_on_the_policy_schedule_and_by_hand(root: Path, workflow: dict) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    months = read_policy(root)["search_interval_months"]
    assert [c["cron"] for c in triggers["schedule"]] == [cron_for(months)]
    assert cron_for(6) == "0 6 1 */6 *" and cron_for(1) == "0 6 1 * *"


def test_every_livingreview_command_exists_with_its_options(workflow: dict) -> None:
    parser, _ = make_parser()
    calls = [
        shlex.split(line)
        for step in steps(workflow)
        for line in step.get("run", "").splitlines()
        if line.strip().startswith("livingreview ")
    ]
    assert [c[1] for c in calls] == ["search", "validate"]
    for call in calls:
        parser.parse_args(call[1:])  # exits (fails the test) on an unknown command or option


def test_opens_a_pull_request_with_the_queue_and_the_log(workflow: dict) -> None:
    step = next(
        s for s in steps(workflow) if s.get("uses", "").startswith("peter-evans/create-pull-request@")
    )
    paths = step["with"]["add-paths"].split()
    assert paths == ["data/candidates.csv", "data/searches.csv"]
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    search = next(s for s in steps(workflow) if s.get("run", "").strip() == "livingreview search")
    assert set(search["env"]) == {"NCBI_EMAIL", "NCBI_API_KEY"}
    assert all(re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", v) for v in search["env"].values())
