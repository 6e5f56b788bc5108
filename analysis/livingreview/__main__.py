"""Allow ``python -m livingreview``."""

from livingreview.cli import run

run()
