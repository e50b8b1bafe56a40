"""Chapter 3's self-checks: the catalogue of answers (run by test_check_contract.py), and the rules they enforce."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check


# --------------------------------------------------------------------------------------- reference solutions
def huber(input, target, delta):
    z = (input - target).abs()
    return torch.where(z < delta, 0.5 * z**2, delta * (z - 0.5 * delta))


def delta_for_fraction(sigma, fraction):
    return sigma * torch.special.ndtri(1 - fraction / 2)


def gradient_ratio(residual, delta, beta):
    return residual.clamp(-delta, delta) / (residual / beta).clamp(-1, 1)


# --------------------------------------------------------------------------------------- other right answers
def huber_by_clamp(input, target, delta):
    z = (input - target).abs()
    inside = z.clamp(max=delta)  # the quadratic part stops growing at delta
    return 0.5 * inside**2 + delta * (z - inside)


def gradient_ratio_by_branches(residual, delta, beta):
    z = residual.abs()
    huber_slope = torch.where(z < delta, z, torch.full_like(z, delta))
    smooth_slope = torch.where(z < beta, z / beta, torch.ones_like(z))
    return huber_slope / smooth_slope


def _where(z, delta, inside, outside):
    return torch.where(z < delta, inside, outside)


CATALOGUE = {
    check.huber_elementwise: Catalogue(
        reference=huber,
        right=[huber_by_clamp, lambda x, y, d: huber(y, x, d)],
        wrong=[
            (lambda x, y, d: 0.5 * (x - y) ** 2, "L2"),
            (lambda x, y, d: (x - y).abs(), "L1"),
            (lambda x, y, d: _where((x - y).abs(), d, (x - y) ** 2, d * ((x - y).abs() - 0.5 * d)), "factor ½"),
            (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2, d * (x - y).abs()), "offset"),
            (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2, d * ((x - y).abs() + 0.5 * d)),
             "does not add it"),
            (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2, (x - y).abs() - 0.5 * d), "slope 1"),
            (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2, d * ((x - y) - 0.5 * d)), "needs |r|"),
            (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2 / d, (x - y).abs() - 0.5 * d), "Smooth L1"),
            (lambda x, y, d: F.huber_loss(x, y, delta=d, reduction="none"), "called F.huber_loss"),
            (lambda x, y, d: d * F.smooth_l1_loss(x, y, beta=d, reduction="none"), "called F.smooth_l1_loss"),
            (lambda x, y, d: huber(x, y, d).mean(), "shape"),
            (lambda x, y, d: huber(x, y, d).numpy(), "torch.Tensor"),
            (lambda x, y, d: -huber(x, y, d), "sign"),
        ],
    ),
    check.delta_for_fraction: Catalogue(
        reference=delta_for_fraction,
        right=[lambda s, p: s * 2**0.5 * torch.erfinv(1 - p), lambda s, p: -s * torch.special.ndtri(p / 2)],
        wrong=[
            (lambda s, p: s * torch.special.ndtri(1 - p), "one tail"),
            (lambda s, p: s * torch.special.ndtri((1 + p) / 2), "inside the quadratic branch"),
            (lambda s, p: s * torch.special.ndtri(p / 2), "lower quantile"),
            (lambda s, p: s**2 * torch.special.ndtri(1 - p / 2), "variance"),
            (lambda s, p: torch.special.ndtri(1 - p / 2) + 0 * s, "scale with sigma"),
            (lambda s, p: s / torch.special.ndtri(1 - p / 2), "not sigma divided"),
            (lambda s, p: s * torch.erfinv(1 - p), "√2 is missing"),
            (lambda s, p: 2 * delta_for_fraction(s, p), "constant factor"),
            (lambda s, p: (s * torch.special.ndtri(1 - p / 2)).numpy(), "torch.Tensor"),
        ],
        mutations={"negated": "lower quantile"},
    ),
    check.huber_gradient_ratio: Catalogue(
        reference=gradient_ratio,
        right=[gradient_ratio_by_branches],
        wrong=[
            (lambda r, d, b: 1 / gradient_ratio(r, d, b), "upside down"),
            (lambda r, d, b: torch.full_like(r, d), "only when beta = delta"),
            (lambda r, d, b: torch.full_like(r, b), "beta everywhere"),
            (lambda r, d, b: huber(r, 0 * r, d) / F.smooth_l1_loss(r, 0 * r, beta=b, reduction="none"), "losses"),
            (lambda r, d, b: r.clamp(-d, d) / (r / b), "sign(r)"),
            (lambda r, d, b: r / (r / b).clamp(-1, 1), "clamped to [-delta, delta]"),
            (lambda r, d, b: r.clamp(-d, d) / r.clamp(-1, 1), "r / beta, not r"),
            (lambda r, d, b: (huber(r + 1e-6, 0 * r, d) - huber(r - 1e-6, 0 * r, d))
             / (F.smooth_l1_loss(r + 1e-6, 0 * r, beta=b, reduction="none")
                - F.smooth_l1_loss(r - 1e-6, 0 * r, beta=b, reduction="none")), "not exact"),
            (lambda r, d, b: torch.autograd.grad(F.huber_loss(r.clone().requires_grad_(), 0 * r, delta=d,
                                                              reduction="sum"), r)[0], "by hand"),
        ],
    ),
}
