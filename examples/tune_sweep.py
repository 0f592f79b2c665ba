"""Hyper-parameter sweep (workflow): search lr, tau, threshold, T, the spike regulariser and the hidden
sizes for accuracy and spikes at once with Optuna, and print the Pareto front. Running it again continues
the same study (the journal file in the study folder). Needs the `tune` extra: pip install 'swiftspike[tune]'.

    python examples/tune_sweep.py          # 24 trials of 3 epochs: about a minute or two on one core
    python examples/tune_sweep.py --tiny   # 2 trials on 300 digits (what CI runs)
"""

from __future__ import annotations

import argparse

from swiftspike.studies.tune import TuneConfig, run_tune, search_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--study-dir", default="runs/examples/tune")
    args = ap.parse_args()

    overrides = ["T=2:8", "hidden_layers=1"] + (["hidden_width=16:32"] if args.tiny else [])
    cfg = TuneConfig(
        dataset="digits",
        limit=300 if args.tiny else None,
        trials=2 if args.tiny else 24,
        objectives=["accuracy", "spikes"],
        epochs=1 if args.tiny else 3,
        space=search_space(overrides),
        study_dir=args.study_dir,
        progress=not args.tiny,
    )
    result = run_tune(cfg)  # one line per trial; pareto.json and pareto.png in the study folder
    print(result.table())  # the front, the best trial per objective and where the files are


if __name__ == "__main__":
    main()
