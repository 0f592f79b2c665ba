"""``swiftspike bench async``: a smoke run of the grid (no timing assertions)."""

import json
import math

import pytest

from swiftspike.bench import asynch as bench
from swiftspike.cli import main
from swiftspike.errors import SwiftSpikeError


def test_bench_async_cli_runs_the_grid_and_checks_spikes(capsys):
    rc = main(
        [
            "bench",
            "async",
            "--batches",
            "1",
            "3",
            "--widths",
            "16",
            "48",
            "--F-list",
            "2",
            "--T",
            "2",
            "--repeats",
            "1",
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(res["rows"]) == 4 and not res["skipped"]
    for r in res["rows"]:
        assert r["steps_per_sample"] > 2
        for key in ("engine_steps_per_s", "dense_steps_per_s", "naive_steps_per_s"):
            assert r[key] > 0
        assert r["engine_equals_dense"] is True
        assert r["naive_equals_engine"] in (True, None)  # the naive loop runs at the smallest batch
    assert all(r["naive_equals_engine"] is True for r in res["rows"] if r["batch"] == 1)
    assert res["all_identical"] is True
    assert {r["engine_path"] for r in res["rows"]} == {"gather"}  # sources of 16 and 48 >= 4 F
    assert res["machine"]["torch"] and "torch_threads" in res["machine"]
    assert set(res["targets"]) >= {"batch1_engine_vs_naive", "slowdown_smallest_to_largest_width"}


def test_bench_table_and_budget_skips():
    res = bench.run(batches=(1, 2), widths=(8,), F_list=(1,), T=1, repeats=1, budget_s=1e-9)
    text = bench.table(res)
    assert "| batch | width | F |" in text and "skipped" in text
    assert [r["batch"] for r in res["rows"]] == [1]  # batch 2 predicted over the (tiny) budget
    assert {s["executor"] for s in res["skipped"]} == {"engine", "dense"}
    assert math.isfinite(res["rows"][0]["engine_vs_naive"])


def test_bench_bad_arguments():
    with pytest.raises(SwiftSpikeError, match="widths"):
        bench.run(widths=())
    with pytest.raises(SwiftSpikeError, match="F_list"):
        bench.run(F_list=(0,))
    assert main(["bench", "async", "--repeats", "0", "--quiet"]) == 2
