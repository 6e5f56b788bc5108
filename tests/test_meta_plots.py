"""Figures of livingreview.meta_plots: they render, are deterministic and describe themselves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest
from livingreview.meta import rma
from livingreview.meta_plots import (
    OKABE_ITO,
    cumulative_alt_text,
    cumulative_plot,
    forest_alt_text,
    forest_plot,
    funnel_alt_text,
    funnel_plot,
    leave1out_alt_text,
    leave1out_plot,
    save,
)
from livingreview.meta_sensitivity import cumulative, leave1out, trimfill
from livingreview.meta_validation import load_reference
from matplotlib.figure import Figure

BCG = load_reference(Path(__file__).parent / "reference" / "metafor_reference.json")["datasets"]["bcg"]
LABELS = [f"Trial {i}" for i in range(1, 14)]


@pytest.fixture(scope="module")
def fit():  # type: ignore[no-untyped-def]
    return rma(BCG["yi"], BCG["vi"])


def _figures(fit):  # type: ignore[no-untyped-def]
    loo = leave1out(fit, LABELS)
    cum = cumulative(fit, BCG["moderators"]["year"], LABELS)
    return {
        "forest": forest_plot(fit, LABELS, xlabel="log RR"),
        "funnel": funnel_plot(fit, trimfill=trimfill(fit)),
        "leave1out": leave1out_plot(fit, loo),
        "cumulative": cumulative_plot(fit, cum),
    }


def test_figures_are_deterministic_pngs(fit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    digests = []
    for run in range(2):
        figs = _figures(fit)
        assert all(isinstance(f, Figure) for f in figs.values())
        digests.append(
            {
                k: hashlib.sha256(save(f, tmp_path / f"{k}{run}.png").read_bytes()).hexdigest()
                for k, f in figs.items()
            }  # fmt: skip
        )
    assert digests[0] == digests[1]
    assert len(set(digests[0].values())) == 4


def test_forest_uses_okabe_ito_and_shows_weights(fit) -> None:  # type: ignore[no-untyped-def]
    fig = forest_plot(fit, LABELS)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith(f"{fit.weights[7]:5.1f}%") for t in texts)
    assert any("PI" in t for t in texts)
    palette = {mcolors.to_hex(c) for c in OKABE_ITO.values()}
    face = {mcolors.to_hex(c) for coll in ax.collections for c in coll.get_facecolors()}
    assert face and face <= palette
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:13] == LABELS and labels[-1] == "Random-effects model (REML)"


def test_alt_texts_state_the_numbers(fit) -> None:  # type: ignore[no-untyped-def]
    text = forest_alt_text(fit, LABELS)
    assert "13 studies" in text and "-0.71" in text and "Trial 8" in text
    assert "prediction interval -1.87 to 0.44" in text
    assert "Egger's test p = 0.42" in funnel_alt_text(fit, 0.4218, 1)
    assert "adds 1 study" in funnel_alt_text(fit, None, 1)
    loo = leave1out(fit, LABELS)
    assert "without Trial 8" in leave1out_alt_text(fit, loo)
    cum = cumulative(fit, BCG["moderators"]["year"], LABELS)
    assert cumulative_alt_text(cum).startswith("Cumulative meta-analysis adding 13 studies")


def test_plots_refuse_meta_regression() -> None:
    res = rma(BCG["yi"], BCG["vi"], mods=np.array(BCG["moderators"]["ablat"]))
    with pytest.raises(ValueError, match="without moderators"):
        forest_plot(res)
    with pytest.raises(ValueError, match="without moderators"):
        funnel_plot(res)
