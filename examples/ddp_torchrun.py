"""Distributed data-parallel training (workflow): the same Trainer script runs in one process, or in N
processes under torchrun (DistributedDataParallel; gloo on CPU, nccl on GPUs). Rank 0 alone writes the
checkpoint and prints. With the same global batch and seed, N processes end at the weights of one.

    python examples/ddp_torchrun.py --tiny                                   # one process
    torchrun --standalone --nproc-per-node 2 examples/ddp_torchrun.py        # two processes, one machine
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
             --rdzv-id my-run examples/ddp_torchrun.py                       # on every one of two nodes
"""

from __future__ import annotations

import argparse

import torch

from swiftspike.data import load_dataset, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import TrainConfig, Trainer
from swiftspike.training.distributed import env_info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--checkpoint", default="runs/examples/ddp.safetensors", help="visible to every node")
    args = ap.parse_args()

    data = load_dataset("digits", flatten=True)
    if args.tiny:
        data = data.subset(n_train=256, n_test=64)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[32 if args.tiny else 128])
    torch.manual_seed(0)  # every rank builds the same model; DDP also broadcasts rank 0's weights
    # batch_size is the global batch (split across the processes); resume=True with resume_missing="fresh":
    # the first start trains from scratch, a restart after a crash continues from the checkpoint
    cfg = TrainConfig(
        epochs=2 if args.tiny else 10,
        batch_size=64,
        lr=3e-3,
        seed=0,
        checkpoint=args.checkpoint,
        resume=True,
        resume_missing="fresh",
        threads=1,
        progress=False,
    )
    trainer = Trainer(build_model(spec), make_encoder("rate", 8), cfg, spec=spec, meta={"dataset": "digits"})
    trainer.fit(data)
    report = trainer.evaluate(data)
    info = env_info()  # rank and world size as torchrun set them (rank 0 of 1 otherwise)
    if info.is_main:
        print(f"processes: {info.world_size}; epochs done: {len(trainer.history)}; test accuracy {report.accuracy:.4f}")
        print(
            f"sum of the first weight matrix (1 and N processes agree to float tolerance): "
            f"{float(next(trainer.model.parameters()).detach().sum()):.6f}"
        )


if __name__ == "__main__":
    main()
