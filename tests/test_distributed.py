"""Data-parallel training (2 CPU processes, gloo): equal to one process; kill and resume; the CLI under torchrun.

The equality and kill/resume runs fork their two processes (sparing two torch imports per run on a
small machine) and give them the environment torchrun gives its workers; the CLI test runs real torchrun."""

import json
import os
import subprocess
import sys

import _ddp_train
import pytest
import torch

from swiftspike.data import make_encoder
from swiftspike.training import SeededBatchSampler, Trainer, load_checkpoint
from swiftspike.training.data import shard_bounds

WORKER = os.path.join(os.path.dirname(__file__), "_ddp_train.py")


def torchrun(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.mark.parametrize("n,batch,world", [(199, 32, 2), (10, 4, 3), (64, 8, 4)])
def test_rank_shards_make_up_the_global_batches(n, batch, world):
    one = list(SeededBatchSampler(n, batch, seed=3))
    ranks = [list(SeededBatchSampler(n, batch, seed=3, rank=r, world_size=world)) for r in range(world)]
    kept = [b for b in one if len(b) >= world]  # a last batch smaller than the world is dropped
    assert all(len(r) == len(kept) for r in ranks)
    for k, b in enumerate(kept):
        assert [i for r in ranks for i in r[k]] == b
    assert sum(shard_bounds(7, r, 3)[1] - shard_bounds(7, r, 3)[0] for r in range(3)) == 7


def two_processes(checkpoint, kill_at=0, resume=False) -> bool:
    """Run the worker as 2 forked processes with torchrun's environment; False when a process died."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        mp.start_processes(
            _ddp_train.forked, args=(port, checkpoint, kill_at, resume), nprocs=2, join=True, start_method="fork"
        )
    except mp.ProcessExitedException:
        return False
    return True


@pytest.mark.slow
def test_two_processes_equal_one_and_a_killed_run_resumes_where_it_would_have_ended(tmp_path, capfd):
    a, b = str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")
    assert two_processes(a)
    # one process, same global batch (32) and seed; 199 samples: the last batch splits 4/3 across the ranks
    data, spec, model = _ddp_train.setup()
    single = Trainer(model, make_encoder("rate", 4), _ddp_train.config(distributed="off"), spec=spec)
    single.fit(data)
    ddp = load_checkpoint(a)
    assert ddp["run"]["world_size"] == 2
    for k, v in single.model.state_dict().items():
        assert torch.allclose(v, ddp["model"][k], atol=1e-6, rtol=1e-5), k
    for h1, h2 in zip(single.history, ddp["history"]):
        assert h1["loss"] == pytest.approx(h2["loss"], rel=1e-6) and h1["train_accuracy"] == h2["train_accuracy"]
    # a run whose rank 0 is SIGKILLed in the middle of epoch 2, then resumed
    capfd.readouterr()
    assert not two_processes(b, kill_at=9)
    assert load_checkpoint(b)["epoch"] == 1
    assert two_processes(b, resume=True)
    out = capfd.readouterr().out
    assert out.count("resuming from") == 1 and "after epoch 1 of 3" in out  # rank 0 alone reports
    done = load_checkpoint(b)
    for k, v in ddp["model"].items():
        assert torch.equal(v, done["model"][k]), k
    assert [h["epoch"] for h in done["history"]] == [1, 2, 3]


@pytest.mark.slow
def test_cli_train_runs_under_torchrun_and_rank_0_alone_reports(tmp_path):
    ck, out = tmp_path / "cli.safetensors", tmp_path / "r.json"
    r = torchrun(
        "-m",
        "swiftspike",
        "train",
        "--epochs",
        "1",
        "--T",
        "3",
        "--hidden",
        "8",
        "--limit",
        "128",
        "--checkpoint",
        str(ck),
        "--json",
        "--quiet",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1 and json.loads(lines[0]) == json.loads(out.read_text())  # one report, from rank 0
    info = load_checkpoint(ck)
    assert info["run"]["world_size"] == 2 and info["epoch"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
