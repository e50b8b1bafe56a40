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


def per_sample_jacobians(fn, X, vjp):
    m = fn(X).shape[1]
    rows = [vjp(fn, X, e_i.expand(X.shape[0], m)) for e_i in torch.eye(m, dtype=X.dtype)]  # m calls, (B, n) each
    return torch.stack(rows, dim=1)  # (B, m, n)


def predict_grad(x, calls):
    return calls * 3 * x**2


def hessian_vector_product(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return torch.autograd.grad(grad @ v, x)[0]


def _plain_vjp(fn, X, V):
    return func_vjp(fn, X)[1](V)[0]


# --------------------------------------------------------------------------------------- other right answers
def softmax_vjp_by_jacobian(x, v):
    s = x.softmax(0)
    return v @ (torch.diag(s) - torch.outer(s, s))  # vᵀJ with J written out


def softmax_vjp_under_no_grad(x, v):
    with torch.no_grad():  # no_grad is not autograd: never flagged
        s = torch.exp(x - x.max())
        s = s / s.sum()
        return s * v - s * (s * v).sum()


def jacobians_filled_row_by_row(fn, X, vjp):
    B, m = fn(X).shape
    J = torch.zeros(B, m, X.shape[1], dtype=X.dtype)
    for i in range(m):
        V = torch.zeros(B, m, dtype=X.dtype)
        V[:, i] = 1
        J[:, i, :] = vjp(fn, X, V)
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


def _jacobians_by_jacrev(fn, X, vjp):
    return torch.stack([jacrev(lambda x: fn(x[None])[0])(x) for x in X])


def _jacobians_by_finite_differences(fn, X, vjp):
    h = 1e-6
    return torch.stack([(fn(X + h * e) - fn(X - h * e)) / (2 * h) for e in torch.eye(X.shape[1], dtype=X.dtype)], 2)


def _jacobians_one_sample_at_a_time(fn, X, vjp):
    B, m = fn(X).shape
    rows = []
    for b in range(B):  # B·m calls: right values, but the point of the exercise is missed
        J_b = []
        for i in range(m):
            V = torch.zeros(B, m, dtype=X.dtype)
            V[b, i] = 1
            J_b.append(vjp(fn, X, V)[b])
        rows.append(torch.stack(J_b))
    return torch.stack(rows)


def _jacobians_seeded_in_the_first_row(fn, X, vjp):
    B, m = fn(X).shape
    seeds = [torch.zeros(B, m, dtype=X.dtype) for _ in range(m)]
    for i, V in enumerate(seeds):
        V[0, i] = 1
    return torch.stack([vjp(fn, X, V) for V in seeds], 1)


def _jacobians_with_seeds_of_ones(fn, X, vjp):
    B, m = fn(X).shape
    return torch.stack([vjp(fn, X, torch.ones(B, m, dtype=X.dtype)) for _ in range(m)], 1)


def _jacobian_of_the_batch_sum(fn, X, vjp):
    J = per_sample_jacobians(fn, X, vjp)
    return J.sum(0, keepdim=True).expand_as(J)


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
    check.per_sample_jacobians: Catalogue(
        reference=per_sample_jacobians,
        right=[jacobians_filled_row_by_row],
        wrong=[
            (lambda fn, X, vjp: per_sample_jacobians(fn, X, vjp).transpose(1, 2), "transposed"),
            (_jacobians_by_jacrev, "called torch.func.jacrev"),
            (_jacobians_by_finite_differences, "made 0 calls"),
            (_jacobians_one_sample_at_a_time, "one call of `vjp` per output coordinate"),
            (_jacobians_seeded_in_the_first_row, "only the first sample got the seed"),
            (_jacobians_with_seeds_of_ones, "seed of ones"),
            (_jacobian_of_the_batch_sum, "Jacobian of the batch's sum"),
            (lambda fn, X: per_sample_jacobians(fn, X, _plain_vjp), "calls your function as f(fn, X, vjp)"),
        ],
        mutations={"rearranged": "transposed"},
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


def test_the_counted_vjp_is_fresh_for_every_case():
    counts = []

    def record(fn, X, vjp):
        result = per_sample_jacobians(fn, X, vjp)
        counts.append(vjp.calls)
        return result

    assert check.per_sample_jacobians(record)
    assert counts == [3, 6, 1, 4]  # the outputs of the hidden cases: one call per output coordinate, per case