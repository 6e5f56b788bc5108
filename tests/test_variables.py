"""Numbers and generated sentences of the prose (``_variables.yml``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from livingreview.book.variables import (
    compute_project_variables,
    direction_sentence,
    flatten,
    fmt_p,
    fmt_pct,
    fmt_r,
    sensitivity_sentence,
    write_variables,
)
from livingreview.project.paths import Project
from livingreview.synthesis.domains import DomainSummary


def summary(
    domain: str, positive: int = 0, null: int = 0, negative: int = 0, mixed: int = 0, p: float | None = None
) -> DomainSummary:
    n = positive + null + negative + mixed
    return DomainSummary(domain, n, n, positive, null, negative, mixed, p)


def test_committed_variables_match_the_data(root: Path) -> None:
    committed = yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8"))
    assert committed == compute_project_variables(Project(root)), (
        "_variables.yml is stale: run `livingreview execute`"
    )


def test_validation_counts_read_as_prose(root: Path) -> None:
    validation = compute_project_variables(Project(root))["validation"]
    assert validation["n_comparisons"].replace(",", "").isdigit() and "," in validation["n_comparisons"]
    assert validation["n_failed"] == "0" and validation["metafor_version"] == "3.8.1"


@pytest.mark.parametrize(
    ("value", "text"), [(None, "not estimable"), (0.0004, "<0.001"), (0.03125, "0.031"), (1.0, "1.000")]
)
def test_fmt_p(value: float | None, text: str) -> None:
    assert fmt_p(value) == text


def test_fmt_pct_and_r() -> None:
    assert fmt_pct(1, 3) == "33%" and fmt_pct(0, 0) == "not applicable"
    assert fmt_r(0.291) == ".29" and fmt_r(-0.65) == "-.65" and fmt_r(1.0) == "1.00"


def test_direction_sentence_counts_and_tests() -> None:
    text = direction_sentence(
        [summary("symptoms", 6, 3, 0, 1, 0.03125), summary("adherence", 1), summary("retention")],
        "arm-A studies",
        "arm-A study",
    )
    assert text.startswith(
        "Among arm-A studies, for symptoms, 10 studies contributed: 6 stated that a stronger"
    )
    assert "sign test of 6 positive against 0 negative studies, p = 0.031: more than chance" in text
    assert "For adherence, a single study contributed, and it stated that a stronger alliance went" in text
    assert text.endswith("No arm-A study reported on retention.")


def test_direction_sentence_without_a_clear_direction() -> None:
    text = direction_sentence([summary("symptoms", null=2)], "arm-A studies", "arm-A study")
    assert "no study stated a direction, so no sign test was possible" in text


def test_sensitivity_sentence_reports_only_changes() -> None:
    base = [summary("symptoms", 2, p=0.5), summary("retention")]
    wide = [summary("symptoms", 2, p=0.5), summary("retention", negative=1)]
    text = sensitivity_sentence(base, wide)
    assert (
        "symptoms" not in text
        and "for retention, from 0 to 1 study, of which 1 stated that it went with a worse outcome" in text
    )
    assert sensitivity_sentence(base, base) == "Adding the studies of categories B and C changes no count."


def test_write_variables_reports_change_once(tmp_path: Path) -> None:
    path = tmp_path / "_variables.yml"
    assert write_variables(path, {"a": {"b": 1}}) is True
    assert write_variables(path, {"a": {"b": 1}}) is False
    assert flatten(yaml.safe_load(path.read_text())) == {"a.b": "1"}
