"""``convert-checkpoint``, ``export`` and ``import``: move trained networks between file formats.

* ``swiftspike convert-checkpoint OLD NEW [--trust]``: an old ``torch.save`` checkpoint (swiftspike 0.1)
  rewritten in the safe format (:func:`swiftspike.training.convert_legacy_checkpoint`).
* ``swiftspike export --nir FILE --checkpoint CK [--dt DT]``: the checkpoint's network as a NIR file
  (:func:`swiftspike.interop.checkpoints.export_checkpoint`).
* ``swiftspike import FILE --out CK [--dt DT]``: a NIR file as a checkpoint that ``eval`` (and ``export``)
  read (:func:`swiftspike.interop.checkpoints.import_checkpoint`).
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from .common import add_output_flags, emit, output_file, positive_float, show_text


def _warnings_as_lines(caught: list[warnings.WarningMessage]) -> None:
    """Library warnings as one ``swiftspike: warning:`` line each (not Python's two-line format)."""
    import sys

    for w in caught:
        print(f"swiftspike: warning: {w.message}", file=sys.stderr)


def cmd_convert_checkpoint(args: argparse.Namespace) -> int:
    from ..training.checkpoint import convert_legacy_checkpoint

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = convert_legacy_checkpoint(args.old, args.new, trust=args.trust)
    _warnings_as_lines(caught)
    result = {"checkpoint": str(out), "converted_from": args.old}
    emit(args, result, f"converted {args.old} -> {out} (safe format)" if show_text(args) else None)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..interop.checkpoints import export_checkpoint

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = export_checkpoint(args.checkpoint, args.nir, dt=args.dt)
    _warnings_as_lines(caught)
    nodes = [type(n).__name__ for k, n in graph.nodes.items() if k not in ("input", "output")]
    result: dict[str, Any] = {
        "nir": args.nir,
        "checkpoint": args.checkpoint,
        "dt": float(graph.metadata["dt"]),
        "nodes": nodes,
    }
    text = f"wrote {args.nir}: {len(nodes)} NIR nodes ({', '.join(nodes)}), dt = {result['dt']:g} s"
    emit(args, result, text if show_text(args) else None)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..interop.checkpoints import import_checkpoint
    from ..training.checkpoint import read_checkpoint_info

    out = import_checkpoint(args.file, args.checkpoint_out, dt=args.dt)
    info = read_checkpoint_info(out)
    spec = info["spec"]
    result = {
        "checkpoint": str(out),
        "nir": args.file,
        "dt": spec["dt"],
        "input_shape": spec["input_shape"],
        "layers": [d["type"] for d in spec["layers"]],
        "dataset": (info.get("meta") or {}).get("dataset"),
    }
    text = f"wrote {out}: {len(result['layers'])} layers ({', '.join(result['layers'])}), dt = {spec['dt']:g} s" + (
        ""
        if result["dataset"]
        else "; the file names no dataset: evaluate with 'swiftspike eval "
        f"--checkpoint {out} --dataset NAME --encoder ENC --T T'"
    )
    emit(args, result, text if show_text(args) else None)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-checkpoint",
        help="rewrite an old pickle checkpoint (swiftspike 0.1) in the safe format",
        description="Read an old torch.save checkpoint with torch.load(weights_only=True) (tensors and "
        "plain containers only: nothing in the file runs) and write it as a safetensors "
        "+ JSON checkpoint.",
    )
    p.add_argument("old", help="the old checkpoint (torch.save)")
    p.add_argument("new", type=output_file, help="the new checkpoint to write")
    p.add_argument(
        "--trust",
        action="store_true",
        help="unpickle a file holding other Python objects (runs any code stored in it: only for "
        "files whose origin you trust)",
    )
    add_output_flags(p, plots=False)
    p.set_defaults(func=cmd_convert_checkpoint)

    p = sub.add_parser(
        "export",
        help="write a checkpoint's network as a NIR file (snnTorch, Norse, hardware)",
        description="Rebuild the network of a checkpoint and write it in NIR, the Neuromorphic "
        "Intermediate Representation (needs the nir package: pip install "
        "'swiftspike[nir]'). See docs/how-to/nir.md.",
    )
    p.add_argument("--nir", required=True, metavar="FILE", type=output_file, help="the NIR file to write")
    p.add_argument("--checkpoint", required=True, help="checkpoint written by 'swiftspike train' or 'import'")
    p.add_argument(
        "--dt",
        type=positive_float,
        help="NIR time step in seconds (default 1e-4, or the one an imported checkpoint came with)",
    )
    add_output_flags(p, plots=False)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import",
        help="read a NIR file into a checkpoint that 'eval' and 'export' use",
        description="Build a swiftspike network from a NIR file (Affine, Linear, Conv, Flatten, "
        "pooling, Scale, LIF, IF, LI, I nodes in one chain) and save it as a checkpoint. "
        "A file written by 'swiftspike export' carries its encoder and dataset, so "
        "'swiftspike eval --checkpoint OUT' reproduces the original report.",
    )
    p.add_argument("file", help="the NIR file to read")
    p.add_argument(
        "--out", dest="checkpoint_out", required=True, metavar="CK", type=output_file, help="the checkpoint to write"
    )
    p.add_argument(
        "--dt", type=positive_float, help="NIR time step in seconds, for files that do not store one (default 1e-4)"
    )
    add_output_flags(p, plots=False, out=False)
    p.set_defaults(func=cmd_import)
