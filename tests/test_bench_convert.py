"""Smoke tests of ``swiftspike bench convert`` (tiny sizes; no timing is asserted)."""

import json

import pytest
import torch

from swiftspike.bench import convert as bench
from swiftspike.conversion import build_ann, train_ann
from swiftspike.data import load_digits
from swiftspike.errors import SwiftSpikeError

SMALL = {"epochs": 1, "calib_samples": 32, "times": (1, 2), "calib_times": (2,), "repeats": 1, "test_limit": 64}


@pytest.fixture(scope="module")
def digits():
    return load_digits(flatten=False)


def test_bench_runs_both_libraries_on_the_same_ann(digits):
    pytest.importorskip("spikingjelly.activation_based.ann2snn")
    res = bench.run(digits, methods=("max", "distribution-aware"), **SMALL)
    assert res["peers"]["spikingjelly"]["available"]
    assert res["check"]["agree"], res["check"]  # same largest activation per layer in both libraries
    rows = {(r["library"], r["method"]): r for r in res["rows"]}
    assert set(rows) == {
        ("spikingjelly", "max"),
        ("spikingjelly", "99.9%"),
        ("swiftspike", "max"),
        ("swiftspike", "distribution-aware"),
    }
    assert rows[("spikingjelly", "max")]["ratio_vs_spikingjelly_max"]["2"] == pytest.approx(1.0)
    for r in rows.values():
        assert r["calib_seconds"]["2"] > 0
        assert set(r["accuracy"]) == {"1", "2"} and all(0 <= a <= 1 for a in r["accuracy"].values())
    assert res["threads"] == 1 and res["versions"]["spikingjelly"] and res["machine"]["cpu_count"]
    text = bench.table(res)
    assert "distribution-aware" in text and "x SJ max" in text
    json.dumps(res)


def test_peer_skipped_with_a_reason(digits, monkeypatch):
    torch.manual_seed(0)
    clipped = build_ann("mlp", digits.input_shape, 10)  # ClippedReLU: SpikingJelly would leave it analog
    train_ann(clipped, digits.x_train[:200], digits.y_train[:200], epochs=1, show_progress=False)
    res = bench.run(digits, ann=clipped, model="mlp", methods=("max",), **SMALL)
    peer = res["peers"]["spikingjelly"]
    assert not peer["available"] and "ClippedReLU" in peer["reason"]
    assert [r["library"] for r in res["rows"]] == ["swiftspike"]
    assert res["rows"][0]["ratio_vs_spikingjelly_max"]["2"] is None
    assert "skipped" in bench.table(res)
    monkeypatch.setattr(bench, "_spikingjelly", lambda: (None, "spikingjelly is not importable (test)"))
    res = bench.run(digits, methods=("uniform-optimal",), **SMALL)
    assert res["peers"]["spikingjelly"] == {"available": False, "reason": "spikingjelly is not importable (test)"}
    with pytest.raises(SwiftSpikeError):
        bench.run(digits, peer_modes=("median",), **SMALL)


def test_cli_bench_convert(capsys):
    from swiftspike.cli import main

    args = [
        "bench",
        "convert",
        "--epochs",
        "1",
        "--calib-samples",
        "32",
        "--times",
        "1,2",
        "--calib-times",
        "2",
        "--repeats",
        "1",
        "--test-limit",
        "64",
        "--methods",
        "max,percentile",
        "--json",
    ]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["benchmark"] == "convert" and res["calib_times"] == [2] and res["threads"] == 1
    assert {row["method"] for row in res["rows"] if row["library"] == "swiftspike"} == {"max", "percentile (99.9)"}
    assert main(args[:2] + ["--calib-times", "0"]) == 2
    assert capsys.readouterr().err.strip().startswith("swiftspike: error: --calib-times")
