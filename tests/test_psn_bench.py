"""`swiftspike bench parallel`: structure, skipping, bad input (no timing assertions)."""
import json

import pytest

from swiftspike.bench.parallel import estimate_bytes, run
from swiftspike.cli import main


def test_skips_sizes_over_the_caps_without_running_them():
    res = run((64, 128), ("dsn", "psn"), batch=2, features=4, mem_cap_gb=1e-9, progress=False)
    for m in ("dsn", "psn"):
        for T in ("64", "128"):
            assert "exceeds --mem-cap-gb" in res["results"][m][T]["skipped"]
    assert res["time_ratio_vs_dsn"]["psn"] == {"64": None, "128": None}
    assert estimate_bytes("psn", 16384, 4, 64) > 4 * 16384 ** 2  # the T x T weight alone


def test_cli_measures_in_a_child_and_reports_ratios(capsys):
    rc = main(["bench", "parallel", "--T", "32", "64", "--methods", "dsn", "lif", "--max-T", "32",
               "--batch", "2", "--features", "4", "--repeats", "1", "--json", "--quiet"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for m in ("dsn", "lif"):
        r = res["results"][m]["32"]
        assert r["seconds"] > 0 and r["peak_mb"] >= 0
        assert "--max-T" in res["results"][m]["64"]["skipped"]
    assert res["time_ratio_vs_dsn"]["lif"]["32"] > 0 and res["time_ratio_vs_dsn"]["lif"]["64"] is None


@pytest.mark.parametrize("argv", [["--methods", "gru"], ["--T", "0"], ["--device", "cuda:7"], ["--device", "tpu"]])
def test_bad_arguments(argv, capsys):
    import torch

    if "cuda:7" in argv and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["bench", "parallel", "--T", "8", *argv]) == 2
    assert "error" in capsys.readouterr().err
