"""Every gradient training is a Trainer configuration: each must reproduce the loop it replaced.

The reference loops below are the pre-Trainer implementations (kept here, in the tests, as references).
Truncated async training, the per-step loss and the sync/async Trainer give bitwise the same weights.
ANN training and conversion fine-tuning used to draw one shuffling generator across epochs; they now
take the Trainer's per-epoch seeded permutation (needed for resume), so their reference uses that
permutation and everything else of the old loop -- and matches bitwise.
"""

import pytest
import torch
import torch.nn.functional as Fn
from torch import nn

from swiftspike.asynch.engine import AsyncConfig, AsyncEngine, as_graph
from swiftspike.asynch.training import StepLossTrainer, async_runner, per_step_loss, train_truncated
from swiftspike.conversion.ann import build_ann, train_ann
from swiftspike.conversion.convert import convert, make_trainable
from swiftspike.conversion.finetune import finetune
from swiftspike.data.datasets import load_dataset
from swiftspike.data.encoders import RateEncoder
from swiftspike.models import build_model, default_spec
from swiftspike.neurons.modules import reset
from swiftspike.training.data import batches
from swiftspike.training.trainer import TrainConfig, Trainer, seed_everything, spike_penalty, sync_runner


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", flatten=False).subset(n_train=96, n_test=32)


def _model(seed=0, hidden=16):
    torch.manual_seed(seed)
    return build_model(default_spec([1, 8, 8], 10, hidden=[hidden]))


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def reference_bptt(model, encoder, data, *, epochs, batch_size, lr, seed, runner, loss_fn, spike_reg=0.0):
    """The Trainer loop before hooks (swiftspike 0.1 ``Trainer.train_epoch``)."""
    seed_everything(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = []
    for epoch in range(epochs):
        model.train()
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        torch.manual_seed(seed * 7919 + epoch)
        tot, n = 0.0, 0
        for xb, yb in batches(data.x_train, data.y_train, batch_size, gen):
            reset(model)
            rec = runner(model, encoder(xb))
            loss = loss_fn(rec, yb)
            if spike_reg > 0:
                loss = loss + spike_reg * spike_penalty(rec)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(yb)
            n += len(yb)
        hist.append(tot / n)
    return hist


def reference_truncated(model, encoder, data, *, config, epochs, batch_size, lr, seed):
    """``train_truncated`` before it became a Trainer configuration."""
    seed_everything(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = []
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        torch.manual_seed(seed * 7919 + epoch)
        model.train()
        loss_sum, n = 0.0, 0
        for xb, yb in batches(data.x_train, data.y_train, batch_size, gen):
            reset(model)
            x = encoder(xb).float()
            g = as_graph(model, tuple(x.shape[2:]))
            eng = AsyncEngine(g, config)
            st = eng.init_state(x.shape[1], x.dtype, x.device)
            opt.zero_grad(set_to_none=True)
            T, running, total = x.shape[0], None, 0.0
            spiking = g.populations[g.output].spiking
            for t in range(T):
                st.detach_()
                out, _, _ = eng.run_frame(st, x[t].reshape(x.shape[1], -1))
                running = out if running is None or not spiking else running.detach() + out
                loss = Fn.cross_entropy(running, yb) / T
                if loss.requires_grad:
                    loss.backward()
                total += float(loss.detach())
            opt.step()
            loss_sum += total * len(yb)
            n += len(yb)
        hist.append(loss_sum / n)
    return hist


def reference_cross_entropy(model, forward, x, y, opt, *, epochs, batch_size, seed, after_step):
    """``fit_cross_entropy`` before it became a Trainer configuration, with the per-epoch permutation."""
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    losses = []
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 1_000_003 + ep))
        tot, n = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            loss = Fn.cross_entropy(forward(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                after_step()
            tot += loss.item() * len(idx)
            n += len(idx)
        sched.step()
        losses.append(tot / n)
    model.eval()
    return losses


@pytest.mark.parametrize("kind", ["sync", "async", "step-loss"])
def test_trainer_configurations_equal_the_old_loop(data, kind):
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, seed=3, spike_reg=0.2, progress=False)
    if kind == "sync":
        runner, loss_fn = sync_runner, lambda rec, y: Fn.cross_entropy(rec.output.sum(0), y)
        new = Trainer(_model(), RateEncoder(3), cfg, runner=runner)
    elif kind == "async":
        runner, loss_fn = async_runner(4, "momentum"), lambda rec, y: Fn.cross_entropy(rec.output.sum(0), y)
        new = Trainer(_model(), RateEncoder(3), cfg, runner=runner)
    else:
        runner = async_runner(
            2, "random", input_mode="queued", record_step_outputs=True, generator=torch.Generator().manual_seed(1)
        )
        loss_fn = lambda rec, y: per_step_loss(rec, y, 1.0)
        new = StepLossTrainer(_model(), RateEncoder(3), cfg, runner=runner, early=1.0)
    hist = new.fit(data)
    if kind == "step-loss":  # a fresh generator for the reference: same random schedule
        runner = async_runner(
            2, "random", input_mode="queued", record_step_outputs=True, generator=torch.Generator().manual_seed(1)
        )
    ref_model = _model()
    ref = reference_bptt(
        ref_model,
        RateEncoder(3),
        data,
        epochs=2,
        batch_size=32,
        lr=1e-2,
        seed=3,
        runner=runner,
        loss_fn=loss_fn,
        spike_reg=0.2,
    )
    assert [h["loss"] for h in hist] == ref
    assert _same(new.model, ref_model)


def test_truncated_training_equals_the_old_loop(data):
    cfg = AsyncConfig(F=4, scheduler="random")
    a, b = _model(), _model()
    hist = train_truncated(a, RateEncoder(3), data, config=cfg, epochs=2, batch_size=32, lr=1e-2, seed=2)
    ref = reference_truncated(b, RateEncoder(3), data, config=cfg, epochs=2, batch_size=32, lr=1e-2, seed=2)
    assert [h["loss"] for h in hist] == ref
    assert _same(a, b)
    assert 0 <= hist[-1]["train_accuracy"] <= 1


def test_ann_training_and_finetuning_equal_the_old_loop_with_the_epoch_permutation(data):
    x, y = data.x_train, data.y_train
    torch.manual_seed(0)
    a = build_ann("conv", (1, 8, 8), 10)
    b = build_ann("conv", (1, 8, 8), 10)
    b.load_state_dict(a.state_dict())
    losses = train_ann(a, x, y, epochs=2, batch_size=32, seed=4, show_progress=False)
    mus = [p for n, p in b.named_parameters() if n.endswith("mu")]
    others = [p for n, p in b.named_parameters() if not n.endswith("mu")]
    opt = torch.optim.Adam([{"params": others, "weight_decay": 5e-4}, {"params": mus, "weight_decay": 5e-4}], lr=1e-3)

    def clamp():
        for p in mus:
            p.clamp_(min=1e-2)

    seed_everything(4)
    ref = reference_cross_entropy(b, b, x, y, opt, epochs=2, batch_size=32, seed=4, after_step=clamp)
    assert losses == ref and _same(a, b) and not a.training

    sa = convert(a, x[:32], T=2, method="distribution-aware")
    sb = convert(a, x[:32], T=2, method="distribution-aware")
    ft = finetune(sa, x, y, T=2, epochs=2, lr=1e-3, seed=0, show_progress=False)
    make_trainable(sb)
    opt = torch.optim.Adam([p for p in sb.parameters() if p.requires_grad], lr=1e-3)

    def clamp_sb():
        for layer in sb.spike_layers:
            layer.neuron.v_threshold.clamp_(min=1e-3)
            layer.neuron.tau.clamp_(min=1.0)

    seed_everything(0)
    ref = reference_cross_entropy(
        sb, lambda xb: sb(xb, T=2), x, y, opt, epochs=2, batch_size=64, seed=0, after_step=clamp_sb
    )
    assert ft == ref and _same(sa, sb)
