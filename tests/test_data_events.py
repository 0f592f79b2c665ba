"""Event streams, frame binning and the SHD / N-MNIST / DVS Gesture readers on fixture files: eager
loaders, lazy map-style datasets (equal to the loaders), Tonic's dtypes and Tonic's ToFrame on our events."""

import h5py
import numpy as np
import pytest
import torch

from swiftspike.data import load_dataset
from swiftspike.data.dvs import DVSGestureDataset, load_dvs_gesture, read_dvs_gesture_npy
from swiftspike.data.events import (
    DVS_GESTURE_DTYPE,
    NMNIST_DTYPE,
    SHD_DTYPE,
    ToFrames,
    downsample_events,
    events_to_frames,
    frames_from_streams,
    make_events,
    pick_subset,
)
from swiftspike.data.nmnist import NMNISTDataset, decode_nmnist, list_nmnist, load_nmnist, read_nmnist_file
from swiftspike.data.shd import SHDDataset, load_shd, read_shd, shd_frames
from swiftspike.errors import SwiftSpikeError


# ---------------------------------------------------------------- events_to_frames
def test_frames_2d_counts_by_hand():
    ev = make_events(t=[0, 10, 15, 99, 50], x=[0, 1, 1, 2, 2], y=[0, 0, 1, 1, 1], p=[0, 1, 1, 0, 0])
    fr = events_to_frames(ev, (3, 2, 2), n_bins=2)  # window [0, 100): bins [0,50), [50,100)
    assert fr.shape == (2, 2, 2, 3) and fr.dtype == torch.float32
    expect = torch.zeros(2, 2, 2, 3)
    expect[0, 0, 0, 0] = 1  # t=0 x=0 y=0 p=0
    expect[0, 1, 0, 1] = 1  # t=10 x=1 y=0 p=1
    expect[0, 1, 1, 1] = 1  # t=15 x=1 y=1 p=1
    expect[1, 0, 1, 2] = 2  # t=99 and t=50 at x=2 y=1 p=0
    assert torch.equal(fr, expect)
    assert torch.equal(events_to_frames(ev, (3, 2, 2), n_bins=2, binary=True), expect.clamp(max=1))


def test_frames_1d_bin_us_and_window():
    ev = make_events(t=[0, 9, 10, 25, 25, 40], x=[0, 0, 1, 2, 2, 1])
    fr = events_to_frames(ev, (3,), bin_us=10)  # span [0, 41) -> 5 bins of 10 us
    assert fr.tolist() == [[2, 0, 0], [0, 1, 0], [0, 0, 2], [0, 0, 0], [0, 1, 0]]
    fr2 = events_to_frames(ev, (3,), bin_us=10, n_bins=2)  # window [0, 20), later events dropped
    assert fr2.tolist() == [[2, 0, 0], [0, 1, 0]]
    fr3 = events_to_frames(ev, (3,), n_bins=1, t_start=10, t_end=30)
    assert fr3.tolist() == [[0, 1, 2]]
    assert fr.sum() == len(ev)


def test_frames_bad_input():
    ev = make_events(t=[0, 5], x=[0, 3])
    with pytest.raises(SwiftSpikeError, match="outside the sensor"):
        events_to_frames(ev, (3,), n_bins=2)
    for kw in (dict(), dict(n_bins=0), dict(n_bins=-2), dict(bin_us=0), dict(n_bins=2, t_start=5, t_end=5)):
        with pytest.raises(SwiftSpikeError):
            events_to_frames(ev, (4,), **kw)
    with pytest.raises(SwiftSpikeError):
        events_to_frames(np.zeros((3, 4)), (4,), n_bins=1)
    with pytest.raises(SwiftSpikeError):
        events_to_frames(ev, (4, 4), n_bins=1)


def test_downsample_frames_from_streams_and_subset():
    ev = make_events(t=[0, 1, 2], x=[0, 3, 127], y=[1, 2, 126], p=[1, 0, 1])
    ds = downsample_events(ev, 4)
    assert ds["x"].tolist() == [0, 0, 31] and ds["y"].tolist() == [0, 0, 31]
    a = make_events(t=[100, 150], x=[0, 1])
    b = make_events(t=[10, 19], x=[1, 1])
    out = frames_from_streams([a, b], 2, (2,), n_bins=2, align_start=True)
    assert out.tolist() == [[[1, 0], [0, 1]], [[0, 1], [0, 1]]]
    with pytest.raises(SwiftSpikeError, match="time bins"):
        frames_from_streams([a, b], 2, (2,), bin_us=20)
    assert pick_subset(range(10), None, 0) == list(range(10))
    sub = pick_subset(range(10), 4, 1)
    assert len(sub) == 4 and sub == sorted(sub) and sub == pick_subset(range(10), 4, 1)


# ---------------------------------------------------------------- SHD
SHD_SAMPLES = [
    (np.array([0.0, 0.0015, 0.25, 0.999], np.float16), np.array([0, 699, 3, 3], np.uint16), 7),
    (np.array([0.5], np.float16), np.array([10], np.uint16), 19),
    (np.array([], np.float16), np.array([], np.uint16), 0),
]


def write_shd(path, samples=SHD_SAMPLES):
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui, _) in enumerate(samples):
            t[i], u[i] = ti, ui
        f.create_dataset("labels", data=np.array([s[2] for s in samples], np.uint8))


def test_read_shd_exact(tmp_path):
    write_shd(tmp_path / "s.h5")
    streams, labels = read_shd(tmp_path / "s.h5")
    assert labels.tolist() == [7, 19, 0] and streams[0].dtype == SHD_DTYPE
    expect_us = np.round(SHD_SAMPLES[0][0].astype(np.float64) * 1e6).astype(np.int64)
    assert streams[0]["t"].tolist() == expect_us.tolist()
    assert expect_us[1] == 1500  # float16(0.0015) = 0.0015001297 s, upcast before scaling
    assert streams[0]["x"].tolist() == [0, 699, 3, 3] and set(streams[0]["p"].tolist()) == {1}
    assert len(streams[2]) == 0


def test_load_shd_frames(tmp_path):
    write_shd(tmp_path / "shd_train.h5")
    write_shd(tmp_path / "shd_test.h5", SHD_SAMPLES[:2])
    d = load_shd(tmp_path, n_bins=4)  # 250 ms bins over 1 s
    assert d.temporal and d.x_train.shape == (3, 4, 700) and d.x_test.shape == (2, 4, 700)
    assert d.n_classes == 20 and d.y_train.tolist() == [7, 19, 0]
    x0 = d.x_train[0]
    assert x0[0, 0] == 1 and x0[0, 699] == 1 and x0[1, 3] == 1 and x0[3, 3] == 1 and x0.sum() == 4
    assert d.x_train[1, 2, 10] == 1 and d.x_train[2].sum() == 0
    d2 = load_dataset("shd", path=str(tmp_path), T=2, channel_factor=100, limit=2, duration_us=500_000)
    assert d2.x_train.shape == (2, 2, 7)


def test_shd_bad_files(tmp_path, monkeypatch):
    monkeypatch.delenv("SWIFTSPIKE_SHD", raising=False)
    monkeypatch.delenv("SWIFTSPIKE_DATA", raising=False)
    with pytest.raises(SwiftSpikeError, match="SWIFTSPIKE_SHD"):
        load_dataset("shd")
    with pytest.raises(SwiftSpikeError, match="not found"):
        load_shd(tmp_path / "nothing")
    with pytest.raises(SwiftSpikeError, match=r"shd_train\.h5"):
        load_shd(tmp_path)
    (tmp_path / "shd_train.h5").write_bytes(b"not hdf5 at all")
    write_shd(tmp_path / "shd_test.h5")
    with pytest.raises(SwiftSpikeError, match="HDF5"):
        load_shd(tmp_path)
    with h5py.File(tmp_path / "shd_train.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(2, np.uint8))
    with pytest.raises(SwiftSpikeError, match="not an SHD file"):
        load_shd(tmp_path)
    write_shd(tmp_path / "bad.h5", [(np.array([0.1], np.float16), np.array([700], np.uint16), 1)])
    with pytest.raises(SwiftSpikeError, match="channel"):
        read_shd(tmp_path / "bad.h5")
    write_shd(tmp_path / "bad2.h5", [(np.array([0.1, 0.2], np.float16), np.array([1], np.uint16), 1)])
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        read_shd(tmp_path / "bad2.h5")
    write_shd(tmp_path / "shd_train.h5")
    for bad in (dict(n_bins=0), dict(T=-1), dict(duration_us=0)):
        with pytest.raises(SwiftSpikeError):
            load_dataset("shd", path=str(tmp_path), **bad)


# ---------------------------------------------------------------- N-MNIST
def nmnist_bytes(rows):
    """rows of (x, y, p, ts) -> 5-byte events, encoded independently of the decoder."""
    out = bytearray()
    for x, y, p, ts in rows:
        out += bytes([x, y, (p << 7) | ((ts >> 16) & 0x7F), (ts >> 8) & 0xFF, ts & 0xFF])
    return bytes(out)


NM_ROWS = [(0, 0, 1, 5), (33, 2, 0, 70_000), (1, 240, 0, 0), (4, 5, 1, 8_000_000), (7, 33, 0, 0x7FFFFF)]


def test_decode_nmnist_with_overflow(tmp_path):
    (tmp_path / "a.bin").write_bytes(nmnist_bytes(NM_ROWS))
    ev = read_nmnist_file(tmp_path / "a.bin")
    assert ev["x"].tolist() == [0, 33, 4, 7] and ev["y"].tolist() == [0, 2, 5, 33]
    assert ev["p"].tolist() == [1, 0, 1, 0]
    assert ev["t"].tolist() == [5, 70_000, 8_000_000 + 8192, 0x7FFFFF + 8192]


def test_decode_nmnist_corrupt(tmp_path):
    with pytest.raises(SwiftSpikeError, match="multiple of 5"):
        decode_nmnist(nmnist_bytes(NM_ROWS)[:-2])
    with pytest.raises(SwiftSpikeError, match="multiple of 5"):
        decode_nmnist(b"")
    with pytest.raises(SwiftSpikeError, match="outside"):
        decode_nmnist(nmnist_bytes([(34, 0, 0, 1)]))
    with pytest.raises(SwiftSpikeError, match="does not exist"):
        read_nmnist_file(tmp_path / "x.bin")


def write_nmnist_tree(root):
    files = {}
    for split, digits in (("Train", (0, 3, 3)), ("Test", (9,))):
        for i, dgt in enumerate(digits):
            folder = root / split / str(dgt)
            folder.mkdir(parents=True, exist_ok=True)
            rows = [(i, dgt, 1, 1000 * (i + 1)), (2, 2, 0, 150_000), (5, 5, 0, 299_999), (6, 6, 1, 300_000)]
            (folder / f"{i:05d}.bin").write_bytes(nmnist_bytes(rows))
            files[(split, i)] = rows
    return files


def test_load_nmnist_folder(tmp_path, monkeypatch):
    write_nmnist_tree(tmp_path / "NMNIST")
    items = list_nmnist(tmp_path / "NMNIST", "Train")
    assert [lab for _, lab in items] == [0, 3, 3]
    monkeypatch.setenv("SWIFTSPIKE_NMNIST", str(tmp_path))  # finds the NMNIST/ subfolder
    d = load_nmnist(n_bins=3)  # 100 ms bins over [0, 300 ms)
    assert d.temporal and d.x_train.shape == (3, 3, 2, 34, 34) and d.x_test.shape == (1, 3, 2, 34, 34)
    assert d.y_train.tolist() == [0, 3, 3] and d.y_test.tolist() == [9]
    s = d.x_train[1]  # file 1: (x=1, y=3, p=1, 2 ms), (2,2,p0,150 ms), (5,5,p0,299.999 ms); 300 ms dropped
    assert s[0, 1, 3, 1] == 1 and s[1, 0, 2, 2] == 1 and s[2, 0, 5, 5] == 1 and s.sum() == 3
    full = load_nmnist(tmp_path, n_bins=2, duration_us=None)  # own length [0, 300_001)
    assert full.x_train.sum() == 12
    lim = load_dataset("nmnist", path=str(tmp_path), n_bins=2, limit=2, seed=0)
    assert lim.x_train.shape[0] == 2


def test_nmnist_bad_input(tmp_path, monkeypatch):
    monkeypatch.delenv("SWIFTSPIKE_NMNIST", raising=False)
    monkeypatch.delenv("SWIFTSPIKE_DATA", raising=False)
    with pytest.raises(SwiftSpikeError, match="N-MNIST folder"):
        load_nmnist()
    with pytest.raises(SwiftSpikeError, match="Train"):
        load_nmnist(tmp_path)
    write_nmnist_tree(tmp_path)
    (tmp_path / "Train" / "3" / "00001.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        load_nmnist(tmp_path)
    with pytest.raises(SwiftSpikeError):
        load_dataset("nmnist", path=str(tmp_path), n_bins=0)
    with pytest.raises(SwiftSpikeError, match="no option"):
        load_dataset("nmnist", path=str(tmp_path), spatial_factor=2)


# ---------------------------------------------------------------- DVS Gesture
def write_dvs_tree(root):
    for split, clips in (
        ("ibmGestureTrain", (("user01_fluorescent", 0), ("user01_fluorescent", 10), ("user02_led", 4))),
        ("ibmGestureTest", (("user24_natural", 2),)),
    ):
        for user, label in clips:
            folder = root / split / user
            folder.mkdir(parents=True, exist_ok=True)
            # x, y, p, t[ms]; clip starts at 1000 ms
            arr = np.array([[0, 0, 0, 1000.0], [127, 127, 1, 1000.5], [8, 4, 1, 1002.0], [9, 5, 1, 1003.9]])
            np.save(folder / f"{label}.npy", arr)


def test_read_dvs_and_load(tmp_path):
    write_dvs_tree(tmp_path)
    ev = read_dvs_gesture_npy(tmp_path / "ibmGestureTrain" / "user02_led" / "4.npy")
    assert ev["t"].tolist() == [1_000_000, 1_000_500, 1_002_000, 1_003_900]
    assert ev["x"].tolist() == [0, 127, 8, 9] and ev["p"].tolist() == [0, 1, 1, 1]
    d = load_dvs_gesture(tmp_path, n_bins=2, spatial_factor=4)  # own span [1e6, 1e6 + 3901) -> 2 bins
    assert d.x_train.shape == (3, 2, 2, 32, 32) and d.n_classes == 11
    assert sorted(d.y_train.tolist()) == [0, 4, 10] and d.y_test.tolist() == [2]
    s = d.x_train[0]
    assert s[0, 0, 0, 0] == 1 and s[0, 1, 31, 31] == 1 and s[1, 1, 1, 2] == 2 and s.sum() == 4
    d2 = load_dataset("dvs-gesture", path=str(tmp_path), T=4, duration_us=2000, spatial_factor=8)
    assert d2.x_train.shape == (3, 4, 2, 16, 16) and d2.x_train[0].sum() == 2


def test_dvs_bad_input(tmp_path, monkeypatch):
    monkeypatch.delenv("SWIFTSPIKE_DVS_GESTURE", raising=False)
    monkeypatch.delenv("SWIFTSPIKE_DATA", raising=False)
    with pytest.raises(SwiftSpikeError, match="SWIFTSPIKE_DVS_GESTURE"):
        load_dataset("dvs-gesture")
    write_dvs_tree(tmp_path)
    bad = tmp_path / "ibmGestureTrain" / "user01_fluorescent" / "0.npy"
    bad.write_bytes(b"garbage")
    with pytest.raises(SwiftSpikeError, match="npy"):
        load_dvs_gesture(tmp_path)
    np.save(bad, np.zeros((3, 3)))
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        load_dvs_gesture(tmp_path)
    np.save(bad, np.array([[200.0, 0, 0, 1.0]]))
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        load_dvs_gesture(tmp_path)
    np.save(bad, np.zeros((1, 4)))
    np.save(tmp_path / "ibmGestureTrain" / "user01_fluorescent" / "11.npy", np.zeros((1, 4)))
    with pytest.raises(SwiftSpikeError, match="label"):
        load_dvs_gesture(tmp_path)


# ---------------------------------------------------------------- Tonic's layout, lazy datasets
@pytest.fixture(scope="module")
def tonic():
    """tonic 1.7 (GPL-3.0, called, never copied); importing it needs pbr, requests, importRosbag, expelliarmus."""
    return pytest.importorskip("tonic", reason="tonic (optional) is not installed or cannot be imported")


def test_reader_dtypes_are_tonics(tmp_path, tonic):
    assert tonic.datasets.SHD.dtype == SHD_DTYPE and tonic.datasets.NMNIST.dtype == NMNIST_DTYPE
    assert tonic.datasets.DVSGesture.dtype == DVS_GESTURE_DTYPE
    assert SHDDataset.sensor_size == tonic.datasets.SHD.sensor_size
    assert NMNISTDataset.sensor_size == tonic.datasets.NMNIST.sensor_size
    assert DVSGestureDataset.sensor_size == tonic.datasets.DVSGesture.sensor_size
    (tmp_path / "a.bin").write_bytes(nmnist_bytes(NM_ROWS))
    ours = read_nmnist_file(tmp_path / "a.bin")
    theirs = tonic.io.read_mnist_file(str(tmp_path / "a.bin"), dtype=tonic.datasets.NMNIST.dtype)
    assert ours.dtype == theirs.dtype and all(np.array_equal(ours[f], theirs[f]) for f in ours.dtype.names)


def _stack(ds):
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    return torch.stack(xs), torch.tensor(ys)


def test_lazy_datasets_equal_eager_loaders(tmp_path):
    (tmp_path / "shd").mkdir()
    write_shd(tmp_path / "shd" / "shd_train.h5")
    write_shd(tmp_path / "shd" / "shd_test.h5", SHD_SAMPLES[:2])
    write_nmnist_tree(tmp_path / "nm")
    write_dvs_tree(tmp_path / "dvs")
    cases = [
        (load_shd, SHDDataset, tmp_path / "shd", dict(n_bins=4, channel_factor=3, binary=True)),
        (load_shd, SHDDataset, tmp_path / "shd", dict(n_bins=5, duration_us=500_000)),
        (load_nmnist, NMNISTDataset, tmp_path / "nm", dict(n_bins=3)),
        (load_nmnist, NMNISTDataset, tmp_path / "nm", dict(n_bins=2, duration_us=None)),
        (load_dvs_gesture, DVSGestureDataset, tmp_path / "dvs", dict(n_bins=2, spatial_factor=4)),
        (load_dvs_gesture, DVSGestureDataset, tmp_path / "dvs", dict(n_bins=4, duration_us=2000, spatial_factor=8)),
    ]
    for load, Lazy, root, kw in cases:
        eager = load(root, limit_train=2, seed=1, **kw)
        tr = Lazy(root, "train", limit=2, seed=1, **kw)
        te = Lazy(root, "test", **kw)
        assert len(tr) == 2 and len(te) == len(eager.y_test)
        for ds, x, y in ((tr, eager.x_train, eager.y_train), (te, eager.x_test, eager.y_test)):
            lx, ly = _stack(ds)
            assert torch.equal(lx, x) and torch.equal(ly, y), (Lazy.__name__, kw)
        # a DataLoader batches the same tensors
        loader = torch.utils.data.DataLoader(tr, batch_size=2)
        bx, by = next(iter(loader))
        assert torch.equal(bx, eager.x_train) and torch.equal(by, eager.y_train)
        events, label = Lazy(root, "train", transform=None)[0]
        assert isinstance(events, np.ndarray) and events.dtype.names is not None and isinstance(label, int)


def test_shd_dataset_reads_lazily_and_in_workers(tmp_path):
    bad = SHD_SAMPLES[:2] + [(np.array([0.1], np.float16), np.array([700], np.uint16), 3)]  # sample 2 corrupt
    write_shd(tmp_path / "shd_train.h5", bad)
    write_shd(tmp_path / "shd_test.h5", SHD_SAMPLES)
    with pytest.raises(SwiftSpikeError, match="channel"):
        load_shd(tmp_path, n_bins=4)  # the eager loader reads everything
    ds = SHDDataset(tmp_path, n_bins=4)  # only the labels are read up front
    assert ds.targets == [7, 19, 3] and ds[1][0][2, 10] == 1
    with pytest.raises(SwiftSpikeError, match="channel"):
        ds[2]
    ok = SHDDataset(tmp_path, "test", n_bins=4, target_transform=lambda y: y + 100)
    loader = torch.utils.data.DataLoader(ok, batch_size=3, num_workers=2)  # one HDF5 handle per worker
    bx, by = next(iter(loader))
    want = frames_from_streams(read_shd(tmp_path / "shd_test.h5")[0], 3, transform=shd_frames(n_bins=4))
    assert torch.equal(bx, want) and by.tolist() == [107, 119, 100]


def test_lazy_dataset_bad_input(tmp_path, monkeypatch):
    write_nmnist_tree(tmp_path)
    ds = NMNISTDataset(tmp_path, n_bins=2)
    assert ds[-1][1] == ds[len(ds) - 1][1]
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(TypeError):
        ds["0"]
    with pytest.raises(SwiftSpikeError, match="transform"):
        NMNISTDataset(tmp_path, transform="tonic")
    with pytest.raises(SwiftSpikeError, match="split"):
        NMNISTDataset(tmp_path, "valid")
    with pytest.raises(SwiftSpikeError, match="n_bins"):
        DVSGestureDataset(tmp_path / "nowhere", n_bins=0)  # options checked before any file is touched
    monkeypatch.delenv("SWIFTSPIKE_SHD", raising=False)
    monkeypatch.delenv("SWIFTSPIKE_DATA", raising=False)
    with pytest.raises(SwiftSpikeError, match="SWIFTSPIKE_SHD"):
        SHDDataset()
    (tmp_path / "Train" / "3" / "00001.bin").write_bytes(b"\x00\x01")
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        NMNISTDataset(tmp_path)[1]


def test_tonic_to_frame_equals_our_binning(tmp_path, tonic):
    """Tonic's ToFrame on swiftspike's events (fixed windows from 0 / from the first event) gives the
    frames swiftspike bins itself, for all three readers."""
    T = tonic.transforms
    write_shd(tmp_path / "shd_train.h5")
    write_nmnist_tree(tmp_path / "nm")
    write_dvs_tree(tmp_path / "dvs")
    shd = SHDDataset(tmp_path, n_bins=4)
    shd_tonic = SHDDataset(
        tmp_path,
        transform=T.ToFrame(sensor_size=SHDDataset.sensor_size, time_window=250_000, start_time=0, end_time=1_000_000),
    )
    for i in range(2):  # (sample 2 is empty, which Tonic's slicer cannot take)
        ours, theirs = shd[i][0], shd_tonic[i][0]
        assert theirs.shape == (4, 1, 700) and torch.equal(torch.from_numpy(theirs[:, 0]).float(), ours)
    nm = NMNISTDataset(tmp_path / "nm", n_bins=3)
    nm_tonic = NMNISTDataset(
        tmp_path / "nm",
        transform=T.ToFrame(sensor_size=NMNISTDataset.sensor_size, time_window=100_000, start_time=0, end_time=300_000),
    )
    for i in range(len(nm)):
        assert torch.equal(torch.from_numpy(nm_tonic[i][0]).float(), nm[i][0])
    dvs = DVSGestureDataset(tmp_path / "dvs", n_bins=4, duration_us=4000, spatial_factor=1)
    for i in range(len(dvs)):
        ev, _ = DVSGestureDataset(tmp_path / "dvs", transform=None)[i]
        t0 = int(ev["t"][0])
        fr = T.ToFrame(sensor_size=DVSGestureDataset.sensor_size, time_window=1000, start_time=t0, end_time=t0 + 4000)(
            ev
        )
        assert torch.equal(torch.from_numpy(fr).float(), dvs[i][0])
    # and a Tonic transform composes with ours: Tonic's ToFrame after Tonic's Denoise on our events
    pipe = T.Compose([T.Denoise(filter_time=10_000), ToFrames(NMNISTDataset.sensor_size, n_bins=3, t_end=300_000)])
    assert NMNISTDataset(tmp_path / "nm", transform=pipe)[0][0].shape == (3, 2, 34, 34)
