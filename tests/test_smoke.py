import torch

import swiftspike


def test_import_and_run():
    net = swiftspike.SNN(torch.nn.Linear(3, 2), swiftspike.LIF())
    out = net(torch.ones(4, 1, 3))
    assert out.shape == (4, 1, 2)
