"""One small training loop: ``fit`` a model for some epochs, ``evaluate`` it on a loader.

Device-agnostic (model and batches go to ``device or env.device()``), with a tqdm progress bar over epochs.
Loaders yield ``(inputs, targets)`` pairs. Losses and accuracies are means over *samples*: each batch's mean
loss is weighted by its size, so a short last batch counts as much as it should and no more.

Accuracy is measured when the problem is classification: outputs (N, C) and integer targets (N,). Otherwise
(regression, soft targets) it is NaN.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from . import env
from ._validate import require_bool, require_callable, require_positive_int, require_positive_number

__all__ = ["History", "fit", "evaluate"]

Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch record returned by :func:`fit`; entry e of each list belongs to epoch e + 1.

    Attributes:
        train_loss: Mean training loss over the epoch's samples (measured while the weights change).
        train_acc: Training accuracy over the epoch, NaN when the problem is not classification.
        val_loss: Validation loss after the epoch; empty when ``fit`` got no ``val_loader``.
        val_acc: Validation accuracy after the epoch (NaN if not classification); empty without ``val_loader``.
        seconds: Wall-clock seconds of the epoch, validation included.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device; None means ``env.device()``."""
    if device is None:
        return env.device()
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str, a torch.device or None, got {type(device).__name__}")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must be a device string such as 'cpu' or 'cuda:0', got {device!r}") from error


def _num_correct(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Count of argmax(outputs) == targets for classification batches, None for anything else."""
    is_classification = (
        outputs.ndim == 2 and targets.ndim == 1 and len(outputs) == len(targets)
        and not targets.is_floating_point() and not targets.is_complex() and targets.dtype != torch.bool
    )
    return (outputs.argmax(dim=1) == targets).sum() if is_classification else None


def _batch_to(batch: object, device: torch.device) -> Batch:
    """Check that a loader's batch is an (inputs, targets) pair of tensors and move it to ``device``."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(f"loaders must yield (inputs, targets) pairs, got {type(batch).__name__}")
    if not all(isinstance(t, torch.Tensor) for t in batch):
        raise TypeError(f"loaders must yield pairs of tensors, got ({', '.join(type(t).__name__ for t in batch)})")
    return batch[0].to(device), batch[1].to(device)


def _check_loss(loss: object) -> torch.Tensor:
    """The loss must be one number, the batch mean: that is what we backpropagate and weight by batch size."""
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a tensor, got {type(loss).__name__}")
    if loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar (the batch mean), got shape {tuple(loss.shape)}")
    return loss


def _run_epoch(
    model: nn.Module, loader: Iterable, loss_fn: LossFn, device: torch.device, optimizer: torch.optim.Optimizer | None
) -> tuple[float, float]:
    """One pass over ``loader``; trains when given an optimizer. Returns (mean loss, accuracy or NaN)."""
    total_loss, total_correct, seen, classification = 0.0, 0, 0, True
    for batch in loader:
        inputs, targets = _batch_to(batch, device)
        outputs = model(inputs)
        loss = _check_loss(loss_fn(outputs, targets))  # mean over the batch
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        n = inputs.shape[0] if inputs.ndim else 1
        total_loss += loss.item() * n  # Σ batch mean × batch size = Σ per-sample loss
        correct = _num_correct(outputs.detach(), targets)
        classification = classification and correct is not None
        total_correct += correct.item() if classification else 0
        seen += n
    if seen == 0:
        raise ValueError("loader must yield at least one non-empty batch, got none")
    return total_loss / seen, (total_correct / seen if classification else math.nan)


def evaluate(
    model: nn.Module,
    loader: Iterable[Batch],
    *,
    loss_fn: LossFn | None = None,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Loss and accuracy of ``model`` over every sample in ``loader``, in eval mode and without gradients.

    The model's train/eval mode is restored afterwards. The model is moved to the device (``nn.Module.to``
    moves it in place).

    Args:
        model: The network; maps a batch of inputs to outputs.
        loader: Iterable of ``(inputs, targets)`` batches, e.g. a ``torch.utils.data.DataLoader``.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch-mean loss; default cross-entropy.
        device: Where to compute; default ``env.device()``.

    Returns:
        ``{"loss": mean loss per sample, "accuracy": fraction correct (NaN unless classification)}``.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, ``loss_fn`` is not callable or returns no tensor, or a
            batch is not a pair of tensors.
        ValueError: a bad device string, ``loader`` yields no samples, or ``loss_fn`` does not return a scalar.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    loss_fn = nn.functional.cross_entropy if loss_fn is None else require_callable("loss_fn", loss_fn)
    device = _resolve_device(device)
    was_training = model.training
    model.to(device).eval()
    try:
        with torch.no_grad():
            loss, acc = _run_epoch(model, loader, loss_fn, device, optimizer=None)
    finally:
        model.train(was_training)
    return {"loss": loss, "accuracy": acc}


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    loss_fn: LossFn | None = None,
    val_loader: Iterable[Batch] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; evaluate on ``val_loader`` after each.

    The model is moved to the device in place and left in the train/eval mode it was in.

    Args:
        model: The network to train.
        train_loader: Iterable of ``(inputs, targets)`` batches; re-iterated every epoch (a DataLoader with
            ``shuffle=True`` and a seeded ``generator`` reshuffles reproducibly).
        epochs: Number of passes, a positive int.
        optimizer: Optimizer over the model's parameters; default ``torch.optim.Adam(model.parameters(), lr)``.
        lr: Learning rate of the default optimizer (ignored when ``optimizer`` is given).
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch-mean loss; default cross-entropy.
        val_loader: Optional iterable of validation batches, evaluated after every epoch.
        device: Where to train; default ``env.device()``.
        progress: Show a tqdm progress bar over epochs with the latest losses.

    Returns:
        A :class:`History` with one entry per epoch.

    Raises:
        TypeError: a wrong type for ``model``, ``epochs``, ``lr``, ``optimizer``, ``loss_fn``, ``device`` or
            ``progress``, a loss that is not a tensor, or a batch that is not a pair of tensors.
        ValueError: ``epochs`` < 1, ``lr`` <= 0, a bad device string, a loader that yields no samples, or a loss
            that is not a scalar.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = require_positive_int("epochs", epochs)
    lr = require_positive_number("lr", lr)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    loss_fn = nn.functional.cross_entropy if loss_fn is None else require_callable("loss_fn", loss_fn)
    require_bool("progress", progress)
    device = _resolve_device(device)

    from tqdm.auto import tqdm  # imported here: tqdm.auto probes for Jupyter widgets

    model.to(device)  # before building the optimizer: it must hold the moved parameters
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    was_training = model.training
    history = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    try:
        for _ in bar:
            start = time.perf_counter()
            model.train()
            loss, acc = _run_epoch(model, train_loader, loss_fn, device, optimizer)
            history.train_loss.append(loss)
            history.train_acc.append(acc)
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn=loss_fn, device=device)
                history.val_loss.append(val["loss"])
                history.val_acc.append(val["accuracy"])
            history.seconds.append(time.perf_counter() - start)
            shown = {"loss": loss} | ({"val_loss": history.val_loss[-1]} if history.val_loss else {})
            bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()})
    finally:
        bar.close()
        model.train(was_training)
    return history
