"""DSN in models / training: sequential digits, long-sequence evaluation, CLI."""

import json

import pytest
import torch

from swiftspike.cli import main
from swiftspike.data.datasets import load_dataset
from swiftspike.data.encoders import make_encoder
from swiftspike.data.sequential import stretch_time
from swiftspike.errors import SwiftSpikeError
from swiftspike.models import build_model, default_spec
from swiftspike.neurons import DSN, PSN, reset
from swiftspike.training.long import dsn_time_metrics, long_sequence_eval, stream_eval
from swiftspike.training.trainer import evaluate


def test_sequential_digits_and_stretch():
    d = load_dataset("seq-digits")
    assert d.temporal and d.x_train.shape[1:] == (64, 1) and d.input_shape == (1,)
    flat = load_dataset("digits", flatten=True)
    assert torch.equal(d.x_train[:, :, 0], flat.x_train)
    x = torch.arange(6.0).reshape(1, 3, 2)
    s = stretch_time(x, 3)
    assert s.shape == (1, 9, 2) and s[0, :, 0].tolist() == [0, 0, 0, 2, 2, 2, 4, 4, 4]
    with pytest.raises(SwiftSpikeError):
        stretch_time(x, 0)


def test_build_model_gives_dsn_its_channels():
    m = build_model(default_spec((1,), 10, neuron="dsn", hidden=[16, 8], readout="spike"))
    dsns = [layer for layer in m if isinstance(layer, DSN)]
    assert [layer.channels for layer in dsns] == [16, 8, 10]
    assert dsn_time_metrics(m, 64) == {"logical_T": 64, "slots_per_step": 4, "effective_T": 256}


def _small_model(seed=0):
    torch.manual_seed(seed)
    return build_model(default_spec((1,), 10, neuron="dsn", hidden=[16], readout="li"))


def test_stream_eval_factor_one_equals_plain_accuracy_and_long_is_finite():
    d = load_dataset("seq-digits").subset(n_test=60)
    m = _small_model()
    with torch.no_grad():
        m[1].bias.fill_(-3.0)  # short memory
    plain = evaluate(m, make_encoder("sequence", 64), d.x_test, d.y_test).accuracy
    one = long_sequence_eval(m, d, "sequence", 64, 1)
    assert one["accuracy"] == pytest.approx(plain)
    long = long_sequence_eval(m, d, "sequence", 64, 15)
    assert long["finite"] and long["T"] == 960 and long["samples"] == 60
    st = long_sequence_eval(m, d, "sequence", 64, 3, mode="stretch")
    assert st["finite"] and st["T"] == 192
    with pytest.raises(SwiftSpikeError):
        long_sequence_eval(m, d, "sequence", 64, 3, mode="warp")


def test_stream_windows_are_independent_when_gates_forget():
    # gates ~0 make every DSN a memoryless map, so a stream of samples scores like separate samples
    d = load_dataset("seq-digits").subset(n_test=30)
    m = _small_model()
    with torch.no_grad():
        for layer in m:
            if isinstance(layer, DSN):
                layer.bias.fill_(-40.0)
                layer.weight.zero_()
    plain = evaluate(m, make_encoder("sequence", 64), d.x_test, d.y_test).accuracy
    assert long_sequence_eval(m, d, "sequence", 64, 5)["accuracy"] == pytest.approx(plain)
    # window scores of the stream == each sample's own readout mean on a fresh start (what the report scores)
    streamed = stream_eval(m, d, "sequence", 64, 5)["scores"]
    with torch.no_grad():
        reset(m)
        fresh = m(d.x_test.transpose(0, 1)).mean(0)
        reset(m)
    assert torch.allclose(streamed, fresh, rtol=1e-4, atol=1e-4)
    # with memory (default gates) the first window of every stream still equals a fresh start
    m2 = _small_model(1)
    st = stream_eval(m2, d, "sequence", 64, 3)["scores"].reshape(10, 3, -1)
    with torch.no_grad():
        reset(m2)
        fresh2 = m2(d.x_test.transpose(0, 1)).mean(0).reshape(10, 3, -1)
        reset(m2)
    assert torch.allclose(st[:, 0], fresh2[:, 0], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(st[:, 1:], fresh2[:, 1:], rtol=1e-4, atol=1e-4)


def test_cli_train_dsn_with_long_eval(capsys):
    rc = main(
        [
            "train",
            "--dataset",
            "seq-digits",
            "--neuron",
            "dsn",
            "--readout",
            "li",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--limit",
            "64",
            "--eval-long",
            "15",
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["effective_T"] == 256 and res["logical_T"] == 64
    assert res["long_eval"]["finite"] is True and res["long_eval"]["T"] == 960
    assert 0.0 <= res["long_eval"]["accuracy"] <= 1.0


def test_cli_train_psn_gets_T(capsys):
    rc = main(
        [
            "train",
            "--dataset",
            "seq-digits",
            "--neuron",
            "psn",
            "--readout",
            "li",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--limit",
            "32",
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["time_steps"] == 64


def test_psn_model_has_fixed_T():
    m = build_model(default_spec((1,), 10, neuron="psn", neuron_kwargs={"T": 5}, hidden=[4], readout="li"))
    assert isinstance(m[2], PSN) and m[2].T == 5
