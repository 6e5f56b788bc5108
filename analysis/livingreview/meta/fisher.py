"""The engine's single numerical core: weighted sums, Fisher scoring, start value and tau² = 0 check.

Every REML/ML fit — a single model, a meta-regression, all leave-one-out fits, all cumulative
fits — runs :func:`fisher` on a *model* that supplies the score and information at given tau²
values. Intercept-only models are :class:`Fits`: one fit over all studies (``tau2`` and the
sums Python floats, 1-D work arrays) or a batch of fits over subsets of the studies (``tau2``
an array, one row of weights per fit). :class:`Regression` is the same for a design matrix X
(p×p algebra only). The start value is Hedges' (HE) estimate, which scales with the data; the
stopping rule is relative under exact control and metafor's absolute rule under
``Control.metafor()``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from livingreview.meta.core import EPS, MAX_Z, Control, Extent, FArray, InputError, wls
from livingreview.meta.downdate import Expansion

BIG = 1 << 15  # from this length on, 1-D products avoid BLAS ddot (threads slow it down)
BLOCK = 1 << 16  # fits × studies per block of a batch (three work arrays of 512 KiB)
MASKED = 1 << 20  # cumulative fits × studies up to which their 0/1 mask (8 MiB) is kept
# Exact control also stops where a Newton step of at most STALL × tau² is no smaller than half the
# step before it: Newton's steps shrink quadratically until the score's rounding (about 1e-12 of
# it where one study holds most of the weight) makes them wander; tau² is then the root to that.
STALL = 1e-10
ZERO_CHECK_TOL = 1e-9  # exact control: ll(0) − ll(tau²) above rounding means tau² is not the max
# ndarray.sum/min/max without their Python-level wrappers (numpy._core._methods): the same reductions
_sum, _min, _max = np.add.reduce, np.minimum.reduce, np.maximum.reduce
# Ufuncs called with positional ``out`` (no keyword parsing): each call is most of a small fit's time
_recip = np.reciprocal  # 1/x, the same correctly rounded quotient as np.divide(1.0, x), at half the cost
_add, _sub, _mul = np.add, np.subtract, np.multiply
_dot = np.ndarray.dot  # 1-D: BLAS ddot as ``a @ b``, the same sum, without matmul's ufunc dispatch


def vdot(a: FArray, b: FArray) -> np.float64:
    """Σ a·b of two 1-D arrays, without BLAS threads for long vectors."""
    return np.einsum("j,j->", a, b) if a.shape[0] >= BIG else _dot(a, b)


def rowdot(a: FArray, b: FArray) -> FArray | np.float64:
    """Σ_j a_ij·b_ij per row (1-D: a scalar)."""
    return vdot(a, b) if a.ndim == 1 else np.einsum("ij,ij->i", a, b)


def matvec(a: FArray, y: FArray) -> FArray | np.float64:
    """Σ_j a_ij·y_j per row (1-D: a scalar)."""
    return vdot(a, y) if a.ndim == 1 else a @ y


class Workspace:
    """Four work arrays of ``shape``, views of per-thread buffers kept between calls.

    Fresh large arrays cost a page fault per 4 KiB on first touch (about 1 ms at k = 100,000),
    more than the arithmetic; the retained memory is 32 bytes per element of the largest shape.
    """

    _local = threading.local()

    def __init__(self, shape: tuple[int, ...]) -> None:
        local = self._local
        base = getattr(local, "base", None)
        last = getattr(local, "last", None)  # (shape, base, views) of the previous workspace
        if last is not None and last[0] == shape and last[1] is base:
            self.w, self.r, self.t, self.u = last[2]
            return
        size = math.prod(shape)
        if base is None or base.shape[1] < size:
            base = local.base = np.empty((4, size))
        views = tuple(base[i, :size].reshape(shape) for i in range(4))
        local.last = (shape, base, views)
        self.w, self.r, self.t, self.u = views

    @classmethod
    def release(cls) -> None:
        """Drop the retained buffers (benchmarks measure first calls this way)."""
        cls._local.base = None


@dataclass(frozen=True)
class Prepared:
    """Outcomes centred at their mean and, where the units are extreme, rescaled by a power of 2.

    yi = shift + 2^e · y and vi = 4^e · v exactly; ``scale`` is the typical variance
    sqrt(min v · max v). Power-of-two rescaling changes no rounding, so results are the same
    as on the raw scale, but sums of weights cannot overflow.
    """

    y: FArray
    v: FArray
    shift: float
    e: int
    scale: float

    @property
    def yscale(self) -> float:
        return math.ldexp(1.0, self.e)

    @property
    def vscale(self) -> float:
        return math.ldexp(1.0, 2 * self.e)


def prepare(y: FArray, v: FArray, exact: bool = True, extent: Extent | None = None) -> Prepared:
    """Centre (and under exact control, for extreme units, rescale) checked data.

    ``extent`` (from :func:`~livingreview.meta.core.check_data`) saves four passes over the data.
    """
    if extent is None:
        extent = Extent(float(_min(y)), float(_max(y)), float(_min(v)), float(_max(v)))
    shift = float(_sum(y)) / y.size  # = y.mean()
    yc = y - shift
    vmin, vmax = extent.vmin, extent.vmax
    mid = 0.5 * (math.log2(vmin) + math.log2(vmax))
    e = round(mid / 2) if exact and abs(mid) > 120 else 0
    # max(yc) = fl(max(y) − shift): rounding is monotone, so the extremes of yc need no pass
    spread = max(extent.ymax - shift, -(extent.ymin - shift)) / math.ldexp(1.0, round(mid / 2))
    if not spread <= MAX_Z:
        i = int(np.argmax(np.abs(yc)))
        raise InputError("yi", i, f"{y[i]:.17g} is too far from the other outcomes for their "
                         f"variances (|yi − mean| / se > {MAX_Z:g}): cannot be fitted exactly")  # fmt: skip
    if e:
        yc = np.ldexp(yc, -e)
        v = np.ldexp(v, -2 * e)
    scale = math.sqrt(vmin) * math.sqrt(vmax) / math.ldexp(1.0, 2 * e)
    return Prepared(yc, v, shift, e, scale)


class Sums(NamedTuple):
    """Weighted sums of each fit at its tau² (w = 1/(v + tau²) over the fit's studies)."""

    sw: Any
    sw2: Any
    sw3: Any  # None unless asked for
    mu: Any
    rss: Any  # Σ w (y − μ)² = y'Py (None unless asked for)
    ypp: Any  # Σ w² (y − μ)² = y'PPy
    yp3: Any = None  # Σ w³ (y − μ)²
    sw2r: Any = None  # Σ w² (y − μ)
    traces: Any = None  # (tr P, tr PP) computed without cancellation where one weight dominates

    @property
    def tr_p(self) -> Any:
        """tr P = Σw − Σw²/Σw of the intercept-only P."""
        return self.sw - self.sw2 / self.sw if self.traces is None else self.traces[0]

    @property
    def tr_pp(self) -> Any:
        """Σ P_ij² of the intercept-only P."""
        if self.traces is not None:
            return self.traces[1]
        return self.sw2 - 2.0 * self.sw3 / self.sw + (self.sw2 / self.sw) ** 2


class Model(Protocol):
    """What :func:`fisher` needs: the score and information, the likelihood gap and a start."""

    def score(self, tau2: Any, rows: FArray | None, reml: bool, newton: bool = False) -> tuple: ...
    def ll_gap(self, tau2: FArray | float, rows: FArray | None, reml: bool) -> FArray | float: ...
    def start(self) -> FArray | float: ...


class Fits:
    """Intercept-only fits over subsets of the studies (y centred; see the module docstring).

    ``omit`` (one index per fit) leaves a study out; ``upto`` (one length per fit) keeps the
    first studies only; neither: a single fit over all k studies with scalar results.
    """

    def __init__(self, y: FArray, v: FArray, omit: FArray | None = None, upto: FArray | None = None) -> None:
        self.y, self.v, self.omit, self.upto = y, v, omit, upto
        k = y.size
        self.single = omit is None and upto is None
        if omit is not None:
            self.n: FArray | int = np.full(omit.size, k - 1)
        elif upto is not None:
            self.n = upto
        else:
            self.n = k
        self.free = k > 1 if self.single else np.asarray(self.n) > 1  # one study: tau² = 0, no iterations
        self._ws: Workspace | None = None
        self._held: Any = None  # the tau² whose weights a single fit's work array w holds
        if omit is None and upto is not None:
            self.upto = np.asarray(upto)
        self._memo: dict[Any, Sums] = {}
        self._zero: Sums | None = None  # a batch's sums at tau² = 0, every fit (computed once)
        self._inv_v = None if self.single else _recip(v)  # 1/v, the weights at tau² = 0
        self._series: Expansion | None = None  # leave-one-out: downdated sums near the first tau²
        self._keep: FArray | None = None  # cumulative fits: which studies each keeps (as 0.0/1.0)
        self._dot: Any = _dot if k < BIG else vdot  # all 1-D products have length k

    def _weights(self, tau2: FArray | np.float64, rows: FArray | None, ws: Workspace) -> FArray:
        w = ws.w
        np.add(self.v[: w.shape[1]], tau2[:, None], out=w)  # type: ignore[index]
        np.divide(1.0, w, out=w)
        assert rows is not None
        return self._mask(w, rows)

    def _mask(self, w: FArray, rows: FArray) -> FArray:
        """Zero the entries of the studies each fit of ``rows`` leaves out."""
        if self.omit is not None:
            w[np.arange(rows.size), self.omit[rows]] = 0.0
            return w
        assert self.upto is not None
        keep = self._keep
        if keep is None and self.upto.size * self.y.size <= MASKED:
            # 1.0 where fit i keeps study j: multiplying by it is a quarter of comparing anew
            keep = self._keep = (np.arange(self.y.size)[None, :] < self.upto[:, None]).astype(float)
        if keep is None:
            w *= np.arange(w.shape[1])[None, :] < self.upto[rows][:, None]
        else:
            np.multiply(w, keep[rows, : w.shape[1]], out=w)
        return w

    def _workspace(self) -> Workspace:
        """The work arrays of a single fit (k values each)."""
        if self._ws is None:
            self._ws = Workspace((self.y.size,))
        return self._ws

    def _blocks(self, rows: FArray) -> list[tuple[FArray, Workspace]]:
        k = self.y.size
        step = max(1, BLOCK // k)
        out = []
        for i in range(0, rows.size, step):
            block = rows[i : i + step]
            cols = k if self.upto is None else int(self.upto[block].max())
            out.append((block, Workspace((block.size, cols))))
        return out

    def sums(
        self,
        tau2: FArray | float,
        rows: FArray | None = None,
        sw3: bool = True,
        rss: bool = True,
        newton: bool = False,
        ypp: bool = True,
    ) -> Sums:
        """Weighted sums at ``tau2`` (one value per row of ``rows``; scalar for a single fit).

        ``sw3``, ``rss``, ``newton`` and ``ypp`` ask for Σw³, Σw r², the Newton terms (Σw³r²,
        Σw²r) and Σw²r² (single fits skip what is not asked for); the last few results are
        remembered, so a later request at the same tau² is free.
        """
        single = self.single
        key = float(tau2) if single else (tau2.tobytes(), rows.tobytes())  # type: ignore[union-attr]
        memo = self._memo
        hit = memo.get(key)
        if (
            hit is not None
            and (hit.sw3 is not None or not sw3)
            and (hit.rss is not None or not rss)
            and (hit.yp3 is not None or not newton)
            and (hit.ypp is not None or not ypp)
        ):
            return hit
        if single:
            out = self._explicit(tau2, sw3, rss, newton, ypp)  # type: ignore[arg-type]
        elif not tau2.any():  # type: ignore[union-attr]  # tau² = 0: rows of the batch's zero sums
            zero = self._zero
            if zero is None:
                every = np.arange(np.asarray(self.n).size)
                zero = self._zero = self._batch(np.zeros(every.size), every)
            assert rows is not None
            out = Sums(*(None if f is None else f[rows] for f in zero))
        else:
            assert rows is not None
            out = self._batch(tau2, rows)  # type: ignore[arg-type]
        if len(memo) >= 8:  # keep the sums of the last eight tau² values asked for
            memo.pop(next(iter(memo)))
        memo[key] = out
        return out

    def _batch(self, tau2: FArray, rows: FArray) -> Sums:
        """A batch's sums (every moment) at ``tau2``, one value per fit of ``rows``.

        Leave-one-out fits are downdated (:mod:`~livingreview.meta.downdate`) where that is
        exact: at one tau² for every fit, and near the first such tau² (the full fit's under
        exact control) for each fit; the rest are summed directly.
        """
        if self.omit is None or rows.size < 3:
            return self._direct(tau2, rows)
        expansion = self._expansion(tau2)
        if expansion is None:
            return self._direct(tau2, rows)
        near = expansion.near(tau2, rows)
        series = Sums(*self._from_moments(*expansion.moments(tau2[near], rows[near]), 0.0))
        if near.all():
            return series
        far = ~near
        direct = self._direct(tau2[far], rows[far])
        merged = []
        for mine, theirs in zip(series, direct, strict=True):
            if mine is None:
                merged.append(None)
                continue
            both = np.empty(rows.size)
            both[near], both[far] = mine, theirs
            merged.append(both)
        return Sums(*merged)

    def _expansion(self, tau2: FArray) -> Expansion | None:
        """The expansion for a call at ``tau2``: the batch's own (made at the first tau² common
        to every fit), or one at a common tau² that differs from it."""
        series = self._series
        if not tau2[0] == _min(tau2) == _max(tau2):
            return series
        t0 = float(tau2[0])
        if series is None:
            series = self._series = Expansion(self.y, self.v, self.omit, t0)  # type: ignore[arg-type]
        return series if series.t0 == t0 else Expansion(self.y, self.v, self.omit, t0, order=3)  # type: ignore[arg-type]

    def _direct(self, tau2: FArray, rows: FArray) -> Sums:
        """A batch's sums from k weights per fit, block by block."""
        parts = []
        off = 0
        for block, ws in self._blocks(rows):
            t = tau2[off : off + block.size]
            off += block.size
            parts.append(self._moments(self._weights(t, block, ws), ws, block))
        if len(parts) == 1:
            return Sums(*parts[0])
        return Sums(*(None if p[0] is None else np.concatenate(p) for p in zip(*parts, strict=True)))

    def _explicit(self, tau2: float, sw3: bool, rss: bool, newton: bool, ypp: bool) -> Sums:
        """One fit: sums over explicit residuals r = y − μ (about ten passes over k values), as
        Python floats (their arithmetic costs a third of numpy scalars')."""
        ws = self._ws or self._workspace()
        y, dot = self.y, self._dot
        w = ws.w
        if tau2 == 0:
            _recip(self.v, w)
        else:
            _recip(_add(self.v, tau2, w), w)
        self._held = tau2
        sw = float(_sum(w))
        mu = dot(w, y) / sw
        r = _sub(y, mu, ws.r)
        wr = _mul(w, r, ws.t)
        s_ypp = float(dot(wr, wr)) if ypp else None
        s_rss = float(dot(wr, r)) if rss else None
        yp3 = sw2r = None
        if newton:
            w2r = _mul(wr, w, ws.r)
            yp3, sw2r = float(dot(w2r, wr)), float(_sum(w2r))
        w2 = _mul(w, w, ws.u)
        sw2 = float(_sum(w2))
        traces = _dominant_traces(w, sw, sw2) if sw2 > 0.25 * sw * sw else None
        s3 = float(dot(w2, w)) if sw3 else None
        # Sums(...) without its Python-level __new__ (a few calls per fit)
        return tuple.__new__(Sums, (sw, sw2, s3, float(mu), s_rss, s_ypp, yp3, sw2r, traces))

    def _moments(self, w: FArray, ws: Workspace, block: FArray) -> tuple:
        """A block of fits: weighted moments of (1, y − c, (y − c)²) by matrix products (BLAS),
        c the mean of the block's first fit, so that residual sums lose no digits to cancellation."""
        cols = w.shape[1]
        y = self.y[:cols]
        c = float(y[: int(self.upto[block[0]])].mean()) if self.upto is not None else 0.0
        d = y - c
        Y = np.empty((cols, 3))
        Y[:, 0], Y[:, 1], Y[:, 2] = 1.0, d, d * d
        m1 = w @ Y
        w2 = np.multiply(w, w, out=ws.u)
        m2 = w2 @ Y
        m3 = np.multiply(w2, w, out=ws.w) @ Y
        return self._from_moments(m1, m2, m3, c)

    @staticmethod
    def _from_moments(m1: FArray, m2: FArray, m3: FArray, c: float) -> tuple:
        """The sums of each fit from its moments m_q = (Σw^q, Σw^q d, Σw^q d²), d = y − c."""
        sw, sw2, sw3 = m1[:, 0], m2[:, 0], m3[:, 0]
        mu = m1[:, 1] / sw  # relative to c
        rss = m1[:, 2] - mu * m1[:, 1]
        ypp = m2[:, 2] - 2 * mu * m2[:, 1] + mu * mu * sw2
        yp3 = m3[:, 2] - 2 * mu * m3[:, 1] + mu * mu * sw3
        sw2r = m2[:, 1] - mu * sw2
        return sw, sw2, sw3, mu + c, rss, ypp, yp3, sw2r, None

    def score(self, tau2: FArray | float, rows: FArray | None, reml: bool, newton: bool = False) -> tuple:
        """(U, I, J): the score, expected and observed information of the (restricted) likelihood,
        each × 2; the Fisher step is U/I, Newton's U/J (J is None unless ``newton``). A single
        fit's iterates are not asked for again, so their sums skip the memo."""
        if self.single:
            s = self._explicit(tau2, reml, False, newton, True)  # type: ignore[arg-type]
        else:
            s = self.sums(tau2, rows, sw3=reml, rss=False, newton=newton)
        info = s.tr_pp if reml else s.sw2
        obs = None
        if newton:
            ypppy = s.yp3 - s.sw2r * s.sw2r / s.sw  # y'PPPy
            obs = 2.0 * ypppy - info
        return s.ypp - (s.tr_p if reml else s.sw), info, obs

    def ll_gap(self, tau2: FArray | float, rows: FArray | None, reml: bool) -> FArray | float:
        """ll(0) − ll(tau²) per fit (constants cancel; Σ log(v + τ²) − Σ log v as Σ log1p)."""
        at = self.sums(tau2, rows, ypp=False)
        self._held = None
        zero = self.sums(tau2 * 0.0, rows, sw3=False, ypp=False)
        log = np.log
        if self.single:
            ws = self._ws or self._workspace()
            w0 = ws.w if self._held == 0 else _recip(self.v, ws.w)  # 1/v if just computed
            x = _mul(w0, tau2, ws.r)
            gap = 0.5 * float(_sum(np.log1p(x, x)))
            log = math.log  # the same libm log as numpy's on a scalar
        else:
            assert rows is not None
            gap = 0.5 * self._logdet(tau2, rows)  # type: ignore[arg-type]
        gap = gap + 0.5 * (at.rss - zero.rss)
        if reml:
            gap = gap + 0.5 * (log(at.sw) - log(zero.sw))
        return gap

    def _logdet(self, tau2: FArray, rows: FArray) -> FArray:
        """Σ log(1 + tau²/v_j) over each fit's studies (downdated where exact, as the sums)."""
        out = np.empty(rows.size)
        todo = np.ones(rows.size, dtype=bool)
        series = self._series if self.omit is not None else None
        if series is not None:
            near = series.near(tau2, rows)
            out[near] = series.logdet(tau2[near], rows[near])
            todo = ~near
        if todo.any():
            tau2, parts, off = tau2[todo], [], 0
            for block, ws in self._blocks(rows[todo]):
                t = tau2[off : off + block.size]
                off += block.size
                x = self._mask(np.multiply(self._inv_v[: ws.r.shape[1]], t[:, None], out=ws.r), block)  # type: ignore[index]
                parts.append(np.log1p(x, out=x).sum(-1))
            out[todo] = np.concatenate(parts)
        return out

    def start(self) -> FArray | float:
        """Hedges' estimate truncated at 0, per fit (O(k) in all: downdated or prefix sums)."""
        y, v = self.y, self.v
        if self.single:
            k = y.size
            d = y - _sum(y) / k
            return max(0.0, float(self._dot(d, d) - _sum(v) * (1.0 - 1.0 / k)) / (k - 1))
        n = np.asarray(self.n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.omit is not None:
                k = y.size
                d = y - y.mean()
                ss = vdot(d, d) - d[self.omit] ** 2 * k / (k - 1)
                sv = v.sum() - v[self.omit]
            else:
                cy, cy2, cv = np.cumsum(y), np.cumsum(y * y), np.cumsum(v)
                last = self.upto - 1  # type: ignore[operator]
                ss = cy2[last] - cy[last] ** 2 / n
                sv = cv[last]
            he = (ss - sv * (1.0 - 1.0 / n)) / (n - 1)
        return np.where(n > 1, np.maximum(0.0, he), 0.0)


class Regression:
    """A meta-regression y = Xβ + u + e (X with intercept column) as a model for :func:`fisher`."""

    def __init__(self, y: FArray, v: FArray, X: FArray) -> None:
        self.y, self.v, self.X = y, v, X

    def score(self, tau2: float, rows: None, reml: bool, newton: bool = False) -> tuple:
        """(U, I, None): score and Fisher information × 2 (no Newton terms for regressions)."""
        fit = wls(self.y, 1.0 / (self.v + tau2), self.X)
        if reml:
            return np.float64(fit.ypp - fit.tr_p()), np.float64(fit.sum_p2()), None
        return np.float64(fit.ypp - float(fit.w.sum())), np.float64(fit.w @ fit.w), None

    def ll_gap(self, tau2: float, rows: None, reml: bool) -> np.float64:
        def ll(t: float) -> float:
            fit = wls(self.y, 1.0 / (self.v + t), self.X)
            out = -0.5 * float(np.log1p(t / self.v).sum()) - 0.5 * fit.rss
            return out - 0.5 * float(np.linalg.slogdet(np.linalg.inv(fit.A))[1]) if reml else out

        return np.float64(ll(0.0) - ll(float(tau2)))

    def start(self) -> np.float64:
        k, p = self.X.shape
        fit = wls(self.y, np.ones(k), self.X)
        tr_pv = float(self.v @ (1.0 - np.broadcast_to(fit.h, self.v.shape)))
        return np.float64(max(0.0, (float(fit.resid @ fit.resid) - tr_pv) / (k - p)))


class Scoring(NamedTuple):
    """Result of :func:`fisher`: tau² per fit, iterations, convergence and tau² = 0 resets."""

    tau2: FArray | float
    iterations: int
    converged: FArray | bool
    reset: FArray | bool


def fisher(model: Model, reml: bool, control: Control, scale: float = 1.0, start: Any = None) -> Scoring:
    """REML (or ML) Fisher scoring with step halving from the HE start, then the tau² = 0 check.

    ``scale`` is the typical sampling variance (exact control's absolute floor is
    ``threshold`` × 1e-3 × scale); ``start`` replaces the HE start (leave-one-out fits under
    exact control start from the full fit's tau², which they differ from by O(1/k)). A step
    that would make tau² negative is halved (metafor);
    under exact control a fit whose score at 0 points down stops exactly at 0 instead, and the
    step is Newton's wherever the observed information exceeds half the expected one: Newton
    converges quadratically where scoring converges linearly (and scoring overshoots where the
    observed information exceeds twice the expected one).
    """
    t = model.start() if start is None else start
    many = isinstance(t, np.ndarray)
    exact, stepadj = control.exact, control.stepadj
    if exact:
        atol, rtol = control.threshold * 1e-3 * scale, control.threshold
    else:
        atol, rtol = control.threshold, 0.0
    if many:
        some, every = np.ndarray.any, np.ndarray.all
        out = t.copy()
        ok: FArray | bool = np.ones(t.size, dtype=bool)
        rows = np.flatnonzero(getattr(model, "free", True) & ok)
        t = out[rows]
    else:  # one fit: Python floats and bools (no reductions, a third of numpy scalars' cost)
        some = every = bool
        t = out = float(t)
        ok, rows = True, None
    last: Any = np.full(t.size, math.inf) if many else math.inf  # each fit's previous step
    it = 0
    while rows is None or rows.size:
        it += 1
        num, den, obs = model.score(t, rows, reml, exact)
        adj = num / den
        near: Any = False
        if obs is not None:  # exact control: Newton's step unless the observed information is small
            near = obs > 0.5 * den
            denom = np.where(near, obs, den) if many else (obs if near else den)
            adj = adj + near * (num / denom - adj)
        adj = adj * stepadj
        adj = adj * ((t != 0) | (adj >= 0))  # at 0 and pointing down: stay
        neg = t + adj < 0
        if some(neg) and exact:
            num0 = model.score(t * 0.0, rows, reml)[0]
            adj = adj - (neg & (num0 <= 0)) * (t + adj)  # lands exactly on 0
            neg = t + adj < 0
        while some(neg):
            adj = adj * (1.0 - 0.5 * neg)
            neg = t + adj < 0
        new = t + adj
        step = abs(new - t)
        conv = step <= atol + rtol * new
        if exact:  # at the root to the score's rounding: Newton's steps stopped shrinking (STALL)
            conv = conv | (near & (step <= STALL * new) & (step >= 0.5 * last))
        if many:
            out[rows] = new  # type: ignore[index]
        else:
            out = new
        if every(conv):
            break
        if it > control.maxiter:
            if many:
                ok[rows[~conv]] = False  # type: ignore[index]
            else:
                ok = False
            break
        if many:
            rows, t, last = rows[~conv], new[~conv], step[~conv]  # type: ignore[index]
        else:
            t, last = new, step
    reset = _zero_check(model, out, ok, reml, control, atol)
    if reset is True:
        out = 0.0
    return Scoring(out, it, ok, reset)


def _zero_check(
    model: Model, tau2: FArray | float, ok: FArray | bool, reml: bool, control: Control, atol: float
) -> FArray | bool:
    """metafor's check for a local maximum: tau² is set to 0 where ll(0) > ll(tau²) + tol."""
    if not control.ll0check:
        return np.zeros(np.size(tau2), dtype=bool) if isinstance(tau2, np.ndarray) else False
    tol = ZERO_CHECK_TOL if control.exact else control.tol
    floor = 0.0 if control.exact else atol
    if isinstance(tau2, np.ndarray):
        rows = np.flatnonzero(ok)  # all rows, so the sums are shared with the inference block
        reset = np.zeros(tau2.size, dtype=bool)
        if np.any(tau2[rows] > floor):
            gap = model.ll_gap(tau2[rows], rows, reml)
            stuck = rows[(gap > tol) & (tau2[rows] > floor)]
            tau2[stuck] = 0.0
            reset[stuck] = True
        return reset
    return bool(ok and tau2 > floor and model.ll_gap(tau2, None, reml) > tol)


def _dominant_traces(w: FArray, sw: float, sw2: float) -> tuple[float, float]:
    """tr P and Σ P_ij² when one weight w_m holds most of Σw (so Σw − Σw²/Σw would cancel).

    With S' = Σ_{i≠m} w_i summed directly: tr P = Σ_i w_i (S − w_i)/S, where S − w_m = S';
    Σ P² = Σ_i w_i² (1 − w_i/S)² + Σ_i w_i² (Σ_{j≠i} w_j²)/S², where Σ_{j≠m} w_j² is summed directly.
    """
    m = int(np.argmax(w))
    wm = float(w[m])
    others = np.delete(w, m)
    s1, s2 = float(others.sum()), float(others @ others)
    q = others / sw
    trp = (wm * s1 + float(others @ (sw - others))) / sw
    own = (wm * s1 / sw) ** 2 + float((others * others) @ ((1.0 - q) ** 2))
    cross = wm * wm * s2 + float((others * others) @ (sw2 - others * others))
    return trp, own + cross / (sw * sw)


__all__ = ["EPS", "Fits", "Regression", "Scoring", "Sums", "Workspace", "fisher", "matvec", "rowdot", "vdot"]
