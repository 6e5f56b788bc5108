"""The review's versions: citation metadata, what changed between two versions, the living policy and
the results data package.

Modules: ``citation`` (``CITATION.cff`` and the search date), ``compare`` (what's new, conclusion
changes), ``outputs`` (their table and figure), ``policy`` (``living.yml``), ``results`` (``results/``).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["citation", "compare", "outputs", "policy", "results"],
    submod_attrs={
        "citation": ["ReviewMetadata", "read_cff", "read_metadata"],
        "compare": ["cumulative", "whats_new"],
    },
)
