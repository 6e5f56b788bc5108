"""Benchmark of livingreview.meta: REML at k = 5,000 and 100,000, leave-one-out REML at k = 500.

Run from the repository root:  python bench/bench_meta.py [--repeats N]

Prints best and median wall time of N in-process calls, peak memory (tracemalloc), a
consistency check of each result and, when ``pymare`` is importable, PyMARE's time on the same
data in the same run. Agreement with metafor itself is established by the reference tests
(tests/test_meta_reference.py); running metafor here would take minutes (figures below).
This is a benchmark, not a test: it never fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from livingreview.meta import Control, rma
from livingreview.meta_intercept import Workspace
from livingreview.meta_sensitivity import leave1out
from livingreview.meta_tau2 import estimate_tau2

# Reference figures on this machine (seconds), from the task brief.
METAFOR_3_8 = {"reml_5000": 290.0, "loo_500": 99.0}
PYMARE_0_0_13 = {"reml_5000": 0.008, "reml_100000": 0.100, "loo_500": 2.9}
TARGETS = {"reml_5000": 0.0005, "reml_100000": 0.005, "loo_500": 0.050}


def make_data(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic log-odds-ratio-like data with true tau² = 0.04."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.005, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.04))
    return yi, vi


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Best and median wall time (s) of ``repeats`` calls after one warm-up call."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def peak_memory(fn: Callable[[], Any]) -> float:
    """Peak allocation (MiB) of one cold call (retained work buffers dropped first)."""
    Workspace._local.base = None
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def pymare_reml(yi: np.ndarray, vi: np.ndarray) -> tuple[float, float]:
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    est = VarianceBasedLikelihoodEstimator(method="REML")
    est.fit(y=yi[:, None], v=vi[:, None], X=np.ones((yi.size, 1)))
    return float(est.params_["fe_params"].ravel()[0]), float(est.params_["tau2"].ravel()[0])


def pymare_loo(yi: np.ndarray, vi: np.ndarray) -> list[tuple[float, float]]:
    keep = np.ones(yi.size, dtype=bool)
    out = []
    for i in range(yi.size):
        keep[i] = False
        out.append(pymare_reml(yi[keep], vi[keep]))
        keep[i] = True
    return out


def fmt(sec: float) -> str:
    return f"{sec * 1e3:9.3f} ms" if sec < 1 else f"{sec:9.3f} s "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per case")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    try:
        import pymare  # noqa: F401

        have_pymare = True
    except ImportError:
        have_pymare = False

    y5, v5 = make_data(5_000, 1)
    y100, v100 = make_data(100_000, 2)
    y500, v500 = make_data(500, 3)
    fit500 = rma(y500, v500)
    cases: dict[str, Callable[[], Any]] = {
        "reml_5000": lambda: rma(y5, v5),
        "reml_100000": lambda: rma(y100, v100),
        "loo_500": lambda: leave1out(fit500),
    }
    titles = {
        "reml_5000": "REML fit, k = 5,000",
        "reml_100000": "REML fit, k = 100,000",
        "loo_500": "leave-one-out REML, k = 500 (500 fits)",
    }
    print("livingreview.meta benchmark (in-process; best and median of", args.repeats, "calls)")
    print(f"{'case':40} {'best':>12} {'median':>12} {'target':>10} {'peak mem':>10}")
    results: dict[str, float] = {}
    for key, fn in cases.items():
        reps = max(3, args.repeats // 5) if key == "loo_500" else args.repeats
        best, med, _ = timed(fn, reps)
        results[key] = best
        mem = peak_memory(fn)
        ok = "ok" if best <= TARGETS[key] else "MISSED"
        print(f"{titles[key]:40} {fmt(best):>12} {fmt(med):>12} {fmt(TARGETS[key]):>10} "
              f"{mem:7.1f} MiB  {ok}")  # fmt: skip

    cold = []
    for _ in range(5):
        Workspace._local.base = None  # forget the retained buffers: a first call at this k
        t0 = time.perf_counter()
        rma(y100, v100)
        cold.append(time.perf_counter() - t0)
    print(f"{'  same, first call at a new k (cold)':40} {fmt(min(cold)):>12} "
          f"{fmt(statistics.median(cold)):>12}")  # fmt: skip

    print("\nMemory: single fits keep O(k) buffers (three length-k work arrays, no k×k matrix);")
    print("leave-one-out works on blocks of fits × studies (≤ 2^20 doubles = 8 MiB per array).")

    print("\nConsistency (same data, independent code paths):")
    tight = Control(threshold=1e-12)
    fast = rma(y5, v5, control=tight)
    general = estimate_tau2(y5 - y5.mean(), v5, np.ones((y5.size, 1)), 1, "REML", tight)
    print(f"  k=5,000: fast-path tau² vs general X-matrix path: rel. diff "
          f"{abs(fast.tau2 - general.tau2) / general.tau2:.1e}")  # fmt: skip
    loo = leave1out(rma(y500, v500, control=tight))
    worst = 0.0
    for i in (0, 123, 499):
        ref = rma(np.delete(y500, i), np.delete(v500, i), control=tight)
        for col, val in (("estimate", ref.estimate), ("tau2", ref.tau2), ("se", ref.se[0])):
            worst = max(worst, abs(loo[col][i] - val) / abs(val))
    print(f"  k=500 leave-one-out: vectorised vs one-at-a-time refits: worst rel. diff {worst:.1e}")
    print("  (agreement with metafor 3.8 to <1e-8: see tests/test_meta_reference.py)")

    print("\nReference figures (this machine): metafor 3.8: REML k=5,000 ≈ 290 s, leave-one-out")
    print("k=500 ≈ 99 s; PyMARE 0.0.13: ≈ 8 ms (k=5,000), 100 ms (k=100,000), 2.9 s (LOO k=500).")
    print(f"{'case':40} {'vs metafor (ref)':>18} {'vs PyMARE (ref)':>16} {'PyMARE now':>12} "
          f"{'ratio now':>10}")  # fmt: skip
    for key in cases:
        mf = f"{METAFOR_3_8[key] / results[key]:,.0f}x" if key in METAFOR_3_8 else "-"
        pm_ref = f"{PYMARE_0_0_13[key] / results[key]:,.0f}x"
        now = ratio = "-"
        if have_pymare:
            if key == "loo_500":
                pm_best, _, _ = timed(lambda: pymare_loo(y500, v500), 1)
            else:
                y, v = (y5, v5) if key == "reml_5000" else (y100, v100)
                pm_best, _, _ = timed(lambda y=y, v=v: pymare_reml(y, v), 10)
            now, ratio = fmt(pm_best), f"{pm_best / results[key]:,.0f}x"
        print(f"{titles[key]:40} {mf:>18} {pm_ref:>16} {now:>12} {ratio:>10}")
    if have_pymare:
        est, tau2 = pymare_reml(y5, v5)
        print(f"\nPyMARE vs ours, k=5,000: estimate diff {abs(est - fast.estimate):.1e}, "
              f"tau² rel. diff {abs(tau2 - fast.tau2) / fast.tau2:.1e}")  # fmt: skip
    else:
        print("\nPyMARE not importable: 'PyMARE now' column skipped (pip install pymare).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
