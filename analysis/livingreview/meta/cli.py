"""``livingreview meta``: meta-analysis of a CSV file of effect sizes (yi) and variances (vi).

The main CLI registers this subcommand with :func:`add_parser`; ``python -m
livingreview.meta.cli FILE.csv ...`` runs it on its own. Bad input exits with status 1 and a
single line ``FILE:LINE:COLUMN: problem`` on stderr.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from livingreview.meta.core import InputError, MetaAnalysisError
from livingreview.meta.tau2 import METHODS

if TYPE_CHECKING:
    from livingreview.meta.models import MetaResult

__all__ = ["add_parser", "main", "run"]


class CliError(Exception):
    """A problem with the input, already phrased as ``file:line:column: problem``."""


@dataclass(frozen=True)
class Table:
    """The parsed CSV: raw text columns plus the line number of each data row."""

    path: str
    columns: dict[str, list[str]]
    lines: list[int]

    def where(self, index: int | None, column: str) -> str:
        line = 1 if index is None else self.lines[index]
        return f"{self.path}:{line}:{column}"

    def numeric(self, column: str) -> np.ndarray:
        if column not in self.columns:
            raise CliError(f"{self.where(None, column)}: column missing")
        out = np.empty(len(self.lines))
        for i, text in enumerate(self.columns[column]):
            text = text.strip()
            if not text:
                raise CliError(f"{self.where(i, column)}: missing value")
            try:
                value = float(text)
            except ValueError:
                raise CliError(f"{self.where(i, column)}: not a number: {text!r}") from None
            if not math.isfinite(value):
                raise CliError(f"{self.where(i, column)}: not a finite number: {text!r}")
            out[i] = value
        return out

    def column(self, column: str) -> np.ndarray | list[str]:
        """A column as numbers when every cell is numeric, otherwise as text."""
        if column not in self.columns:
            raise CliError(f"{self.where(None, column)}: column missing")
        for i, text in enumerate(self.columns[column]):
            if not text.strip():
                raise CliError(f"{self.where(i, column)}: missing value")
        try:
            return self.numeric(column)
        except CliError:
            return [t.strip() for t in self.columns[column]]


def read_table(path: str) -> Table:
    """Read a CSV file with a header line; every row must have the header's number of cells."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise CliError(f"{path}:1: empty file")
            header = [h.strip() for h in header]
            seen: set[str] = set()
            for h in header:
                if h in seen:
                    raise CliError(f"{path}:1:{h}: duplicate column name in the header")
                seen.add(h)
            cols: dict[str, list[str]] = {h: [] for h in header}
            lines: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise CliError(
                        f"{path}:{reader.line_num}: row has {len(row)} cells, header has {len(header)}"
                    )
                for h, cell in zip(header, row, strict=True):
                    cols[h].append(cell)
                lines.append(reader.line_num)
    except OSError as err:
        raise CliError(f"{path}: cannot read file: {err.strerror or err}") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise CliError(f"{path}: not a readable UTF-8 CSV file ({err})") from None
    if not lines:
        raise CliError(f"{path}: no studies (no data rows)")
    return Table(path, cols, lines)


def add_parser(subparsers: Any) -> None:
    """Register the ``meta`` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "meta",
        help="meta-analysis of a CSV of yi, vi (metafor-compatible)",
        description="Random/fixed-effects meta-analysis of FILE (columns yi, vi, optional "
        "study_id and moderator columns), matching R metafor 3.8.",
    )
    p.add_argument("file", metavar="FILE.csv", help="CSV with columns yi and vi")
    p.add_argument("--method", choices=METHODS, default="REML", help="tau² estimator")
    p.add_argument("--knha", action="store_true", help="Knapp–Hartung t and F tests")
    p.add_argument("--egger", action="store_true", help="Egger's regression test")
    p.add_argument("--trimfill", action="store_true", help="trim-and-fill (L0)")
    p.add_argument("--leave1out", action="store_true", help="leave-one-out analysis")
    p.add_argument("--cumulative-by", metavar="COL", help="cumulative meta-analysis ordered by COL")
    p.add_argument(
        "--moderator", metavar="COL", action="append", default=[], help="meta-regression moderator"
    )
    p.add_argument(
        "--control",
        choices=("exact", "metafor"),
        default="exact",
        help="exact (default): converged to machine precision in any units; metafor: metafor's "
        "default stopping rules, to reproduce its printed output",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the analysis described by ``args``; 0 on success, 1 on bad input."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = analyse(args)
        except CliError as err:
            print(str(err), file=sys.stderr)
            return 1
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(_clean(result), indent=2, allow_nan=False))
    else:
        print(format_summary(result, args))
    return 0


def analyse(args: argparse.Namespace) -> dict[str, Any]:
    """Compute everything requested; input problems become :class:`CliError`."""
    table = read_table(args.file)
    yi, vi = table.numeric("yi"), table.numeric("vi")
    ids: list[Any] = (
        [s.strip() for s in table.columns["study_id"]]
        if "study_id" in table.columns
        else list(range(1, len(yi) + 1))
    )
    test = "knha" if args.knha else "z"
    from livingreview.meta.models import rma

    control = getattr(args, "control", "exact")
    try:
        fit = rma(yi, vi, method=args.method, test=test, control=control)
        out = _main_result(fit)
        if args.egger:
            from livingreview.meta.sensitivity import regtest

            eg = regtest(fit)
            out["egger"] = {"z": eg.zval, "pval": eg.pval, "limit_estimate": eg.limit_estimate}
        if args.trimfill:
            from livingreview.meta.sensitivity import trimfill

            tf = trimfill(fit)
            f = tf.fit
            out["trimfill"] = {"k0": tf.k0, "side": tf.side, "estimate": f.estimate,
                               "se": float(f.se[0]), "ci_lb": float(f.ci_lb[0]),
                               "ci_ub": float(f.ci_ub[0]), "tau2": f.tau2}  # fmt: skip
        if args.leave1out:
            from livingreview.meta.sensitivity import leave1out_columns

            loo = leave1out_columns(fit)
            cols = ["estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "Q"]
            out["leave1out"] = _records(ids, loo, cols)
        if args.cumulative_by:
            from livingreview.meta.sensitivity import cumulative_columns

            order = np.asarray(table.column(args.cumulative_by))
            cum = cumulative_columns(fit, order=order)
            labels = [ids[i] for i in cum["index"]]
            out["cumulative"] = _records(labels, cum, ["estimate", "se", "ci_lb", "ci_ub", "tau2"])
        if args.moderator:
            out["metareg"] = _metareg(table, yi, vi, args.moderator, args.method, test, control)
    except InputError as err:
        index, column = err.index, err.column
        if column in ("yi", "vi") or column in table.columns:
            raise CliError(f"{table.where(index, column)}: {err.problem}") from None
        raise CliError(f"{args.file}: {err}") from None
    except MetaAnalysisError as err:
        raise CliError(f"{args.file}: {err}") from None
    return out


def _main_result(fit: MetaResult) -> dict[str, Any]:
    from livingreview.meta.models import confint_tau2, predict

    pr = predict(fit)
    ci: dict[str, float | None] = dict.fromkeys(
        ("tau2_ci_lb", "tau2_ci_ub", "I2_ci_lb", "I2_ci_ub", "H2_ci_lb", "H2_ci_ub")
    )
    if fit.method != "EE" and fit.k > 1:
        c = confint_tau2(fit)
        ci = {"tau2_ci_lb": c.tau2_lb, "tau2_ci_ub": c.tau2_ub, "I2_ci_lb": c.I2_lb,
              "I2_ci_ub": c.I2_ub, "H2_ci_lb": c.H2_lb, "H2_ci_ub": c.H2_ub}  # fmt: skip
    return {
        "k": fit.k, "method": fit.method, "test": fit.test,
        "control": "exact" if fit.control.exact else "metafor", "estimate": fit.estimate,
        "se": float(fit.se[0]), "ci_lb": float(fit.ci_lb[0]), "ci_ub": float(fit.ci_ub[0]),
        "pval": float(fit.pval[0]), "tau2": fit.tau2, **ci, "I2": fit.I2, "H2": fit.H2,
        "Q": fit.QE, "Q_df": fit.k - fit.p, "Q_pval": fit.QEp, "pi_lb": pr.pi_lb,
        "pi_ub": pr.pi_ub,
    }  # fmt: skip


def _metareg(
    table: Table,
    yi: np.ndarray,
    vi: np.ndarray,
    columns: Sequence[str],
    method: str,
    test: str,
    control: str,
) -> dict[str, Any]:
    import pandas as pd

    from livingreview.meta.models import moderator_matrix, rma

    frame = pd.DataFrame({c: table.column(c) for c in columns})
    X, names = moderator_matrix(frame, columns)
    res = rma(yi, vi, mods=X, coef_names=names, method=method, test=test, control=control)
    return {
        "coef_names": list(res.coef_names), "b": res.beta.tolist(), "se": res.se.tolist(),
        "pval": res.pval.tolist(), "ci_lb": res.ci_lb.tolist(), "ci_ub": res.ci_ub.tolist(),
        "QM": res.QM, "QM_df": list(res.QM_df), "QM_pval": res.QMp, "tau2": res.tau2,
        "I2": res.I2, "R2": res.R2, "QE": res.QE, "QE_pval": res.QEp,
    }  # fmt: skip


def _records(ids: Sequence[Any], cols: dict[str, np.ndarray], names: Sequence[str]) -> list[dict[str, Any]]:
    """One record per fit: ``study_id`` and the named columns as Python numbers."""
    return [{"study_id": sid, **{c: float(cols[c][i]) for c in names}} for i, sid in enumerate(ids)]


def _clean(obj: Any) -> Any:
    """Make ``obj`` strict JSON: NaN/inf become null, numpy scalars Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


def _p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def format_summary(r: dict[str, Any], args: argparse.Namespace) -> str:
    """A readable summary in the spirit of metafor's ``print.rma.uni``."""
    kind = "Equal-Effects" if r["method"] == "EE" else "Random-Effects"
    est_name = "" if r["method"] == "EE" else f"; tau^2 estimator: {r['method']}"
    lines = [f"{kind} Model (k = {r['k']}{est_name})", ""]
    if r["method"] != "EE":
        ci = ""
        if r.get("tau2_ci_lb") is not None:
            ci = f" [95% CI {_f(r['tau2_ci_lb'])}, {_f(r['tau2_ci_ub'])}]"
        lines += [
            f"tau^2 (estimated amount of total heterogeneity): {_f(r['tau2'])}{ci}",
            f"tau (square root of estimated tau^2 value):      {_f(math.sqrt(r['tau2']))}",
        ]
    lines += [
        f"I^2 (total heterogeneity / total variability):   {_f(r['I2'], 2)}%",
        f"H^2 (total variability / sampling variability):  {_f(r['H2'], 2)}",
        "",
        "Test for Heterogeneity:",
        f"Q(df = {r['Q_df']}) = {_f(r['Q'])}, p-val {_p(r['Q_pval'])}",
        "",
        "Model Results:",
        "",
        f"{'estimate':>9} {'se':>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}",
        f"{_f(r['estimate']):>9} {_f(r['se']):>8} {_p(r['pval']):>8} {_f(r['ci_lb']):>9} {_f(r['ci_ub']):>9}",
        "",
        f"Prediction interval: [{_f(r['pi_lb'])}, {_f(r['pi_ub'])}]"
        + ("  (t-based, Knapp-Hartung)" if r["test"] == "knha" else ""),
    ]
    if "egger" in r:
        e = r["egger"]
        lines += ["", "Egger's regression test for funnel plot asymmetry (predictor: sei):",
                  f"  test statistic = {_f(e['z'])}, p = {_p(e['pval'])}; "
                  f"limit estimate = {_f(e['limit_estimate'])}"]  # fmt: skip
    if "trimfill" in r:
        t = r["trimfill"]
        lines += ["", f"Trim-and-fill: {t['k0']} study(ies) filled on the {t['side']} side;",
                  f"  adjusted estimate {_f(t['estimate'])} "
                  f"[{_f(t['ci_lb'])}, {_f(t['ci_ub'])}], tau^2 = {_f(t['tau2'])}"]  # fmt: skip
    for key, title in (("leave1out", "Leave-one-out (study omitted)"),
                       ("cumulative", f"Cumulative by {args.cumulative_by} (study added)")):  # fmt: skip
        if key in r:
            lines += ["", f"{title}:", f"{'study':>12} {'estimate':>9} {'ci.lb':>9} {'ci.ub':>9}"]
            lines += [
                f"{str(row['study_id'])[:12]:>12} {_f(row['estimate']):>9} "
                f"{_f(row['ci_lb']):>9} {_f(row['ci_ub']):>9}"
                for row in r[key]
            ]
    if "metareg" in r:
        m = r["metareg"]
        lines += ["", "Meta-regression (mixed-effects):",
                  f"{'':>16} {'estimate':>9} {'se':>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}"]  # fmt: skip
        for i, name in enumerate(m["coef_names"]):
            lines.append(
                f"{name[:16]:>16} {_f(m['b'][i]):>9} {_f(m['se'][i]):>8} {_p(m['pval'][i]):>8} "
                f"{_f(m['ci_lb'][i]):>9} {_f(m['ci_ub'][i]):>9}"
            )
        r2 = "NA" if m["R2"] is None else f"{m['R2']:.2f}%"
        lines += [f"QM = {_f(m['QM'])}, p = {_p(m['QM_pval'])}; residual tau^2 = "
                  f"{_f(m['tau2'])}; R^2 = {r2}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``main(["meta", "data.csv", "--json"])`` (``meta`` optional)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "meta":
        argv = ["meta", *argv]
    parser = argparse.ArgumentParser(prog=Path(sys.argv[0]).name or "livingreview")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    code = main()
    gc.freeze()  # exit without a final collection of every object numpy and scipy made
    raise SystemExit(code)
