"""Chapter 1's self-checks: the catalogue of answers (run by test_check_contract.py), and the rules they enforce."""
from __future__ import annotations

import torch
from torch.func import jacrev, vjp as func_vjp

from catalogue import Catalogue
from mlbits_lite import check


# --------------------------------------------------------------------------------------- reference solutions
def softmax_vjp(x, v):
    s = torch.softmax(x, dim=0)
    return s * (v - s @ v)


def jacobian_by_jvps(fn, x, jvp):
    columns = [jvp(fn, (x,), (e,))[1] for e in torch.eye(x.numel(), dtype=x.dtype)]
    return torch.stack(columns, dim=1)


def predict_grad(x, calls):
    return calls * 3 * x**2


def hessian_vector_product(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return torch.autograd.grad(grad @ v, x)[0]


# --------------------------------------------------------------------------------------- other right answers
def softmax_vjp_by_jacobian(x, v):
    s = x.softmax(0)
    return v @ (torch.diag(s) - torch.outer(s, s))  # vᵀJ with J written out


def softmax_vjp_under_no_grad(x, v):
    with torch.no_grad():  # no_grad is not autograd: never flagged
        s = torch.exp(x - x.max())
        s = s / s.sum()
        return s * v - s * (s * v).sum()


def jacobian_filled_column_by_column(fn, x, jvp):
    out = fn(x)
    J = torch.zeros(out.numel(), x.numel(), dtype=x.dtype)
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = 1
        J[:, j] = jvp(fn, (x,), (e,))[1]
    return J


def hvp_forward_over_reverse(fn, x, v):
    return torch.func.jvp(torch.func.grad(fn), (x,), (v,))[1]  # H v without forming H


def hvp_by_backward(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    (grad * v).sum().backward()
    return x.grad


# --------------------------------------------------------------------------------------- wrong answers
def _softmax_vjp_by_autograd(x, v):
    return torch.autograd.grad(torch.softmax(x.requires_grad_(), 0), x, v)[0]


def _softmax_vjp_by_imported_vjp(x, v):  # imported under another name: still seen
    return func_vjp(lambda t: t.softmax(0), x)[1](v)[0]


def _softmax_vjp_by_grad_fn(x, v):  # the graph's node called directly: no graph is recorded, so it has no node
    return torch.softmax(x.clone().requires_grad_(), 0).grad_fn(v)


def _softmax_vjp_by_finite_differences(x, v):
    h = 1e-5
    rows = [v @ ((x + h * e).softmax(0) - (x - h * e).softmax(0)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)]
    return torch.stack(rows)


def _hvp_by_batched_gradients(fn, x, v):  # one batched call builds all of H
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    H = torch.autograd.grad(grad, x, torch.eye(x.numel(), dtype=x.dtype), is_grads_batched=True)[0]
    return H @ v


def _jacobian_by_jacrev(fn, x, jvp):
    return jacrev(fn)(x)


def _jacobian_by_finite_differences(fn, x, jvp):
    h = 1e-6
    return torch.stack([(fn(x + h * e) - fn(x - h * e)) / (2 * h) for e in torch.eye(x.numel(), dtype=x.dtype)], 1)


def _jacobian_with_the_wrong_tangent(fn, x, jvp):
    return torch.stack([jvp(fn, (x,), (x,))[1] for _ in range(x.numel())], 1)


def _jacobian_of_primal_outputs(fn, x, jvp):
    return torch.stack([jvp(fn, (x,), (e,))[0] for e in torch.eye(x.numel(), dtype=x.dtype)], 1)


def _jacobian_with_two_calls_per_column(fn, x, jvp):
    return torch.stack([jvp(fn, (x,), (e,))[1] + 0 * jvp(fn, (x,), (e,))[1]
                        for e in torch.eye(x.numel(), dtype=x.dtype)], 1)


def _hvp_without_create_graph(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x)
    return torch.autograd.grad(grad @ v, x)[0]


def _hvp_by_full_hessian(fn, x, v):
    return torch.autograd.functional.hessian(fn, x) @ v


def _hvp_row_by_row(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    rows = [torch.autograd.grad(grad[i], x, retain_graph=True)[0] for i in range(x.numel())]
    return torch.stack(rows) @ v


def _hvp_by_finite_differences(fn, x, v):
    h = 1e-5

    def gradient(z):
        z = z.detach().requires_grad_(True)
        return torch.autograd.grad(fn(z), z)[0]

    return (gradient(x + h * v) - gradient(x - h * v)) / (2 * h)


def _gradient(fn, x, v):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(fn(x), x)[0]


def _hvp_of_the_summed_gradient(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return torch.autograd.grad(grad.sum(), x)[0]


CATALOGUE = {
    check.softmax_vjp: Catalogue(
        reference=softmax_vjp,
        right=[softmax_vjp_by_jacobian, softmax_vjp_under_no_grad],
        wrong=[
            (lambda x, v: torch.softmax(x, 0) * v, "normalising sum"),
            (lambda x, v: v - torch.softmax(x, 0) @ v, "factor s in front"),
            (lambda x, v: (lambda s: s * v - s**2 * v)(x.softmax(0)), "only its diagonal"),
            (lambda x, v: (lambda s: s * (v - v.mean()))(x.softmax(0)), "plain mean"),
            (lambda x, v: (lambda s: s * (v - v.sum()))(x.softmax(0)), "plain sum"),
            (lambda x, v: v - x.softmax(0) * v.sum(), "log-softmax"),
            (lambda x, v: x * (v - x @ v), "you used x"),
            (lambda x, v: torch.exp(x) * v, "Jacobian of exp"),
            (_softmax_vjp_by_autograd, "called torch.autograd.grad"),
            (_softmax_vjp_by_imported_vjp, "called torch.func.vjp"),
            (lambda x, v: -softmax_vjp(x, v), "sign"),
            (lambda x, v: 2 * softmax_vjp(x, v), "constant factor"),
            (lambda x, v: softmax_vjp(x, v)[:-1], "shape"),
            (lambda x, v: softmax_vjp(x, v).numpy(), "torch.Tensor"),
            (lambda x, v: torch.zeros_like(x), "zero everywhere"),  # the review's case: not "a constant factor"
            (_softmax_vjp_by_grad_fn, "NoneType"),
            (_softmax_vjp_by_finite_differences, "not exact"),
        ],
    ),
    check.jacobian_by_jvps: Catalogue(
        reference=jacobian_by_jvps,
        right=[jacobian_filled_column_by_column],
        wrong=[
            (lambda fn, x, jvp: jacobian_by_jvps(fn, x, jvp).T, "rows and columns are swapped"),
            (_jacobian_by_jacrev, "called torch.func.jacrev"),
            (_jacobian_by_finite_differences, "made 0 calls"),
            (_jacobian_with_the_wrong_tangent, "same tangent"),
            (_jacobian_of_primal_outputs, "second output"),
            (_jacobian_with_two_calls_per_column, "one call of `jvp` per input"),
            (lambda fn, x, jvp: torch.autograd.functional.jacobian(fn, x), "torch.autograd.functional.jacobian"),
            (lambda fn, x: torch.stack([torch.func.jvp(fn, (x,), (e,))[1] for e in torch.eye(x.numel())], 1),
             "calls your function as f(fn, x, jvp)"),  # the solution before the check passed its jvp in
        ],
        mutations={"rearranged": "rows and columns are swapped"},
    ),
    check.predict_grad: Catalogue(
        reference=predict_grad,
        right=[lambda x, calls: sum(3 * x**2 for _ in range(calls)), lambda x, calls: 3 * calls * x * x],
        wrong=[
            (lambda x, calls: 3 * x**2, "accumulates"),
            (lambda x, calls: calls * x**3, "value of y's terms"),
            (lambda x, calls: calls * 3 * x, "not 3x"),
            (lambda x, calls: calls * x**2, "factor 3 is missing"),
            (lambda x, calls: (calls - 1) * 3 * x**2, "the first one too"),
            (lambda x, calls: (3 * x**2) ** calls, "do not multiply"),
            (lambda x, calls: torch.autograd.grad((x.requires_grad_() ** 3).sum(), x)[0] * calls, "autograd"),
            (lambda x, calls: calls * ((x + 1e-5) ** 3 - (x - 1e-5) ** 3) / 2e-5, "not exact"),
        ],
        mutations={"zeros": "zero everywhere"},
    ),
    check.hessian_vector_product: Catalogue(
        reference=hessian_vector_product,
        right=[hvp_forward_over_reverse, hvp_by_backward],
        wrong=[
            (_gradient, "that is the gradient"),
            (lambda fn, x, v: _gradient(fn, x, v) * v, "entry by entry"),
            (_hvp_of_the_summed_gradient, "vector of ones"),
            (_hvp_without_create_graph, "does not require grad"),
            (_hvp_by_full_hessian, "torch.autograd.functional.hessian"),
            (lambda fn, x, v: torch.func.hessian(fn)(x) @ v, "torch.func.hessian"),
            (lambda fn, x, v: torch.autograd.functional.hvp(fn, x, v)[1], "torch.autograd.functional.hvp"),
            (_hvp_row_by_row, "gradient calls"),
            (_hvp_by_finite_differences, "not exact"),
            (_hvp_by_batched_gradients, "is_grads_batched"),
        ],
    ),
}


# --------------------------------------------------------------------------------------- rules, in detail
def test_a_rule_names_the_function_and_why():
    message = check.softmax_vjp(_softmax_vjp_by_autograd).message
    assert "by hand" in message and "torch.autograd.grad" in message


def test_tensor_methods_and_no_grad_are_never_flagged():
    def busy(x, v):  # many ordinary operations, a no_grad block, an enable_grad block
        with torch.no_grad(), torch.enable_grad():
            s = torch.nn.functional.softmax(x.clone().requires_grad_(False), dim=0)
        return torch.einsum("i,i->i", s, v) - s * torch.dot(s, v)

    assert check.softmax_vjp(busy)


def test_backward_is_seen_in_a_by_hand_exercise():
    def by_backward(x, calls):
        x = x.clone().requires_grad_(True)
        y = (x**3).sum()
        for _ in range(calls):
            y.backward(retain_graph=True)
        return x.grad

    result = check.predict_grad(by_backward)
    assert not result and "Tensor.backward" in result.message


def test_the_counted_jvp_is_fresh_for_every_case():
    counts = []

    def record(fn, x, jvp):
        result = jacobian_by_jvps(fn, x, jvp)
        counts.append(jvp.calls)
        return result

    assert check.jacobian_by_jvps(record)
    assert counts == [5, 2, 4, 1]  # the inputs of the hidden cases: one call per column, counted per case
