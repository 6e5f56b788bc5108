"""Benchmark of livingreview.meta.models against a minimal numpy fit, PyMARE and statsmodels, same run.

Run from the repository root:  PYTHONPATH=analysis python bench/bench_meta.py [--repeats N]

Every case runs in-process, best of N calls (the machine may be shared: the load average and
CPU times are printed; ours and the minimal fit are called alternately), once with a single
BLAS thread and once with the default threads (threadpoolctl).
Targets (issue 13): REML + Knapp–Hartung within 1.3× of :func:`minimal_reml_knha` (the same
semantics in a few lines of numpy) at k = 100 … 1,000,000; leave-one-out k = 500 ≤ 15 ms and
k = 2,000 ≤ 150 ms with peak memory ≤ 30 MiB; cumulative k = 500 ≤ 20 ms; no slowdown from
threaded BLAS at k = 1,000,000; cold start of ``livingreview meta`` ≤ 3× ``import numpy``.
This is a benchmark, not a test: it never fails on time.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from livingreview.meta.fisher import Workspace
from livingreview.meta.models import rma
from livingreview.meta.sensitivity import cumulative_columns, leave1out_columns
from scipy import special
from threadpoolctl import threadpool_info, threadpool_limits

SIZES = (100, 1_000, 5_000, 100_000, 1_000_000)


def make_data(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic log-odds-ratio-like data with true tau² = 0.04."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.005, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.04))
    return yi, vi


def minimal_reml_knha(y: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """REML + Knapp–Hartung with the engine's semantics, written plainly: finite/positive check,
    centring, HE start, scoring steps (Newton's where the observed information exceeds half the
    expected one) with step halving and the exact stop at 0, relative change 1e-13, ll(0)
    check, and the same outputs (estimate, se, t CI and PI, p, Q and its p, I², H²)."""
    if not (np.isfinite(y.sum()) and np.isfinite(v.sum()) and v.min() > 0):
        raise ValueError("bad input")
    k = y.size
    ybar = y.mean()
    yc = y - ybar
    atol = 1e-16 * math.sqrt(v.min() * v.max())
    t = max(0.0, (yc @ yc - v.sum() * (1 - 1 / k)) / (k - 1))

    def score(t: float) -> tuple[float, float, float]:
        w = 1 / (v + t)
        sw = w.sum()
        wr = w * (yc - (w @ yc) / sw)
        w2 = w * w
        sw2 = w2.sum()
        w2r = wr * w
        trpp = sw2 - 2 * (w2 @ w) / sw + (sw2 / sw) ** 2
        sw2r = w2r.sum()
        return wr @ wr - (sw - sw2 / sw), trpp, 2 * (w2r @ wr - sw2r * sw2r / sw) - trpp

    while True:
        u, i, j = score(t)
        adj = u / j if j > 0.5 * i else u / i
        if t == 0 and adj < 0:
            adj = 0.0
        if t + adj < 0 and score(0.0)[0] <= 0:
            adj = -t
        while t + adj < 0:
            adj /= 2
        new = t + adj
        done = abs(new - t) <= 1e-13 * new + atol
        t = new
        if done:
            break
    w0 = 1 / v
    sw0 = w0.sum()
    r0 = yc - (w0 @ yc) / sw0
    q = (w0 * r0) @ r0
    w = 1 / (v + t)
    sw = w.sum()
    mu = (w @ yc) / sw
    r = yc - mu
    if t > 0:  # ll(0) − ll(tau²) > 1e-9: tau² = 0
        gap = 0.5 * np.log1p(t * w0).sum() + 0.5 * ((w * r) @ r - q) + 0.5 * (math.log(sw) - math.log(sw0))
        if gap > 1e-9:
            t, w, sw = 0.0, w0, sw0
            mu = (w @ yc) / sw
            r = yc - mu
    se = math.sqrt((w * r) @ r / (k - 1) / sw)
    crit = -special.stdtrit(k - 1, 0.025)
    est = ybar + mu
    vt = (k - 1) / (sw0 - (w0 @ w0) / sw0)
    spi = math.sqrt(se * se + t)
    return {"estimate": est, "se": se, "ci_lb": est - crit * se, "ci_ub": est + crit * se, "tau2": t,
            "pval": 2 * special.stdtr(k - 1, -abs(est / se)), "Q": q, "Qp": special.chdtrc(k - 1, q),
            "I2": 100 * t / (vt + t), "H2": t / vt + 1, "pi_lb": est - crit * spi,
            "pi_ub": est + crit * spi}  # fmt: skip


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeats`` calls after one warm-up call.

    CPU time well below wall time means the process waited for the CPU (a loaded machine)."""
    fn()
    runs = []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(runs)


def paired(fa: Callable[[], Any], fb: Callable[[], Any], repeats: int) -> tuple[tuple[float, float], ...]:
    """:func:`timed` for two functions with their calls alternated, so that both see the same
    machine (a shared machine's load and clock change within seconds)."""
    fa(), fb()
    ra, rb = [], []
    for _ in range(repeats):
        ra.append(timed(fa, 1))
        rb.append(timed(fb, 1))
    return min(ra), min(rb)


def best(fn: Callable[[], Any], repeats: int) -> float:
    """Wall seconds of the fastest call (see :func:`timed`)."""
    return timed(fn, repeats)[0]


def peak_mib(fn: Callable[[], Any]) -> float:
    Workspace.release()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def ms(sec: float) -> str:
    return f"{sec * 1e3:10.3f} ms"


def pymare_reml(y: np.ndarray, v: np.ndarray) -> float:
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    est = VarianceBasedLikelihoodEstimator(method="REML")
    est.fit(y=y[:, None], v=v[:, None], X=np.ones((y.size, 1)))
    return float(est.params_["tau2"].ravel()[0])


def statsmodels_pm(y: np.ndarray, v: np.ndarray) -> float:
    from statsmodels.stats.meta_analysis import combine_effects

    return float(combine_effects(y, v, method_re="pm").tau2)


def single_fits(repeats: int) -> None:
    print("\nREML + Knapp–Hartung, one fit: ours vs the minimal numpy fit (target ≤ 1.3×)")
    head = ("k", "BLAS", "ours", "(CPU)", "minimal", "(CPU)", "ratio")
    print(" ".join(f"{h:>{n}}" for h, n in zip(head, (10, 8, 13, 13, 13, 13, 7), strict=True)), " check")
    data = {k: make_data(k, k) for k in SIZES}
    for k in SIZES:
        y, v = data[k]
        reps = repeats if k <= 100_000 else max(3, repeats // 10)
        for label, limit in (("1 thread", 1), ("default", None)):
            with threadpool_limits(limits=limit):
                (ours, ours_cpu), (mini, mini_cpu) = paired(
                    lambda y=y, v=v: rma(y, v, test="knha"), lambda y=y, v=v: minimal_reml_knha(y, v), reps
                )
            fit, m = rma(y, v, test="knha"), minimal_reml_knha(y, v)
            same = abs(fit.tau2 - m["tau2"]) <= 1e-11 * m["tau2"] and abs(
                fit.ci_lb[0] - m["ci_lb"]
            ) <= 1e-11 * abs(m["ci_lb"])
            flag = "ok" if ours <= 1.3 * mini else "MISSED"
            times = f"{ms(ours)} {ms(ours_cpu)} {ms(mini)} {ms(mini_cpu)}"
            print(f"{k:>10,} {label:>8} {times} {ours / mini:6.2f}x  "
                  f"{'same answer' if same else 'DIFFERENT'} {flag}")  # fmt: skip
    y, v = data[1_000_000]
    with threadpool_limits(limits=1):
        one = best(lambda: rma(y, v, test="knha"), 3)
    many = best(lambda: rma(y, v, test="knha"), 3)
    print(f"k = 1,000,000: default threads / single thread = {many / one:.2f} (target ≤ 1.1: no slowdown)")


def batches(repeats: int) -> None:
    print("\nLeave-one-out and cumulative REML (all k fits), best of", repeats)
    for what, k, target, fn in (("leave-one-out", 500, 0.015, leave1out_columns),
                                ("leave-one-out", 2_000, 0.150, leave1out_columns),
                                ("cumulative", 500, 0.020, cumulative_columns)):  # fmt: skip
        y, v = make_data(k, 7 + k)
        fit = rma(y, v)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t1, c1 = timed(lambda fit=fit, fn=fn: fn(fit), repeats)
            with threadpool_limits(limits=1):
                t_one, c_one = timed(lambda fit=fit, fn=fn: fn(fit), repeats)
            mem = peak_mib(lambda fit=fit, fn=fn: fn(fit))
        flag = "ok" if min(t1, t_one) <= target and (what != "leave-one-out" or mem <= 30) else "MISSED"
        print(f"  {what:14} k = {k:>5,}: {ms(t_one)} (1 thread; CPU {ms(c_one)}) {ms(t1)} (default; "
              f"CPU {ms(c1)})  target {ms(target)}  peak {mem:5.1f} MiB  {flag}")  # fmt: skip


def others() -> None:
    print("\nOther libraries, same data, same run (their time / ours; best of 5):")
    for k in (5_000, 100_000):
        y, v = make_data(k, k)
        ours = best(lambda y=y, v=v: rma(y, v), 5)
        try:
            pm = best(lambda y=y, v=v: pymare_reml(y, v), 5)
            print(f"  PyMARE REML        k = {k:>7,}: {ms(pm)} vs {ms(ours)}  ratio {pm / ours:6.1f}x  "
                  f"tau² rel. diff {abs(pymare_reml(y, v) / rma(y, v).tau2 - 1):.0e}")  # fmt: skip
        except ImportError:
            print("  PyMARE not importable")
        ours_pm = best(lambda y=y, v=v: rma(y, v, method="PM"), 5)
        try:
            sm = best(lambda y=y, v=v: statsmodels_pm(y, v), 5)
            print(
                f"  statsmodels PM     k = {k:>7,}: {ms(sm)} vs {ms(ours_pm)}  ratio {sm / ours_pm:6.1f}x  "
                f"tau² rel. diff {abs(statsmodels_pm(y, v) / rma(y, v, method='PM').tau2 - 1):.0e}"
            )
        except ImportError:
            print("  statsmodels not importable")


def cold_start(repeats: int = 15) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "analysis")}
    # Bytecode cached as for an installed package (pip compiles it on install): containers often
    # set PYTHONDONTWRITEBYTECODE=1, under which every run would compile the engine's modules again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    y, v = make_data(20, 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        path.write_text(
            "yi,vi\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(y, v, strict=True)),
            encoding="utf-8",
        )
        cmds = {
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            # the floor: the engine needs scipy.special's distribution functions
            "python -c 'import numpy, scipy.special'": [sys.executable, "-c", "import numpy, scipy.special"],
            "python -m livingreview.meta.cli F --json":
                [sys.executable, "-m", "livingreview.meta.cli", str(path), "--json"],
            "python -m livingreview meta F --json":
                [sys.executable, "-m", "livingreview", "meta", str(path), "--json"],
        }  # fmt: skip
        # The installed command, as a user types it in a virtual environment: the console script
        # beside this interpreter. (What PATH finds first may be a version manager's shim, such as
        # pyenv's bash script, whose own start-up is not the project's.)
        script = Path(sys.executable).with_name("livingreview")
        if not script.is_file():
            script = Path(shutil.which("livingreview") or "")
        if script.is_file():
            cmds["livingreview meta F --json"] = [str(script), "meta", str(path), "--json"]
        runs: dict[str, list[float]] = {name: [] for name in cmds}
        for cmd in cmds.values():  # caches the bytecode (and warms the file cache) before timing
            subprocess.run(cmd, env=env, capture_output=True, check=True)
        for _ in range(repeats):  # interleaved, so that every command sees the same machine
            for name, cmd in cmds.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                runs[name].append(time.perf_counter() - t0)
        times = {name: min(values) for name, values in runs.items()}
        probe = (
            "import sys, runpy; sys.argv = ['x', %r, '--json']; import livingreview.meta.cli as m; m.main(); "
            "print(sorted(n for n in ('pandas', 'scipy.stats', 'matplotlib') if n in sys.modules), "
            "file=sys.stderr)"
        )
        proc = subprocess.run(
            [sys.executable, "-c", probe % str(path)], env=env, capture_output=True, text=True
        )
    base = times["python -c 'import numpy'"]
    print(f"\nCold start (best of {repeats} processes each, interleaved; target ≤ 3× import numpy):")
    for name, t in times.items():
        print(f"  {name:44} {ms(t)}  {t / base:5.2f}x")
    print(f"  heavy modules loaded by the meta command: {proc.stderr.strip() or proc.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per case")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    blas = [
        f"{i['internal_api']} {i.get('version', '')} ({i['num_threads']} threads)" for i in threadpool_info()
    ]
    print(f"livingreview.meta benchmark — {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"(shared machine), BLAS: {', '.join(blas)}")  # fmt: skip
    single_fits(args.repeats)
    batches(max(3, args.repeats // 2))
    others()
    cold_start()
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}; process CPU {time.process_time():.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
