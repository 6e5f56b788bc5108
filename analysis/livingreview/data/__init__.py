"""The extraction dataset: parsing cells, loading the tables the data package describes, the bibliography.

Modules: ``cells`` (one parser for every cell, errors naming file, row and column), ``dataset``
(typed pandas tables), ``bib`` (``references.bib``).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["bib", "cells", "dataset"],
    submod_attrs={
        "dataset": ["Dataset", "load_dataset", "RELEVANCE_LABELS"],
    },
)
