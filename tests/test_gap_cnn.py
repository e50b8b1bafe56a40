"""GapCNN: forward is the linear head applied to globally averaged features, for any width and depth."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite.models import GapCNN


@settings(max_examples=10, deadline=None)
@given(width=st.integers(1, 8), depth=st.integers(1, 4), in_channels=st.sampled_from([1, 3]),
       num_classes=st.integers(2, 7), size=st.sampled_from([8, 16, 20]))
def test_forward_is_fc_of_pooled_features(width, depth, in_channels, num_classes, size):
    torch.manual_seed(0)
    model = GapCNN(num_classes=num_classes, in_channels=in_channels, width=width, depth=depth).eval()
    x = torch.randn(2, in_channels, size, size)
    features = model.features(x)
    assert features.shape[:2] == (2, width * 2 ** (depth - 1))
    assert features.shape[2] == size // 2 ** (depth - 1)  # halved between blocks
    assert isinstance(model.fc, torch.nn.Linear) and model.fc.out_features == num_classes
    torch.testing.assert_close(model(x), model.fc(features.mean(dim=(2, 3))))


def test_default_feature_maps_are_8x8_for_32x32_images():
    assert GapCNN().features(torch.zeros(1, 3, 32, 32)).shape == (1, 128, 8, 8)


def test_same_seed_same_model():
    torch.manual_seed(4)
    a = GapCNN(width=4)
    torch.manual_seed(4)
    b = GapCNN(width=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_device_follows_the_module():
    model = GapCNN(width=2, depth=2).to(torch.float64)
    assert model(torch.zeros(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_classes": 0}, "num_classes"), ({"in_channels": 0}, "in_channels"), ({"width": 2.5}, "width"),
     ({"depth": 0}, "depth")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GapCNN(**kwargs)


def test_bad_input_is_named():
    model = GapCNN(width=2, depth=1)
    with pytest.raises(ValueError, match="x must be 4-D"):
        model(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="x must have 3 channels"):
        model(torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        model.features([[0.0]])
