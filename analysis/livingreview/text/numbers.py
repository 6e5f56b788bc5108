"""Numbers as the prose, tables and figures print them: p-values, correlations, shares, counts."""

from __future__ import annotations

__all__ = ["fmt_p", "fmt_pct", "fmt_r", "p_relation", "plural"]


def fmt_pct(part: int, whole: int) -> str:
    """Whole-number percentage ("42%"); "0%" of nothing is reported as "not applicable"."""
    return f"{round(100 * part / whole)}%" if whole else "not applicable"


def fmt_p(p: float | None) -> str:
    """p-value to three decimals, "<0.001" below that, "not estimable" when undefined."""
    if p is None:
        return "not estimable"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_relation(p: float, space: bool = True) -> str:
    """The relation that follows "p": "= 0.031" or "< 0.001" ("=0.031", "<0.001" without ``space``)."""
    gap = " " if space else ""
    return f"<{gap}0.001" if p < 0.001 else f"={gap}{p:.3f}"


def fmt_r(value: float) -> str:
    """Correlation to two decimals without a leading zero, as APA style prints r."""
    text = f"{value:.2f}"
    return text.replace("0.", ".", 1) if abs(value) < 1 else text


def plural(n: int, word: str, many: str | None = None, none: str | None = None) -> str:
    """``"1 study"``, ``"3 studies"``; with ``none="no"``, zero reads ``"no studies"``."""
    count = none if n == 0 and none is not None else str(n)
    return f"{count} {word if n == 1 else (many or word + 's')}"
