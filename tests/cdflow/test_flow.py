"""The CD-Flow network: invertibility, exact log-determinant, latent layout, metric axioms, inputs, size."""

from __future__ import annotations

import math

import pytest
import torch

from cdreasoning.cdflow import (
    PRESETS,
    CDFlow,
    CDFlowConfig,
    count_parameters,
    latent_distances,
    preset_config,
)
from tests.cdflow.helpers import perturbed_flow

# The paper's flow: 6 scales × 8 steps, coupling width 512 → 60.49 M (exactly as the original code counts).
PAPER_PARAMETERS = 60_488_496


def test_paper_parameter_count_on_meta_device():
    with torch.device("meta"):
        model = CDFlow()
    assert model.config == CDFlowConfig(scales=6, steps=8, width=512) == PRESETS["paper"]
    assert count_parameters(model) == PAPER_PARAMETERS
    assert round(count_parameters(model) / 1e6, 2) == 60.49


def test_preset_parameter_counts():
    # The counts documented in config.py.
    assert count_parameters(CDFlow.from_config(PRESETS["small"])) == 229_056
    assert count_parameters(CDFlow.from_config(PRESETS["tiny"])) == 22_472


def test_reverse_of_forward_is_identity():
    x = torch.rand(2, 3, 32, 32)
    model = perturbed_flow(3, 3, 16, x).eval()
    with torch.no_grad():
        latents = model.encode(x)
        x_again = model.decode(latents)
    assert torch.allclose(x_again, x, atol=1e-4), (x_again - x).abs().max()
    # and the other way round, from latents that are not the image's own
    with torch.no_grad():
        other = [z + 0.1 * torch.randn_like(z) for z in latents]
        again = model(model.decode(other)).latents  # forward, not encode: decoded values leave [0, 1]
    for z, z_again in zip(other, again):
        assert torch.allclose(z, z_again, atol=1e-4)


def test_latent_layout_is_a_bijection_of_3hw_dimensions():
    x = torch.rand(1, 3, 32, 48)
    model = perturbed_flow(3, 1, 8, x)
    latents = model.encode(x)
    shapes = [tuple(z.shape) for z in latents]
    # scale k < K: 6·2^(k−1) channels at H/2^k; last scale: 3·2^(K+1) channels at H/2^K
    assert shapes == [(1, 6, 16, 24), (1, 12, 8, 12), (1, 48, 4, 6)]
    assert sum(z[0].numel() for z in latents) == 3 * 32 * 48


@pytest.mark.parametrize("scales", [1, 2])
def test_logdet_equals_autograd_jacobian(scales):
    """On a 1×3×4×4 input (48 dimensions) in float64: logdet = log|det ∂f/∂x| of the full Jacobian."""
    torch.manual_seed(scales)
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    model = perturbed_flow(scales, 2, 6, torch.rand(4, 3, 4, 4, dtype=torch.float64), scale=0.1).double()

    def f(flat):
        latents = model(flat.view(1, 3, 4, 4)).latents
        return torch.cat([z.flatten() for z in latents])

    jacobian = torch.autograd.functional.jacobian(f, x.flatten())
    assert jacobian.shape == (48, 48)
    sign, expected = torch.linalg.slogdet(jacobian)
    assert sign != 0
    logdet = model(x).logdet
    assert logdet.dtype == torch.float64
    assert torch.allclose(logdet, expected.reshape(1), atol=1e-8), (logdet, expected)


def test_log_prob_is_change_of_variables():
    x = torch.rand(3, 3, 8, 8)
    model = perturbed_flow(2, 2, 8, x)
    out = model(x)
    assert out.log_p.shape == out.logdet.shape == (3,)
    assert torch.allclose(model.log_prob(x), out.log_p + out.logdet)
    # A density on [0, 1]^D of a normalised flow with N(0, 1)-like priors: finite, per image.
    assert torch.isfinite(model.log_prob(x)).all()


def test_metric_axioms_on_random_images():
    torch.manual_seed(0)
    model = perturbed_flow(2, 2, 8, torch.rand(6, 3, 16, 16))
    x, y, z = (torch.rand(8, 3, 16, 16) for _ in range(3))
    with torch.no_grad():
        d_xx = model.distance(x, x)
        d_xy, d_yx = model.distance(x, y), model.distance(y, x)
        d_xz, d_yz = model.distance(x, z), model.distance(y, z)
    assert torch.equal(d_xx, torch.zeros(8))  # identity of indiscernibles (eps = 0 in the metric)
    assert (d_xy > 0).all()
    assert torch.allclose(d_xy, d_yx, rtol=1e-6)  # symmetry
    assert (d_xz <= d_xy + d_yz + 1e-6).all()  # triangle inequality


def test_partial_distances():
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    model = perturbed_flow(3, 1, 8, torch.cat([x, y]))
    with torch.no_grad():
        partial = model.partial_distances(x, y)
        zx, zy = model.encode(x), model.encode(y)
    assert partial.shape == (2, 3)
    assert torch.allclose(partial[:, 0], model.distance(x, y))
    # column k−1 = RMS over the latents of scales k..K, coarse-to-fine concatenation
    for k in range(3):
        dx = torch.cat([z.flatten(1) for z in zx[k:]], dim=1)
        dy = torch.cat([z.flatten(1) for z in zy[k:]], dim=1)
        expected = ((dx - dy) ** 2).mean(dim=1).sqrt()
        assert torch.allclose(partial[:, k], expected, rtol=1e-5)
    assert torch.allclose(latent_distances(zx, zy, eps=1e-8)[:, 0] ** 2, partial[:, 0] ** 2 + 1e-8, rtol=1e-5)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 30, 32), "multiples of 2\\*\\*3 = 8"),
        ((1, 3, 32, 20), "32×20 px"),
        ((1, 1, 32, 32), "shape \\[b, 3, H, W\\]"),
        ((3, 32, 32), "shape \\[b, 3, H, W\\]"),
    ],
)
def test_input_validation(shape, message):
    model = perturbed_flow(3, 1, 4, torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=message):
        model.distance(torch.rand(*shape), torch.rand(*shape))


def test_value_range_and_dtype_are_checked():
    model = perturbed_flow(2, 1, 4, torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"in \[0, 1\]; got values in \[0, 255\]"):
        model.encode(torch.full((1, 3, 8, 8), 255.0).index_fill_(1, torch.tensor([0]), 0.0))
    with pytest.raises(ValueError, match="floating-point"):
        model.encode(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        model.encode(torch.full((1, 3, 8, 8), math.nan))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model.encode([[0.0]])
    with pytest.raises(ValueError, match="same shape"):
        model.distance(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 16))


def test_uninitialised_actnorm_is_an_error():
    model = CDFlow(scales=2, steps=1, width=4)
    with pytest.raises(RuntimeError, match="data_init"):
        model(torch.rand(1, 3, 8, 8))
    model.data_init(torch.rand(2, 3, 8, 8))
    assert model.is_initialized
    # the flag travels with the weights
    fresh = CDFlow(scales=2, steps=1, width=4)
    fresh.load_state_dict(model.state_dict())
    assert fresh.is_initialized


def test_actnorm_data_init_normalises_the_first_layer():
    x = torch.rand(16, 3, 16, 16) * 0.5 + 0.2
    model = CDFlow(scales=2, steps=1, width=4)
    model.data_init(x)
    norm = model.scales[0].steps[0].actnorm
    from cdreasoning.cdflow.flow import squeeze2x2

    y, _ = norm(squeeze2x2(x))
    flat = y.transpose(0, 1).reshape(y.shape[1], -1)
    assert torch.allclose(flat.mean(1), torch.zeros(12), atol=1e-5)
    assert torch.allclose(flat.std(1), torch.ones(12), atol=1e-4)


def test_mixed_precision_keeps_latents_and_logdet_in_float32():
    x = torch.rand(2, 3, 16, 16)
    model = perturbed_flow(2, 2, 8, x)
    reference = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert all(z.dtype == torch.float32 for z in out.latents)
    assert out.logdet.dtype == out.log_p.dtype == torch.float32
    # only the coupling networks ran in bf16: the log-determinant differs by far less than bf16's 0.4 %
    assert torch.allclose(out.logdet, reference.logdet, rtol=1e-2)


def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="positive integer"):
        CDFlowConfig(scales=0)
    with pytest.raises(ValueError, match="positive integer"):
        CDFlowConfig(width=2.5)
    with pytest.raises(ValueError, match="unknown CD-Flow preset"):
        preset_config("huge")
    with pytest.raises(ValueError, match="unknown CDFlowConfig field"):
        CDFlowConfig.from_dict({"scales": 2, "depth": 3})
    assert preset_config("small", width=16) == CDFlowConfig(scales=3, steps=4, width=16)
    assert CDFlowConfig.from_dict(PRESETS["tiny"].to_dict()) == PRESETS["tiny"]
    assert PRESETS["paper"].multiple == 64


def test_gradient_checkpointing_gives_the_same_gradients():
    x = torch.rand(4, 3, 16, 16)
    model = perturbed_flow(2, 2, 8, x)
    grads = []
    for enabled in (False, True):
        model.gradient_checkpointing = enabled
        model.zero_grad()
        out = model(x)
        (out.log_prob.sum() + sum(z.square().sum() for z in out.latents)).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert model.gradient_checkpointing
    for plain, checkpointed in zip(*grads):
        assert torch.allclose(plain, checkpointed, rtol=1e-5, atol=1e-6)
