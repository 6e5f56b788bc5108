"""The book: every number for the prose (``_variables.yml``), executing the notebooks, and the HTML book
and PDF written without Quarto.

Modules: ``variables`` (``_variables.yml``), ``execute`` (notebooks in place), ``build`` (execute then
render), ``preview`` (the book as a model of pages), ``html`` and ``pdf`` (its two renderers), ``render``
(both into ``_preview/``),
``pandoc`` (running pandoc), ``screenshots`` (Chromium).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "build",
        "execute",
        "html",
        "pandoc",
        "pdf",
        "preview",
        "screenshots",
        "variables",
    ],
)
