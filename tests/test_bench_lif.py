"""``bench lif``: the spike check runs before timing and catches a peer that computes something else."""

import math

import pytest
import torch

from swiftspike.bench.lif import LIFBenchConfig, Peer, run, table
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons import LIF

TINY = dict(sizes=(16,), steps=(12,), batch=3, repeats=1, warmup=0)


def _wrong(n, cfg, device):
    # a plausible mistake: the threshold of another convention (1.25 instead of 1.0)
    lif = LIF(tau=-1.0 / math.log(cfg.beta), v_threshold=1.25 * cfg.v_threshold)

    def neuron(c):
        lif.reset_state()
        return lif(c)

    return Peer("wrong", "0", neuron)


def _missing(n, cfg, device):
    raise ImportError("no module named 'nosuchlib'", name="nosuchlib")


def test_equal_spikes_are_checked_before_timing_and_a_wrong_peer_is_caught():
    res = run(
        LIFBenchConfig(peers=("snntorch", "spikingjelly", "norse", "wrong", "missing"), **TINY),
        builders={"wrong": _wrong, "missing": _missing},
    )
    (row,) = res["rows"]
    assert row["check"]["swiftspike"]["spikes"] > 0, "the smoke run must produce spikes to compare"
    for peer in ("snntorch", "spikingjelly", "norse"):
        assert row["check"][peer]["agree"], row["check"][peer]
        assert row["check"][peer]["spikes"] == row["check"]["swiftspike"]["spikes"]
        assert {f"{peer}:neuron", f"{peer}:e2e"} <= set(row["ms"])
    bad = row["check"]["wrong"]
    assert not bad["agree"] and bad["differing_spikes"] > 0
    assert "disagree" in row["skipped"]["wrong"] and not any(k.startswith("wrong:") for k in row["ms"])
    assert "wrong" not in row["neuron_speedup"] and "wrong" not in row["e2e_vs_floor"]
    assert "not installed" in res["skipped_peers"]["missing"]
    assert {"linear", "swiftspike:neuron", "swiftspike:e2e"} <= set(row["ms"])
    assert res["machine"]["threads"] == 1 and res["versions"]["norse"] and res["machine"]["torch"] == torch.__version__
    text = table(res)
    assert "SKIPPED" in text and "Linear alone" in text and "skipped missing" in text


def test_bench_restores_the_thread_count_and_validates_its_config():
    before = torch.get_num_threads()
    run(LIFBenchConfig(peers=(), threads=1, **TINY))
    assert torch.get_num_threads() == before
    for bad in (
        dict(sizes=()),
        dict(repeats=0),
        dict(beta=1.0),
        dict(tolerance=-0.1),
        dict(peers=("nope",)),
        dict(clock="sundial"),
    ):
        with pytest.raises(SwiftSpikeError):
            run(LIFBenchConfig(**dict(TINY, **bad)))
