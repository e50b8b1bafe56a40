"""mlbits_lite.train: fit and evaluate on a tiny linearly separable problem."""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlbits_lite import env, train


def _blobs(n=200, seed=0):
    """Two Gaussian blobs at (±2, ±2): linearly separable with a wide margin."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    centres = torch.tensor([[-2.0, -2.0], [2.0, 2.0]])[labels]
    return centres + 0.7 * torch.randn(n, 2, generator=g), labels


def _loader(x, y, batch_size=32, shuffle=True, seed=0):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(2, 2)


@pytest.fixture(scope="module")
def data():
    x, y = _blobs(200, seed=0)
    x_val, y_val = _blobs(100, seed=1)
    return x, y, x_val, y_val


def test_fit_learns_and_records_every_epoch(data):
    x, y, x_val, y_val = data
    model = _model()
    history = train.fit(model, _loader(x, y), epochs=5, lr=0.05, val_loader=_loader(x_val, y_val, shuffle=False),
                        device="cpu", progress=False)
    assert isinstance(history, train.History)
    assert history.epochs == 5
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "seconds"):
        assert len(getattr(history, name)) == 5, name
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_loss[-1] < history.val_loss[0]
    assert history.train_acc[-1] > 0.9 and history.val_acc[-1] > 0.9
    assert all(s > 0 for s in history.seconds)
    assert all(isinstance(v, float) for v in history.train_loss + history.val_acc)


def test_fit_without_validation_leaves_val_empty(data):
    x, y, _, _ = data
    history = train.fit(_model(), _loader(x, y), epochs=2, device="cpu", progress=False)
    assert history.val_loss == [] and history.val_acc == []
    assert len(history.train_loss) == len(history.train_acc) == len(history.seconds) == 2


def test_fit_with_progress_bar_and_default_device(data, monkeypatch):
    monkeypatch.setenv("MLBITS_DEVICE", "cpu")
    x, y, _, _ = data
    history = train.fit(_model(), _loader(x, y), epochs=1, progress=True)
    assert history.epochs == 1


def test_evaluate_matches_manual_computation(data):
    _, _, x_val, y_val = data
    model = _model(seed=3)
    result = train.evaluate(model, _loader(x_val, y_val, batch_size=32, shuffle=False), device="cpu")  # 32+32+32+4
    with torch.no_grad():
        logits = model(x_val)
    assert set(result) == {"loss", "accuracy"}
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y_val).item(), rel=1e-6)
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == y_val).double().mean().item())


def test_evaluate_custom_loss_and_plain_list_loader(data):
    _, _, x_val, y_val = data
    model = _model(seed=4)
    batches = [(x_val[:30], y_val[:30]), (x_val[30:], y_val[30:])]
    loss_fn = nn.MultiMarginLoss()
    result = train.evaluate(model, batches, loss_fn=loss_fn, device="cpu")
    with torch.no_grad():
        expected = loss_fn(model(x_val), y_val).item()
    assert result["loss"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_modes_are_restored(data, training):
    x, y, x_val, y_val = data
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train(training)
    train.evaluate(model, _loader(x_val, y_val), device="cpu")
    assert model.training is training
    train.fit(model, _loader(x, y), epochs=1, val_loader=_loader(x_val, y_val), device="cpu", progress=False)
    assert model.training is training
    assert all(m.training is training for m in model.modules())


def test_evaluate_has_no_gradients_and_dropout_off(data):
    _, _, x_val, y_val = data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.9), nn.Linear(8, 2))
    loader = _loader(x_val, y_val, shuffle=False)
    first = train.evaluate(model, loader, device="cpu")
    second = train.evaluate(model, loader, device="cpu")
    assert first == second  # dropout off in eval mode: same numbers every time
    assert all(p.grad is None for p in model.parameters())


def test_fit_regression_has_nan_accuracy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])  # (N, 1) float targets
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    history = train.fit(model, _loader(x, y), epochs=4, lr=0.1, loss_fn=nn.functional.mse_loss,
                        val_loader=_loader(x, y), device="cpu", progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    assert all(math.isnan(a) for a in history.train_acc + history.val_acc)
    assert math.isnan(train.evaluate(model, _loader(x, y), loss_fn=nn.functional.mse_loss, device="cpu")["accuracy"])


def test_fit_uses_the_given_optimizer(data):
    x, y, _, _ = data
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    train.fit(model, _loader(x, y), epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
              device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.fixture
def restore_determinism():
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def test_fit_is_deterministic_with_a_seed(data, restore_determinism):
    x, y, x_val, y_val = data

    def run():
        generator = env.seed_everything(0)
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator)
        history = train.fit(model, loader, epochs=3, val_loader=_loader(x_val, y_val), device="cpu",
                            progress=False)
        return history, [p.detach().clone() for p in model.parameters()]

    (h1, p1), (h2, p2) = run(), run()
    assert h1.train_loss == h2.train_loss and h1.val_acc == h2.val_acc
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))


# ------------------------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("epochs, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                                           ("3", TypeError), (None, TypeError)])
def test_fit_bad_epochs(data, epochs, error):
    x, y, _, _ = data
    with pytest.raises(error, match="epochs"):
        train.fit(_model(), _loader(x, y), epochs=epochs, device="cpu", progress=False)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lr": 0.0}, ValueError, "lr must be > 0"),
    ({"lr": "fast"}, TypeError, "lr must be a real number"),
    ({"optimizer": "adam"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
    ({"loss_fn": "mse"}, TypeError, "loss_fn must be callable"),
    ({"progress": 1}, TypeError, "progress must be a bool"),
    ({"device": "gpu"}, ValueError, "device must be a device string"),
    ({"device": 0.5}, TypeError, "device must be a str"),
])
def test_fit_bad_arguments(data, kwargs, error, message):
    x, y, _, _ = data
    with pytest.raises(error, match=message):
        train.fit(_model(), _loader(x, y), epochs=1, **({"device": "cpu", "progress": False} | kwargs))


def test_bad_model():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train.fit(lambda x: x, [], epochs=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train.evaluate(lambda x: x, [], device="cpu")


def test_empty_loader():
    with pytest.raises(ValueError, match="at least one non-empty batch"):
        train.fit(_model(), [], epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="at least one non-empty batch"):
        train.evaluate(_model(), [], device="cpu")


def test_loss_must_be_a_scalar(data):
    x, y, _, _ = data
    per_sample = lambda out, t: nn.functional.cross_entropy(out, t, reduction="none")  # noqa: E731
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar \(the batch mean\), got shape \(32,\)"):
        train.fit(_model(), _loader(x, y), epochs=1, loss_fn=per_sample, device="cpu", progress=False)
    with pytest.raises(TypeError, match="loss_fn must return a tensor, got float"):
        train.evaluate(_model(), _loader(x, y), loss_fn=lambda out, t: 0.0, device="cpu")


@pytest.mark.parametrize("batch, message", [
    (torch.ones(4, 2), "pairs"),
    ((torch.ones(4, 2),), "pairs"),
    ((torch.ones(4, 2), [0, 1, 0, 1]), "pairs of tensors"),
])
def test_bad_batches(batch, message):
    with pytest.raises(TypeError, match=message):
        train.evaluate(_model(), [batch], device="cpu")
