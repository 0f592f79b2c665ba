import json

import pytest

from swiftspike.cli import build_parser, main


def last_json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


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
    args = ["train", "--dataset", "digits", "--epochs", "2", "--T", "4", "--hidden", "32", "--checkpoint", str(ck),
            "--out", str(out), "--json", "--quiet", "--surrogate", "fast-sigmoid", "--reset", "soft"]
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
    assert main(["train", "--arch", "conv", "--hidden", "4", "16", "--epochs", "1", "--T", "3", "--readout", "li",
                 "--encoder", "direct", "--json", "--quiet", "--limit", "200"]) == 0
    res = last_json(capsys)
    assert res["macs"] > 0  # direct (analog) input -> first layer does MACs
    assert res["first_spike_step"] is None  # analog readout has no output spikes


@pytest.mark.parametrize("argv, msg", [
    (["train", "--dataset", "imagenet"], "unknown dataset"),
    (["train", "--T", "0"], "T must be a positive integer"),
    (["train", "--epochs", "0"], "epochs must be a positive integer"),
    (["train", "--neuron", "hodgkin"], "unknown neuron"),
    (["train", "--surrogate", "tanh"], "unknown surrogate"),
    (["train", "--limit", "-5"], "limit"),
    (["eval", "--checkpoint", "/nonexistent/x.pt"], "checkpoint not found"),
    (["report", "/nonexistent.json"], "not found"),
    (["demo", "--T", "-1"], "T must be a positive integer"),
])
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
    assert main(["train", "--dataset", "shd", "--path", str(tmp_path), "--bins", "5", "--epochs", "1",
                 "--hidden", "8", "--json", "--quiet"]) == 0
    res = last_json(capsys)
    assert res["time_steps"] == 5 and res["n_samples"] == 3
    assert main(["train", "--dataset", "digits", "--bins", "5", "--quiet"]) == 2
    assert "event datasets" in capsys.readouterr().err
