"""The speed paths of CD-Flow give the numbers of the plain path: folded ActNorm + 1×1 convolution at inference,
the cached 1×1 weights, channels-last storage and bf16 autocast (with float32 log-determinants)."""

from __future__ import annotations

import torch

from cdreasoning.cdflow.flow import squeeze2x2, unsqueeze2x2
from tests.cdflow.helpers import perturbed_flow


def _flow(size: int = 16):
    x = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(0))
    return perturbed_flow(2, 2, 8, x, seed=1), x


def _set_folding(model, enabled: bool) -> None:
    for scale in model.scales:
        for step in scale.steps:
            step.fold_at_inference = enabled


def test_folded_inference_equals_the_separate_layers():
    model, x = _flow()
    model.eval()
    with torch.no_grad():
        folded = model(x)
        _set_folding(model, False)
        plain = model(x)
    for a, b in zip(folded.latents, plain.latents):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(folded.logdet, plain.logdet, rtol=1e-6, atol=1e-3)
    torch.testing.assert_close(folded.log_p, plain.log_p, rtol=1e-5, atol=1e-3)
    # with autograd on (training) the layers stay separate: the same graph as without folding
    _set_folding(model, True)
    out = model(x)
    assert out.logdet.requires_grad


def test_cached_weights_follow_every_parameter_change():
    model, x = _flow()
    model.eval()
    step = model.scales[0].steps[0]
    with torch.no_grad():
        before = model.distance(x[:2], x[2:])
        first = step.invconv.weight()
        assert step.invconv.weight() is first  # cached while nothing changed
        for p in model.parameters():
            p.add_(0.01)  # an optimizer step, an EMA swap or load_state_dict: in-place changes
        assert step.invconv.weight() is not first
        after = model.distance(x[:2], x[2:])
        _set_folding(model, False)
        expected = model.distance(x[:2], x[2:])
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-6)
    # the composed weight equals P·(L+I)·(U+diag(sign·exp s)) computed by hand
    c = step.invconv
    manual = (
        c.perm
        @ (torch.tril(c.lower, -1) + torch.eye(len(c.log_s)))
        @ (torch.triu(c.upper, 1) + torch.diag(c.sign * torch.exp(c.log_s)))
    )
    torch.testing.assert_close(c.weight().detach(), manual.detach())


def test_channels_last_gives_the_same_loss_and_gradients():
    from cdreasoning.cdflow import cdflow_loss

    model, x = _flow()
    delta_v = torch.tensor([0.5, 1.5])
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        model.to(memory_format=layout)
        model.zero_grad()
        terms = cdflow_loss(model(x.contiguous(memory_format=layout)), delta_v)
        terms.total.backward()
        grads.append((terms.total.detach(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = grads
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-6, atol=1e-5)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    y = torch.rand(2, 12, 8, 8).contiguous(memory_format=torch.channels_last)
    assert squeeze2x2(y).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(unsqueeze2x2(squeeze2x2(y)), y)


def test_bf16_autocast_keeps_log_determinants_float32():
    from cdreasoning.cdflow import cdflow_loss

    model, x = _flow(32)
    delta_v = torch.tensor([0.5, 1.5])
    plain = cdflow_loss(model(x), delta_v).total
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.logdet.dtype == torch.float32 and all(z.dtype == torch.float32 for z in out.latents)
    mixed = cdflow_loss(out, delta_v).total
    assert abs(mixed.item() - plain.item()) / abs(plain.item()) < 1e-2
