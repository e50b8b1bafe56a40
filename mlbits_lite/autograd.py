"""Vector-Jacobian and Jacobian-vector products, built from reverse mode only.

For y = f(x) with Jacobian J = ∂y/∂x (shape y.shape + x.shape):

    vjp(f, x, v) = vᵀJ      one reverse pass: torch.autograd.grad(y, x, v)
    jvp(f, x, v) = J v      two reverse passes, the "double-backward trick":
                            g(u) = Jᵀu is linear in u, so ∂(g·v)/∂u = J v
    jacobian(f, x) = J      one VJP per output element, vᵀ = row i of the identity

``f`` takes one tensor and returns one tensor. The caller's ``x`` is never modified, and its ``requires_grad``
flag is left as it was: every function differentiates a detached copy that shares x's memory. Where the output
does not depend on x the products are zeros, not None. The products work under ``torch.no_grad()`` and
``torch.inference_mode()`` alike (both switch autograd off only for the caller's code), and accept inference
tensors for ``x`` and ``v``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from ._validate import require_callable, require_floating_tensor, require_shape

__all__ = ["vjp", "jvp", "jacobian"]

Function = Callable[[torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def _autograd_on() -> Iterator[None]:
    """Record the graph even where the caller switched autograd off (no_grad, inference_mode)."""
    with torch.inference_mode(False), torch.enable_grad():
        try:
            yield
        except RuntimeError as error:
            if "Inference tensors cannot be saved for backward" not in str(error):
                raise
            raise ValueError("f uses a tensor created under torch.inference_mode (a weight, a constant), which "
                             "autograd cannot differentiate through: create it outside inference mode, or pass "
                             "a .clone() of it made outside inference mode") from None


def _normal(t: torch.Tensor) -> torch.Tensor:
    """An inference tensor copied into a normal one (autograd refuses inference tensors); others as they are."""
    return t.clone() if t.is_inference() else t


def _differentiable_call(f: Function, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the arguments, then return (x as a fresh leaf that requires grad, y = f(x)); call under _autograd_on."""
    require_callable("f", f)
    require_floating_tensor("x", x)
    x = _normal(x).detach().requires_grad_(True)  # a new leaf: the caller's tensor keeps its requires_grad and .grad
    y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"f must return a floating-point tensor, got dtype {y.dtype}")
    return x, y


def _as_direction(v: object, like: torch.Tensor) -> torch.Tensor:
    """Check that v is a floating tensor shaped like ``like``; return it with like's dtype and device."""
    require_floating_tensor("v", v)
    require_shape("v", v, like.shape)
    return _normal(v).detach().to(dtype=like.dtype, device=like.device)


def vjp(f: Function, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The vector-Jacobian product vᵀJ of ``f`` at ``x``, in one reverse pass.

    Args:
        f: Function of one tensor returning one floating-point tensor y.
        x: Floating-point tensor, the point to differentiate at.
        v: Floating-point tensor with the shape of y = f(x), the "upstream gradient".

    Returns:
        vᵀJ, shaped like ``x``: entry j is Σᵢ vᵢ ∂yᵢ/∂xⱼ. Zeros if y does not depend on x.

    Raises:
        TypeError: ``f`` is not callable, ``x`` or ``v`` is not a floating-point tensor, or f returns something
            other than a floating-point tensor.
        ValueError: ``v`` does not have the shape of f(x).
    """
    with _autograd_on():
        x, y = _differentiable_call(f, x)
        v = _as_direction(v, y)
        if not y.requires_grad:  # y was computed without x (e.g. a constant): J = 0
            return torch.zeros_like(x)
        (vj,) = torch.autograd.grad(y, x, v, allow_unused=True, materialize_grads=True)  # vᵀJ
    return vj


def jvp(f: Function, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The Jacobian-vector product J v of ``f`` at ``x``, by the double-backward trick (reverse mode only).

    With a dummy u shaped like y, the first pass g = Jᵀu is built with ``create_graph=True``; g is linear in u,
    so differentiating g·v with respect to u gives J v. The value of u does not matter (we use zeros).

    Args:
        f: Function of one tensor returning one floating-point tensor y.
        x: Floating-point tensor, the point to differentiate at.
        v: Floating-point tensor with the shape of ``x``, the direction.

    Returns:
        J v, shaped like y = f(x): entry i is Σⱼ ∂yᵢ/∂xⱼ vⱼ. Zeros if y does not depend on x.

    Raises:
        TypeError: ``f`` is not callable, ``x`` or ``v`` is not a floating-point tensor, or f returns something
            other than a floating-point tensor.
        ValueError: ``v`` does not have the shape of ``x``.
    """
    with _autograd_on():
        x, y = _differentiable_call(f, x)
        v = _as_direction(v, x)
        if not y.requires_grad:  # y was computed without x: J = 0
            return torch.zeros_like(y)
        u = torch.zeros_like(y, requires_grad=True)  # dummy upstream gradient
        (g,) = torch.autograd.grad(y, x, u, create_graph=True, allow_unused=True)  # g = Jᵀu, a function of u
        if g is None or not g.requires_grad:  # y does not depend on x, or Jᵀu does not depend on u: J = 0
            return torch.zeros_like(y)
        (jv,) = torch.autograd.grad(g, u, v, allow_unused=True, materialize_grads=True)  # ∂(g·v)/∂u = J v
    return jv.detach()


def jacobian(f: Function, x: torch.Tensor) -> torch.Tensor:
    """The full Jacobian of ``f`` at ``x``, one reverse pass (VJP) per output element.

    Row i is eᵢᵀJ, the VJP with the i-th unit vector, so the cost is y.numel() reverse passes: cheap for few
    outputs, expensive for many (a JVP per input column would be the other way round).

    Args:
        f: Function of one tensor returning one floating-point tensor y.
        x: Floating-point tensor, the point to differentiate at.

    Returns:
        J with shape ``y.shape + x.shape`` and x's dtype: ``J[i..., j...] = ∂y[i...]/∂x[j...]``. A scalar y gives
        the gradient (shape of x). Zeros if y does not depend on x.

    Raises:
        TypeError: ``f`` is not callable, ``x`` is not a floating-point tensor, or f returns something other
            than a floating-point tensor.
    """
    with _autograd_on():
        x, y = _differentiable_call(f, x)
        if not y.requires_grad:  # y was computed without x: J = 0
            return torch.zeros(y.shape + x.shape, dtype=x.dtype, device=x.device)
        m = y.numel()
        rows = []
        for i in range(m):
            unit = torch.zeros(m, dtype=y.dtype, device=y.device)
            unit[i] = 1.0  # eᵢ
            (row,) = torch.autograd.grad(
                y, x, unit.view_as(y), retain_graph=i < m - 1, allow_unused=True, materialize_grads=True
            )  # eᵢᵀJ = ∂yᵢ/∂x, shaped like x
            rows.append(row)
    if not rows:  # y has no elements
        return torch.zeros(y.shape + x.shape, dtype=x.dtype, device=x.device)
    return torch.stack(rows).reshape(y.shape + x.shape)  # (m, *x.shape) -> (*y.shape, *x.shape)
