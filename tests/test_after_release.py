"""The README's release steps on a scratch copy, then the suite's checks of the shipped review on it.

A release changes the version, the snapshots under ``releases/`` and every generated file; the
tests of the shipped review must hold for that new state as they do for the current one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scratch import add_study, later_date, livingreview, next_version

# Every test module that reads the shipped review's state (version, data, generated files), and
# the release workflow itself (so a second release from the released state works too).
SHIPPED_STATE_TESTS = [
    "tests/test_releases.py",
    "tests/test_reporting.py",
    "tests/test_variables.py",
    "tests/test_quarto_sources.py",
    "tests/test_publish.py",
    "tests/test_validate.py",
]


def test_suite_passes_after_the_readme_release_steps(project_copy: Path) -> None:
    minor = next_version(project_copy, "minor")
    sid = add_study(project_copy)
    assert livingreview(project_copy, "validate").returncode == 0
    news = livingreview(project_copy, "whats-new")
    assert news.returncode == 0 and sid in news.stdout, news.stdout + news.stderr
    done = livingreview(
        project_copy, "release", minor, "--trigger", "scheduled search", "--date", later_date(project_copy)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = livingreview(project_copy, "build", "--preview")
    assert done.returncode == 0, done.stdout + done.stderr

    env = {**os.environ, "PYTHONPATH": str(project_copy / "analysis"), "LIVINGREVIEW_ROOT": ""}
    env.pop("LIVINGREVIEW_ROOT")
    suite = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "analysis",
            *SHIPPED_STATE_TESTS,
        ],
        cwd=project_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    tail = "\n".join(suite.stdout.splitlines()[-40:])
    assert suite.returncode == 0, f"after release {minor} the suite fails:\n{tail}\n{suite.stderr[-2000:]}"
    assert " passed" in tail and " failed" not in tail
