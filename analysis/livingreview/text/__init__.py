"""Data and numbers as text: values from the data kept literal in Markdown and HTML, and numbers printed
one way everywhere.

Modules: ``safe`` (escaping data for Markdown, HTML and Typst), ``numbers`` (p-values, r, percentages,
counts).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["numbers", "safe"],
    submod_attrs={
        "numbers": ["fmt_p", "fmt_pct", "fmt_r", "p_relation", "plural"],
    },
)
