"""The meta-analysis engine, usable on its own: it imports nothing else from ``livingreview``.

Modules: ``core`` (inputs and weighted sums), ``fisher`` (Fisher scoring for τ², the one algorithm),
``downdate`` (leave-one-out sums from the sums over all studies), ``tau2`` (every τ² estimator),
``inference`` (standard errors, tests, intervals), ``models`` (``rma``, meta-regression,
prediction, subgroups), ``sensitivity`` (leave-one-out, cumulative, influence, trim-and-fill,
Egger), ``validation`` (agreement with metafor and with exact answers), ``cli`` (``livingreview
meta``).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "cli",
        "core",
        "downdate",
        "fisher",
        "inference",
        "models",
        "sensitivity",
        "tau2",
        "validation",
    ],
    submod_attrs={
        "models": [
            "MetaResult",
            "rma",
            "confint_tau2",
            "predict",
            "subgroup_analysis",
            "fisher_z",
            "fisher_z_inverse",
        ],
        "validation": [
            "detail_table",
            "exact_frame",
            "exact_table",
            "metafor_defaults_table",
            "validation_frame",
            "validation_table",
        ],
    },
)
