"""The CLI's runtime options (defined once, on every command), training-workflow flags, eval from the
checkpoint alone (seeded like training; rank 0 only under torchrun), and the convert-checkpoint, export and
import commands."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from swiftspike.cli import build_parser, main
from swiftspike.training import read_checkpoint_info

SMALL = ["--epochs", "1", "--T", "3", "--hidden", "8", "--limit", "200"]


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def one_error(capsys, msg):
    err = capsys.readouterr().err
    assert msg in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def _leaves():
    from swiftspike.cli import _leaves

    return [p for p in _leaves(build_parser()) if p.prog != "swiftspike"]


# -- runtime options ---------------------------------------------------------------------------------
def test_runtime_options_are_on_every_command_and_defined_once():
    leaves = _leaves()
    assert len(leaves) >= 15 and {"swiftspike export", "swiftspike import", "swiftspike bench lif"} <= {
        p.prog for p in leaves
    }
    for p in leaves:
        opts = [o for a in p._actions for o in a.option_strings]
        for flag in ("--device", "--precision", "--compile", "--threads"):
            assert opts.count(flag) == 1, (p.prog, flag)
    cli = Path(__file__).parents[1] / "swiftspike" / "cli"
    sources = "".join(f.read_text() for f in cli.glob("*.py"))
    for flag in ("--device", "--precision", "--compile", "--threads"):
        assert len(re.findall(rf'add_argument\(\s*"{flag}"', sources)) == 1, flag


def test_benchmarks_keep_their_cpu_one_thread_defaults():
    parser = build_parser()
    args = parser.parse_args(["bench", "lif"])
    assert (args.device, args.threads) == ("cpu", 1)
    args = parser.parse_args(["train"])
    assert (args.device, args.threads, args.precision, args.compile) == ("auto", None, "float32", False)


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["demo", "--precision", "fp16"], "precision 'fp16' is not available on device 'cpu'"),
        (["demo", "--precision", "fp32"], "--precision: invalid choice"),
        (["train", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--device", "cuda:x"], "--device"),
        (["demo", "--threads", "two"], "--threads must be an integer"),
        (["async-study", "--precision", "bf16"], "'swiftspike async-study' computes in float32 only"),
        (["topspark", "--compile"], "'swiftspike topspark' has no model to compile"),
        (["report", "x.json", "--precision", "bf16"], "computes in float32 only"),
        (["bench", "convert", "--device", "meta"], "unknown device 'meta'"),
    ],
)
def test_bad_runtime_options_are_one_line(argv, msg, capsys):
    assert main(argv + ["--quiet"]) == 2
    one_error(capsys, msg)


def test_train_passes_runtime_and_tracking_flags_to_the_trainer(tmp_path, capsys, monkeypatch):
    import swiftspike.training.trainer as trainer_mod

    compiled = []
    monkeypatch.setattr(trainer_mod, "compile_layers", lambda m: compiled.append(type(m).__name__) or m)
    ck, log, tb = tmp_path / "c.safetensors", tmp_path / "m.jsonl", tmp_path / "tb"
    assert (
        main(
            [
                "train",
                *SMALL,
                "--epochs",
                "2",
                "--precision",
                "bf16",
                "--compile",
                "--threads",
                "1",
                "--num-workers",
                "0",
                "--checkpoint",
                str(ck),
                "--metrics-log",
                str(log),
                "--log-dir",
                str(tb),
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    info = read_checkpoint_info(ck)
    cfg = info["config"]
    assert (cfg["precision"], cfg["compile"], cfg["threads"], cfg["metrics_log"], cfg["log_dir"]) == (
        "bf16",
        True,
        1,
        str(log),
        str(tb),
    )
    assert info["run"]["threads"] == 1 and compiled == ["SNN"]
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [1, 2]
    assert any(f.name.startswith("events.out.tfevents") for f in tb.rglob("*"))


def test_resume_missing_fresh_and_override(tmp_path, capsys):
    ck = str(tmp_path / "r.safetensors")
    assert main(["train", *SMALL, "--checkpoint", ck, "--resume", "--resume-missing", "fresh", "--json"]) == 0
    assert "starting a new run" in capsys.readouterr().err
    assert read_checkpoint_info(ck)["epoch"] == 1
    assert main(["train", *SMALL, "--epochs", "2", "--lr", "0.01", "--checkpoint", ck, "--resume", "--quiet"]) == 2
    one_error(capsys, "lr: 0.002 -> 0.01")
    assert (
        main(
            [
                "train",
                *SMALL,
                "--epochs",
                "2",
                "--lr",
                "0.01",
                "--checkpoint",
                ck,
                "--resume",
                "--override",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    assert last_json(capsys)["extra"]["epochs"] == 2 and read_checkpoint_info(ck)["epoch"] == 2


def test_bins_apply_to_the_emulated_event_datasets(monkeypatch):
    from swiftspike.cli import baseline
    from swiftspike.cli.common import data_kwargs

    seen = []
    monkeypatch.setattr(baseline, "cmd_train", lambda args: seen.append(data_kwargs(args)) or 0)
    for name in ("nmnist-sim", "fashion-sim", "shd"):
        assert main(["train", "--dataset", name, "--bins", "5"]) == 0
    assert seen == [{"n_bins": 5}] * 3
    assert main(["train", "--dataset", "digits", "--bins", "5", "--quiet"]) == 2


def test_no_bias_is_carried_through_the_spec_and_checkpoint(tmp_path, capsys):
    from swiftspike.models import build_model, default_spec
    from swiftspike.training import load_model

    assert "bias" not in default_spec([4], 2)  # unchanged specs: checkpoints written before still resume
    net = build_model(default_spec([4], 2, hidden=[3], bias=False))
    assert all(getattr(m, "bias", None) is None for m in net)
    ck = str(tmp_path / "nb.safetensors")
    assert main(["train", *SMALL, "--no-bias", "--checkpoint", ck, "--json", "--quiet"]) == 0
    capsys.readouterr()
    model, info = load_model(ck)
    assert info["spec"]["bias"] is False
    assert not any(name.endswith("bias") for name in model.state_dict())


def test_tune_interrupt_says_run_it_again_not_resume(monkeypatch, tmp_path, capsys):
    from swiftspike.studies import tune

    def interrupted(cfg, log=print):
        raise KeyboardInterrupt

    monkeypatch.setattr(tune, "run_tune", interrupted)
    assert main(["tune", "--trials", "1", "--study-dir", str(tmp_path), "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "swiftspike: interrupted; finished trials are stored: run the same command again to continue"


# -- eval ----------------------------------------------------------------------------------------------
def test_eval_reproduces_train_for_a_nonzero_seed_and_rebuilds_from_the_json(tmp_path, capsys, monkeypatch):
    ck, plots = str(tmp_path / "s.safetensors"), tmp_path / "plots"
    assert main(["train", *SMALL, "--seed", "3", "--checkpoint", ck, "--json", "--quiet"]) == 0
    trained = last_json(capsys)
    from swiftspike.studies import baseline

    monkeypatch.setattr(baseline, "build_model", None)  # eval must not rebuild the way 'train' builds
    assert main(["eval", "--checkpoint", ck, "--json", "--quiet", "--plot", str(plots)]) == 0
    ev = last_json(capsys)
    assert ev["accuracy"] == trained["accuracy"] and ev["spikes_per_sample"] == trained["spikes_per_sample"]
    assert sorted(p.name for p in plots.iterdir()) == ["accuracy_vs_time.png", "raster.png"]
    assert main(["eval", "--checkpoint", ck, "--seed", "4", "--json", "--quiet"]) == 0
    assert last_json(capsys)["spikes_per_sample"] != trained["spikes_per_sample"]  # --seed: other noise


def test_eval_compile_and_precision_reach_the_evaluation(tmp_path, capsys, monkeypatch):
    from swiftspike import devices

    ck = str(tmp_path / "c.safetensors")
    assert main(["train", *SMALL, "--checkpoint", ck, "--json", "--quiet"]) == 0
    capsys.readouterr()
    compiled = []
    monkeypatch.setattr(devices, "compile_layers", lambda m: compiled.append(m) or m)
    assert main(["eval", "--checkpoint", ck, "--compile", "--precision", "bf16", "--json", "--quiet"]) == 0
    assert len(compiled) == 1 and 0 <= last_json(capsys)["accuracy"] <= 1


def test_eval_on_a_rank_other_than_0_prints_and_writes_nothing(tmp_path, capsys, monkeypatch):
    ck = str(tmp_path / "c.safetensors")
    assert main(["train", *SMALL, "--checkpoint", ck, "--json", "--quiet"]) == 0
    capsys.readouterr()
    out, plots = tmp_path / "out" / "r.json", tmp_path / "plots"
    argv = ["eval", "--checkpoint", ck, "--json", "--out", str(out), "--plot", str(plots)]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert main(argv) == 0
    assert capsys.readouterr().out == "" and not out.exists() and not list(plots.glob("*.png"))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == json.loads(out.read_text())
    assert len(list(plots.glob("*.png"))) == 2


# -- convert-checkpoint, export, import --------------------------------------------------------------
def test_convert_checkpoint_command(tmp_path, capsys):
    from test_checkpoint import _old_trainer_checkpoint

    old, new = tmp_path / "old.pt", tmp_path / "new.safetensors"
    _old_trainer_checkpoint(old)
    assert main(["eval", "--checkpoint", str(old), "--quiet"]) == 2
    one_error(capsys, f"swiftspike convert-checkpoint {old} NEW")
    assert main(["convert-checkpoint", str(old), str(new), "--json"]) == 0
    assert last_json(capsys)["checkpoint"] == str(new)
    assert main(["eval", "--checkpoint", str(new), "--json", "--quiet"]) == 0
    assert last_json(capsys)["time_steps"] == 4
    odd = tmp_path / "odd.pt"
    torch.save(
        {"format": "swiftspike-checkpoint", "version": 1, "meta": {"x": __import__("datetime").date(2024, 1, 1)}}, odd
    )
    assert main(["convert-checkpoint", str(odd), str(tmp_path / "o.safetensors")]) == 2
    one_error(capsys, "(--trust)")
    assert main(["convert-checkpoint", str(tmp_path / "none.pt"), str(tmp_path / "o.safetensors")]) == 2
    one_error(capsys, "checkpoint not found")


def test_export_import_eval_gives_the_trained_accuracy(tmp_path, capsys):
    ck, nir_file, back = (str(tmp_path / n) for n in ("t.safetensors", "t.nir", "back.safetensors"))
    assert (
        main(["train", *SMALL, "--seed", "2", "--no-bias", "--reset", "soft", "--checkpoint", ck, "--json", "--quiet"])
        == 0
    )
    trained = last_json(capsys)
    assert main(["export", "--nir", nir_file, "--checkpoint", ck, "--json"]) == 0
    out = capsys.readouterr()
    exported = json.loads(out.out.strip().splitlines()[-1])
    assert exported["nodes"] == ["Flatten", "Linear", "LIF", "Linear", "LIF"] and exported["dt"] == 1e-4
    assert out.err.strip().startswith("swiftspike: warning: layers") and len(out.err.strip().splitlines()) == 1
    assert main(["import", nir_file, "--out", back, "--json", "--quiet"]) == 0
    imported = last_json(capsys)
    assert imported["layers"] == exported["nodes"] and imported["dataset"] == "digits"
    assert read_checkpoint_info(back)["spec"]["arch"] == "layers"
    assert main(["eval", "--checkpoint", back, "--json", "--quiet"]) == 0
    ev = last_json(capsys)
    for key in ("accuracy", "spikes_per_sample", "latency_steps", "synops"):
        assert ev[key] == trained[key], key
    # an imported checkpoint exports again, at the time step it came with
    assert main(["export", "--nir", str(tmp_path / "again.nir"), "--checkpoint", back, "--json", "--quiet"]) == 0
    assert last_json(capsys)["dt"] == 1e-4


def test_a_foreign_nir_file_imports_and_needs_a_dataset_to_eval(tmp_path, capsys):
    nir = pytest.importorskip("nir")
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type=np.array([64])),
        "fc": nir.Affine(weight=rng.normal(size=(10, 64)).astype(np.float32), bias=np.zeros(10, np.float32)),
        "lif": nir.LIF(tau=np.full(10, 2e-3), r=np.ones(10), v_leak=np.zeros(10), v_threshold=np.ones(10)),
        "output": nir.Output(output_type=np.array([10])),
    }
    f, ck = tmp_path / "foreign.nir", tmp_path / "f.safetensors"
    nir.write(f, nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")]))
    assert main(["import", str(f), "--out", str(ck)]) == 0
    assert "names no dataset" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(ck), "--quiet"]) == 2
    one_error(capsys, "names no dataset; give one")
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(ck),
                "--dataset",
                "digits",
                "--encoder",
                "rate",
                "--T",
                "4",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    assert last_json(capsys)["time_steps"] == 4


def test_bad_nir_files_and_unexportable_models_are_one_line(tmp_path, capsys):
    nir = pytest.importorskip("nir")
    garbage = tmp_path / "bad.nir"
    garbage.write_bytes(b"not hdf5 at all")
    cuba = tmp_path / "cuba.nir"
    nodes = {
        "input": nir.Input(input_type=np.array([4])),
        "fc": nir.Linear(weight=np.ones((3, 4))),
        "c": nir.CubaLIF(
            tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)
        ),
        "output": nir.Output(output_type=np.array([3])),
    }
    nir.write(cuba, nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "c"), ("c", "output")]))
    out = str(tmp_path / "x.safetensors")
    for path, msg in (
        (tmp_path / "missing.nir", "does not exist"),
        (garbage, "not a valid NIR"),
        (cuba, "current-based"),
    ):
        assert main(["import", str(path), "--out", out]) == 2
        one_error(capsys, msg)
    assert not Path(out).exists()
    ck = str(tmp_path / "dsn.safetensors")
    assert main(["train", *SMALL, "--neuron", "dsn", "--checkpoint", ck, "--json", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", "--nir", str(tmp_path / "d.nir"), "--checkpoint", ck]) == 2
    one_error(capsys, "(DSN) has no NIR primitive")
    assert not (tmp_path / "d.nir").exists()
    assert main(["export", "--nir", str(tmp_path / "d.nir"), "--checkpoint", str(tmp_path / "none")]) == 2
    one_error(capsys, "checkpoint not found")


def test_a_checkpoint_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """Regression: the first byte of a safetensors file is the low byte of its header length, which is 0x80 (a
    pickle's first byte) for one file in 256; such checkpoints were refused as 'old pickle format'."""
    from swiftspike.training import load_checkpoint, save_checkpoint

    path = tmp_path / "c.safetensors"
    for n in range(300):
        save_checkpoint(path, {"model": {"w": torch.ones(2)}, "pad": "x" * n})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no header length with low byte 0x80 in 300 sizes")
    assert load_checkpoint(path)["pad"] == "x" * n
