"""mlbits_lite: the small, tested helper package behind the ML Bits notebooks.

One concept per module:
    env       device, seeding, fast mode, Colab detection, versions
    autograd  vjp, jvp (double-backward trick), jacobian (one VJP per output)
    activations  GELU (exact, tanh and sigmoid forms, Monte-Carlo) and Mish
    train     fit / evaluate: one small device-agnostic loop
    metrics   accuracy and calibration
    plot      the house style and shared figures (imported on first use: it loads matplotlib)
    check     self-checks for the exercises
    data      offline datasets: generated, bundled, or shipped in a pip package
    losses    Huber, Smooth L1, label smoothing
    models    GapCNN and the chapters' other models
    explain   where a network looks: CAM, Grad-CAM, boxes from maps, IoU, attention rollout
    augment   Cutout, Mixup and CutMix: batch augmentations that erase or mix image regions
    experiment  intervals over seeds, paired differences, verdicts, and each chapter's record of its claims
"""
from __future__ import annotations

__version__ = "0.1.0"

import importlib
from types import ModuleType

from . import activations, augment, autograd, check, data, env, experiment, explain, losses, metrics, models, train

__all__ = ["__version__", "activations", "augment", "autograd", "check", "data", "env", "experiment", "explain", "losses", "metrics", "models", "plot", "train"]


def __getattr__(name: str) -> ModuleType:
    # `mb.plot` imports matplotlib only when a notebook first uses it
    if name == "plot":
        return importlib.import_module(f"{__name__}.plot")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
