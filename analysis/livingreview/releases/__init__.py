"""Cutting a release: the version bump the changes require, the snapshot, ``CITATION.cff``,
``CHANGELOG.md`` and ``.zenodo.json``.

Module: ``release``.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["release"],
)
