"""mlbits_lite.explain: CAM and Grad-CAM identities, boxes from maps, IoU, attention rollout."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mlbits_lite import explain
from mlbits_lite.models import GapCNN

DTYPES = [torch.float32, torch.float64]


def small_gap_cnn(dtype: torch.dtype = torch.float64, num_classes: int = 5) -> GapCNN:
    torch.manual_seed(0)
    return GapCNN(num_classes=num_classes, in_channels=3, width=4, depth=2).to(dtype).eval()


class TinyNet(nn.Module):
    """conv, batch norm, in-place ReLU, twice, then GAP and a linear layer: every layer reachable by name."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu1 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True)
        self.conv2, self.bn2, self.relu2 = nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True)
        self.fc = nn.Linear(6, 5)

    def after_bn1(self, a: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu2(self.bn2(self.conv2(self.relu1(a)))).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after_bn1(self.bn1(self.conv1(x)))


def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    net = TinyNet().double()
    with torch.no_grad():  # non-trivial batch-norm statistics
        net.train()(torch.rand(8, 3, 6, 6, dtype=torch.float64))
    return net.eval()


# --------------------------------------------------------------------------------------------- class activation map
@pytest.mark.parametrize("dtype", DTYPES)
def test_gap_identity_logit_is_mean_of_cam_plus_bias(dtype):
    model = small_gap_cnn(dtype)
    x = torch.rand(6, 3, 12, 12, dtype=dtype)
    features = model.features(x)
    logits = model(x)
    for c in range(5):
        cam = explain.class_activation_map(features, model.fc.weight, c)  # (B, h, w)
        assert cam.shape == (6, 6, 6) and cam.dtype == dtype
        torch.testing.assert_close(cam.mean(dim=(1, 2)) + model.fc.bias[c], logits[:, c])


def test_cam_per_sample_classes_and_einsum_reference():
    features = torch.randn(4, 7, 3, 5, dtype=torch.float64)
    weight = torch.randn(3, 7, dtype=torch.float64)
    classes = torch.tensor([2, 0, 1, 2])
    cam = explain.class_activation_map(features, weight, classes)
    for i, c in enumerate(classes.tolist()):
        torch.testing.assert_close(cam[i], (weight[c][:, None, None] * features[i]).sum(0))
    torch.testing.assert_close(explain.class_activation_map(features, weight, [2, 0, 1, 2]), cam)
    torch.testing.assert_close(explain.class_activation_map(features, weight, torch.tensor(1)),
                               explain.class_activation_map(features, weight, 1))


def test_cam_keeps_gradients():
    features = torch.randn(2, 3, 4, 4, requires_grad=True)
    weight = torch.randn(5, 3)
    explain.class_activation_map(features, weight, 4).sum().backward()
    torch.testing.assert_close(features.grad, weight[4][None, :, None, None].expand(2, 3, 4, 4))


@pytest.mark.parametrize(
    "features, weight, class_idx, error, match",
    [
        (torch.randn(2, 3, 4), torch.randn(5, 3), 0, ValueError, "features"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 4), 0, ValueError, "fc_weight"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 3), 5, ValueError, "class_idx"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 3), -1, ValueError, "class_idx"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 3), [0, 1, 2], ValueError, "class_idx"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 3), 1.0, TypeError, "class_idx"),
        (torch.randn(2, 3, 4, 4), torch.randn(5, 3), torch.tensor([0.0, 1.0]), TypeError, "class_idx"),
        (torch.ones(2, 3, 4, 4, dtype=torch.int64), torch.randn(5, 3), 0, TypeError, "features"),
        ([[1.0]], torch.randn(5, 3), 0, TypeError, "features"),
    ],
)
def test_cam_bad_inputs(features, weight, class_idx, error, match):
    with pytest.raises(error, match=match):
        explain.class_activation_map(features, weight, class_idx)


# --------------------------------------------------------------------------------------------- Grad-CAM
@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_cam_is_relu_cam_over_z_for_a_gap_network(dtype):
    model = small_gap_cnn(dtype)
    x = torch.rand(5, 3, 12, 12, dtype=dtype)
    classes = torch.tensor([0, 4, 2, 2, 1])
    gcam = explain.grad_cam(model, model.body, x, classes)
    cam = explain.class_activation_map(model.features(x), model.fc.weight, classes)
    h, w = cam.shape[1:]
    torch.testing.assert_close(gcam, torch.relu(cam).detach() / (h * w))  # alpha_k = w_k / Z
    assert not gcam.requires_grad


def test_grad_cam_leaves_parameters_and_mode_alone():
    net = tiny_net()
    x = torch.rand(3, 3, 6, 6, dtype=torch.float64)
    net.train()
    explain.grad_cam(net, net.conv2, x, 1)
    assert net.training  # the caller's mode is kept
    assert all(p.grad is None for p in net.parameters())  # autograd.grad, not backward()
    net.eval()
    running = net.bn1.running_mean.clone()
    explain.grad_cam(net, net.conv2, x, 1)
    assert not net.training
    torch.testing.assert_close(net.bn1.running_mean, running)  # eval mode: statistics untouched


def test_grad_cam_on_an_inner_layer_with_inplace_relu_matches_autograd():
    # the target is a batch norm whose output the next ReLU(inplace=True) overwrites
    net = tiny_net()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    got = explain.grad_cam(net, net.bn1, x, [3, 1])

    A = net.bn1(net.conv1(x)).detach().requires_grad_(True)
    scores = net.after_bn1(A.clone())  # clone: the ReLU after bn1 is in place
    (grads,) = torch.autograd.grad(scores[0, 3] + scores[1, 1], A)
    want = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * A).sum(1))  # ReLU(sum_k alpha_k A^k)
    assert (want > 0).any() and (A < 0).any()  # a real test: negative activations, a non-zero map
    torch.testing.assert_close(got, want.detach())


def test_grad_cam_works_for_frozen_models_and_under_no_grad():
    model = small_gap_cnn().requires_grad_(False)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        gcam = explain.grad_cam(model, model.body, x, 0)
    cam = explain.class_activation_map(model.features(x), model.fc.weight, 0)
    torch.testing.assert_close(gcam, torch.relu(cam) / cam[0].numel())


def test_grad_cam_bad_inputs():
    net = tiny_net()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="target_layer"):
        explain.grad_cam(net, nn.Conv2d(3, 3, 1), x, 0)  # not part of the model
    with pytest.raises(TypeError, match="target_layer"):
        explain.grad_cam(net, "body", x, 0)
    with pytest.raises(TypeError, match="model"):
        explain.grad_cam(lambda t: t, net.conv2, x, 0)
    with pytest.raises(ValueError, match="class_idx"):
        explain.grad_cam(net, net.conv2, x, 5)
    with pytest.raises(ValueError, match="target_layer"):
        explain.grad_cam(net, net.fc, x, 0)  # outputs (B, classes), not feature maps
    with pytest.raises(TypeError, match="x"):
        explain.grad_cam(net, net.conv2, x.numpy(), 0)

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)
            self.unused = nn.Conv2d(3, 2, 1)

        def forward(self, t):
            return self.conv(t).mean(dim=(2, 3))

    net = TwoHeads()
    with pytest.raises(ValueError, match="not called"):
        explain.grad_cam(net, net.unused, x.float(), 0)


# --------------------------------------------------------------------------------------------- upsampling
def test_upsample_map_matches_interpolate_and_keeps_constants():
    cam = torch.randn(2, 4, 4)
    big = explain.upsample_map(cam, 16)
    assert big.shape == (2, 16, 16)
    torch.testing.assert_close(big, nn.functional.interpolate(cam[:, None], size=(16, 16), mode="bilinear")[:, 0])
    torch.testing.assert_close(explain.upsample_map(cam[0], (8, 12)), explain.upsample_map(cam, (8, 12))[0])
    torch.testing.assert_close(explain.upsample_map(torch.full((3, 3), 2.0), 9), torch.full((9, 9), 2.0))
    with pytest.raises(ValueError, match="size"):
        explain.upsample_map(cam, 0)
    with pytest.raises(ValueError, match="cam"):
        explain.upsample_map(torch.randn(4), 8)


# --------------------------------------------------------------------------------------------- boxes from maps
def test_box_of_a_synthetic_blob():
    cam = torch.zeros(20, 30)
    cam[5:9, 10:17] = 1.0  # rows 5..8, columns 10..16
    assert explain.cam_to_box(cam).tolist() == [10, 5, 17, 9]
    blob = torch.exp(-((torch.arange(32.0)[None] - 20) ** 2 + (torch.arange(32.0)[:, None] - 10) ** 2) / 18)
    x0, y0, x1, y1 = explain.cam_to_box(blob, threshold=0.5).tolist()
    assert (x0 + x1 - 1) / 2 == 20 and (y0 + y1 - 1) / 2 == 10  # centred on the peak
    assert explain.cam_to_box(blob, 0.2)[2] - explain.cam_to_box(blob, 0.2)[0] > x1 - x0  # lower: larger box


def test_box_keeps_the_largest_component_only():
    cam = torch.zeros(16, 16)
    cam[1:3, 1:3] = 1.0  # small and hottest
    cam[8:14, 6:12] = 0.6  # large
    assert explain.cam_to_box(cam, 0.2).tolist() == [6, 8, 12, 14]
    assert explain.cam_to_box(cam, 0.7).tolist() == [1, 1, 3, 3]  # the large region falls below 70 %
    tie = torch.zeros(8, 8)
    tie[5:7, 0:2] = 1.0
    tie[0:2, 5:7] = 1.0
    assert explain.cam_to_box(tie).tolist() == [5, 0, 7, 2]  # equal sizes: the first in raster order
    diagonal = torch.eye(6)  # 8-connected: one region
    assert explain.cam_to_box(diagonal).tolist() == [0, 0, 6, 6]


def test_box_dtypes_agree():
    cam = torch.randn(3, 9, 7, dtype=torch.float64)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        low = cam.to(dtype)
        assert torch.equal(explain.cam_to_box(low, 0.3), explain.cam_to_box(low.double(), 0.3))


def test_box_of_a_map_without_positive_evidence_is_empty():
    assert explain.cam_to_box(-torch.rand(5, 5)).tolist() == [0, 0, 0, 0]
    assert explain.cam_to_box(torch.zeros(5, 5)).tolist() == [0, 0, 0, 0]


def test_box_batch_matches_single_maps():
    cams = torch.randn(5, 10, 9)
    cams[1] = -cams[1].abs()  # an empty map inside the batch
    cams[3] = 0.0
    boxes = explain.cam_to_box(cams, 0.3)
    assert boxes.shape == (5, 4) and boxes.dtype == torch.int64
    assert boxes[1].tolist() == boxes[3].tolist() == [0, 0, 0, 0]
    for cam, box in zip(cams, boxes):
        assert explain.cam_to_box(cam, 0.3).tolist() == box.tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 14), st.integers(2, 14), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_box_matches_scipy_largest_component(height, width, threshold, seed):
    cam = torch.rand(height, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    cam = cam**3  # sparser hot regions, several components
    mask = (cam >= threshold * cam.max()).numpy()
    labels, n = scipy.ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    box = explain.cam_to_box(cam, threshold).tolist()
    ys, xs = np.nonzero(labels == 1 + sizes.argmax())  # the largest; on a tie the first in raster order
    assert box == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_cam_to_box_bad_inputs():
    with pytest.raises(ValueError, match="threshold"):
        explain.cam_to_box(torch.rand(4, 4), 1.5)
    with pytest.raises(TypeError, match="threshold"):
        explain.cam_to_box(torch.rand(4, 4), "0.2")
    with pytest.raises(ValueError, match="cam"):
        explain.cam_to_box(torch.rand(4), 0.2)
    with pytest.raises(TypeError, match="cam"):
        explain.cam_to_box(torch.ones(4, 4, dtype=torch.int64), 0.2)
    with pytest.raises(ValueError, match="cam"):
        explain.cam_to_box(torch.tensor([[1.0, float("nan")]]), 0.2)


# --------------------------------------------------------------------------------------------- IoU
def raster(box, size=24):
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[box[1]:box[3], box[0]:box[2]] = True
    return mask


boxes_strategy = st.tuples(st.integers(0, 23), st.integers(0, 23), st.integers(0, 23), st.integers(0, 23)).map(
    lambda t: (min(t[0], t[2]), min(t[1], t[3]), max(t[0], t[2]), max(t[1], t[3])))


@settings(max_examples=60, deadline=None)
@given(boxes_strategy, boxes_strategy)
def test_iou_equals_pixel_counting_and_is_symmetric(a, b):
    got = explain.box_iou(torch.tensor(a), torch.tensor(b))
    union = (raster(a) | raster(b)).sum().item()
    want = (raster(a) & raster(b)).sum().item() / union if union else 0.0
    assert got.dtype == torch.float32
    assert abs(got.item() - want) < 1e-6
    assert got.item() == explain.box_iou(torch.tensor(b), torch.tensor(a)).item()
    assert 0.0 <= got.item() <= 1.0


def test_iou_properties():
    a = torch.tensor([[2.0, 3.0, 10.0, 9.0]])
    assert explain.box_iou(a, a).item() == 1.0
    assert explain.box_iou(a, torch.tensor([[10.0, 3.0, 12.0, 9.0]])).item() == 0.0  # touching: no overlap
    shifted = a + torch.tensor([[3.0, -1.0, 3.0, -1.0]])
    torch.testing.assert_close(explain.box_iou(a * 3, shifted * 3), explain.box_iou(a, shifted))  # scale-free
    half = torch.tensor([[2.0, 3.0, 6.0, 9.0]])  # the left half of a
    assert explain.box_iou(a, half).item() == 0.5  # half of a inside a
    assert explain.box_iou(torch.zeros(4), torch.zeros(4)).item() == 0.0  # empty union


def test_iou_broadcasts_to_all_pairs_and_keeps_float64():
    a = torch.tensor([[0, 0, 4, 4], [2, 2, 6, 6]], dtype=torch.float64)
    b = torch.tensor([[0, 0, 4, 4], [0, 0, 2, 2], [4, 4, 8, 8]], dtype=torch.float64)
    pairs = explain.box_iou(a[:, None], b[None])
    assert pairs.shape == (2, 3) and pairs.dtype == torch.float64
    torch.testing.assert_close(pairs[0], torch.tensor([1.0, 0.25, 0.0], dtype=torch.float64))
    torch.testing.assert_close(pairs[1, 0], torch.tensor(4 / 28, dtype=torch.float64))
    torch.testing.assert_close(explain.box_iou(a, b[:2]), torch.stack([pairs[0, 0], pairs[1, 1]]))


def test_iou_bad_inputs():
    with pytest.raises(ValueError, match="a must have shape"):
        explain.box_iou(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="b must have x0 <= x1"):
        explain.box_iou(torch.zeros(4), torch.tensor([5, 0, 2, 3]))
    with pytest.raises(TypeError, match="a"):
        explain.box_iou([0, 0, 1, 1], torch.zeros(4))
    with pytest.raises(TypeError, match="b"):
        explain.box_iou(torch.zeros(4), torch.zeros(4, dtype=torch.bool))


# --------------------------------------------------------------------------------------------- min-max normalisation
def test_min_max_normalize_spans_zero_to_one_per_map():
    cams = torch.randn(4, 6, 5, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.1, 10.0]).view(4, 1, 1) - 2
    scaled = explain.min_max_normalize(cams)
    assert scaled.shape == cams.shape and scaled.dtype == torch.float64
    torch.testing.assert_close(scaled.amin(dim=(1, 2)), torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(scaled.amax(dim=(1, 2)), torch.ones(4, dtype=torch.float64))
    for cam, one in zip(cams, scaled):  # a batch is normalised map by map
        torch.testing.assert_close(explain.min_max_normalize(cam), one)
        torch.testing.assert_close(one, (cam - cam.min()) / (cam.max() - cam.min()))


def test_min_max_normalize_is_blind_to_positive_affine_changes_and_to_the_sign():
    cam = torch.randn(7, 9, dtype=torch.float64)
    against = cam - cam.max() - 1.0  # negative everywhere: evidence against the class
    torch.testing.assert_close(explain.min_max_normalize(3 * cam + 5), explain.min_max_normalize(cam))
    torch.testing.assert_close(explain.min_max_normalize(against), explain.min_max_normalize(cam))
    assert explain.cam_to_box(against).tolist() == [0, 0, 0, 0]  # thresholding the raw map: no box
    assert explain.cam_to_box(explain.min_max_normalize(against)).tolist() != [0, 0, 0, 0]  # normalised: a box


def test_min_max_box_keeps_pixels_above_min_plus_fraction_of_range():
    cam = torch.randn(12, 10, dtype=torch.float64)
    for threshold in (0.1, 0.2, 0.5):
        mask = cam >= cam.min() + threshold * (cam.max() - cam.min())
        labels, _ = scipy.ndimage.label(mask.numpy(), structure=np.ones((3, 3)))
        ys, xs = np.nonzero(labels == 1 + np.bincount(labels.ravel())[1:].argmax())
        want = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert explain.cam_to_box(explain.min_max_normalize(cam), threshold).tolist() == want


def test_min_max_normalize_of_a_constant_map_is_zero():
    maps = torch.stack([torch.full((3, 3), 2.5), torch.rand(3, 3)])
    scaled = explain.min_max_normalize(maps)
    assert torch.equal(scaled[0], torch.zeros(3, 3)) and torch.isfinite(scaled).all()
    assert explain.cam_to_box(scaled[0]).tolist() == [0, 0, 0, 0]


def test_min_max_normalize_bad_inputs():
    with pytest.raises(TypeError, match="cam must be a torch.Tensor"):
        explain.min_max_normalize([[0.0, 1.0]])
    with pytest.raises(TypeError, match="cam must be a floating-point tensor"):
        explain.min_max_normalize(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="cam must be 2-D or 3-D"):
        explain.min_max_normalize(torch.rand(4))
    with pytest.raises(ValueError, match="cam must be finite"):
        explain.min_max_normalize(torch.tensor([[0.0, float("inf")]]))


# --------------------------------------------------------------------------------------------- gradient saliency
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_saliency_is_the_largest_absolute_input_gradient(dtype):
    model = small_gap_cnn(dtype)
    x = torch.rand(4, 3, 10, 10, dtype=dtype)
    classes = torch.tensor([0, 3, 1, 4])
    saliency = explain.gradient_saliency(model, x, classes)
    assert saliency.shape == (4, 10, 10) and saliency.dtype == dtype and not saliency.requires_grad
    for i in range(4):  # one image at a time, by autograd.functional
        grad = torch.autograd.functional.jacobian(lambda image: model(image[None])[0, classes[i]], x[i])
        torch.testing.assert_close(saliency[i], grad.abs().amax(dim=0))


def test_gradient_saliency_of_a_linear_model_is_its_weight():
    linear = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 4, 5)).double()
    saliency = explain.gradient_saliency(linear, torch.rand(2, 2, 3, 4, dtype=torch.float64), 2)
    want = linear[1].weight[2].reshape(2, 3, 4).abs().amax(dim=0).detach()
    torch.testing.assert_close(saliency, want.expand(2, 3, 4))


def test_gradient_saliency_leaves_the_model_and_input_alone():
    model = small_gap_cnn()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        saliency = explain.gradient_saliency(model, x, 1)
    assert saliency.abs().sum() > 0 and not x.requires_grad and x.grad is None
    assert all(p.grad is None for p in model.parameters()) and not model.training


def test_gradient_saliency_bad_inputs():
    model = small_gap_cnn()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        explain.gradient_saliency(lambda t: t, x, 0)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        explain.gradient_saliency(model, x.long(), 0)
    with pytest.raises(ValueError, match="x must be 4-D"):
        explain.gradient_saliency(model, x[0], 0)
    with pytest.raises(ValueError, match=r"class_idx must be in \[0, 4\]"):
        explain.gradient_saliency(model, x, 5)
    with pytest.raises(ValueError, match="model must return"):
        explain.gradient_saliency(nn.Flatten(0), x, 0)


# --------------------------------------------------------------------------------------------- attention rollout
def random_attention(layers, batch, heads, tokens, generator, dtype=torch.float64):
    return [torch.softmax(torch.randn(batch, heads, tokens, tokens, generator=generator, dtype=dtype) * 2, dim=-1)
            for _ in range(layers)]


def rollout_reference(attentions, add_residual=True):
    # NumPy, layer by layer: A_hat = rownorm(mean_heads A + I); R = A_hat_L ... A_hat_1
    result = None
    for a in attentions:
        fused = a.numpy().mean(axis=1)
        if add_residual:
            fused = fused + np.eye(fused.shape[-1])
        fused = fused / fused.sum(axis=-1)[..., None]
        result = fused if result is None else np.einsum("bij,bjk->bik", fused, result)
    return torch.from_numpy(result)


@pytest.mark.parametrize("add_residual", [True, False])
def test_rollout_matches_reference_and_rows_sum_to_one(add_residual):
    attentions = random_attention(4, 2, 3, 5, torch.Generator().manual_seed(1))
    got = explain.attention_rollout(attentions, add_residual=add_residual)
    assert got.shape == (2, 5, 5) and got.dtype == torch.float64
    torch.testing.assert_close(got, rollout_reference(attentions, add_residual))
    torch.testing.assert_close(got.sum(-1), torch.ones(2, 5, dtype=torch.float64))
    torch.testing.assert_close(explain.attention_rollout(torch.stack(attentions), add_residual), got)


def test_rollout_order_is_last_layer_on_the_left():
    attentions = random_attention(2, 1, 2, 4, torch.Generator().manual_seed(2))
    hats = [explain.attention_rollout([a]) for a in attentions]
    torch.testing.assert_close(explain.attention_rollout(attentions), hats[1] @ hats[0])
    assert not torch.allclose(hats[1] @ hats[0], hats[0] @ hats[1])  # the order matters


def test_rollout_special_cases():
    one = random_attention(1, 3, 4, 6, torch.Generator().manual_seed(3))
    torch.testing.assert_close(explain.attention_rollout(one, add_residual=False), one[0].mean(1))  # one layer
    identity = torch.eye(5).expand(2, 3, 5, 5)
    torch.testing.assert_close(explain.attention_rollout([identity] * 4), torch.eye(5).expand(2, 5, 5))
    uniform = torch.full((1, 2, 4, 4), 0.25)
    torch.testing.assert_close(explain.attention_rollout([uniform] * 3, add_residual=False),
                               torch.full((1, 4, 4), 0.25))


def test_rollout_differs_from_the_broadcasting_bug():
    # a / a.sum(-1) without keepdim divides column j by the sum of row j. Softmax rows plus I all sum to 2, which
    # hides the bug; attention with some entries dropped (vit-explain's discard_ratio) shows it.
    attention = torch.rand(1, 2, 4, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fused = attention.mean(1) + torch.eye(4, dtype=torch.float64)  # (1, 4, 4), rows with different sums
    buggy = fused / fused.sum(-1)  # (1, 4, 4) / (1, 4) broadcasts over rows
    assert not torch.allclose(buggy.sum(-1), torch.ones(1, 4, dtype=torch.float64))
    torch.testing.assert_close(explain.attention_rollout([attention]), fused / fused.sum(-1, keepdim=True))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 7), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_rollout_rows_are_distributions_for_any_shape(layers, batch, heads, tokens, add_residual, seed):
    attentions = random_attention(layers, batch, heads, tokens, torch.Generator().manual_seed(seed), torch.float32)
    got = explain.attention_rollout(attentions, add_residual=add_residual)
    assert got.shape == (batch, tokens, tokens)
    assert (got >= 0).all()
    torch.testing.assert_close(got.sum(-1), torch.ones(batch, tokens))


def test_rollout_is_differentiable():
    logits = torch.randn(2, 1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    explain.attention_rollout(torch.softmax(logits, -1))[0, 0, 1].backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def _with(tensor, index, value):
    tensor[index] = value
    return tensor


@pytest.mark.parametrize(
    "attentions, error, match",
    [
        ([], ValueError, "at least one layer"),
        ([torch.rand(2, 3, 4)], ValueError, r"attentions\[0\]"),
        ([torch.rand(1, 2, 4, 5)], ValueError, "square"),
        ([torch.rand(1, 2, 4, 4), torch.rand(1, 2, 3, 3)], ValueError, r"attentions\[1\]"),
        ([torch.rand(1, 2, 4, 4), -torch.rand(1, 2, 4, 4)], ValueError, "non-negative"),
        (torch.rand(1, 2, 4, 4), ValueError, "attentions"),  # a stacked tensor must be 5-D
        ([torch.ones(1, 2, 4, 4, dtype=torch.int64)], TypeError, r"attentions\[0\]"),
        ("attention", TypeError, "attentions"),
        (torch.zeros(1, 1, 1, 3, 3), ValueError, "row of zeros"),
        ([torch.rand(1, 2, 4, 4), torch.full((1, 2, 4, 4), float("nan"))], ValueError, r"attentions\[1\].*NaN"),
        ([_with(torch.rand(1, 2, 4, 4), (0, 1, 2, 3), float("inf"))], ValueError, r"attentions\[0\].*inf"),
        (_with(torch.rand(2, 1, 1, 3, 3), (1, 0, 0, 2, 2), float("nan")), ValueError, r"attentions\[1\].*NaN"),
    ],
)
def test_rollout_bad_inputs(attentions, error, match):
    add_residual = not isinstance(attentions, torch.Tensor) or attentions.ndim != 5
    with pytest.raises(error, match=match):
        explain.attention_rollout(attentions, add_residual=add_residual)


def test_rollout_add_residual_must_be_bool():
    with pytest.raises(TypeError, match="add_residual"):
        explain.attention_rollout([torch.rand(1, 1, 2, 2)], add_residual=1)
