"""Meta-analysis figures: forest, contour-enhanced funnel, leave-one-out and cumulative plots.

Each ``*_plot`` returns a matplotlib Figure (no global state, deterministic output with
:func:`save`) and has a matching ``*_alt_text`` giving a text description for the book.
Colours come from the colour-blind-safe Okabe–Ito palette.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from scipy import stats

from livingreview.meta import MetaResult, predict
from livingreview.meta_sensitivity import TrimfillResult

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

SHADES = ("#FFFFFF", "#E0E0E0", "#BDBDBD", "#969696")  # funnel regions, p from high to low

__all__ = [
    "OKABE_ITO",
    "cumulative_alt_text",
    "cumulative_plot",
    "forest_alt_text",
    "forest_plot",
    "funnel_alt_text",
    "funnel_plot",
    "leave1out_alt_text",
    "leave1out_plot",
    "save",
]


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` without timestamps or software tags, so equal figures give equal files."""
    path = Path(path)
    meta: dict[str, str | None] = {"Software": None}
    if path.suffix.lower() == ".svg":
        meta = {"Date": None, "Creator": None}
    elif path.suffix.lower() == ".pdf":
        meta = {"CreationDate": None, "Creator": None, "Producer": None}
    fig.savefig(path, dpi=dpi, metadata=meta, bbox_inches="tight")
    return path


def _labels(labels: Sequence[object] | None, k: int) -> list[str]:
    return [f"Study {i + 1}" for i in range(k)] if labels is None else [str(s) for s in labels]


def _fmt_ci(est: float, lb: float, ub: float) -> str:
    return f"{est:6.2f} [{lb:6.2f}, {ub:6.2f}]"


def _row_axes(n_rows: int, title: str | None) -> tuple[Figure, object]:
    fig = Figure(figsize=(8.5, 1.2 + 0.32 * n_rows), layout="constrained")
    ax = fig.add_subplot()
    ax.set_ylim(-0.5 - (2 if n_rows else 0), n_rows - 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    return fig, ax


def _footnote(ax: object, text: str) -> None:
    ax.annotate(text, (0, 0), xycoords="axes fraction", xytext=(0, -34),  # type: ignore[attr-defined]
                textcoords="offset points", fontsize=8, va="top")  # fmt: skip


def forest_plot(
    fit: MetaResult,
    labels: Sequence[object] | None = None,
    *,
    xlabel: str = "Effect size",
    title: str | None = None,
) -> Figure:
    """Forest plot: studies with CI and weight, pooled diamond and prediction interval."""
    if not fit.int_only:
        raise ValueError("forest_plot needs a model without moderators")
    k = fit.k
    names = _labels(labels, k)
    crit = float(stats.norm.isf((1 - fit.level / 100) / 2))
    se = np.sqrt(fit.vi)
    lb, ub = fit.yi - crit * se, fit.yi + crit * se
    fig, ax = _row_axes(k, title)
    ys = np.arange(k)[::-1] + 0.0
    w = fit.weights
    sizes = 20 + 180 * w / w.max()
    blue, black = OKABE_ITO["blue"], OKABE_ITO["black"]
    ax.hlines(ys, lb, ub, color=black, linewidth=1)
    ax.scatter(fit.yi, ys, s=sizes, marker="s", color=blue, zorder=3)
    pr = predict(fit)
    y_pool = -1.2
    diamond = Polygon(
        [(pr.ci_lb, y_pool), (pr.pred, y_pool + 0.35), (pr.ci_ub, y_pool), (pr.pred, y_pool - 0.35)],
        closed=True, color=OKABE_ITO["vermillion"], zorder=3,
    )  # fmt: skip
    ax.add_patch(diamond)
    if fit.method != "EE":
        ax.hlines(y_pool - 0.7, pr.pi_lb, pr.pi_ub, color=OKABE_ITO["vermillion"], linewidth=2,
                  linestyle=(0, (4, 2)))  # fmt: skip
    ax.axvline(pr.pred, color=OKABE_ITO["grey"], linewidth=0.8, linestyle=":", zorder=0)
    ax.axvline(0.0, color=black, linewidth=0.8, zorder=0)
    model = "Equal-effects model" if fit.method == "EE" else f"Random-effects model ({fit.method})"
    ax.set_yticks([*ys, y_pool], [*names, model])
    ax.set_xlabel(xlabel)
    texts = [_fmt_ci(y, a, b) for y, a, b in zip(fit.yi, lb, ub, strict=True)]
    trans = ax.get_yaxis_transform()
    ax.text(1.02, k - 0.3, "Weight   Estimate [95% CI]", transform=trans, fontsize=8,
            fontweight="bold", va="bottom")  # fmt: skip
    for y, t, wi in zip(ys, texts, w, strict=True):
        ax.text(1.02, y, f"{wi:5.1f}%   {t}", transform=trans, va="center", fontsize=8,
                family="monospace")  # fmt: skip
    ax.text(1.02, y_pool, f"100.0%   {_fmt_ci(pr.pred, pr.ci_lb, pr.ci_ub)}", transform=trans,
            va="center", fontsize=8, family="monospace", fontweight="bold")  # fmt: skip
    if fit.method != "EE":
        ax.text(1.02, y_pool - 0.7, f"PI {pr.pi_lb:6.2f} to {pr.pi_ub:.2f}", transform=trans,
                va="center", fontsize=8, family="monospace", color=OKABE_ITO["vermillion"])  # fmt: skip
        note = (f"tau² = {fit.tau2:.3g}, I² = {fit.I2:.1f}%, Q = {fit.QE:.2f} (df = {k - 1}, "
                f"p = {fit.QEp:.3g}); dashed line: 95% prediction interval")  # fmt: skip
        _footnote(ax, note)
    return fig


def forest_alt_text(fit: MetaResult, labels: Sequence[object] | None = None) -> str:
    """Alt text for :func:`forest_plot`."""
    pr = predict(fit)
    names = _labels(labels, fit.k)
    big = names[int(np.argmax(fit.weights))]
    text = (
        f"Forest plot of {fit.k} studies with effect sizes from {fit.yi.min():.2f} to "
        f"{fit.yi.max():.2f}; the largest weight ({fit.weights.max():.1f}%) is {big}. "
        f"Pooled estimate {pr.pred:.2f} (95% CI {pr.ci_lb:.2f} to {pr.ci_ub:.2f})"
    )
    if fit.method != "EE":
        text += (
            f"; prediction interval {pr.pi_lb:.2f} to {pr.pi_ub:.2f}; tau² {fit.tau2:.3g}, I² {fit.I2:.0f}%"
        )
    return text + "."


def funnel_plot(
    fit: MetaResult,
    *,
    trimfill: TrimfillResult | None = None,
    xlabel: str = "Effect size",
    title: str | None = None,
) -> Figure:
    """Contour-enhanced funnel plot (regions of p < .10, .05, .01 around zero)."""
    if not fit.int_only:
        raise ValueError("funnel_plot needs a model without moderators")
    se = np.sqrt(fit.vi)
    se_all = se if trimfill is None else np.concatenate([se, np.sqrt(trimfill.fill_vi)])
    top = 1.05 * float(se_all.max())
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.add_subplot()
    s = np.linspace(0, top, 100)
    lim = max(abs(fit.estimate) + float(stats.norm.isf(0.025)) * top, float(np.abs(fit.yi).max()))
    lim *= 1.1
    ax.set_facecolor(SHADES[0])  # p ≥ .10
    bounds = [(0.10, 0.05), (0.05, 0.01), (0.01, 0.0)]
    for (p_hi, p_lo), colour in zip(bounds, SHADES[1:], strict=True):
        inner = stats.norm.isf(p_hi / 2) * s
        outer = stats.norm.isf(p_lo / 2) * s if p_lo > 0 else np.full_like(s, 10 * lim)
        for sign in (-1, 1):
            ax.fill_betweenx(s, sign * inner, sign * outer, color=colour, linewidth=0)
    est = fit.estimate
    crit = float(stats.norm.isf(0.025))
    ax.plot([est - crit * top, est, est + crit * top], [top, 0, top],
            color=OKABE_ITO["black"], linewidth=0.8, linestyle="--")  # fmt: skip
    ax.axvline(est, color=OKABE_ITO["black"], linewidth=1)
    ax.scatter(fit.yi, se, color=OKABE_ITO["blue"], edgecolor="black", s=30, zorder=3)
    handles = [
        *(Patch(facecolor=c, edgecolor="grey", label=lab) for c, lab in zip(SHADES, (
            "p ≥ .10", ".05 ≤ p < .10", ".01 ≤ p < .05", "p < .01"), strict=True)),
        Line2D([], [], marker="o", color=OKABE_ITO["blue"], markeredgecolor="black",
               linestyle="", label="Study"),
    ]  # fmt: skip
    if trimfill is not None and trimfill.k0 > 0:
        ax.scatter(trimfill.fill_yi, np.sqrt(trimfill.fill_vi), facecolor="white",
                   edgecolor=OKABE_ITO["vermillion"], s=30, zorder=3, linewidth=1.5)  # fmt: skip
        handles.append(Line2D([], [], marker="o", markerfacecolor="white", linestyle="",
                              markeredgecolor=OKABE_ITO["vermillion"], label="Filled study"))  # fmt: skip
    ax.set_ylim(top, 0)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Standard error")
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    return fig


def funnel_alt_text(fit: MetaResult, egger_p: float | None = None, k0: int | None = None) -> str:
    """Alt text for :func:`funnel_plot`."""
    se = np.sqrt(fit.vi)
    z = np.abs(fit.yi / se)
    n_sig = int((z > stats.norm.isf(0.025)).sum())
    text = (
        f"Contour-enhanced funnel plot of {fit.k} studies, standard errors from {se.min():.2f} "
        f"to {se.max():.2f}; {n_sig} of {fit.k} studies lie in the p < .05 regions around zero. "
        f"Vertical line at the pooled estimate {fit.estimate:.2f}."
    )
    if egger_p is not None:
        text += f" Egger's test p = {egger_p:.3g}."
    if k0 is not None:
        text += f" Trim-and-fill adds {k0} stud{'y' if k0 == 1 else 'ies'}."
    return text


def _case_plot(df: pd.DataFrame, fit: MetaResult, row_label: str, xlabel: str, title: str | None) -> Figure:
    n = len(df)
    fig, ax = _row_axes(n, title)
    ax.set_ylim(-0.7, n - 0.5)
    ys = np.arange(n)[::-1] + 0.0
    ok = df["estimate"].notna().to_numpy()
    est, lb, ub = (df[c].to_numpy(dtype=float) for c in ("estimate", "ci_lb", "ci_ub"))
    ax.axvspan(fit.ci_lb[0], fit.ci_ub[0], color=OKABE_ITO["sky_blue"], alpha=0.25, linewidth=0)
    ax.axvline(fit.estimate, color=OKABE_ITO["blue"], linewidth=1)
    ax.axvline(0.0, color=OKABE_ITO["black"], linewidth=0.8)
    ax.hlines(ys[ok], lb[ok], ub[ok], color=OKABE_ITO["black"], linewidth=1)
    ax.scatter(est[ok], ys[ok], marker="o", color=OKABE_ITO["vermillion"], zorder=3, s=25)
    ax.set_yticks(ys, [f"{row_label}{s}" for s in df["study"]])
    trans = ax.get_yaxis_transform()
    for y, e, a, b in zip(ys, est, lb, ub, strict=True):
        txt = "failed" if math.isnan(e) else _fmt_ci(e, a, b)
        ax.text(1.02, y, txt, transform=trans, va="center", fontsize=8, family="monospace")
    ax.set_xlabel(xlabel)
    _footnote(ax, "Blue line and band: estimate and 95% CI from all studies")
    return fig


def leave1out_plot(
    fit: MetaResult, loo: pd.DataFrame, *, xlabel: str = "Effect size", title: str | None = None
) -> Figure:
    """Forest plot of the leave-one-out estimates (one row per omitted study)."""
    return _case_plot(loo, fit, "without ", xlabel, title)


def leave1out_alt_text(fit: MetaResult, loo: pd.DataFrame) -> str:
    """Alt text for :func:`leave1out_plot`."""
    i_lo, i_hi = int(loo["estimate"].idxmin()), int(loo["estimate"].idxmax())
    return (
        f"Leave-one-out plot: omitting one of {len(loo)} studies at a time moves the pooled "
        f"estimate from {fit.estimate:.2f} to between {loo['estimate'][i_lo]:.2f} (without "
        f"{loo['study'][i_lo]}) and {loo['estimate'][i_hi]:.2f} (without {loo['study'][i_hi]})."
    )


def cumulative_plot(
    fit: MetaResult, cum: pd.DataFrame, *, xlabel: str = "Effect size", title: str | None = None
) -> Figure:
    """Forest plot of the cumulative estimates, in the order studies were added."""
    return _case_plot(cum, fit, "+ ", xlabel, title)


def cumulative_alt_text(cum: pd.DataFrame) -> str:
    """Alt text for :func:`cumulative_plot`."""
    first, last = cum.iloc[0], cum.iloc[-1]
    width0 = first["ci_ub"] - first["ci_lb"]
    width1 = last["ci_ub"] - last["ci_lb"]
    return (
        f"Cumulative meta-analysis adding {len(cum)} studies one at a time, starting with "
        f"{first['study']} ({first['estimate']:.2f}) and ending at {last['estimate']:.2f}; "
        f"the 95% CI narrows from width {width0:.2f} to {width1:.2f}."
    )
