"""livingreview: the tested package behind the living review; notebooks only call it.

One subpackage per stage of the pipeline; each imports only the stages below it (``.importlinter``)::

    cli                      the command line
    releases                 cutting a release
    book                     _variables.yml, executing notebooks, the HTML book and PDF
    versions                 citation metadata, what's new, living policy, results package
    checks                   the validity gate
    reporting                tables, figures, PRISMA, risk of bias, GRADE, gap map
    synthesis                effect directions, sign tests, pooling, sensitivity, claims
    data | search            the extraction tables | living searches and screening
    meta | project | text    the engine | the project on disk | data and numbers as text
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("livingreview")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
