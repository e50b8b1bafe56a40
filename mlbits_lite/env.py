"""The run environment: which device, which seed, fast or full mode, and which versions.

Every notebook's setup cell calls these so that "Run all" behaves the same on a laptop, in Colab and in CI:

    FAST = fast_mode(FAST)          # None -> read MLBITS_FAST
    generator = seed_everything(SEED)
    print(describe())               # mlbits_lite 0.1.0 · torch 2.13.0+cpu · python 3.11.7 · device cpu

Two environment variables steer it: ``MLBITS_DEVICE`` (force a device, e.g. ``cpu`` or ``cuda:1``) and
``MLBITS_FAST`` (``1`` for the quick CI run). Importing this module is cheap: no matplotlib, no device probing.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys

import numpy as np
import torch

from ._validate import require_bool, require_non_negative_int

__all__ = ["device", "seed_everything", "fast_mode", "in_colab", "versions", "describe"]

DEVICE_ENV = "MLBITS_DEVICE"
FAST_ENV = "MLBITS_FAST"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_MAX_SEED = 2**32 - 1  # numpy's legacy seeding accepts [0, 2**32 - 1]; torch accepts more


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def device() -> torch.device:
    """The device to compute on: CUDA if available, else Apple MPS, else CPU.

    The environment variable ``MLBITS_DEVICE`` overrides the choice (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``); an empty value counts as unset.

    Returns:
        The chosen ``torch.device``.

    Raises:
        ValueError: ``MLBITS_DEVICE`` is not a device string torch understands, or names a device type other
            than cpu, cuda or mps.
        RuntimeError: ``MLBITS_DEVICE`` names a device this machine does not have.
    """
    requested = os.environ.get(DEVICE_ENV, "").strip()
    if not requested:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    try:
        chosen = torch.device(requested)
    except RuntimeError as error:
        raise ValueError(
            f"{DEVICE_ENV} must be a device string such as 'cpu', 'cuda', 'cuda:1' or 'mps', got {requested!r}"
        ) from error
    if chosen.type == "cpu":
        return chosen
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RuntimeError(f"{DEVICE_ENV}={requested!r} but CUDA is not available on this machine")
        if chosen.index is not None and chosen.index >= count:
            raise RuntimeError(f"{DEVICE_ENV}={requested!r} but this machine has only {count} CUDA device(s)")
        return chosen
    if chosen.type == "mps":
        if not _mps_available():
            raise RuntimeError(f"{DEVICE_ENV}={requested!r} but Apple MPS is not available on this machine")
        return chosen
    raise ValueError(f"{DEVICE_ENV} must name a cpu, cuda or mps device, got {requested!r}")


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device), and ask for deterministic kernels.

    With ``deterministic=True`` it also calls ``torch.use_deterministic_algorithms(True, warn_only=True)``
    (an op without a deterministic kernel warns instead of crashing a notebook), turns off cuDNN autotuning,
    and sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` if it is unset (cuBLAS needs it for reproducible matmuls; it
    only takes effect if set before the first CUDA matmul). On CPU, PyTorch is deterministic anyway.

    Args:
        seed: Non-negative int below 2**32 (the range NumPy accepts).
        deterministic: Also switch torch to deterministic algorithms (see above).

    Returns:
        A fresh CPU ``torch.Generator`` seeded with ``seed``: pass it as ``generator=`` to data and augmentation
        functions so their randomness does not depend on how many random numbers earlier cells drew.

    Raises:
        TypeError: ``seed`` is not an int (bools are rejected) or ``deterministic`` is not a bool.
        ValueError: ``seed`` is negative or too large.
    """
    seed = require_non_negative_int("seed", seed)
    if seed > _MAX_SEED:
        raise ValueError(f"seed must be <= {_MAX_SEED} (2**32 - 1), got {seed}")
    require_bool("deterministic", deterministic)

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU generator and every CUDA device's
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def fast_mode(value: bool | None = None) -> bool:
    """Whether to run in fast mode (small sizes, for CI and quick sanity checks) or full mode.

    Notebooks write ``FAST = fast_mode(FAST)`` in their parameters cell: ``FAST = None`` defers to the
    environment, ``FAST = True``/``False`` decides.

    Args:
        value: ``True``/``False`` is returned as is; ``None`` reads ``MLBITS_FAST``: "1", "true", "yes", "on"
            mean True; "", "0", "false", "no", "off" or unset mean False (case and surrounding space ignored).

    Returns:
        True for fast mode, False for full mode.

    Raises:
        TypeError: ``value`` is neither a bool nor None.
        ValueError: ``MLBITS_FAST`` holds anything else.
    """
    if value is not None:
        return require_bool("value", value)
    raw = os.environ.get(FAST_ENV, "")
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    allowed = ", ".join(repr(s) for s in _TRUE + _FALSE)
    raise ValueError(f"{FAST_ENV} must be one of {allowed}; got {raw!r}")


def in_colab() -> bool:
    """Whether this code runs inside Google Colab.

    Returns:
        True when the ``google.colab`` module has been imported (Colab imports it in every kernel).
    """
    return "google.colab" in sys.modules


def _distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _mlbits_lite_version() -> str:
    try:
        return importlib.metadata.version("mlbits_lite")
    except importlib.metadata.PackageNotFoundError:  # running from a source checkout that is not installed
        from . import __version__  # imported here: the package sets __version__ before importing this module

        return __version__


def versions() -> dict[str, str]:
    """Versions of the software the results depend on (printed by every notebook's setup cell).

    Returns:
        A dict with keys ``python``, ``torch``, ``numpy``, ``matplotlib``, ``mlbits_lite``; a package that is
        not installed shows ``"not installed"``. Nothing is imported to find them (matplotlib stays unloaded).
    """
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _distribution_version("numpy"),
        "matplotlib": _distribution_version("matplotlib"),
        "mlbits_lite": _mlbits_lite_version(),
    }


def describe() -> str:
    """One line naming the versions and the device, for notebook setup cells.

    Returns:
        For example ``"mlbits_lite 0.1.0 · torch 2.13.0+cpu · python 3.11.7 · device cpu"``.

    Raises:
        ValueError, RuntimeError: as :func:`device` does when ``MLBITS_DEVICE`` is bad.
    """
    v = versions()
    return f"mlbits_lite {v['mlbits_lite']} · torch {v['torch']} · python {v['python']} · device {device()}"
