r"""Surrogate gradients as small objects.

A surrogate is a smooth stand-in :math:`\sigma(x)` for the Heaviside step :math:`H(x)`. The forward
pass of :meth:`Surrogate.__call__` is the exact step ``(x >= 0)``; the backward pass uses the
derivative :math:`\sigma'(x)`. Each object exposes

* ``smooth(x)``     -- the smooth function :math:`\sigma(x)` (0 -> 1 as x goes -inf -> inf);
* ``derivative(x)`` -- :math:`\sigma'(x)`, what the backward pass multiplies by;
* ``__call__(x)``   -- spikes with the surrogate gradient.

``alpha`` sets sharpness; ``width`` the support of the piecewise ones.
"""

from __future__ import annotations

import math

import torch

from ..errors import SwiftSpikeError, check_positive


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class: Heaviside forward, ``derivative`` backward."""

    name = "base"

    def smooth(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFn.apply(x, self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ATan(Surrogate):
    r""":math:`\sigma(x) = \tfrac{1}{\pi}\arctan(\tfrac{\pi}{2}\alpha x) + \tfrac12`,
    :math:`\sigma'(x) = \dfrac{\alpha/2}{1 + (\tfrac{\pi}{2}\alpha x)^2}`."""

    name = "atan"

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = check_positive(alpha, "alpha")

    def smooth(self, x):
        return torch.atan(math.pi / 2 * self.alpha * x) / math.pi + 0.5

    def derivative(self, x):
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x) ** 2)


class FastSigmoid(Surrogate):
    r"""SuperSpike: :math:`\sigma(x) = \tfrac12 \tfrac{\alpha x}{1+|\alpha x|} + \tfrac12`,
    :math:`\sigma'(x) = \dfrac{\alpha/2}{(1 + |\alpha x|)^2}`."""

    name = "fast-sigmoid"

    def __init__(self, alpha: float = 10.0) -> None:
        self.alpha = check_positive(alpha, "alpha")

    def smooth(self, x):
        ax = self.alpha * x
        return 0.5 * ax / (1 + ax.abs()) + 0.5

    def derivative(self, x):
        return (self.alpha / 2) / (1 + (self.alpha * x).abs()) ** 2


class Sigmoid(Surrogate):
    r""":math:`\sigma(x) = 1/(1+e^{-\alpha x})`, :math:`\sigma'(x) = \alpha\sigma(x)(1-\sigma(x))`."""

    name = "sigmoid"

    def __init__(self, alpha: float = 4.0) -> None:
        self.alpha = check_positive(alpha, "alpha")

    def smooth(self, x):
        return torch.sigmoid(self.alpha * x)

    def derivative(self, x):
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1 - s)


class Rectangular(Surrogate):
    r"""Straight-through box: :math:`\sigma(x) = \mathrm{clip}(x/w + \tfrac12, 0, 1)`,
    :math:`\sigma'(x) = \tfrac1w [|x| < w/2]`."""

    name = "rectangular"

    def __init__(self, width: float = 1.0) -> None:
        self.width = check_positive(width, "width")

    def smooth(self, x):
        return (x / self.width + 0.5).clamp(0.0, 1.0)

    def derivative(self, x):
        return (x.abs() < self.width / 2).to(x.dtype) / self.width


class Triangular(Surrogate):
    r"""Triangle of half-width w: :math:`\sigma'(x) = \tfrac1w \max(0, 1 - |x|/w)`;
    :math:`\sigma` is its integral (piecewise quadratic, 0 below -w, 1 above w)."""

    name = "triangular"

    def __init__(self, width: float = 1.0) -> None:
        self.width = check_positive(width, "width")

    def smooth(self, x):
        w = self.width
        xc = x.clamp(-w, w)
        left = 0.5 * (xc / w + 1) ** 2
        right = 1 - 0.5 * (1 - xc / w) ** 2
        return torch.where(xc < 0, left, right)

    def derivative(self, x):
        w = self.width
        return (1 - x.abs() / w).clamp(min=0.0) / w


SURROGATES = ("atan", "fast-sigmoid", "sigmoid", "rectangular", "triangular")


def get_surrogate(spec: str | Surrogate | None) -> Surrogate:
    """Turn a name (``atan``, ``fast-sigmoid``, ``sigmoid``, ``rectangular``, ``triangular``)
    or an existing object into a :class:`Surrogate`; ``None`` gives ATan."""
    if spec is None:
        return ATan()
    if isinstance(spec, Surrogate):
        return spec
    table = {
        "atan": ATan,
        "fast-sigmoid": FastSigmoid,
        "sigmoid": Sigmoid,
        "rectangular": Rectangular,
        "triangular": Triangular,
    }
    if spec not in table:
        raise SwiftSpikeError(f"unknown surrogate {spec!r}; choose one of: {', '.join(SURROGATES)}")
    return table[spec]()
