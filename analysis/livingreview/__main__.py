"""Allow ``python -m livingreview``."""

from livingreview.cli import main

raise SystemExit(main())
