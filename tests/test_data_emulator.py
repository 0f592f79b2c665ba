"""The event-camera emulator on hand-made images: event counts, polarities, timestamps; frames and loading."""

import math

import numpy as np
import pytest
import torch

from swiftspike.data import EVENT_DTYPE, load_dataset
from swiftspike.data.emulator import SACCADES, emulate, emulate_frames, render
from swiftspike.errors import SwiftSpikeError

C, EPS = 0.3, 0.1
FULL = math.floor(math.log((1 + EPS) / EPS) / C)  # events for a pixel going from dark to bright: 7


def _square():
    return np.ones((1, 28, 28))


def test_blank_image_gives_no_events_and_fields_are_tonic_style():
    ev = emulate(np.zeros((2, 28, 28)), threshold=C, log_eps=EPS)
    assert len(ev) == 2 and all(e.dtype == EVENT_DTYPE and e.size == 0 for e in ev)
    assert set(EVENT_DTYPE.names) == {"x", "y", "t", "p"}


def test_render_moves_the_image_with_bilinear_interpolation():
    img = np.zeros((1, 28, 28))
    img[0, 0, 0] = 1.0
    out = render(img, 1.5, 2.0)
    assert out.shape == (1, 34, 34)
    assert out[0, 2, 1] == pytest.approx(0.5) and out[0, 2, 2] == pytest.approx(0.5) and out.sum() == pytest.approx(1)


def test_first_saccade_of_a_bright_square_counts_polarities_and_timestamps():
    """Saccade 1 moves a 28x28 white square from offset (0, 0) to (3, 6) in 100 ms (x speed 3 px / 100 ms)."""
    assert SACCADES[:2] == ((0.0, 0.0), (3.0, 6.0))
    (ev,) = emulate(_square(), threshold=C, log_eps=EPS, n_saccades=1)
    assert ev.size > 0 and np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() > 0 and ev["t"].max() <= 100_000

    def pixel(x, y):
        return ev[(ev["x"] == x) & (ev["y"] == y)]

    # left edge column x=0 (rows always covered): uncovered when the offset passes 0 -> 1: FULL OFF events
    left = pixel(0, 10)
    assert left.size == FULL and (left["p"] == 0).all()
    # column x=29 gets covered while the x offset goes 1 -> 2: FULL ON events, at the analytic times
    right = pixel(29, 10)
    assert right.size == FULL and (right["p"] == 1).all()
    m = np.arange(1, FULL + 1)
    cover = np.exp(np.log(EPS) + m * C) - EPS  # covered fraction at the m-th crossing
    t_expect = (1 + cover) * 100_000 / 3  # x offset = 1 + cover at time t = offset / 3 * 100 ms
    assert np.all(np.abs(right["t"] - t_expect) <= 1000)  # within one 1 ms sampling interval
    # inside the square nothing changes; far outside nothing is ever covered
    assert pixel(10, 10).size == 0 and pixel(33, 33).size == 0
    # rows below: ON; rows above: OFF
    assert (pixel(10, 30)["p"] == 1).all() and pixel(10, 30).size == FULL
    assert (pixel(10, 2)["p"] == 0).all() and pixel(10, 2).size == FULL


def test_three_saccades_return_to_the_start_and_balance_polarities():
    (ev,) = emulate(_square(), threshold=C, log_eps=EPS)
    assert ev["t"].max() <= 300_000 and (ev["t"] > 100_000).any() and (ev["t"] > 200_000).any()
    # the closed path returns every pixel to its start intensity, and a pixel's reference level stays within one
    # threshold of its log intensity: per pixel, ON and OFF events balance up to one
    net = np.zeros((34, 34), dtype=np.int64)
    np.add.at(net, (ev["y"], ev["x"]), np.where(ev["p"] == 1, 1, -1))
    assert np.abs(net).max() <= 1 and (np.abs(net) == 1).mean() < 0.5
    assert ev.size > 2000


def test_frames_first_saccade_10ms_bins_and_bad_input():
    imgs = torch.zeros(3, 1, 28, 28)
    imgs[1] = 1.0
    imgs[2, 0, 5:20, 5:20] = 0.5
    fr = emulate_frames(imgs)
    assert fr.shape == (3, 10, 2, 34, 34)
    streams = emulate(imgs, n_saccades=1)
    for i, ev in enumerate(streams):
        assert float(fr[i].sum()) == ev.size
        assert float(fr[i, :, 1].sum()) == int((ev["p"] == 1).sum())  # channel 1 = ON
    assert fr[0].sum() == 0
    full = emulate_frames(imgs, first_saccade=False, bin_us=20_000)
    assert full.shape == (3, 15, 2, 34, 34)
    with pytest.raises(SwiftSpikeError, match="in \\[0, 1\\]"):
        emulate(np.full((1, 28, 28), 2.0))
    with pytest.raises(SwiftSpikeError, match="saccades"):
        emulate(_square(), n_saccades=4)


@pytest.mark.slow
def test_load_dataset_names_the_emulation():
    d = load_dataset("nmnist-sim", limit=6, limit_test=4)
    assert d.name == "nmnist-sim" and d.temporal
    assert d.x_train.shape == (6, 10, 2, 34, 34) and d.x_test.shape == (4, 10, 2, 34, 34)
    assert d.input_shape == (2, 34, 34) and d.x_train.sum() > 0
    with pytest.raises(SwiftSpikeError, match="no option"):
        load_dataset("nmnist-sim", limit=2, colour=1)
