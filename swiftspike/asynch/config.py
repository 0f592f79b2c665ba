r"""Settings of the asynchronous engine (:class:`AsyncConfig`) and the named protocol presets.

Defaults are swiftspike's protocol. :meth:`AsyncConfig.asynctorch` sets every engine-level option of the
protocol the published asynchronous-SNN code (asynctorch, arXiv 2408.05098) runs (see
``docs/reference/async.md``): inputs at frame start, refractory dropout 0.8 kept on at inference, a refractory
neuron's membrane held at 0 with its input discarded for the rest of the frame, and a random scheduler
that redraws every priority at every forward step. The membrane regime of its examples is a property of
the model, not of the engine: :data:`ASYNCTORCH_NEURON` (decay per frame :math:`e^{-10}`, threshold 0.3,
hard reset to 0) with bias-free synaptic layers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import SwiftSpikeError, check_positive_int, choose
from .schedulers import MomentumScheduler, RandomScheduler, Scheduler, get_scheduler

STOP_RULES = ("quiescence", "first_output", "frame_first_output")
CURRENTS = ("auto", "dense", "gather")
PROTOCOLS = ("swiftspike", "asynctorch")

#: LIF keyword arguments of the membrane regime of the asynctorch examples, with one frame = ``dt = 1``:
#: ``tau = 0.1`` gives a decay per frame of ``exp(-10) = 4.5e-5`` (their ``tau_m = 1 ms``, ``dt = 10 ms``),
#: i.e. the membrane is wiped at every frame boundary. Use bias-free synaptic layers with it.
ASYNCTORCH_NEURON: dict[str, Any] = {"tau": 0.1, "v_threshold": 0.3, "reset": "hard", "v_reset": 0.0}


@dataclass
class AsyncConfig:
    """Engine settings.

    * ``F``: forward group size, the most events a sample emits per forward step;
    * ``scheduler``: ``'random'``, ``'momentum'`` or a :class:`~swiftspike.asynch.schedulers.Scheduler`
      (``RandomScheduler(redraw=True)`` redraws all priorities at every forward step);
    * ``input_mode``: ``'start'`` (all input currents in the first forward step of a frame) or ``'queued'``
      (input events compete with network spikes for the ``F`` slots);
    * ``stop``: ``'quiescence'`` (every frame runs until nothing moves), ``'first_output'`` (a sample stops
      for good ``k`` forward steps after its first output spike), ``'frame_first_output'`` (each frame of a
      sample is cut ``k`` forward steps after the frame's first output spike; the next frame runs from its
      start and the output sums over all frames);
    * ``sync_gate``: a population evaluates only once every earlier population is idle (layer
      synchronisation emulated inside the engine);
    * ``refractory_dropout``: probability that a spike does *not* lock its neuron for the rest of the
      frame (so it may fire again); applied when gradients are on, and also at inference with
      ``refractory_dropout_eval``;
    * ``refractory_clamp``: a locked neuron's membrane is held at 0 and its input discarded for the rest
      of the frame (default: it keeps integrating, it just cannot fire);
    * ``currents``: ``'auto'`` (gathered from the emitting neurons' weight columns when no gradient is
      needed and the events are few, else dense), ``'dense'`` (one matrix product per connection, the
      reference) or ``'gather'`` (always gathered where the connection allows);
    * ``max_steps_per_frame``: safety bound on forward steps per frame (a cut frame counts in
      ``stats['truncated_frames']``);
    * ``record_synops`` / ``record_step_outputs``: record synaptic operations / the running output after
      every forward step.
    """

    F: int = 8
    scheduler: str | Scheduler = "momentum"
    input_mode: str = "start"
    stop: str = "quiescence"
    k: int = 0
    sync_gate: bool = False
    refractory_dropout: float = 0.0
    refractory_dropout_eval: bool = False
    refractory_clamp: bool = False
    currents: str = "auto"
    max_steps_per_frame: int = 10_000
    record_synops: bool = False
    record_step_outputs: bool = False

    def validate(self) -> AsyncConfig:
        check_positive_int(self.F, "F")
        get_scheduler(self.scheduler)
        choose("input_mode", self.input_mode, ("start", "queued"))
        choose("stop rule", self.stop, STOP_RULES)
        choose("currents", self.currents, CURRENTS)
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0:
            raise SwiftSpikeError(f"k must be an integer >= 0, got {self.k!r}")
        if not 0.0 <= float(self.refractory_dropout) < 1.0:
            raise SwiftSpikeError(f"refractory_dropout must be in [0, 1), got {self.refractory_dropout!r}")
        for name in (
            "refractory_dropout_eval",
            "refractory_clamp",
            "sync_gate",
            "record_synops",
            "record_step_outputs",
        ):
            if not isinstance(getattr(self, name), bool):
                raise SwiftSpikeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_positive_int(self.max_steps_per_frame, "max_steps_per_frame")
        return self

    @classmethod
    def asynctorch(
        cls, F: int = 16, scheduler: str | Scheduler = "random", *, refractory_dropout: float = 0.8, **over: Any
    ) -> AsyncConfig:
        """The engine-level protocol of the asynctorch examples (see the module docstring); ``over``
        overrides any field (e.g. ``stop='frame_first_output', k=1``)."""
        if scheduler == "random":
            scheduler = RandomScheduler(redraw=True)
        elif scheduler == "momentum":
            scheduler = MomentumScheduler()
        base: dict[str, Any] = dict(
            F=F,
            scheduler=scheduler,
            input_mode="start",
            refractory_dropout=refractory_dropout,
            refractory_dropout_eval=True,
            refractory_clamp=True,
        )
        base.update(over)
        try:
            return cls(**base).validate()
        except TypeError as e:
            raise SwiftSpikeError(f"unknown async engine option: {e}") from None

    @classmethod
    def preset(cls, protocol: str = "swiftspike", **kw: Any) -> AsyncConfig:
        """``AsyncConfig`` of a named protocol (``'swiftspike'``: the defaults, ``'asynctorch'``:
        :meth:`asynctorch`); ``kw`` are further fields."""
        choose("protocol", protocol, PROTOCOLS)
        if protocol == "asynctorch":
            return cls.asynctorch(**kw)
        try:
            return cls(**kw).validate()
        except TypeError as e:
            raise SwiftSpikeError(f"unknown async engine option: {e}") from None

    def replace(self, **kw: Any) -> AsyncConfig:
        """A copy with some fields changed (validated)."""
        return replace(self, **kw).validate()
