"""Synthesis without meta-analysis: effect directions per study and domain, sign tests, pooling where
the data allow, denominators, sensitivity analyses, the source review's claims, key messages.

Modules: ``domains`` (directions, sign tests, pooling decisions), ``denominators`` (participants),
``sensitivity`` (the analyses a reader expects), ``claims`` (verdicts on the source review's claims),
``summary`` (plain-language key messages).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["claims", "denominators", "domains", "sensitivity", "summary"],
    submod_attrs={
        "claims": ["load_claims"],
    },
)
