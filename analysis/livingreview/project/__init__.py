"""The project on disk: where its files are, released snapshots, locked atomic writes, checksums.

Modules: ``paths`` (the layout of a project and finding its root), ``qmd`` (the book's Quarto sources
as data: chapters, headings, cells), ``snapshots`` (version numbers and ``releases/vX.Y.Z/``),
``transaction`` (one command at a time, all of its writes or none), ``manifest`` (``SHA256SUMS``).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["manifest", "paths", "qmd", "snapshots", "transaction"],
    submod_attrs={
        "paths": ["Project"],
    },
)
