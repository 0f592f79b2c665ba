"""Every script in examples/ runs at CI size (``--tiny``) in a child process and checks what it claims
(each example asserts its own equivalences and exits non-zero otherwise); an example whose optional extra
is missing is skipped with the reason. Plus the shared fixtures of conftest.py in use."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from swiftspike.data import make_encoder
from swiftspike.training import TrainConfig, Trainer, evaluate_checkpoint, load_model

#: script -> (optional modules it needs, lines its --tiny output must contain)
EXAMPLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sync_training.py": (("sklearn", "safetensors"), ("accuracy after training",)),
    "async_execution.py": (("sklearn",), ("sync == async at F=64: True", "then async-trained")),
    "dsn_parallel.py": (("sklearn",), ("parallel and serial spikes agree on 100.0000%", "'finite': True")),
    "ann_to_snn.py": (("sklearn",), ("distribution-aware at T=2", "fine-tuned at T=2")),
    "topspark_stdp.py": (("sklearn",), ("selected: T=",)),
    "dataloader.py": (("sklearn",), ("DataLoader in the seeded order == in-memory training: True",)),
    "nir_roundtrip.py": (("sklearn", "nir"), ("identical output spikes: True",)),
    "tune_sweep.py": (("sklearn", "optuna", "matplotlib"), ("pareto.json",)),
    "ddp_torchrun.py": (("sklearn", "safetensors"), ("processes: 1",)),
}


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _run(args: list[str], cwd, env, timeout: float = 600) -> str:
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p.stdout


def test_every_example_is_listed(repo_root):
    assert sorted(p.name for p in (repo_root / "examples").glob("*.py")) == sorted(EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_tiny(script, repo_root, tmp_path, subprocess_env):
    needs, expected = EXAMPLES[script]
    missing = _missing(needs)
    if missing:
        pytest.skip(f"{script} needs the optional package(s) {', '.join(missing)}")
    out = _run([str(repo_root / "examples" / script), "--tiny"], tmp_path, subprocess_env)
    for line in expected:
        assert line in out, f"{script}: {line!r} not in its output:\n{out}"


@pytest.mark.slow
def test_ddp_example_two_processes_end_where_one_does(repo_root, tmp_path, subprocess_env):
    """The torchrun example with 2 gloo processes ends at the single-process weights (the printed sum)."""
    missing = _missing(("sklearn", "safetensors"))
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    script = str(repo_root / "examples" / "ddp_torchrun.py")
    one = _run([script, "--tiny", "--checkpoint", "one.safetensors"], tmp_path, subprocess_env)
    two = _run(
        [
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            script,
            "--tiny",
            "--checkpoint",
            "two.safetensors",
        ],
        tmp_path,
        subprocess_env,
    )
    assert "processes: 2" in two and two.count("processes:") == 1  # rank 0 alone prints

    def weight_sum(out: str) -> float:
        return float(out.strip().splitlines()[-1].rsplit(":", 1)[1])

    assert weight_sum(two) == pytest.approx(weight_sum(one), abs=1e-4)


def test_fixtures_checkpoint_round_trip(tiny_digits, tiny_snn, tiny_spec, checkpoint_path):
    """Shared fixtures in use: a trained tiny model, rebuilt from its checkpoint alone, has the same weights,
    and its evaluation from the file equals the trainer's own evaluation (same seed)."""
    pytest.importorskip("safetensors")
    cfg = TrainConfig(epochs=1, batch_size=32, lr=3e-3, seed=3, checkpoint=str(checkpoint_path), progress=False)
    trainer = Trainer(tiny_snn, make_encoder("rate", 4), cfg, spec=tiny_spec, meta={"dataset": "digits"})
    trainer.fit(tiny_digits)
    rebuilt, _ = load_model(checkpoint_path)
    for (k, a), (_, b) in zip(trainer.model.state_dict().items(), rebuilt.state_dict().items()):
        assert a.equal(b), k
    assert evaluate_checkpoint(checkpoint_path, tiny_digits).accuracy == trainer.evaluate(tiny_digits).accuracy
