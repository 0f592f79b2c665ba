import json
import math

import pytest
import torch
from torch import nn

from swiftspike.cli import main
from swiftspike.engines.sync import run_sync
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons.modules import LIF, reset
from swiftspike.timestep import DCParams, EnhancementPolicy, RuntimeSelector, early_exit, exit_curve, select
from swiftspike.timestep.early_exit import run_with_exit


def _rows():
    # T, accuracy, latency ms, inference energy
    spec = [(350, 0.80, 350, 3.0), (100, 0.79, 100, 1.0), (50, 0.75, 50, 0.5), (20, 0.60, 20, 0.2)]
    return [
        {"T": T, "accuracy": a, "latency_ms": ms, "infer_energy_j": e, "train_energy_j": 4 * e} for T, a, ms, e in spec
    ]


def test_selector_picks_smallest_T_meeting_constraints():
    rows = _rows()
    assert select(rows, min_accuracy=0.78)["T"] == 100
    assert select(rows, min_accuracy=0.7)["T"] == 50
    assert select(rows)["T"] == 20
    r = select(rows, min_accuracy=0.7, max_energy=0.4)  # nobody meets both
    assert not r["feasible"] and r["violation"] > 0
    assert select(rows, min_accuracy=0.7, max_energy=0.6, max_latency=60)["T"] == 50
    assert select(rows, min_accuracy=0.78, max_energy=4.5, energy="train")["T"] == 100
    assert select(rows, min_accuracy=0.78, max_energy=4.5)["T"] == 100  # inference energy 1.0
    assert not select(rows, min_accuracy=0.78, max_energy=0.9)["feasible"]
    # compromise: smallest weighted violation
    assert select(rows, min_accuracy=0.9, max_latency=30)["T"] in (20, 50, 100, 350)
    assert select(rows, min_accuracy=0.99)["T"] == 350
    with pytest.raises(SwiftSpikeError):
        select(rows, min_accuracy=-1)
    with pytest.raises(SwiftSpikeError):
        select([], min_accuracy=0.5)
    with pytest.raises(SwiftSpikeError):
        select(rows, energy="bogus")


def test_runtime_selector_switches_with_battery():
    sel = RuntimeSelector(_rows())
    assert sel.on_battery(1.0, min_accuracy=0.6)["T"] == 20  # smallest T already meets accuracy
    sel = RuntimeSelector(_rows())
    assert sel.update(min_accuracy=0.79)["T"] == 100
    assert sel.on_battery(1.0)["T"] == 20
    # as the battery drains the energy budget shrinks and the selector moves to smaller T
    picks = [sel.on_battery(b, min_accuracy=0.79)["T"] for b in (1.0, 0.2)]
    assert picks == [100, 50]
    assert sel.on_battery(0.1, min_accuracy=0.79)["feasible"] is False
    with pytest.raises(SwiftSpikeError):
        sel.on_battery(0.0)


def test_policy_roundtrip_and_scaling(tmp_path):
    pol = EnhancementPolicy(
        350, {100: {"exponents": {"theta_plus": 1.0}, "factors": {"theta_plus": 3.5}, "val_accuracy": 0.7}}
    )
    p = pol.params_for(100, DCParams())
    assert p.theta_plus == pytest.approx(0.05 * 3.5)
    # nearest fitted T's exponents applied to another T's reduction factor
    assert pol.factors(50)["theta_plus"] == pytest.approx(7.0)
    path = pol.save(tmp_path / "pol.json")
    again = EnhancementPolicy.load(path)
    assert again.table[100]["factors"] == {"theta_plus": 3.5} and again.T0 == 350
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SwiftSpikeError):
        EnhancementPolicy.load(tmp_path / "bad.json")
    with pytest.raises(SwiftSpikeError):
        EnhancementPolicy.load(tmp_path / "missing.json")


def test_early_exit_hand_example():
    # one sample, 3 classes, spiking output accumulated by the caller
    scores = torch.tensor([[[1.0, 0, 0]], [[1.0, 1, 0]], [[3.0, 1, 0]]])
    pred, step = early_exit(scores, 2.0)
    assert step.tolist() == [3] and pred.tolist() == [0]
    pred, step = early_exit(scores, 1.0)
    assert step.tolist() == [1] and pred.tolist() == [0]
    with pytest.raises(SwiftSpikeError):
        early_exit(scores[..., :1], 1.0)
    with pytest.raises(SwiftSpikeError):
        early_exit(scores, float("nan"))


def test_early_exit_off_never_changes_predictions():
    g = torch.Generator().manual_seed(0)
    out = (torch.rand(20, 64, 10, generator=g) < 0.2).float()
    scores = out.cumsum(0)
    pred, steps = early_exit(scores, math.inf)
    assert torch.equal(pred, scores[-1].argmax(1)) and (steps == 20).all()
    y = torch.randint(0, 10, (64,), generator=g)
    curve = exit_curve(out, y, [1.0, 3.0, math.inf])
    assert curve[-1]["accuracy"] == pytest.approx(float((scores[-1].argmax(1) == y).float().mean()))
    assert curve[0]["mean_steps"] <= curve[1]["mean_steps"] <= curve[2]["mean_steps"] == 20


def test_run_with_exit_on_snn_matches_full_run_when_off():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 16), LIF(), nn.Linear(16, 4), LIF())
    x = (torch.rand(15, 8, 12) < 0.5).float() * 2
    full = run_sync(net, x)
    reset(net)
    pred, steps = run_with_exit(net, x, math.inf)
    assert torch.equal(pred, full.cumsum(0)[-1].argmax(1))
    assert (steps == 15).all()


def test_cli_topspark_smoke(capsys, tmp_path):
    rc = main(
        [
            "topspark",
            "--dataset",
            "digits",
            "--neurons",
            "10",
            "--n-train",
            "40",
            "--n-val",
            "20",
            "--n-test",
            "20",
            "--T0",
            "20",
            "--T",
            "8,4",
            "--sens-T",
            "8",
            "--max-knobs",
            "1",
            "--input-rate",
            "900",
            "--quiet",
            "--json",
            "--policy",
            str(tmp_path / "p.json"),
            "--min-accuracy",
            "0.05",
            "--plot",
            str(tmp_path / "plots"),
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    Ts = [r["T"] for r in res["rows"] if not r["enhanced"]]
    assert Ts == [20, 8, 4]
    assert res["rows"][0]["latency_reduction"] == 1.0
    assert res["selected"]["T"] == min(r["T"] for r in res["rows"] if r["accuracy"] >= 0.05)
    assert (tmp_path / "p.json").exists() and "8" in res["sensitivity"]
    assert sorted(res) == sorted(
        [
            "dataset",
            "neurons",
            "rule",
            "n_train",
            "n_val",
            "n_test",
            "T0",
            "rows",
            "selected",
            "policy",
            "sensitivity",
            "meets_acceptance",
            "seconds",
            "plots",
        ]
    )
    assert [p.rsplit("/", 1)[1] for p in res["plots"]] == [
        "topspark_accuracy.png",
        "topspark_train_energy_j.png",
        "topspark_infer_energy_j.png",
    ]
    assert main(["topspark", "--dataset", "digits", "--T0", "20", "--T", "30", "--quiet"]) == 2
    assert main(["topspark", "--dataset", "digits", "--T", "x", "--quiet"]) == 2


def test_topspark_study_api_renders_table_json_and_plots(tmp_path):
    """The study runs without the CLI: one config in, one result out (table, JSON, plots)."""
    from swiftspike.studies.topspark import TopSparkConfig, TopSparkResult, run_study

    with pytest.raises(SwiftSpikeError, match="below T0"):
        run_study(TopSparkConfig(dataset="digits", T0=20, Ts=(30,)))
    with pytest.raises(SwiftSpikeError, match="policy file"):
        TopSparkConfig(dataset="digits", load_policy=str(tmp_path / "none.json")).validate()
    cfg = TopSparkConfig(dataset="digits", n_train=40, n_val=10, n_test=20, early_exit_only=True, ee_T=4, ee_epochs=1)
    res = run_study(cfg)
    assert isinstance(res, TopSparkResult)
    d = json.loads(res.to_json())
    assert sorted(d) == ["dataset", "early_exit", "seconds"]  # an early-exit-only run has only these keys
    curve = d["early_exit"]["curve"]
    assert curve[-1]["threshold"] == "inf" and curve[-1]["mean_steps"] == 4  # never exits early
    assert "margin>=inf" in res.table()
    paths = res.plots(tmp_path)
    assert [p.name for p in paths] == ["early_exit.png"] and paths[0].stat().st_size > 1000
