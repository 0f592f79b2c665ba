"""``swiftspike tune``: Optuna multi-objective sweeps, Pareto front, resume, failures and bad input."""

import contextlib
import io
import json
import re
import sys

import pytest

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")

from swiftspike.cli import main
from swiftspike.errors import SwiftSpikeError
from swiftspike.studies import tune as tune_mod
from swiftspike.studies.tune import (
    DEFAULT_SPACE,
    Param,
    TuneConfig,
    parse_param,
    run_tune,
    search_space,
)

# tiny trials: 160 digits to train, 40 to validate, one epoch, T 2-3, one small hidden layer
TINY = [
    "--dataset",
    "digits",
    "--limit",
    "200",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--param",
    "T=2:3",
    "--param",
    "hidden_width=8:16",
    "--param",
    "hidden_layers=1",
]


def tiny_config(study_dir, trials, **kw):
    space = search_space(["T=2:3", "hidden_width=8:16", "hidden_layers=1"])
    kw.setdefault("progress", False)
    return TuneConfig(dataset="digits", limit=200, epochs=1, trials=trials, space=space, study_dir=str(study_dir), **kw)


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def dominates(a, b, directions):
    """``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    ge = [(x >= y) if d == "maximize" else (x <= y) for x, y, d in zip(a, b, directions)]
    gt = [(x > y) if d == "maximize" else (x < y) for x, y, d in zip(a, b, directions)]
    return all(ge) and any(gt)


def check_front(saved):
    """The saved front is exactly the set of complete trials that no complete trial dominates."""
    objs, dirs = saved["objectives"], saved["directions"]
    done = {t["number"]: [t["values"][o] for o in objs] for t in saved["trials"] if t["state"] == "complete"}
    front = {t["number"] for t in saved["front"]}
    assert front and front <= set(done)
    for n, v in done.items():
        dominated = any(dominates(w, v, dirs) for m, w in done.items() if m != n)
        assert dominated == (n not in front), (n, v, front)


@pytest.fixture(scope="module")
def sweep4(tmp_path_factory):
    """An uninterrupted 4-trial sweep through the CLI: (printed lines, --json result, saved pareto.json)."""
    d = tmp_path_factory.mktemp("sweep4")
    out = io.StringIO()  # capsys is per test; this fixture is shared by several
    with contextlib.redirect_stdout(out):
        rc = main(["tune", *TINY, "--trials", "4", "--study-dir", str(d), "--json"])
    assert rc == 0
    lines = out.getvalue().strip().splitlines()
    res = json.loads(lines[-1])
    return lines, res, json.loads((d / "pareto.json").read_text())


def test_sweep_writes_front_json_and_png(sweep4):
    lines, res, saved = sweep4
    assert sum(line.startswith("[") and " trial " in line for line in lines) == 4  # one line per finished trial
    assert any(line.startswith("Pareto front of study 'digits-accuracy-spikes'") for line in lines)
    assert res["n_trials"] == 4 and res["objectives"] == ["accuracy", "spikes"]
    assert res["directions"] == ["maximize", "minimize"]
    assert res["study_name"] == "digits-accuracy-spikes" and res["storage"].startswith("journal file ")
    assert set(res["best"]) == {"accuracy", "spikes"} and res["front"]
    with open(res["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(res["json"]) as f:
        assert json.load(f)["front"] == res["front"]
    for t in saved["trials"]:
        assert t["state"] == "complete"
        assert 2 <= t["params"]["T"] <= 3 and 8 <= t["params"]["hidden_width"] <= 16
        assert t["params"]["hidden_layers"] == 1 and 3e-4 <= t["params"]["lr"] <= 3e-2
        assert t["seed"] == t["number"]  # seed 0 + draw index
        assert t["metrics"]["n_val"] == 40 and t["values"]["accuracy"] == t["metrics"]["accuracy"]


def test_front_is_non_dominated(sweep4):
    check_front(sweep4[2])


def test_front_three_objectives_pairwise_plot(tmp_path):
    res = run_tune(tiny_config(tmp_path, 3, objectives="accuracy,energy,latency"))
    saved = json.loads((tmp_path / "pareto.json").read_text())
    check_front(saved)
    assert saved["directions"] == ["maximize", "minimize", "minimize"]
    assert res.png_path and (tmp_path / "pareto.png").stat().st_size > 1000
    assert "latency" in res.table().splitlines()[1]


def test_rerun_resumes_to_the_total_and_repeats_the_same_trials(sweep4, tmp_path, capsys):
    """--trials 2, then the same command with --trials 4: 4 trials in all (not 6), the same ones as an
    uninterrupted sweep (each trial's sampler and training are seeded by seed + its index)."""
    assert main(["tune", *TINY, "--trials", "2", "--study-dir", str(tmp_path), "--json", "--quiet"]) == 0
    assert last_json(capsys)["n_trials"] == 2
    assert main(["tune", *TINY, "--trials", "4", "--study-dir", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "2 of 4 trials finished; running 2 more" in out
    res = json.loads(out.strip().splitlines()[-1])
    assert res["n_trials"] == 4
    saved = json.loads((tmp_path / "pareto.json").read_text())
    assert [t["number"] for t in saved["trials"]] == [0, 1, 2, 3]
    assert [t["params"] for t in saved["trials"]] == [t["params"] for t in sweep4[2]["trials"]]
    # a third run with the same total runs nothing
    assert main(["tune", *TINY, "--trials", "4", "--study-dir", str(tmp_path), "--json", "--quiet"]) == 0
    assert last_json(capsys)["n_trials"] == 4


def test_interrupted_trial_is_queued_again_with_its_seed(sweep4, tmp_path, monkeypatch):
    real = tune_mod.train_trial
    calls = []

    def interrupt_second(params, data, **kw):
        calls.append(kw["seed"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(params, data, **kw)

    monkeypatch.setattr(tune_mod, "train_trial", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        run_tune(tiny_config(tmp_path, 3))
    monkeypatch.setattr(tune_mod, "train_trial", real)
    res = run_tune(tiny_config(tmp_path, 3))
    assert res.n_trials == 3 and len(res.complete) == 3
    assert [t.state for t in res.trials] == ["complete", "failed", "complete", "complete"]
    assert res.trials[1].error is None  # interrupted, not a result: not counted
    # the retry (trial 2) repeats trial 1's parameters and seed; trial 3 is the uninterrupted sweep's trial 2
    ref = {t["seed"]: t["params"] for t in sweep4[2]["trials"][:3]}
    assert {t.seed: t.params for t in res.complete} == ref


def test_failing_trial_is_recorded_not_fatal(tmp_path, monkeypatch, capsys):
    real = tune_mod.train_trial

    def diverge_on_seed_1(params, data, **kw):
        if kw["seed"] == 1:
            raise SwiftSpikeError("loss became nan in epoch 1; lower the learning rate")
        return real(params, data, **kw)

    monkeypatch.setattr(tune_mod, "train_trial", diverge_on_seed_1)
    res = run_tune(tiny_config(tmp_path, 3, progress=True))
    out = capsys.readouterr().out
    assert "[2/3] trial 1 failed: loss became nan in epoch 1" in out
    assert res.n_trials == 3 and len(res.failed) == 1 and len(res.complete) == 2
    assert 1 not in res.front
    saved = json.loads((tmp_path / "pareto.json").read_text())
    assert saved["n_failed"] == 1 and saved["trials"][1]["error"].startswith("loss became nan")


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--objectives", "accuracy,speed"], "unknown objective 'speed'"),
        (["--objectives", "spikes,spikes"], "objectives must be different"),
        (["--trials", "0"], "trials must be a positive integer"),
        (["--trials", "-3"], "trials must be a positive integer"),
        (["--param", "lr=0.1:0.01"], "needs low < high"),
        (["--param", "speed=1"], "unknown search parameter 'speed'"),
        (["--param", "T=2.5"], "bad search parameter 'T=2.5'"),
        (["--param", "tau=-1:5"], "tau must be > 0"),
        (["--sampler", "grid"], "unknown sampler 'grid'"),
        (["--val-fraction", "1.5"], "val_fraction must be in (0, 1)"),
        (["--storage", "nosuchdb://host/x"], "cannot open the study storage nosuchdb://host/x"),
    ],
)
def test_bad_input_one_error_line_exit_2(bad, message, tmp_path, capsys):
    assert main(["tune", "--trials", "2", "--study-dir", str(tmp_path / "s"), *bad]) == 2
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and re.match(r"swiftspike( tune)?: error: ", err[0]) and message in err[0], err
    assert not (tmp_path / "s" / "pareto.json").exists()


def test_unwritable_output_dirs_exit_2_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tune_mod, "train_trial", lambda *a, **k: pytest.fail("trained before checking outputs"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for bad in (
        ["--study-dir", str(blocker / "sub")],
        ["--study-dir", str(tmp_path / "ok"), "--plot", str(blocker)],
        ["--study-dir", str(tmp_path / "ok"), "--out", str(blocker / "r.json")],
        ["--storage", str(blocker / "study.journal"), "--study-dir", str(tmp_path / "ok")],
    ):
        assert main(["tune", "--trials", "2", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.match(r"swiftspike( tune)?: error: ", err[0]), (bad, err)


def test_missing_optuna_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    assert main(["tune", "--trials", "2", "--study-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'swiftspike[tune]'" in err[0]


def test_rerun_with_other_settings_is_refused(tmp_path, capsys):
    assert main(["tune", *TINY, "--trials", "1", "--study-dir", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    changed = [a if a != "T=2:3" else "T=2:4" for a in TINY]
    assert main(["tune", *changed, "--trials", "2", "--study-dir", str(tmp_path), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "epochs: 1 -> 2" in err[0] and "search space of T" in err[0], err


def test_parse_param_forms():
    assert parse_param("lr=1e-4:1e-2") == ("lr", Param(1e-4, 1e-2, log=True))  # keeps the default's scale
    assert parse_param("lr=1e-4:1e-2:linear") == ("lr", Param(1e-4, 1e-2, log=False))
    assert parse_param("T=4,8,16")[1].choices == (4, 8, 16)
    assert parse_param(" hidden_width = 64 ")[1].describe() == "= 64"
    assert parse_param("spike_reg=0")[1].choices == (0.0,)  # the regulariser can be switched off
    space = search_space(["T=8"])
    assert space["T"].choices == (8,) and space["lr"] == DEFAULT_SPACE["lr"]
    for bad in ("lr", "lr=", "lr=1:2:3:4", "lr=1:2:cubic", "spike_reg=0:1:log", "hidden_layers=0", "T=a,b"):
        with pytest.raises(SwiftSpikeError):
            parse_param(bad)
    with pytest.raises(SwiftSpikeError, match="given twice"):
        search_space(["T=4", "T=8"])
