"""The async study: protocol presets, the grid, its maxima and verdict, checkpoints, bad input."""

import json
import math

import pytest
import torch
from torch import nn

from swiftspike.asynch import AsyncConfig, MomentumScheduler, RandomScheduler
from swiftspike.asynch.training import async_runner
from swiftspike.cli import main
from swiftspike.data.dataset import Dataset
from swiftspike.data.datasets import load_dataset
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons.functional import HardReset
from swiftspike.studies import asynch as study
from swiftspike.training.checkpoint import load_checkpoint, save_checkpoint, sniff

# -- the protocol preset ----------------------------------------------------------------------------------


def test_asynctorch_protocol_sets_every_option():
    cfg = study.StudyConfig(protocol="asynctorch").resolved()
    assert cfg.neuron_kwargs() == {"tau": 0.1, "v_threshold": 0.3, "reset": "hard", "v_reset": 0.0}
    assert cfg.bias is False
    assert cfg.loss == "rate"  # sync and async trainings alike
    assert cfg.lr == 1e-3 and cfg.weight_decay == 1e-5
    assert cfg.spike_reg == 0.0 and cfg.async_spike_reg is None
    assert cfg.refractory_dropout == 0.8
    assert cfg.input_mode == "start"
    assert cfg.stops == ["quiescence", "frame_first_output"] and cfg.k == [0, 1, 2]
    assert cfg.stop_rules() == [
        ("quiescence", 0),
        ("frame_first_output", 0),
        ("frame_first_output", 1),
        ("frame_first_output", 2),
    ]
    assert cfg.readout == "argmax"
    assert cfg.F == [4, 8, 16, 32, 64, 128] and cfg.seeds == [0]
    assert cfg.T is None and cfg.epochs == 2 and cfg.async_epochs == 2
    for execution, sched_type in (
        ("random", RandomScheduler),
        ("momentum", MomentumScheduler),
        ("sync-gate", RandomScheduler),
    ):
        e = study.engine_config("asynctorch", execution, 16)
        assert isinstance(e.scheduler, sched_type)
        if sched_type is RandomScheduler:
            assert e.scheduler.redraw  # priorities redrawn at every forward step
        assert e.refractory_dropout == 0.8 and e.refractory_dropout_eval and e.refractory_clamp
        assert e.input_mode == "start" and e.F == 16 and e.sync_gate == (execution == "sync-gate")
    assert study.engine_config("asynctorch", "sync", 16, n_all=500).F == 500
    # the model: bias-free layers and the wiped-membrane LIF
    data = _tiny_static()
    model = study.build_study_model(study.study_spec(cfg, data))
    syn = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert syn and all(m.bias is None for m in syn)
    lifs = [m for m in model.modules() if type(m).__name__ == "LIF"]
    assert len(lifs) == 4
    for m in lifs:
        assert float(m.tau) == pytest.approx(0.1) and float(m.v_threshold) == pytest.approx(0.3)
        assert isinstance(m.params.reset, HardReset) and m.params.reset.v_reset == 0.0
        assert float(m.params.beta) == pytest.approx(math.exp(-10))  # the membrane is wiped between frames
    # explicit fields override the protocol
    over = study.StudyConfig(
        protocol="asynctorch", v_threshold=0.5, bias=True, loss="count", lr=2e-3, refractory_dropout=0.0, F=[4], k=1
    ).resolved()
    assert over.neuron_kwargs()["v_threshold"] == 0.5 and over.bias and over.loss == "count"
    assert over.lr == 2e-3 and over.refractory_dropout == 0.0 and over.F == [4] and over.k == [1]
    assert study.engine_config("asynctorch", "random", 4, refractory_dropout=0.0).refractory_dropout == 0.0


def test_swiftspike_protocol_keeps_the_former_defaults():
    cfg = study.StudyConfig().resolved()
    assert cfg.protocol == "swiftspike" and cfg.neuron_kwargs() == {} and cfg.bias is True
    assert (cfg.loss, cfg.lr, cfg.weight_decay, cfg.refractory_dropout) == ("count", 2e-3, 0.0, 0.0)
    assert cfg.F == [2] and cfg.k == [0] and cfg.stops == ["quiescence", "first_output"]
    assert cfg.readout == "strict" and cfg.T == 8 and cfg.epochs == 20
    e = study.engine_config("swiftspike", "random", 2)
    assert e == AsyncConfig(F=2, scheduler="random")
    model = study.build_study_model(study.study_spec(cfg, _tiny_static()))
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Linear))


def test_async_runner_takes_a_whole_config():
    cfg = AsyncConfig.asynctorch(F=4)
    run = async_runner(config=cfg)
    assert run.config is cfg
    with pytest.raises(SwiftSpikeError, match="either config or engine options"):
        async_runner(config=cfg, refractory_dropout=0.5)


# -- the grid, its maxima and the verdict on hand-made results ------------------------------------------------


def _row(seed, training, execution, F, acc, spikes, lat, *, stop="quiescence", epochs=3, final=True, train_F=None):
    train_F = train_F if train_F is not None else (None if training == "sync" else F)
    return {
        "seed": seed,
        "training": training,
        "train_F": train_F,
        "epochs": epochs,
        "final": final,
        "execution": execution,
        "F": F,
        "stop": stop,
        "accuracy": acc,
        "spikes_per_sample": spikes,
        "frame_spikes_to_first_correct": lat,
        "frame_steps_to_first_correct": 4.0,
        "frame_spikes_to_first_output": lat,
        "frame_steps_to_first_output": 4.0,
        "steps_to_decision": 10.0,
        "spikes_to_decision": 50.0,
    }


def _hand_made():
    """Two seeds, F 4 and 16, async-random only (momentum rows are left out on purpose)."""
    rows = []
    for seed in (0, 1):
        # sync-trained model: async execution (random) and the sync gate, final epoch 3 and epoch 1
        rows += [
            _row(seed, "sync", "random", 4, 0.90, 300.0, 60.0),
            _row(seed, "sync", "sync-gate", 4, 0.92, 200.0, 40.0),
            _row(seed, "sync", "random", 16, 0.91, 240.0, 50.0),
            _row(seed, "sync", "sync-gate", 16, 0.91, 200.0, 40.0),
            _row(seed, "sync", "random", 4, 0.80, 150.0, 30.0, epochs=1, final=False),
            _row(seed, "sync", "sync-gate", 4, 0.85, 120.0, 30.0, epochs=1, final=False),
        ]
    # async-random at F=4: 2x fewer spikes than the async baseline in both seeds, accuracy +1 / -2 pts
    rows.append(_row(0, "async-random", "random", 4, 0.91, 150.0, 40.0))
    rows.append(_row(1, "async-random", "random", 4, 0.88, 150.0, 40.0))
    # at F=16: 1.6x fewer spikes in both seeds at equal or better accuracy
    rows.append(_row(0, "async-random", "random", 16, 0.93, 150.0, 25.0))
    rows.append(_row(1, "async-random", "random", 16, 0.91, 150.0, 25.0))
    # the async model under sync execution is not part of any ratio
    rows.append(_row(0, "async-random", "sync", None, 0.5, 1.0, 1.0, train_F=4))
    return rows


def test_ratios_maxima_and_verdict_on_a_hand_made_grid():
    rows = _hand_made()
    ratios = study.compute_ratios(rows, matched=True)
    assert len(ratios) == 2 * 2 * 2  # seeds x F x baselines
    r = next(x for x in ratios if x["seed"] == 1 and x["F"] == 4 and x["baseline"] == "async")
    assert r["spikes_per_sample"] == pytest.approx(2.0)
    assert r["frame_spikes_to_first_correct"] == pytest.approx(1.5)
    assert r["accuracy_diff"] == pytest.approx(-0.02)
    # matched: epoch 1 (acc 0.80) is farther from 0.88 than epoch 3 (0.90); at seed 0 F=4 gate, 0.85 vs 0.92 for 0.91
    assert r["matched"]["epoch"] == 3
    g = next(x for x in ratios if x["seed"] == 0 and x["F"] == 4 and x["baseline"] == "sync-gate")
    assert g["matched"]["epoch"] == 3 and g["spikes_per_sample"] == pytest.approx(200 / 150)
    low = [dict(x) for x in rows]
    next(x for x in low if (x["seed"], x["training"], x["F"]) == (1, "async-random", 4))["accuracy"] = 0.81
    m = next(
        x
        for x in study.compute_ratios(low, matched=True)
        if x["seed"] == 1 and x["F"] == 4 and x["baseline"] == "async"
    )["matched"]
    assert m["epoch"] == 1 and m["spikes_per_sample"] == pytest.approx(1.0)  # 150 / 150

    mx = study.grid_maxima(ratios, seeds=[0, 1])
    sp = mx["async"]["spikes_per_sample"]
    assert sp["max"]["value"] == pytest.approx(2.0) and sp["max"]["F"] == 4
    assert sp["all_seeds"]["value"] == pytest.approx(2.0)
    # F=4 loses 2 pts in seed 1, so 'equal accuracy' falls back to F=16 (240 / 150 = 1.6)
    assert sp["all_seeds_equal_accuracy"]["value"] == pytest.approx(1.6)
    assert sp["all_seeds_equal_accuracy"]["F"] == 16
    acc = mx["async"]["accuracy_diff"]
    assert acc["max"]["value"] == pytest.approx(0.02) and acc["all_seeds"]["value"] == pytest.approx(0.0)
    # a 2.5-pt tolerance admits F=4
    assert study.grid_maxima(ratios, seeds=[0, 1], acc_tolerance=0.025)["async"]["spikes_per_sample"][
        "all_seeds_equal_accuracy"
    ]["value"] == pytest.approx(2.0)

    v = study.claim_verdict(ratios, seeds=[0, 1])
    assert v["reproduced"] is True
    assert {(h["baseline"], h["metric"], h["F"]) for h in v["cells"]} == {
        ("async", "spikes_per_sample", 16),
        ("async", "frame_spikes_to_first_correct", 16),
        ("sync-gate", "frame_spikes_to_first_correct", 16),
    }
    # a second seed that fails the cell: not reproduced
    worse = [dict(x) for x in ratios]
    for x in worse:
        if x["seed"] == 1 and x["F"] == 16:
            x["spikes_per_sample"] = 1.2
            x["frame_spikes_to_first_correct"] = 1.1
            x["frame_steps_to_first_correct"] = 1.0
    assert study.claim_verdict(worse, seeds=[0, 1])["reproduced"] is False
    # one seed only: a qualifying cell is a candidate, not a reproduction
    one = [x for x in ratios if x["seed"] == 0]
    assert study.claim_verdict(one, seeds=[0])["reproduced"] is None
    assert study.claim_verdict(one, seeds=[0], claim_ratio=10.0)["reproduced"] is False
    # a seed missing from a cell: that cell does not count
    assert study.claim_verdict(one, seeds=[0, 1])["reproduced"] is False
    assert study.grid_maxima(one, seeds=[0, 1])["async"]["spikes_per_sample"]["all_seeds"] is None

    res = study.AsyncStudyResult(
        dataset="hand",
        temporal=True,
        n_train=1,
        n_test=1,
        config={
            "protocol": "asynctorch",
            "F": [4, 16],
            "seeds": [0, 1],
            "epochs": 3,
            "async_epochs": 3,
            "loss": "rate",
            "lr": 1e-3,
            "readout": "argmax",
        },
        spec={},
        training={},
        results=rows,
        ratios=ratios,
        maxima={"equal_epochs": mx},
        verdict={"equal_epochs": v},
    )
    text = res.table()
    assert "REPRODUCED" in text and "2.00/2.00" in text
    assert json.loads(res.to_json())["verdict"]["equal_epochs"]["reproduced"] is True


# -- end to end -------------------------------------------------------------------------------------------


def _tiny_static() -> Dataset:
    return load_dataset("digits", flatten=False).subset(n_train=64, n_test=32)


@pytest.fixture(scope="module")
def tiny_events() -> Dataset:
    from swiftspike.data.emulator import load_emulated

    return load_emulated("nmnist-sim", limit_train=40, limit_test=20)


def _tiny_cfg(**kw):
    base = dict(
        protocol="asynctorch", dataset="nmnist-sim", hidden=[16, 16], F=[2, 8], epochs=1, batch_size=20, test_limit=None
    )
    base.update(kw)
    return study.StudyConfig(**base)


@pytest.mark.slow
def test_asynctorch_study_end_to_end_on_emulated_events(tiny_events, tmp_path):
    folder = tmp_path / "ck"
    res = study.run_study(_tiny_cfg(checkpoint_dir=str(folder)), tiny_events)
    d = res.to_dict()
    assert d["dataset"] == "nmnist-sim" and d["n_train"] == 40 and d["n_test"] == 20
    assert d["spec"]["bias"] is False and d["spec"]["neuron_kwargs"]["v_threshold"] == 0.3
    final = [r for r in d["results"] if r["final"]]
    # sync model: sync once + (sync-gate, random, momentum) x 2 F; async: 2 kinds x 2 F x (own, sync); x 4 stops
    assert len(final) == (1 + 3 * 2 + 2 * 2 * 2) * 4
    r = next(
        r
        for r in final
        if r["training"] == "async-random"
        and r["execution"] == "random"
        and r["F"] == 2
        and r["stop"] == "frame_first_output,k=0"
    )
    for key in (
        "accuracy",
        "spikes_per_sample",
        "frame_spikes_to_first_correct",
        "frame_steps_to_first_output",
        "frame_frames_with_output",
        "frames_cut",
    ):
        assert key in r
    assert len(d["ratios"]) == 2 * 2 * 2 * 4  # F x async trainings x baselines x stops
    assert set(d["maxima"]) == {"equal_epochs"} and set(d["verdict"]) == {"equal_epochs"}
    assert d["verdict"]["equal_epochs"]["reproduced"] in (False, None)
    # every training saved its settings: rate loss, Adam 1e-3 with weight decay, no regulariser
    for name in ("seed0-sync", "seed0-async-random-F2", "seed0-async-momentum-F8"):
        tc = load_checkpoint(next(folder.glob(f"*/{name}.ckpt")))["config"]
        assert (tc["loss"], tc["lr"], tc["weight_decay"], tc["spike_reg"], tc["optimizer"]) == (
            "rate",
            1e-3,
            1e-5,
            0.0,
            "adam",
        )
    # a second run reuses every training and evaluation: the same numbers
    again = study.run_study(_tiny_cfg(checkpoint_dir=str(folder)), tiny_events)
    assert again.to_json() and json.loads(again.to_json())["results"] == json.loads(res.to_json())["results"]
    paths = res.plots(tmp_path / "plots")
    assert [p.name for p in paths] == [
        "async_spikes_vs_F.png",
        "async_frame_latency_vs_F.png",
        "async_accuracy_vs_F.png",
    ]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.slow
def test_interrupted_study_resumes_its_trainings_exactly(tiny_events, tmp_path):
    """Two epochs in one go equal one epoch, then a rerun asking for two (resumed from the checkpoints)."""
    kw = dict(F=[4], matched=True)
    whole = study.run_study(_tiny_cfg(epochs=2, checkpoint_dir=str(tmp_path / "a"), **kw), tiny_events)
    study.run_study(_tiny_cfg(epochs=1, checkpoint_dir=str(tmp_path / "b"), **kw), tiny_events)
    resumed = study.run_study(_tiny_cfg(epochs=2, checkpoint_dir=str(tmp_path / "b"), **kw), tiny_events)
    a, b = json.loads(whole.to_json()), json.loads(resumed.to_json())
    assert a["results"] == b["results"] and a["ratios"] == b["ratios"]
    # matched accuracy saw both epochs of the sync training (epoch 1 from the file the first run kept)
    assert {r["epochs"] for r in b["results"] if r["training"] == "sync" and r["execution"] == "random"} == {1, 2}
    assert "matched" in b["maxima"] and all("matched" in r for r in b["ratios"])


def test_study_cli_runs_and_refuses_bad_input(capsys, tmp_path):
    rc = main(
        [
            "async-study",
            "--protocol",
            "asynctorch",
            "--dataset",
            "digits",
            "--limit",
            "48",
            "--test-limit",
            "16",
            "--T",
            "2",
            "--hidden",
            "8",
            "8",
            "--F",
            "2",
            "16",
            "--k",
            "0",
            "--epochs",
            "1",
            "--seeds",
            "0",
            "1",
            "--json",
            "--quiet",
            "--plot",
            str(tmp_path),
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["config"]["seeds"] == [0, 1] and res["config"]["F"] == [2, 16] and res["config"]["k"] == [0]
    assert {r["stop"] for r in res["results"]} == {"quiescence", "frame_first_output,k=0"}
    assert len(res["plots"]) == 3
    assert res["verdict"]["equal_epochs"]["seeds"] == 2
    a_file = tmp_path / "not_a_folder.txt"
    a_file.write_text("x")
    # every bad value below must be refused before any training starts (a miss would run the full default study)
    for bad, msg in (
        (["--protocol", "nope"], "--protocol"),
        (["--F", "0"], "--F"),
        (["--F", "4", "-1"], "--F"),
        (["--seeds"], "--seeds"),
        (["--k", "-1"], "--k"),
        (["--lr", "0"], "--lr"),
        (["--refractory-dropout", "1"], "refractory_dropout"),
        (["--loss", "rate", "--truncate"], "truncated"),
        (["--checkpoint-dir", str(a_file)], "--checkpoint-dir"),
    ):
        assert main(["async-study", *bad, "--quiet"]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error:" in err[0] and msg in err[0], (bad, err)


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(protocol="bogus"), "unknown protocol"),
        (dict(F=[4, 0]), "F must hold"),
        (dict(F=[]), "F must name"),
        (dict(seeds=[]), "seeds must name"),
        (dict(k=[-1]), "k must hold"),
        (dict(stops=["never"]), "unknown stop rule"),
        (dict(stops=[]), "stops must name"),
        (dict(readout="max"), "unknown readout"),
        (dict(acc_tolerance=-0.1), "acc_tolerance"),
        (dict(weight_decay=math.nan), "weight_decay"),
    ],
)
def test_study_config_refuses_bad_values(kw, msg):
    with pytest.raises(SwiftSpikeError, match=msg):
        study.StudyConfig(**kw).resolved()


def test_checkpoint_folder_is_checked_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SwiftSpikeError, match="checkpoint folder"):
        study.run_study(study.StudyConfig(dataset="no-such-set", checkpoint_dir=str(blocker)))


def test_checkpoint_whose_header_length_ends_in_0x80_reads_back(tmp_path):
    """A safetensors header length with low byte 0x80 starts like a pickle; it must still read as a checkpoint."""
    path = tmp_path / "c.ckpt"
    for pad in range(400):
        save_checkpoint(path, {"model": {"w": torch.ones(2)}, "note": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    else:  # pragma: no cover - the header grows by one byte per pad, so some pad hits 0x80
        pytest.fail("no header length ending in 0x80 found")
    assert sniff(path) == "safetensors"
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
