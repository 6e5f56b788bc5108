"""The living-review policy (search frequency, update triggers, when it stops) from ``living.yml``."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

POLICY_FILE = "living.yml"
REQUIRED = ("search_interval_months", "search_sources", "triggers", "stop_conditions", "stop_no_later_than")


class PolicyError(ValueError):
    """``living.yml`` is missing or incomplete."""


def read_policy(root: Path) -> dict[str, Any]:
    path = root / POLICY_FILE
    if not path.is_file():
        raise PolicyError(f"{POLICY_FILE} not found in {root}")
    policy = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [k for k in REQUIRED if k not in policy]
    if missing:
        raise PolicyError(f"{POLICY_FILE}: missing {', '.join(missing)}")
    if not isinstance(policy["search_interval_months"], int) or policy["search_interval_months"] < 1:
        raise PolicyError(f"{POLICY_FILE}: search_interval_months must be a whole number of months ≥ 1")
    return policy


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _or_list(items: list[str]) -> str:
    items = [str(i).rstrip(".") for i in items]
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + "; or " + items[-1]


def policy_variables(root: Path, last_searched: str) -> dict[str, str]:
    """``living.*`` of ``_variables.yml``."""
    p = read_policy(root)
    months = int(p["search_interval_months"])
    stop = dt.date.fromisoformat(str(p["stop_no_later_than"]))
    try:
        due = add_months(dt.date.fromisoformat(last_searched), months).isoformat()
    except ValueError:
        due = f"{months} months after the first recorded search"
    return {
        "search_interval_months": str(months),
        "search_frequency": f"every {months} months" if months != 1 else "every month",
        "search_sources": str(p["search_sources"]).strip(),
        "next_search_due": due,
        "triggers": _or_list(p["triggers"]),
        "stop_conditions": _or_list(p["stop_conditions"]),
        "stop_no_later_than": stop.isoformat(),
    }
