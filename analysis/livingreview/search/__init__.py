"""Living searches: re-running the stored strategies, the screening queue, and what the book reports of them.

Modules: ``clients`` (PubMed and Europe PMC over HTTP), ``runner`` (``livingreview search``),
``candidates`` (the queue ``data/candidates.csv``), ``screen`` (``livingreview screen``), ``report``
(search tables and values for the book), ``log_check`` (the log, the queue and the screening
table agree).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["candidates", "clients", "log_check", "report", "runner", "screen"],
)
