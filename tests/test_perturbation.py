"""explain's meaningful perturbation: blur, the perturbation operator, total variation, the deletion game, and the
deletion curve."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mlbits_lite import explain

F64 = torch.float64
H = W = 16
REGION = torch.zeros(H, W, dtype=torch.bool)
REGION[4:10, 6:12] = True  # the only pixels the toy model looks at


class RegionModel(nn.Module):
    """Two classes; the logit of class 0 is 12 * (mean brightness inside REGION - 0.6): it sees nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(12.0, dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = self.scale * (x[:, :, REGION].mean(dim=(1, 2)) - 0.6)
        return torch.stack([score, -score], dim=1)


def images(n: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = 0.45 + 0.1 * torch.rand(n, 3, H, W, generator=g, dtype=F64)
    x[:, :, REGION] += 0.5  # a bright object where the model looks
    return x


# ------------------------------------------------------------------------------------------------ gaussian_blur
def test_blur_keeps_a_constant_image_and_matches_a_2d_gaussian_inside():
    x = torch.full((1, 2, 12, 12), 0.3, dtype=F64)
    torch.testing.assert_close(explain.gaussian_blur(x, 1.5), x)
    y = torch.rand(1, 1, 20, 20, dtype=F64, generator=torch.Generator().manual_seed(1))
    sigma, r = 1.0, 3
    t = torch.arange(-r, r + 1, dtype=F64)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k2 = torch.outer(k, k) / k.sum() ** 2  # the separable 2-D kernel
    inside = F.conv2d(y, k2[None, None])  # valid convolution: (1, 1, 14, 14)
    torch.testing.assert_close(explain.gaussian_blur(y, sigma)[..., r:-r, r:-r], inside)


def test_blur_refuses_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        explain.gaussian_blur(images(), 0.0)
    with pytest.raises(ValueError, match="x"):
        explain.gaussian_blur(torch.zeros(3, 8, 8), 1.0)
    with pytest.raises(TypeError, match="x"):
        explain.gaussian_blur(torch.zeros(1, 3, 8, 8, dtype=torch.int64), 1.0)


# ------------------------------------------------------------------------------------------------ perturb
@pytest.mark.parametrize("kind", explain.PERTURBATIONS)
def test_mask_of_ones_keeps_the_image(kind):
    x = images()
    torch.testing.assert_close(explain.perturb(x, torch.ones(2, H, W, dtype=F64), kind), x)


def test_deleted_pixels_get_the_replacement():
    x = images()
    zero = torch.zeros(2, H, W, dtype=F64)
    torch.testing.assert_close(explain.perturb(x, zero, "constant"), x.mean(dim=(2, 3), keepdim=True).expand_as(x))
    torch.testing.assert_close(explain.perturb(x, zero, "blur", sigma=2.0), explain.gaussian_blur(x, 2.0))
    half = torch.full((2, H, W), 0.5, dtype=F64)
    torch.testing.assert_close(explain.perturb(x, half, "constant"),
                               0.5 * x + 0.5 * x.mean(dim=(2, 3), keepdim=True))


def test_noise_is_reproducible_with_a_seeded_generator():
    x, zero = images(), torch.zeros(2, H, W, dtype=F64)
    a = explain.perturb(x, zero, "noise", generator=torch.Generator().manual_seed(3))
    b = explain.perturb(x, zero, "noise", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert abs((a - x.mean(dim=(2, 3), keepdim=True)).std().item() - 0.2) < 0.02


def test_perturb_refuses_bad_input():
    x = images()
    with pytest.raises(ValueError, match="mask"):
        explain.perturb(x, torch.ones(2, H, W + 1, dtype=F64))
    with pytest.raises(ValueError, match="perturbation"):
        explain.perturb(x, torch.ones(2, H, W, dtype=F64), "erase")
    with pytest.raises(ValueError, match="noise_std"):
        explain.perturb(x, torch.ones(2, H, W, dtype=F64), "noise", noise_std=-1.0)


# ------------------------------------------------------------------------------------------------ total_variation
def test_total_variation_limits():
    constant = torch.full((1, 6, 7), 0.4, dtype=F64)
    assert explain.total_variation(constant).item() == 0.0
    i, j = torch.meshgrid(torch.arange(6), torch.arange(7), indexing="ij")
    checker = ((i + j) % 2).to(F64)[None]
    assert explain.total_variation(checker, beta=3.0).item() == pytest.approx(2.0)  # every neighbour differs by 1
    edge = torch.zeros(1, 6, 7, dtype=F64)
    edge[:, :, 4:] = 1  # one vertical edge: 6 of the 6 * 6 horizontal pairs differ
    assert explain.total_variation(edge, beta=2.0).item() == pytest.approx(1 / 6)


def test_total_variation_refuses_bad_input():
    with pytest.raises(ValueError, match="mask"):
        explain.total_variation(torch.zeros(1, 1, 5, dtype=F64))
    with pytest.raises(ValueError, match="beta"):
        explain.total_variation(torch.zeros(1, 3, 3, dtype=F64), beta=0)


# ------------------------------------------------------------------------------------------------ meaningful_perturbation
def test_the_deletion_game_finds_the_region_the_model_looks_at():
    model = RegionModel().eval()
    mask = explain.meaningful_perturbation(model, images(), 0, perturbation="constant", mask_size=H, steps=200,
                                           l1=0.05, tv=0.0, jitter=0, generator=torch.Generator().manual_seed(0))
    deleted = 1 - mask
    assert mask.shape == (2, H, W) and mask.min() >= 0 and mask.max() <= 1
    assert deleted[:, REGION].mean() > 0.95 and deleted[:, ~REGION].mean() < 0.05
    assert model.scale.grad is None and not model.training  # parameters and mode untouched


def test_the_deletion_game_is_deterministic_with_a_seeded_generator():
    model = RegionModel().eval()
    run = lambda: explain.meaningful_perturbation(model, images(), [0, 1], perturbation="noise", steps=20,  # noqa: E731
                                                  generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(run(), run())


def test_meaningful_perturbation_refuses_bad_input():
    model, x = RegionModel(), images()
    with pytest.raises(ValueError, match="mask_size"):
        explain.meaningful_perturbation(model, x, 0, mask_size=H + 1)
    with pytest.raises(ValueError, match="steps"):
        explain.meaningful_perturbation(model, x, 0, steps=0)
    with pytest.raises(ValueError, match="l1"):
        explain.meaningful_perturbation(model, x, 0, l1=-1.0)
    with pytest.raises(ValueError, match="class_idx"):
        explain.meaningful_perturbation(model, x, 2)
    with pytest.raises(TypeError, match="model"):
        explain.meaningful_perturbation(lambda t: t, x, 0)
    with pytest.raises(ValueError, match="perturbation"):
        explain.meaningful_perturbation(model, x, 0, perturbation="erase")


# ------------------------------------------------------------------------------------------------ deletion_curve
def test_deletion_curve_ends_and_area():
    model, x = RegionModel().eval(), images()
    saliency = torch.rand(2, H, W, dtype=F64, generator=torch.Generator().manual_seed(2))
    scores, area = explain.deletion_curve(model, x, saliency, 0, steps=8)
    assert scores.shape == (2, 9) and area.shape == (2,)
    with torch.no_grad():
        full = model(x).softmax(1)[:, 0]
        none = model(x.mean(dim=(2, 3), keepdim=True).expand_as(x)).softmax(1)[:, 0]
    torch.testing.assert_close(scores[:, 0], full)  # nothing deleted yet
    torch.testing.assert_close(scores[:, -1], none)  # everything deleted, whatever the order
    torch.testing.assert_close(area, torch.trapezoid(scores, dx=1 / 8, dim=1))


def test_the_right_map_deletes_faster_than_a_random_one():
    model, x = RegionModel().eval(), images()
    right = REGION.to(F64).expand(2, H, W).clone()
    random = torch.rand(2, H, W, dtype=F64, generator=torch.Generator().manual_seed(4))
    _, right_area = explain.deletion_curve(model, x, right, 0)
    _, random_area = explain.deletion_curve(model, x, random, 0)
    assert (right_area < random_area - 0.2).all()


def test_deletion_curve_refuses_bad_input():
    model, x = RegionModel(), images()
    with pytest.raises(ValueError, match="saliency"):
        explain.deletion_curve(model, x, torch.zeros(2, H, W + 1, dtype=F64), 0)
    with pytest.raises(ValueError, match="saliency"):
        explain.deletion_curve(model, x, torch.full((2, H, W), math.nan, dtype=F64), 0)
    with pytest.raises(ValueError, match="steps"):
        explain.deletion_curve(model, x, torch.zeros(2, H, W, dtype=F64), 0, steps=0)
