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


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata only when asked for (``livingreview --version``):
    importing importlib.metadata would add ~20 ms to every command."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livingreview")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
