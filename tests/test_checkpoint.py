"""Safe checkpoints: safetensors + JSON, never unpickled; atomic writes; legacy files; ANN checkpoints."""

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from swiftspike import SwiftSpikeError
from swiftspike.conversion.ann import build_ann, load_ann, save_ann
from swiftspike.data import load_digits, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import (
    TrainConfig,
    Trainer,
    clean_stale_temps,
    convert_legacy_checkpoint,
    load_checkpoint,
    load_model,
    read_checkpoint_info,
    save_checkpoint,
    seed_everything,
)


class Evil:
    """Unpickling this creates the file ``marker``: stands for arbitrary code in a pickle."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_payload_round_trip_keeps_types(tmp_path):
    payload = {
        "model": {"w": torch.randn(3, 2), "b": torch.zeros(()), "h": torch.ones(2, dtype=torch.bfloat16)},
        "optimizer": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0], "foreach": None}],
        },
        "history": [{"loss": float("nan"), "x": float("inf")}],
        "tricky": {"__tensor__": "not a tensor", 5: "int key"},
        "rng": {"numpy": ("MT19937", __import__("numpy").arange(4, dtype="uint32"), 2, 0, 0.0)},
    }
    p = save_checkpoint(tmp_path / "c.safetensors", payload)
    back = load_checkpoint(p)
    assert torch.equal(back["model"]["w"], payload["model"]["w"]) and back["model"]["h"].dtype == torch.bfloat16
    assert back["optimizer"]["state"][0]["step"] == 3.0
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["tricky"] == {"__tensor__": "not a tensor", 5: "int key"}
    assert back["history"][0]["x"] == float("inf") and back["history"][0]["loss"] != back["history"][0]["loss"]
    np_state = back["rng"]["numpy"]
    assert np_state[1].dtype.name == "uint32" and list(np_state[1]) == [0, 1, 2, 3]
    with pytest.raises(SwiftSpikeError, match="cannot store a object"):
        save_checkpoint(tmp_path / "d.safetensors", {"x": object()})
    # the file is a plain safetensors file whose header carries the JSON
    from safetensors import safe_open

    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata()
        assert "model/w" in f.keys()  # noqa: SIM118  safe_open is not iterable
    assert meta["format"] == "swiftspike-checkpoint" and json.loads(meta["swiftspike"])["model"]["w"] == {
        "__tensor__": "model/w"
    }


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"format": "swiftspike-checkpoint", "model": Evil(marker)}, protocol=2))
    zipped = tmp_path / "zipped.pt"
    torch.save({"format": "swiftspike-checkpoint", "version": 1, "model": Evil(marker)}, zipped)
    plain = tmp_path / "plain.pt"
    torch.save(Evil(marker), plain)
    assert not marker.exists()
    for f in (raw, zipped, plain):
        with pytest.raises(SwiftSpikeError) as e:
            load_checkpoint(f)
        assert "pickle" in str(e.value)
        with pytest.raises(SwiftSpikeError, match="refused without running"):
            convert_legacy_checkpoint(f, tmp_path / "out.safetensors")
        with pytest.raises(SwiftSpikeError, match="refused without running"):
            load_ann(f, "mlp", (64,), 10)
    assert not marker.exists()
    with pytest.raises(SwiftSpikeError) as err:
        load_checkpoint(zipped)
    assert "convert-checkpoint" in str(err.value)
    assert not (tmp_path / "out.safetensors").exists()


def _old_trainer_checkpoint(path):
    """A checkpoint as swiftspike 0.1 wrote it: torch.save of the Trainer state."""
    spec = default_spec([64], 10, hidden=[8])
    model = build_model(spec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model[1].weight.sum().backward()
    opt.step()
    torch.save(
        {
            "format": "swiftspike-checkpoint",
            "version": 1,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": 1,
            "history": [{"epoch": 1, "loss": 2.0}],
            "spec": spec,
            "meta": {"dataset": "digits"},
            "config": {"epochs": 1, "lr": 1e-3},
            "encoder": {"name": "rate", "T": 4},
        },
        path,
    )
    return model


def test_legacy_checkpoint_gives_one_message_and_converts(tmp_path):
    old = tmp_path / "old.pt"
    model = _old_trainer_checkpoint(old)
    with pytest.raises(
        SwiftSpikeError,
        match=r"old pickle format .* convert it once with 'swiftspike "
        r"convert-checkpoint",
    ):
        load_checkpoint(old)
    new = convert_legacy_checkpoint(old, tmp_path / "new.safetensors")
    rebuilt, ck = load_model(new)
    for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()):
        assert torch.equal(a, b)
    assert ck["optimizer"]["state"][0]["exp_avg"].shape == model[1].weight.shape
    assert ck["history"] == [{"epoch": 1, "loss": 2.0}] and ck["converted_from"]["version"] == 1
    with pytest.raises(SwiftSpikeError, match="already a safetensors"):
        convert_legacy_checkpoint(new, tmp_path / "again.safetensors")
    # a file with other pickled objects converts only when trusted, with a warning
    odd = tmp_path / "odd.pt"
    torch.save(
        {
            "format": "swiftspike-checkpoint",
            "version": 1,
            "model": model.state_dict(),
            "meta": {"when": __import__("datetime").date(2024, 1, 1)},
        },
        odd,
    )
    with pytest.raises(SwiftSpikeError, match="trust=True"):
        convert_legacy_checkpoint(odd, tmp_path / "odd.safetensors")
    with (
        pytest.warns(UserWarning, match="runs any code"),
        pytest.raises(SwiftSpikeError, match="cannot store a date"),
    ):
        convert_legacy_checkpoint(odd, tmp_path / "odd.safetensors", trust=True)


@pytest.mark.slow
def test_stale_temporary_files_of_a_killed_save_are_removed(tmp_path):
    """SIGKILL a process in the middle of a save: its temporary file stays; the next save removes it."""
    target = tmp_path / "big.safetensors"
    save_checkpoint(target, {"model": {"w": torch.ones(3)}})
    script = f"""
import time, torch
from swiftspike.training import checkpoint as ck
orig = ck._write
def slow(tmp, tensors, meta):
    tmp.write_bytes(b"partial")
    print("writing", flush=True)
    time.sleep(60)
ck._write = slow
ck.save_checkpoint({str(target)!r}, {{"model": {{"w": torch.zeros(3)}}}})
"""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].name.startswith(f".{target.name}.{proc.pid}.")
        assert clean_stale_temps(target) == []  # its process still runs: kept
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert temps[0].exists()
    assert torch.equal(load_checkpoint(target)["model"]["w"], torch.ones(3))  # the old checkpoint is intact
    old_style = tmp_path / f".{target.name}.k2x9_abc.tmp"  # left by swiftspike 0.1 (random name, no pid)
    old_style.write_bytes(b"x")
    other = tmp_path / ".other.safetensors.1.abc.tmp"
    other.write_bytes(b"x")
    save_checkpoint(target, {"model": {"w": torch.full((3,), 2.0)}})
    assert not temps[0].exists() and not old_style.exists() and other.exists()
    assert torch.equal(load_checkpoint(target)["model"]["w"], torch.full((3,), 2.0))
    assert oct(target.stat().st_mode & 0o777) != "0o600"


def test_unwritable_checkpoint_fails_before_training(tmp_path):
    (tmp_path / "f").write_text("a file, not a folder")
    model = build_model(default_spec([64], 10, hidden=[8]))
    for bad in (tmp_path / "f" / "ck.safetensors", tmp_path):
        with pytest.raises(SwiftSpikeError, match="checkpoint"):
            Trainer(model, make_encoder("rate", 2), TrainConfig(checkpoint=str(bad), progress=False))


def test_trainer_checkpoint_json_alone_rebuilds_the_model(tmp_path):
    data = load_digits(seed=0).subset(n_train=64, n_test=32)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[8], neuron_kwargs={"tau": 3.0})
    seed_everything(0)
    tr = Trainer(
        build_model(spec),
        make_encoder("poisson", 3),
        TrainConfig(epochs=1, batch_size=32, checkpoint=str(tmp_path / "r.safetensors"), progress=False),
        spec=spec,
        meta={"dataset": "digits"},
    )
    tr.fit(data)
    info = read_checkpoint_info(tmp_path / "r.safetensors")
    assert info["spec"] == spec and info["encoder"] == {"name": "rate", "T": 3, "gain": 1.0, "method": "poisson"}
    assert info["neurons"][0]["tau"] == 3.0 and info["neurons"][0]["type"] == "LIF"
    assert info["run"]["swiftspike"] and info["config"]["epochs"] == 1 and info["meta"] == {"dataset": "digits"}
    assert info["model"]["1.weight"] == {"__tensor__": "model/1.weight"}  # tensors are not read
    model = build_model(info["spec"])  # the JSON is enough to build the architecture
    model.load_state_dict(load_checkpoint(tmp_path / "r.safetensors")["model"])
    for a, b in zip(model.state_dict().values(), tr.model.state_dict().values()):
        assert torch.equal(a, b)


def test_ann_checkpoints_are_safe_and_read_old_ones(tmp_path):
    torch.manual_seed(0)
    ann = build_ann("mlp", (64,), 10)
    p = save_ann(tmp_path / "ann.safetensors", ann, "mlp", (64,), 10)
    x = torch.rand(4, 64)
    with torch.no_grad():
        assert torch.equal(load_ann(p, "mlp", (64,), 10)(x), ann.eval()(x))
    old = tmp_path / "old_ann.pt"  # swiftspike 0.1 ANN checkpoint: read safely (weights_only)
    torch.save(
        {
            "format": "swiftspike-checkpoint",
            "version": 1,
            "kind": "conversion-ann",
            "model": "mlp",
            "input_shape": [64],
            "n_classes": 10,
            "state_dict": ann.state_dict(),
            "meta": {},
        },
        old,
    )
    with torch.no_grad():
        assert torch.equal(load_ann(old, "mlp", (64,), 10)(x), ann(x))
    whole = tmp_path / "module.pt"
    torch.save(ann, whole)
    with pytest.raises(SwiftSpikeError, match="state_dict instead"):
        load_ann(whole, "mlp", (64,), 10)
    with pytest.warns(UserWarning):
        assert isinstance(load_ann(whole, "mlp", (64,), 10, trust_pickle=True), torch.nn.Module)
