"""Worker of the distributed tests (not a test module): trains a small LIF network on a digits subset with the
Trainer under torch.distributed. Run by ``torchrun`` (``python -m torch.distributed.run ... _ddp_train.py``) or,
with the same environment variables, in processes forked by ``tests/test_distributed.py``.
``kill_at=K`` SIGKILLs rank 0 right after its K-th optimizer step (a crash in the middle of an epoch)."""

import argparse
import os
import signal

import torch

from swiftspike.data import load_digits, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import TrainConfig, Trainer, seed_everything


def setup(n_train: int = 199):
    data = load_digits(seed=0).subset(n_train=n_train, n_test=64)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[16])
    seed_everything(1)
    return data, spec, build_model(spec)


def config(**kw) -> TrainConfig:
    return TrainConfig(epochs=3, batch_size=32, lr=3e-3, seed=1, spike_reg=0.1, progress=False, threads=1, **kw)


def train(checkpoint: str, kill_at: int = 0, resume: bool = False) -> Trainer:
    data, spec, model = setup()
    steps = {"n": 0}

    def after_step(m):
        steps["n"] += 1
        if kill_at and steps["n"] == kill_at and int(os.environ.get("RANK", 0)) == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    tr = Trainer(
        model,
        make_encoder("rate", 4),
        config(checkpoint=checkpoint, resume=resume),
        spec=spec,
        after_step=after_step,
        log=print,
    )
    tr.fit(data)
    assert tr.dist.world_size == int(os.environ["WORLD_SIZE"]) == 2
    return tr


def forked(rank: int, port: int, checkpoint: str, kill_at: int, resume: bool) -> None:
    """Entry of a process made by ``torch.multiprocessing.start_processes``: the variables torchrun would set."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    train(checkpoint, kill_at, resume)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--kill-at", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    train(a.checkpoint, a.kill_at, a.resume)
