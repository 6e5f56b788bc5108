"""Fast path for intercept-only models: weighted sums over preallocated buffers.

For X = 1 every quantity metafor forms from the k×k matrix P reduces to a handful of weighted
sums (Σw, Σw², Σw³, Σwy and residual sums); :class:`Sums` computes them in about ten passes
over the data without allocating new length-k arrays, which is what makes k = 100,000 fast.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from livingreview.meta_core import Control, FArray


class Workspace:
    """Three length-k work buffers.

    :meth:`get` hands out views of per-thread buffers that are kept between calls: fresh
    large arrays cost a page fault per 4 KiB on first touch (about 1 ms at k = 100,000),
    more than the arithmetic. The retained memory is 24 bytes per study of the largest k seen.
    """

    _local = threading.local()

    def __init__(self, k: int, base: FArray | None = None) -> None:
        base = np.empty((3, k)) if base is None else base
        self.w, self.w2, self.r = base[0, :k], base[1, :k], base[2, :k]

    @classmethod
    def get(cls, k: int) -> Workspace:
        """A workspace for k studies backed by this thread's retained buffers."""
        base = getattr(cls._local, "base", None)
        if base is None or base.shape[1] < k:
            base = cls._local.base = np.empty((3, k))
        return cls(k, base)


@dataclass(frozen=True)
class Sums:
    """Weighted sums at one tau² with w = 1/(v + tau²)."""

    tau2: float
    sw: float
    sw2: float
    sw3: float
    mu: float
    rss: float  # Σ w (y − μ)² = y'Py
    ypp: float  # Σ w² (y − μ)² = y'PPy

    @property
    def tr_p(self) -> float:
        return self.sw - self.sw2 / self.sw

    @property
    def tr_pp(self) -> float:
        """Σ P_ij² for the intercept-only P."""
        return self.sw2 - 2.0 * self.sw3 / self.sw + (self.sw2 / self.sw) ** 2


def sums(y: FArray, v: FArray, tau2: float, ws: Workspace, rss: bool = True) -> Sums:
    """Weighted sums at ``tau2`` (buffers of ``ws`` are overwritten; ``rss=False`` skips Σwr²)."""
    w, w2, r = ws.w, ws.w2, ws.r
    if tau2 == 0.0:
        np.divide(1.0, v, out=w)
    else:
        np.add(v, tau2, out=w)
        np.divide(1.0, w, out=w)
    sw = float(w.sum())
    np.multiply(w, w, out=w2)
    sw2 = float(w @ w)
    sw3 = float(w2 @ w)
    mu = float(w @ y) / sw if y.size > 1 else float(y[0])
    np.subtract(y, mu, out=r)
    np.multiply(r, r, out=r)
    return Sums(tau2, sw, sw2, sw3, mu, float(w @ r) if rss else math.nan, float(w2 @ r))


def fisher_intercept(
    y: FArray, v: FArray, reml: bool, control: Control, ws: Workspace, start: float
) -> tuple[float, int, bool]:
    """REML/ML Fisher scoring from ``start`` with metafor's step halving and stopping rule."""
    tau2 = start
    change = control.threshold + 1
    it = 0
    while change > control.threshold:
        it += 1
        old = tau2
        s = sums(y, v, tau2, ws, rss=False)
        adj = ((s.ypp - s.tr_p) / s.tr_pp if reml else (s.ypp - s.sw) / s.sw2) * control.stepadj
        if math.isnan(adj) or (tau2 == 0.0 and adj < 0):
            adj = 0.0
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > control.maxiter:
            return tau2, it, False
    return tau2, it, True


def final_sums(
    y: FArray, v: FArray, tau2: float, ws: Workspace, reml: bool | None = None
) -> tuple[Sums, Sums, float]:
    """Sums at tau² and at 0, and ll(0) − ll(tau²) (NaN unless ``reml`` is given).

    The log-likelihood difference is metafor's check for a local maximum; constants cancel,
    and Σ log(v + τ²) − Σ log v is taken as Σ log1p(τ²/v).
    """
    at = sums(y, v, tau2, ws)
    zero = sums(y, v, 0.0, ws) if tau2 != 0.0 else at  # leaves ws.w = 1/v
    gap = math.nan
    if reml is not None and tau2 != 0.0:
        np.multiply(ws.w, tau2, out=ws.r)
        logdet = float(np.log1p(ws.r, out=ws.r).sum())
        gap = 0.5 * logdet + 0.5 * (at.rss - zero.rss)
        if reml:
            gap += 0.5 * (math.log(at.sw) - math.log(zero.sw))
    return at, zero, gap
