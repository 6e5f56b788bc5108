"""livingreview: the tested package behind the living review.

Data loading and validation, synthesis, the meta-analysis engine, figures, tables,
notebook execution and the book/preview build all live here; notebooks only call it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("livingreview")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
