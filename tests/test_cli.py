import json

import pytest

from swiftspike.cli import build_parser, main


def last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


@pytest.mark.slow
def test_demo_reaches_90_percent_with_required_fields(capsys, tmp_path):
    assert main(["demo", "--json", "--quiet", "--plot", str(tmp_path)]) == 0
    res = last_json(capsys)
    for key in ("accuracy", "spikes_per_sample", "latency_steps", "synops", "energy_j", "energy_ratio_vs_ann"):
        assert key in res
    assert res["accuracy"] >= 0.90
    assert res["energy_j"] > 0 and res["spikes_per_sample"] > 0
    assert (tmp_path / "raster.png").stat().st_size > 1000
    assert (tmp_path / "accuracy_vs_time.png").stat().st_size > 1000


def test_train_eval_report_roundtrip(capsys, tmp_path):
    ck = tmp_path / "m.pt"
    out = tmp_path / "train.json"
    args = [
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--T",
        "4",
        "--hidden",
        "32",
        "--checkpoint",
        str(ck),
        "--out",
        str(out),
        "--json",
        "--quiet",
        "--surrogate",
        "fast-sigmoid",
        "--reset",
        "soft",
    ]
    assert main(args) == 0
    trained = last_json(capsys)
    assert ck.exists() and json.loads(out.read_text())["accuracy"] == trained["accuracy"]
    assert main(["eval", "--checkpoint", str(ck), "--json", "--quiet", "--encoder", "direct"]) == 0
    ev = last_json(capsys)
    assert ev["time_steps"] == 4 and ev["extra"]["encoder"] == "direct"
    assert main(["report", str(out), "--json"]) == 0
    rep = last_json(capsys)
    assert rep["runs"]["train"]["accuracy"] == trained["accuracy"]


def test_train_resume_continues(capsys, tmp_path):
    ck = str(tmp_path / "r.pt")
    base = ["train", "--hidden", "16", "--T", "3", "--checkpoint", ck, "--json", "--quiet"]
    assert main(base + ["--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(base + ["--epochs", "2", "--resume"]) == 0
    assert last_json(capsys)["extra"]["epochs"] == 2


def test_conv_and_li_readout(capsys):
    assert (
        main(
            [
                "train",
                "--arch",
                "conv",
                "--hidden",
                "4",
                "16",
                "--epochs",
                "1",
                "--T",
                "3",
                "--readout",
                "li",
                "--encoder",
                "direct",
                "--json",
                "--quiet",
                "--limit",
                "200",
            ]
        )
        == 0
    )
    res = last_json(capsys)
    assert res["macs"] > 0  # direct (analog) input -> first layer does MACs
    assert res["first_spike_step"] is None  # analog readout has no output spikes


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["train", "--dataset", "imagenet"], "unknown dataset"),
        (["train", "--T", "0"], "T must be a positive integer"),
        (["train", "--epochs", "0"], "epochs must be a positive integer"),
        (["train", "--neuron", "hodgkin"], "unknown neuron"),
        (["train", "--surrogate", "tanh"], "unknown surrogate"),
        (["train", "--limit", "-5"], "limit"),
        (["eval", "--checkpoint", "/nonexistent/x.pt"], "checkpoint not found"),
        (["report", "/nonexistent.json"], "not found"),
        (["demo", "--T", "-1"], "T must be a positive integer"),
        (["eval", "--checkpoint", "x.pt", "--T", "0"], "--T must be a positive integer"),
        (["train", "--v-threshold", "-1"], "--v-threshold must be a finite number > 0"),
        (["train", "--v-threshold", "0"], "--v-threshold must be a finite number > 0"),
        (["train", "--lr", "-0.1"], "--lr must be a finite number > 0"),
        (["train", "--lr", "nan"], "--lr must be a finite number > 0"),
        (["train", "--batch-size", "0"], "--batch-size must be a positive integer"),
        (["train", "--spike-reg", "-1"], "--spike-reg must be a finite number >= 0"),
        (["train", "--hidden", "16", "0"], "--hidden must be a positive integer"),
        (["demo", "--seed", "-1"], "--seed must be an integer >= 0"),
        (["train", "--energy-table", "7nm"], "unknown energy table"),
        (["train", "--resume"], "--resume needs --checkpoint"),
        (["train", "--resume", "--checkpoint", "/nonexistent/r.pt"], "checkpoint not found"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["async-study", "--refractory-dropout", "1.5"], "--refractory-dropout must be a number in [0, 1]"),
        (["convert-study", "--times", "1,x"], "--times must be comma-separated integers"),
        (["convert-study", "--ann-checkpoint", "/nonexistent/ann.pt"], "ANN checkpoint not found"),
        (["topspark", "--T", "30", "--T0", "20"], "below T0"),
        (["topspark", "--min-accuracy", "2"], "--min-accuracy must be a number in [0, 1]"),
    ],
)
def test_bad_input_gives_one_clear_error(argv, msg, capsys):
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert msg in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_corrupt_checkpoint_is_clear(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    assert main(["eval", "--checkpoint", str(bad)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_report_rejects_non_json(tmp_path, capsys):
    f = tmp_path / "x.json"
    f.write_text("hello")
    assert main(["report", str(f)]) == 2
    assert "no JSON result" in capsys.readouterr().err


def test_help_everywhere(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        main(["bench", "lif", "--help"])
    assert e.value.code == 0


def test_bench_lif_tiny(capsys):
    assert main(["bench", "lif", "--sizes", "8", "--steps", "5", "--repeats", "1", "--warmup", "0", "--json"]) == 0
    res = last_json(capsys)
    row = res["rows"][0]
    assert row["ms"]["swiftspike:neuron"] > 0 and row["ms"]["linear"] > 0
    assert set(row["neuron_speedup"]) == {"snntorch", "spikingjelly", "norse"}
    assert res["machine"]["threads"] == 1
    assert main(["bench", "lif", "--sizes", "0"]) == 2


def test_train_on_user_event_files_with_bins(tmp_path, capsys):
    from test_data_events import write_shd

    write_shd(tmp_path / "shd_train.h5")
    write_shd(tmp_path / "shd_test.h5")
    assert (
        main(
            [
                "train",
                "--dataset",
                "shd",
                "--path",
                str(tmp_path),
                "--bins",
                "5",
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    res = last_json(capsys)
    assert res["time_steps"] == 5 and res["n_samples"] == 3
    assert main(["train", "--dataset", "digits", "--bins", "5", "--quiet"]) == 2
    assert "event datasets" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, cmd",
    [
        ("--plot", ["demo"]),
        ("--out", ["demo"]),
        ("--checkpoint", ["train"]),
        ("--policy", ["topspark"]),
        ("--save-ann", ["convert-study"]),
        ("--out", ["bench", "lif"]),
    ],
)
def test_unwritable_outputs_fail_before_any_work(flag, cmd, tmp_path, capsys, monkeypatch):
    """An output path under a file (unwritable even for root) is refused while parsing: the command never runs."""
    from swiftspike.cli import asynch, baseline, convert, topspark

    for module, name in (
        (baseline, "cmd_demo"),
        (baseline, "cmd_train"),
        (topspark, "cmd_topspark"),
        (convert, "cmd_convert_study"),
        (asynch, "cmd_study"),
    ):
        monkeypatch.setattr(module, name, lambda args: pytest.fail("the command ran despite a bad output path"))
    (tmp_path / "file").write_text("x")
    assert main(cmd + [flag, str(tmp_path / "file" / "sub" / "x.out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{flag} cannot be written" in err and "is a file, not a folder" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_output_dir_is_created_and_an_existing_dir_is_no_file(tmp_path, capsys):
    from swiftspike.cli.common import output_dir, output_file

    assert output_dir(str(tmp_path / "a" / "b")) and (tmp_path / "a" / "b").is_dir()
    assert output_file(str(tmp_path / "c" / "x.json")) and (tmp_path / "c").is_dir()
    assert list((tmp_path / "c").iterdir()) == []  # the write probe leaves nothing behind
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err


def _raising(exc):
    def cmd(args):
        raise exc

    return cmd


@pytest.mark.parametrize(
    "exc, code, msg",
    [
        (ModuleNotFoundError("No module named 'h5py'", name="h5py"), 2, "pip install 'swiftspike[data]'"),
        (ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"), 2, "pip install 'swiftspike[plots]'"),
        (ModuleNotFoundError("No module named 'snntorch'", name="snntorch"), 2, "pip install snntorch"),
        (PermissionError(13, "Permission denied", "/data/x.h5"), 2, "cannot access /data/x.h5: Permission denied"),
        (OSError("Unable to open file (file signature not found)"), 2, "input/output error"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_user_errors_become_one_line(exc, code, msg, monkeypatch, capsys):
    from swiftspike.cli import baseline

    monkeypatch.setattr(baseline, "cmd_demo", _raising(exc))
    assert main(["demo", "--quiet"]) == code
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_interrupted_training_says_how_to_resume(monkeypatch, capsys, tmp_path):
    from swiftspike.cli import baseline

    monkeypatch.setattr(baseline, "cmd_train", _raising(KeyboardInterrupt()))
    assert main(["train", "--checkpoint", str(tmp_path / "c.pt"), "--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err


def test_a_bug_still_shows_its_traceback(monkeypatch):
    from swiftspike.cli import baseline

    monkeypatch.setattr(baseline, "cmd_demo", _raising(ZeroDivisionError("bug")))
    with pytest.raises(ZeroDivisionError):
        main(["demo"])


@pytest.mark.slow
def test_error_exit_code_and_single_line_in_a_real_process():
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    r = subprocess.run(
        [sys.executable, "-m", "swiftspike", "train", "--resume"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "swiftspike: error: --resume needs --checkpoint FILE (the checkpoint to continue from)"
    ]


def test_threads_follow_the_one_policy_and_are_restored(monkeypatch, capsys):
    """The CLI's thread count is swiftspike.devices' policy (no second one), set for the command (and for
    every Trainer it builds: threads=None means the command's count) and restored after."""
    import torch

    from swiftspike.cli import baseline
    from swiftspike.devices import available_cores, resolve_threads

    seen = []
    monkeypatch.setattr(
        baseline, "cmd_demo", lambda args: seen.append((torch.get_num_threads(), resolve_threads(None))) or 0
    )
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert main(["demo"]) == 0 and seen[-1] == (3, 3)  # the user's environment wins
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("MKL_NUM_THREADS", "2")
    assert resolve_threads(None) == 2
    monkeypatch.delenv("MKL_NUM_THREADS")
    n = resolve_threads(None)
    assert 1 <= n <= 4
    assert main(["demo"]) == 0 and seen[-1] == (n, n)
    assert main(["demo", "--threads", "1"]) == 0 and seen[-1] == (1, 1)
    assert main(["demo", "--threads", "0"]) == 0 and seen[-1] == (available_cores(),) * 2  # 0: every core
    assert torch.get_num_threads() == before and resolve_threads(None) == n  # restored after each command
    assert main(["demo", "--threads", "-1"]) == 2
    assert "--threads must be an integer >= 0" in capsys.readouterr().err
