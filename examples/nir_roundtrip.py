"""NIR round trip (workflow): export a trained swiftspike network to the Neuromorphic Intermediate
Representation, read it back, and check the spikes are identical; where snnTorch (with nirtorch) is
installed, run the same file in snnTorch too. Needs the `nir` extra: pip install 'swiftspike[nir]'.

    python examples/nir_roundtrip.py          # trains 10 epochs first
    python examples/nir_roundtrip.py --tiny   # seconds (what CI runs)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
from pathlib import Path

import torch
from torch import nn

import swiftspike
from swiftspike import LIF, SNN
from swiftspike.data import load_dataset, make_encoder
from swiftspike.engines.sync import run_sync
from swiftspike.training import TrainConfig, Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--out", default="runs/examples/model.nir")
    args = ap.parse_args()

    data = load_dataset("digits", flatten=True)
    if args.tiny:
        data = data.subset(n_train=200, n_test=50)
    torch.manual_seed(0)
    net = SNN(nn.Linear(64, 64), LIF(tau=8.0), nn.Linear(64, 10), LIF(tau=4.0))
    encoder = make_encoder("rate", 16)
    cfg = TrainConfig(epochs=1 if args.tiny else 10, lr=3e-3, seed=0, progress=not args.tiny)
    Trainer(net, encoder, cfg).fit(data)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    swiftspike.export_nir(net, args.out)  # DT = 1e-4 s stored in the graph; tau -> NIR's continuous tau
    back = swiftspike.import_nir(args.out)  # an SNN again, with the file's own DT

    x = encoder(data.x_test[:32])  # [T, B, 64]
    with torch.no_grad():
        a, b = run_sync(net, x), run_sync(back, x)
    print(f"swiftspike -> NIR -> swiftspike: identical output spikes: {torch.equal(a, b)} ({int(a.sum())} spikes)")
    assert torch.equal(a, b)

    if importlib.util.find_spec("snntorch") and importlib.util.find_spec("nirtorch"):
        import nir
        import snntorch
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints how it rescales the weights
            peer = import_from_nir(nir.read(args.out))
        for m in peer.modules():
            if isinstance(m, snntorch.Leaky):
                m.reset_mem()
        outs, state = [], None
        with torch.no_grad():
            for t in range(x.shape[0]):
                out = peer(x[t]) if state is None else peer(x[t], state)
                out, state = out if isinstance(out, tuple) else (out, state)
                outs.append(out)
        agree = (torch.stack(outs).float() == a).float().mean().item()
        print(f"swiftspike -> NIR -> snnTorch: output spikes agree on {agree:.2%} of entries (float32)")
    else:
        print("snnTorch or nirtorch is not installed: skipped running the file in snnTorch")


if __name__ == "__main__":
    main()
