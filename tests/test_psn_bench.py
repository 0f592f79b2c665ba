"""`swiftspike bench parallel`: structure, peer agreement, skipping, bad input (no timing assertions)."""

import json
import subprocess
import sys

import pytest

from swiftspike.bench.parallel import PEER_METHODS, estimate_bytes, run, table
from swiftspike.cli import main


def test_skips_sizes_over_the_caps_without_running_them():
    res = run((64, 128), ("dsn", "psn", "spikingjelly-psn"), batch=2, features=4, mem_cap_gb=1e-9)
    for m in ("dsn", "psn", "spikingjelly-psn"):
        for T in ("64", "128"):
            assert "exceeds the memory cap" in res["results"][m][T]["skipped"]
    assert res["checks"] == []  # nothing to time, so no agreement check either
    assert res["time_ratio_vs_dsn"]["psn"] == {"64": None, "128": None}
    assert estimate_bytes("psn", 16384, 4, 64) > 4 * 16384**2  # the T x T weight alone
    assert "skipped: dsn T=64" in table(res)


@pytest.mark.slow
def test_cli_times_peers_after_checking_they_agree(capsys):
    rc = main(
        [
            "bench",
            "parallel",
            "--T",
            "16",
            "32",
            "--methods",
            "dsn",
            "lif",
            "psn",
            "spikingjelly-psn",
            "sliding-psn",
            "spikingjelly-sliding-psn",
            "--max-T",
            "16",
            "--batch",
            "2",
            "--features",
            "4",
            "--repeats",
            "2",
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {tuple(c["pair"]) for c in res["checks"]} == {
        ("psn", "spikingjelly-psn"),
        ("sliding-psn", "spikingjelly-sliding-psn"),
    }
    for c in res["checks"]:  # same weights and input in float64: identical spikes, equal gradients
        assert c["ok"] and c["spikes_differ"] == 0 and c["spikes_total"] > 0
        assert max(c["grad_rel_err"].values()) < 1e-9
    for m in res["methods"]:
        r = res["results"][m]["16"]
        assert r["seconds"] > 0 and r["cpu_seconds"] > 0 and r["repeats"] == 2 and r["peak_mb"] >= 0
        assert "max T" in res["results"][m]["32"]["skipped"]
    assert res["time_ratio_vs_dsn"]["spikingjelly-psn"]["16"] > 0
    assert res["time_ratio_vs_dsn"]["lif"]["32"] is None
    assert res["machine"]["threads"] == 1 and res["machine"]["torch"] and res["machine"]["spikingjelly"]


@pytest.mark.slow
def test_time_cap_skips_measured_and_predicted_sizes():
    res = run((8, 16), ("dsn", "spikingjelly-sliding-psn"), batch=1, features=2, repeats=1, time_cap_s=1e-9)
    first = res["results"]["spikingjelly-sliding-psn"]["8"]
    assert "one call took" in first["skipped"] and first["first_call_s"] > 0
    assert "predicted" in res["results"]["spikingjelly-sliding-psn"]["16"]["skipped"]
    assert "T^4" in res["results"]["spikingjelly-sliding-psn"]["16"]["skipped"]


def test_peers_missing_are_skipped_with_the_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "spikingjelly.activation_based.neuron", None)  # import fails
    res = run((8,), ("dsn", *PEER_METHODS), batch=1, features=2, mem_cap_gb=1e-9)
    for m in PEER_METHODS:
        assert "spikingjelly is not installed" in res["results"][m]["8"]["skipped"]


def test_bench_module_has_no_cli():
    import os
    from pathlib import Path

    import swiftspike

    root = str(Path(swiftspike.__file__).resolve().parents[1])  # this checkout, not another install
    code = (
        "import sys, swiftspike.bench.parallel as p, inspect; "
        "assert 'swiftspike.cli' not in sys.modules, 'imports the CLI'; "
        "assert 'argparse' not in inspect.getsource(p)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": root})


@pytest.mark.parametrize(
    "argv",
    [
        ["--methods", "gru"],
        ["--T", "0"],
        ["--device", "cuda:7"],
        ["--device", "tpu"],
        ["--threads", "-1"],
        ["--time-cap-s", "0"],
        ["--repeats", "0"],
    ],
)
def test_bad_arguments(argv, capsys):
    import torch

    if "cuda:7" in argv and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["bench", "parallel", "--T", "8", *argv]) == 2
    assert "error" in capsys.readouterr().err
