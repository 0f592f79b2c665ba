"""Shared test fixtures.

* ``repo_root``: the repository folder (examples/, docs/ ...).
* ``digits`` / ``tiny_digits``: scikit-learn digits (flattened, seed 0), loaded once per session; the tiny
  one is a 150-train / 100-test subset. Shared across tests: never modify their tensors in place.
* ``tiny_spec`` / ``tiny_snn``: the spec of a 64-16-10 LIF MLP and a fresh model built from it with
  ``torch.manual_seed(0)`` (a new model for every test).
* ``checkpoint_path``: a checkpoint file name in the test's own temporary folder (not created).
* ``subprocess_env``: the environment for running ``python -m swiftspike`` or an example in a child
  process: this checkout first on ``PYTHONPATH``, one torch thread.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def digits():
    pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn (the 'data' extra)")
    from swiftspike.data import load_digits

    return load_digits(seed=0)


@pytest.fixture(scope="session")
def tiny_digits(digits):
    return digits.subset(n_train=150, n_test=100)


@pytest.fixture
def tiny_spec() -> dict[str, Any]:
    from swiftspike.models import default_spec

    return default_spec((64,), 10, hidden=[16])


@pytest.fixture
def tiny_snn(tiny_spec):
    from swiftspike.models import build_model

    torch.manual_seed(0)
    return build_model(tiny_spec)


@pytest.fixture
def checkpoint_path(tmp_path: Path) -> Path:
    return tmp_path / "run.safetensors"


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("RANK", None)  # a child started by a test is never part of the test's own torchrun launch
    env.pop("WORLD_SIZE", None)
    return env


def pytest_report_header(config) -> str:
    return f"swiftspike tests: python {sys.version.split()[0]}, torch {torch.__version__}"
