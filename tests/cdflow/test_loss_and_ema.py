"""The CD-Flow loss (the paper's weights, NLL in bits per dimension) and the EMA of the weights."""

from __future__ import annotations

import math

import pytest
import torch

from cdreasoning.cdflow import cdflow_loss, nll_bits_per_dim
from cdreasoning.cdflow.ema import EMA
from tests.cdflow.helpers import perturbed_flow


def test_loss_is_the_paper_formula():
    torch.manual_seed(0)
    x, y = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    model = perturbed_flow(3, 1, 8, torch.cat([x, y]))
    delta_v = torch.tensor([1.5, 4.0, 9.0])
    out = model(torch.cat([x, y]))
    terms = cdflow_loss(out, delta_v)

    with torch.no_grad():
        partial = model.partial_distances(x, y)  # [3, K]: ΔE_1 … ΔE_K
    mse = ((partial - delta_v[:, None]) ** 2).mean(0)
    distance = 10 * mse[0] + mse[1:].sum()
    d = 3 * 16 * 16
    nll = (-(model.log_prob(torch.cat([x, y])) - d * math.log(32)) / (d * math.log(2))).detach()
    expected = 10 * distance + nll[:3].mean() + nll[3:].mean()
    assert torch.allclose(terms.total.detach(), expected, rtol=1e-4)
    assert torch.allclose(terms.distance_mse, distance, rtol=1e-4)
    assert torch.allclose(terms.delta_e, partial[:, 0], rtol=1e-4)
    terms.total.backward()  # differentiable end to end
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_identical_images_give_a_finite_gradient():
    x = torch.rand(2, 3, 8, 8)
    model = perturbed_flow(2, 1, 4, x)
    terms = cdflow_loss(model(torch.cat([x, x])), torch.tensor([1.0, 2.0]))
    terms.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_nll_bits_per_dim():
    # a log-density of D·log(32) nats is 0 bits/dim above the 32-bin discretisation; −D·log 2 adds 1 bit
    d = 48
    assert torch.allclose(nll_bits_per_dim(torch.tensor([d * math.log(32)]), d), torch.tensor([0.0]))
    assert torch.allclose(
        nll_bits_per_dim(torch.tensor([d * math.log(32) - d * math.log(2)]), d), torch.tensor([1.0])
    )


def test_loss_checks_the_batch_layout():
    x = torch.rand(2, 3, 8, 8)
    model = perturbed_flow(2, 1, 4, x)
    with pytest.raises(ValueError, match="x then y"):
        cdflow_loss(model(x), torch.tensor([1.0, 2.0]))


def test_ema_update_warmup_and_swap():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], torch.full((1, 2), 0.9 * 1 + 0.1 * 3))
    with ema.applied(model):
        assert torch.allclose(model.weight, torch.full((1, 2), 1.2))
    assert torch.allclose(model.weight, torch.full((1, 2), 3.0))  # the trained weights are back
    warm = EMA(model, decay=0.999, warmup=True)
    assert warm.current_decay() == pytest.approx(0.1)  # (1 + 0)/(10 + 0)
    warm.num_updates = 100_000
    assert warm.current_decay() == 0.999
    state = ema.state_dict()
    other = EMA(model, decay=0.5)
    other.load_state_dict(state)
    assert other.decay == 0.9 and other.num_updates == 1
    assert torch.equal(other.shadow["weight"], ema.shadow["weight"])
    full = ema.model_state_dict(model)
    assert torch.allclose(full["weight"], torch.full((1, 2), 1.2))
