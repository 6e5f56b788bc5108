"""The gate every command passes: the data package, every cell, the classification rules, cross-table
and bibliography checks, snapshots against their checksums.

Modules: ``validate`` (``livingreview validate``), ``gate`` (the whole project), ``schema`` (columns and
values against ``datapackage.json``), ``rules`` (arm, exposure, direction and provenance rules),
``bibliography`` (``references.bib`` against the verified records).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["bibliography", "gate", "rules", "schema", "validate"],
    submod_attrs={
        "gate": ["check_project"],
        "validate": ["validate_data"],
    },
)
