"""The ``meta`` subcommand: JSON contract, values against metafor, exit codes and messages."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from livingreview.meta import cli as meta_cli
from livingreview.meta.validation import load_reference

REF = load_reference(Path(__file__).parent / "reference" / "metafor_reference.json")
BCG = REF["datasets"]["bcg"]
MAIN_KEYS = {"k", "estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "tau2_ci_lb",
             "tau2_ci_ub", "I2", "H2", "Q", "Q_pval", "pi_lb", "pi_ub"}  # fmt: skip


def _metafor(method: str, test: str) -> dict:
    """metafor's record for dat.bcg at the default (not tightened) control settings."""
    recs = [r for r in BCG["fits"] if (r["method"], r["test"]) == (method, test)]
    return next(r for r in recs if r["control"] == "default")


@pytest.fixture
def bcg_csv(tmp_path: Path) -> Path:
    mods = BCG["moderators"]
    df = pd.DataFrame({"study_id": [f"S{i:02d}" for i in range(1, 14)], "yi": BCG["yi"],
                       "vi": BCG["vi"], "year": mods["year"], "ablat": mods["ablat"],
                       "alloc": mods["alloc"]})  # fmt: skip
    path = tmp_path / "bcg.csv"
    df.to_csv(path, index=False, float_format="%.17g")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = meta_cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_parser_registers_meta_with_run() -> None:
    parser = argparse.ArgumentParser()
    meta_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["meta", "x.csv", "--method", "DL", "--moderator", "a",
                              "--moderator", "b", "--cumulative-by", "year"])  # fmt: skip
    assert args.func is meta_cli.run
    assert (args.method, args.moderator, args.cumulative_by) == ("DL", ["a", "b"], "year")
    assert not (args.knha or args.egger or args.trimfill or args.leave1out or args.json)


def test_json_main_keys_match_metafor(bcg_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "meta", str(bcg_csv), "--json", "--control", "metafor")
    assert code == 0 and err == ""
    res = json.loads(out)
    assert set(res) >= MAIN_KEYS and res["control"] == "metafor"
    assert not {"egger", "trimfill", "leave1out", "cumulative", "metareg"} & set(res)
    ref = _metafor("REML", "z")
    assert res["k"] == 13
    for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("ci_lb", "ci_lb"),
                         ("ci_ub", "ci_ub"), ("tau2", "tau2"), ("I2", "I2"), ("H2", "H2"),
                         ("Q", "QE"), ("pi_lb", "pi_lb"), ("pi_ub", "pi_ub")]:  # fmt: skip
        assert res[ours] == pytest.approx(ref["fit"][theirs], rel=1e-12), ours
    assert res["pval"] == pytest.approx(ref["fit"]["pval"], rel=1e-9)
    assert res["tau2_ci_lb"] == pytest.approx(ref["confint"]["tau2_lb"], rel=1e-12)
    assert res["tau2_ci_ub"] == pytest.approx(ref["confint"]["tau2_ub"], rel=1e-12)


def test_json_optional_sections(bcg_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "meta", str(bcg_csv), "--method", "PM", "--knha", "--json",
                        "--control", "metafor",
                        "--egger", "--trimfill", "--leave1out", "--cumulative-by", "year",
                        "--moderator", "ablat", "--moderator", "alloc")  # fmt: skip
    assert code == 0
    res = json.loads(out)
    ref = _metafor("PM", "knha")
    assert res["estimate"] == pytest.approx(ref["fit"]["estimate"], rel=1e-12)
    assert set(res["egger"]) == {"z", "pval", "limit_estimate"}
    assert set(res["trimfill"]) == {"k0", "side", "estimate", "se", "ci_lb", "ci_ub", "tau2"}
    assert res["trimfill"]["side"] in {"left", "right"}
    loo = res["leave1out"]
    assert [r["study_id"] for r in loo] == [f"S{i:02d}" for i in range(1, 14)]  # file order
    assert set(loo[0]) == {"study_id", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "Q"}
    cum = res["cumulative"]
    years = dict(zip([f"S{i:02d}" for i in range(1, 14)], BCG["moderators"]["year"], strict=True))
    order = [r["study_id"] for r in cum]
    assert [years[s] for s in order] == sorted(years.values())
    assert order == sorted(years, key=lambda s: years[s])  # stable for ties
    assert cum[-1]["estimate"] == pytest.approx(res["estimate"], rel=1e-12)
    mr = res["metareg"]
    assert mr["coef_names"] == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    for key in ("b", "se", "pval", "ci_lb", "ci_ub"):
        assert len(mr[key]) == 4
    assert {"QM", "QM_pval", "tau2", "I2", "R2", "QE", "QE_pval"} <= set(mr)


def test_egger_and_trimfill_values(bcg_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "meta", str(bcg_csv), "--json", "--egger", "--trimfill")
    res = json.loads(out)
    tight = next(r for r in BCG["fits"] if (r["method"], r["test"], r["control"])
                 == ("REML", "z", "tight"))  # fmt: skip
    assert res["egger"]["z"] == pytest.approx(tight["regtest"]["zval"], rel=1e-6)
    assert res["egger"]["limit_estimate"] == pytest.approx(tight["regtest"]["limit_estimate"], rel=1e-6)
    assert (res["trimfill"]["k0"], res["trimfill"]["side"]) == (1, "right")


def test_metareg_values_match_metafor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame({"yi": BCG["yi"], "vi": BCG["vi"], "ablat": BCG["moderators"]["ablat"]})
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False, float_format="%.17g")
    _, out, _ = _run(capsys, "meta", str(path), "--json", "--moderator", "ablat")
    mr = json.loads(out)["metareg"]
    ref = next(r for r in BCG["metareg"] if (r["mods"], r["method"], r["test"])
               == (["ablat"], "REML", "z"))  # fmt: skip
    # the CLI's default control is exact; the reference is metafor's tight refit
    assert mr["b"] == pytest.approx(ref["b"], rel=1e-9)
    assert mr["QM"] == pytest.approx(ref["QM"], rel=1e-9)
    assert mr["R2"] == pytest.approx(ref["R2"], rel=1e-9)


def test_readable_summary(bcg_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "meta", str(bcg_csv), "--leave1out", "--egger")
    assert code == 0
    assert out.startswith("Random-Effects Model (k = 13; tau^2 estimator: REML)")
    assert "Q(df = 12) = 152.2330" in out and "-0.7145" in out
    assert "Leave-one-out" in out and "Egger" in out
    code, out, _ = _run(capsys, str(bcg_csv), "--method", "EE")  # 'meta' is optional in main()
    assert code == 0 and out.startswith("Equal-Effects Model (k = 13)")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yi,vi\n0.1,0.01\n0.2,0.02\n0.3,0\n", "data.csv:4:vi: variance must be positive, got 0"),
        ("yi,vi\n0.1,0.01\n0.2,-1\n", "data.csv:3:vi: variance must be positive, got -1"),
        ("yi,vi\n0.1,0.01\nabc,0.02\n", "data.csv:3:yi: not a number: 'abc'"),
        ("yi,vi\n0.1,0.01\n,0.02\n", "data.csv:3:yi: missing value"),
        ("yi,vi\n0.1,0.01\nnan,0.02\n", "data.csv:3:yi: not a finite number: 'nan'"),
        ("yi,vi\n0.1,0.01\n0.2,inf\n", "data.csv:3:vi: not a finite number: 'inf'"),
        ("yi,se\n0.1,0.01\n", "data.csv:1:vi: column missing"),
        ("yi,vi\n0.1,0.01\n0.2\n", "data.csv:3: row has 1 cells, header has 2"),
        ("yi,vi\n", "data.csv: no studies (no data rows)"),
        ("", "data.csv:1: empty file"),
    ],
)
def test_bad_input_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    code, out, err = _run(capsys, "meta", str(path), "--json")
    assert code == 1 and out == ""
    assert err == f"{str(path).removesuffix('data.csv')}{message}\n"


def test_analysis_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _write(tmp_path, "yi,vi,g\n0.1,0.01,a\n")
    code, out, err = _run(capsys, "meta", str(one), "--json")
    assert code == 0 and json.loads(out)["tau2_ci_lb"] is None  # k = 1 works, no tau² CI
    code, _, err = _run(capsys, "meta", str(one), "--leave1out")
    assert code == 1 and err.strip().endswith("leave-one-out needs at least 2 studies (k = 1)")
    two = _write(tmp_path, "yi,vi,x\n0.1,0.01,1\n0.5,0.02,2\n")
    code, _, err = _run(capsys, "meta", str(two), "--egger")
    assert code == 1 and "too few studies" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "meta", str(two), "--moderator", "nope")
    assert code == 1 and err == f"{two}:1:nope: column missing\n"
    code, _, err = _run(capsys, "meta", str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv: cannot read file" in err


def test_bad_moderator_value_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "yi,vi,x\n0.1,0.01,1\n0.5,0.02,\n0.3,0.01,3\n0.2,0.01,4\n")
    code, _, err = _run(capsys, "meta", str(path), "--moderator", "x")
    assert code == 1 and err == f"{path}:3:x: missing value\n"


def test_bad_option_is_a_usage_error(bcg_csv: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        meta_cli.main(["meta", str(bcg_csv), "--method", "XYZ"])
    assert exc.value.code == 2


def test_python_dash_m(bcg_csv: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "livingreview.meta.cli", str(bcg_csv), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["k"] == 13
    bad = bcg_csv.with_name("bad.csv")
    bad.write_text("yi,vi\n1,0\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "livingreview.meta.cli", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr == f"{bad}:2:vi: variance must be positive, got 0\n"
