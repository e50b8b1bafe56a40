"""mlbits_lite.env: device choice, seeding, fast mode, versions."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from mlbits_lite import env


# ------------------------------------------------------------------------------------------------ device
def test_device_default_is_an_available_device(monkeypatch):
    monkeypatch.delenv("MLBITS_DEVICE", raising=False)
    chosen = env.device()
    assert isinstance(chosen, torch.device)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert chosen.type == expected


@pytest.mark.parametrize("value", ["", "   "])
def test_device_empty_override_counts_as_unset(monkeypatch, value):
    monkeypatch.delenv("MLBITS_DEVICE", raising=False)
    default = env.device()
    monkeypatch.setenv("MLBITS_DEVICE", value)
    assert env.device() == default


@pytest.mark.parametrize("value", ["cpu", " cpu ", "cpu:0"])
def test_device_override_cpu(monkeypatch, value):
    monkeypatch.setenv("MLBITS_DEVICE", value)
    assert env.device() == torch.device(value.strip())


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "cuda:-1", "banana"])
def test_device_override_not_a_device(monkeypatch, value):
    monkeypatch.setenv("MLBITS_DEVICE", value)
    with pytest.raises(ValueError, match="MLBITS_DEVICE"):
        env.device()


def test_device_override_unsupported_type(monkeypatch):
    monkeypatch.setenv("MLBITS_DEVICE", "meta")
    with pytest.raises(ValueError, match="MLBITS_DEVICE.*cpu, cuda or mps"):
        env.device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_device_override_cuda_unavailable(monkeypatch, value):
    monkeypatch.setenv("MLBITS_DEVICE", value)
    with pytest.raises(RuntimeError, match="MLBITS_DEVICE.*CUDA is not available"):
        env.device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_override_cuda_index_too_large(monkeypatch):
    monkeypatch.setenv("MLBITS_DEVICE", f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(RuntimeError, match="MLBITS_DEVICE"):
        env.device()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_device_override_mps_unavailable(monkeypatch):
    monkeypatch.setenv("MLBITS_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="MLBITS_DEVICE.*MPS"):
        env.device()


# ------------------------------------------------------------------------------------------------ seeding
@pytest.fixture
def restore_determinism():
    """seed_everything flips global torch flags; put them back for the other tests in this process."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn


def _draw(generator):
    return (random.random(), np.random.rand(), torch.rand(3), torch.rand(2, generator=generator))


def test_seed_everything_repeats_every_generator(restore_determinism, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    first = _draw(env.seed_everything(123))
    second = _draw(env.seed_everything(123))
    other = _draw(env.seed_everything(124))
    assert first[0] == second[0] and first[1] == second[1]
    torch.testing.assert_close(first[2], second[2])
    torch.testing.assert_close(first[3], second[3])
    assert first[0] != other[0] and not torch.equal(first[2], other[2])


def test_seed_everything_returns_seeded_cpu_generator(restore_determinism):
    generator = env.seed_everything(7)
    assert isinstance(generator, torch.Generator)
    assert generator.device == torch.device("cpu")
    assert generator.initial_seed() == 7


def test_seed_everything_deterministic_flags(restore_determinism, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    env.seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_seed_everything_keeps_user_cublas_config(restore_determinism, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    env.seed_everything(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_seed_everything_non_deterministic_leaves_flags(restore_determinism):
    torch.use_deterministic_algorithms(False)
    env.seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("seed", [0, 2**32 - 1, np.int64(5)])
def test_seed_everything_accepts_range(restore_determinism, seed):
    env.seed_everything(seed)


@pytest.mark.parametrize("seed, error", [(True, TypeError), (1.0, TypeError), ("1", TypeError), (None, TypeError),
                                         (-1, ValueError), (2**32, ValueError)])
def test_seed_everything_rejects_bad_seed(seed, error):
    with pytest.raises(error, match="seed"):
        env.seed_everything(seed)


def test_seed_everything_rejects_bad_deterministic():
    with pytest.raises(TypeError, match="deterministic"):
        env.seed_everything(0, deterministic=1)


# ------------------------------------------------------------------------------------------------ fast mode
@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_fast_mode_true_values(monkeypatch, raw):
    monkeypatch.setenv("MLBITS_FAST", raw)
    assert env.fast_mode() is True
    assert env.fast_mode(None) is True


@pytest.mark.parametrize("raw", ["", "0", "false", "False", "no", "off", "  "])
def test_fast_mode_false_values(monkeypatch, raw):
    monkeypatch.setenv("MLBITS_FAST", raw)
    assert env.fast_mode() is False


def test_fast_mode_unset_is_false(monkeypatch):
    monkeypatch.delenv("MLBITS_FAST", raising=False)
    assert env.fast_mode() is False


@pytest.mark.parametrize("raw", ["2", "maybe", "ture", "y"])
def test_fast_mode_bad_env_value(monkeypatch, raw):
    monkeypatch.setenv("MLBITS_FAST", raw)
    with pytest.raises(ValueError, match="MLBITS_FAST"):
        env.fast_mode()


@pytest.mark.parametrize("value", [True, False])
def test_fast_mode_bool_wins_over_env(monkeypatch, value):
    monkeypatch.setenv("MLBITS_FAST", "maybe")  # not even read
    assert env.fast_mode(value) is value


@pytest.mark.parametrize("value", [1, 0, "1", "true", 1.0])
def test_fast_mode_rejects_non_bool(value):
    with pytest.raises(TypeError, match="value must be a bool"):
        env.fast_mode(value)


# ------------------------------------------------------------------------------------------------ colab, versions
def test_in_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert env.in_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert env.in_colab() is True


def test_versions():
    import mlbits_lite

    v = env.versions()
    assert set(v) == {"python", "torch", "numpy", "matplotlib", "mlbits_lite"}
    assert v["torch"] == torch.__version__
    assert v["numpy"] == np.__version__
    assert v["mlbits_lite"] == mlbits_lite.__version__
    assert v["python"] == "{}.{}.{}".format(*sys.version_info[:3])


def test_versions_fallback_when_not_installed(monkeypatch):
    import importlib.metadata

    import mlbits_lite

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    v = env.versions()
    assert v["mlbits_lite"] == mlbits_lite.__version__
    assert v["numpy"] == "not installed"


def test_describe(monkeypatch):
    monkeypatch.setenv("MLBITS_DEVICE", "cpu")
    line = env.describe()
    assert line.startswith("mlbits_lite ")
    assert f"torch {torch.__version__}" in line
    assert line.endswith(" · device cpu")
    assert "\n" not in line


def test_import_is_light():
    """Importing env and autograd must not load matplotlib (nor take long beyond torch)."""
    code = (
        "import time, sys, torch; t = time.perf_counter(); import mlbits_lite.env, mlbits_lite.autograd; "
        "print(time.perf_counter() - t, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    seconds, has_matplotlib = float(out[0]), out[1] == "True"
    assert not has_matplotlib, "importing mlbits_lite.env/autograd loaded matplotlib"
    assert seconds < 1.5, f"importing mlbits_lite.env/autograd took {seconds:.2f} s beyond torch"
