"""Leave-one-out sums in O(k) per fit batch: sums over all studies less each fit's own term.

At one tau² (t0) every leave-one-out fit's weighted moments Σ_{j≠i} w_j^q y_j^p are the
moments over all k studies less study i's term. Near t0 they follow from the same moments by
the Taylor series of w = w0 / (1 + δ·w0), δ = tau² − t0:

    w^a = w0^a · Σ_n C(n + a − 1, n) (−δ·w0)^n,

so a fit's sums at its own tau² cost O(terms), not O(k): the series of the sums over all
studies less the left-out study's own term. It is used where that is exact to rounding:
|δ|·max w0 ≤ 1/4 (enough terms are taken that the remainder is below 2^-56 of the sum), and not
for a fit whose own term is over half of one of its sums Σ w^a |y|^p (a ≤ 3; the subtraction
would lose digits). The caller sums those fits directly.
"""

from __future__ import annotations

import math

import numpy as np

from livingreview.meta.core import FArray

RHO = 0.25  # largest |δ|·max w0 the series is used for
TINY = 2.0**-56  # the series' remainder, relative to its sum


def _remainder(n: int, rho: float) -> float:
    """Bound on Σ_{m≥n} C(m + 2, 2) rho^m (the remainder of w³'s series after n terms)."""
    return math.comb(n + 2, 2) * rho**n / (1.0 - rho) ** 3


TERMS = next(n for n in range(1, 200) if _remainder(n, RHO) <= TINY)  # 34
ORDER = 3 + TERMS  # powers of w0 whose sums the series needs


class Expansion:
    """The moments of all studies at ``t0`` and which leave-one-out fits may be downdated."""

    def __init__(self, y: FArray, v: FArray, omit: FArray, t0: float, order: int = ORDER) -> None:
        self.v, self.omit, self.t0 = v, omit, t0
        w0 = 1.0 / (v + t0)
        self.wmax = wmax = float(w0.max())
        u = w0 / wmax  # in (0, 1]: powers up to ``order`` cannot overflow
        self.Y = Y = np.empty((y.size, 3))
        Y[:, 0], Y[:, 1], Y[:, 2] = 1.0, y, y * y
        P = np.empty((order, y.size))
        P[0] = u
        for q in range(1, order):
            np.multiply(P[q - 1], u, out=P[q])
        self.full = P @ Y  # full[q − 1, p] = Σ_j u_j^q y_j^p
        A = np.abs(Y)
        with np.errstate(invalid="ignore"):  # 0/0 where a column is all zero: no digits to lose
            share = P[:3].T[:, :, None] * A[:, None, :] / (P[:3] @ A)[None]  # study j's part of Σ w^a y^p
        self.usable = ~(share[omit] > 0.5).any(axis=(1, 2))
        logs = np.log1p(t0 / v) if t0 else np.zeros(v.size)  # log(1 + t0/v_j)
        self.total = math.fsum(logs)
        self.usable &= logs[omit] <= 0.5 * self.total

    def near(self, tau2: FArray, fits: FArray) -> FArray:
        """Where the series is exact for the fits ``fits`` at ``tau2``."""
        return self.usable[fits] & (np.abs(tau2 - self.t0) * self.wmax <= RHO)

    def _powers(self, tau2: FArray, n: int, first: int = 0) -> FArray:
        """z^first … z^(first + n − 1) per fit, z = −(tau² − t0)·max w0, with n large enough that
        the series' remainder is below 2^-56 of the sum."""
        z = (self.t0 - tau2) * self.wmax
        rho = float(np.max(np.abs(z), initial=0.0))
        while n < TERMS and _remainder(n, rho) > TINY:
            n += 1
        out = np.empty((z.size, n))
        out[:, 0] = z if first else 1.0
        for i in range(1, n):
            np.multiply(out[:, i - 1], z, out=out[:, i])
        return out

    def moments(self, tau2: FArray, fits: FArray) -> tuple[FArray, FArray, FArray]:
        """(m1, m2, m3) of each fit at its tau²: m_a[:, p] = Σ_{j≠i} w_j^a y_j^p, the series of
        the sums over all studies less the left-out study's own term at the same tau²."""
        powers = self._powers(tau2, 1)
        n = powers.shape[1]
        left = self.omit[fits]
        w = 1.0 / (self.v[left] + tau2)
        Y = self.Y[left]
        out = []
        own = w
        for a in (1, 2, 3):
            coef = np.array([math.comb(i + a - 1, i) for i in range(n)])
            every = (powers * coef) @ self.full[a - 1 : a - 1 + n] * self.wmax**a
            out.append(every - own[:, None] * Y)
            own = own * w
        return out[0], out[1], out[2]

    def logdet(self, tau2: FArray, fits: FArray) -> FArray:
        """Σ_{j≠i} log(1 + tau²/v_j) of each fit: at t0 plus the series of Σ_j log(1 + δ·w0_j),
        less the left-out study's own term."""
        powers = self._powers(tau2, 3, first=1)  # z^m, m = 1..n
        n = powers.shape[1]
        left = self.omit[fits]
        every = self.total - (powers / np.arange(1, n + 1)) @ self.full[:n, 0]
        return every - np.log1p(tau2 / self.v[left])


__all__ = ["Expansion", "RHO"]
