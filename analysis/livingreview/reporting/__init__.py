"""The reporting-standards artefacts and the book's tables and figures: PRISMA, risk of bias (QUIPS),
GRADE, the gap map.

Modules: ``tables`` (great-tables), ``figures`` (matplotlib, the book's style), ``prisma``, ``rob``,
``grade``, ``gapmap``, ``values`` (their numbers for ``_variables.yml``), ``resources`` (reading their
CSV files), ``palette`` and ``scale`` (colours; limits at scale).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "figures",
        "gapmap",
        "grade",
        "palette",
        "prisma",
        "resources",
        "rob",
        "scale",
        "tables",
        "values",
    ],
)
