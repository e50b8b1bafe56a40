"""mlbits_lite.plot: every helper draws headless, returns the right object, and rejects bad inputs."""
import matplotlib

matplotlib.use("Agg")  # headless, whatever MPLBACKEND says

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from mlbits_lite import metrics, plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax():
    return plt.subplots()[1]


def test_use_style_is_idempotent():
    with matplotlib.rc_context():
        plot.use_style()
        first = dict(matplotlib.rcParams)
        plot.use_style()
        assert dict(matplotlib.rcParams) == first
        assert matplotlib.rcParams["figure.dpi"] == plot.STYLE["figure.dpi"]
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == plot.COLORS
        assert matplotlib.rcParams["axes.spines.top"] is False


def test_style_keeps_pngs_small(tmp_path):
    with matplotlib.rc_context():
        plot.use_style()
        x = torch.linspace(-4, 4, 200)
        ax = plot.function_curves(x, {"tanh": torch.tanh(x), "gelu": torch.nn.functional.gelu(x)})
        ax.figure.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size < 100_000


# ------------------------------------------------------------------------------------------------ function_curves
def test_function_curves_new_and_given_axes(ax):
    x = torch.linspace(-2, 2, 11)
    drawn = plot.function_curves(x, {"x²": x**2, "sin": np.sin(x.numpy())}, title="t", ylabel="y")
    assert isinstance(drawn, Axes) and len(drawn.lines) == 2
    assert drawn.get_title() == "t" and drawn.get_xlabel() == "x" and drawn.get_ylabel() == "y"
    assert plot.function_curves(x.double(), {"a": x.double().requires_grad_()}, ax=ax) is ax
    np.testing.assert_allclose(ax.lines[0].get_ydata(), x.numpy(), rtol=1e-6)


@pytest.mark.parametrize("x, curves, error, message", [
    (torch.ones(3), {"a": torch.ones(4)}, ValueError, r"curves\['a'\] must have shape"),
    (torch.ones(3), {}, ValueError, "curves must hold at least one"),
    (torch.ones(3), [torch.ones(3)], TypeError, "curves must be a dict"),
    (torch.ones(3, 1), {"a": torch.ones(3)}, ValueError, "x must be 1-D"),
    (["a", "b"], {"a": torch.ones(2)}, TypeError, "x must be a tensor or array"),
])
def test_function_curves_bad_inputs(x, curves, error, message):
    with pytest.raises(error, match=message):
        plot.function_curves(x, curves)


def test_function_curves_bad_ax():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot.function_curves(torch.ones(2), {"a": torch.ones(2)}, ax="left")


# ------------------------------------------------------------------------------------------------ matrix
def test_matrix_heatmap_is_symmetric_and_annotated(ax):
    M = torch.tensor([[1.0, -3.0], [0.5, 2.0], [0.0, 0.25]])
    image = plot.matrix(ax, M, title="J")
    assert isinstance(image, AxesImage)
    assert image.get_clim() == (-3.0, 3.0)
    assert [t.get_text() for t in ax.texts] == ["1.00", "-3.00", "0.50", "2.00", "0.00", "0.25"]
    assert ax.get_title() == "J"


def test_matrix_vector_zeros_and_options(ax):
    image = plot.matrix(ax, torch.zeros(4), annotate=False)
    assert image.get_array().shape == (1, 4)
    assert image.get_clim() == (-1.0, 1.0)
    assert len(ax.texts) == 0
    fig, other = plt.subplots()
    plot.matrix(other, np.array([[0.123]]), fmt="{:.1f}")
    assert other.texts[0].get_text() == "0.1"


@pytest.mark.parametrize("M, error, message", [
    (torch.ones(2, 2, 2), ValueError, "M must be 1-D or 2-D"),
    (torch.ones(0, 3), ValueError, "M must not be empty"),
    (torch.ones(2, dtype=torch.complex64), TypeError, "M must be real"),
])
def test_matrix_bad_inputs(ax, M, error, message):
    with pytest.raises(error, match=message):
        plot.matrix(ax, M)


def test_matrix_bad_ax():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot.matrix(torch.ones(2, 2), torch.ones(2, 2))


# ------------------------------------------------------------------------------------------------ image_grid
@pytest.mark.parametrize("images", [
    torch.rand(10, 3, 8, 8),
    torch.randn(5, 1, 8, 8),  # grey, any range
    torch.randn(3, 8, 8),  # (N, H, W)
    torch.randint(0, 256, (4, 3, 8, 8)),  # 8-bit RGB
    2 * torch.randn(3, 3, 8, 8),  # normalised RGB
])
def test_image_grid_shapes(images):
    fig = plot.image_grid(images, ncols=4)
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == len(images)
    expected_axes = 4 * int(np.ceil(len(images) / 4)) if len(images) > 4 else len(images)  # full rows
    assert len(fig.axes) == expected_axes
    for ax in shown:
        data = ax.images[0].get_array()
        if data.ndim == 3:  # RGB must be in [0, 1] or imshow clips it
            assert 0 <= data.min() and data.max() <= 1


def test_image_grid_titles():
    fig = plot.image_grid(torch.rand(3, 1, 4, 4), titles=["cat", "dog", 7])
    assert [ax.get_title() for ax in fig.axes] == ["cat", "dog", "7"]


@pytest.mark.parametrize("images, kwargs, error, message", [
    (torch.rand(2, 2, 4, 4), {}, ValueError, "1 or 3 channels"),
    (torch.rand(4, 4), {}, ValueError, "images must be 3-D or 4-D"),
    (torch.rand(0, 4, 4), {}, ValueError, "at least one image"),
    (torch.rand(2, 4, 4), {"titles": ["a"]}, ValueError, "titles must have one entry per image"),
    (torch.rand(2, 4, 4), {"ncols": 0}, ValueError, "ncols must be a positive int"),
    (torch.rand(2, 4, 4), {"ncols": 2.0}, TypeError, "ncols must be an int"),
])
def test_image_grid_bad_inputs(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot.image_grid(images, **kwargs)


# ------------------------------------------------------------------------------------------------ overlay
def test_overlay_upsamples_the_heat_map(ax):
    drawn = plot.overlay(torch.rand(3, 32, 24), torch.rand(7, 7), ax=ax, alpha=0.4)
    assert drawn is ax and len(ax.images) == 2
    assert ax.images[1].get_array().shape == (32, 24)
    assert ax.images[1].get_alpha() == 0.4


@pytest.mark.parametrize("image", [torch.rand(16, 16), torch.rand(1, 16, 16), np.random.rand(3, 16, 16)])
def test_overlay_image_kinds(image):
    drawn = plot.overlay(image, torch.rand(16, 16))
    assert isinstance(drawn, Axes) and len(drawn.images) == 2


@pytest.mark.parametrize("image, heat, alpha, error, message", [
    (torch.rand(2, 8, 8), torch.rand(4, 4), 0.5, ValueError, "image must have 1 or 3 channels"),
    (torch.rand(8), torch.rand(4, 4), 0.5, ValueError, "image must be 2-D or 3-D"),
    (torch.rand(8, 8), torch.rand(1, 4, 4), 0.5, ValueError, "heat must be 2-D"),
    (torch.rand(8, 8), torch.rand(4, 4), 1.5, ValueError, r"alpha must be in \[0.0, 1.0\]"),
])
def test_overlay_bad_inputs(image, heat, alpha, error, message):
    with pytest.raises(error, match=message):
        plot.overlay(image, heat, alpha=alpha)


def test_overlay_default_scale_is_the_maps_own_range(ax):
    heat = torch.linspace(-2.0, 3.0, 64).reshape(8, 8)
    plot.overlay(torch.rand(3, 8, 8), heat, ax=ax)
    assert ax.images[-1].get_clim() == pytest.approx((-2.0, 3.0))


def test_overlay_on_a_given_scale_gives_a_colour_bar(ax):
    plot.overlay(torch.rand(3, 8, 8), torch.rand(8, 8), ax=ax, vmin=0, vmax=2.5)
    assert ax.images[-1].get_clim() == (0, 2.5)
    bar = ax.figure.colorbar(ax.images[-1], ax=ax)
    assert bar.vmin == 0 and bar.vmax == 2.5


@pytest.mark.parametrize("kwargs, error, message", [
    ({"vmin": 1.0, "vmax": 1.0}, ValueError, "vmin must be below vmax"),
    ({"vmin": 2, "vmax": 1}, ValueError, "vmin must be below vmax"),
    ({"vmin": float("nan")}, TypeError, "vmin must be a finite number or None"),
    ({"vmax": "1"}, TypeError, "vmax must be a finite number or None"),
    ({"vmax": True}, TypeError, "vmax must be a finite number or None"),
])
def test_overlay_bad_scale(kwargs, error, message):
    with pytest.raises(error, match=message):
        plot.overlay(torch.rand(8, 8), torch.rand(8, 8), **kwargs)


# ------------------------------------------------------------------------------------------------ reliability_diagram
def test_reliability_diagram_from_metrics(ax):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(2 * torch.randn(300, 4, generator=g), 1)
    labels = torch.randint(0, 4, (300,), generator=g)
    bins = metrics.reliability_bins(probs, labels, n_bins=10)
    drawn = plot.reliability_diagram(*bins, ax=ax, title="calibration")
    assert drawn is ax and ax.get_title() == "calibration"
    ece = metrics.expected_calibration_error(probs, labels, n_bins=10)
    assert any(f"ECE = {ece:.3f}" in t.get_text() for t in ax.get_legend().get_texts())


def test_reliability_diagram_lists():
    assert isinstance(plot.reliability_diagram([0.3, float("nan")], [0.5, float("nan")], [4, 0]), Axes)


@pytest.mark.parametrize("conf, acc, count, message", [
    ([0.5, 0.6], [0.5], [1, 1], "one length"),
    ([], [], [], "non-empty"),
    ([0.5], [0.5], [-1], "bin_count must be non-negative"),
    ([0.5], [0.5], [0], "at least one sample"),
    ([1.5], [0.5], [3], "bin_confidence must lie in"),
    ([0.5], [float("nan")], [3], "bin_accuracy must lie in"),
])
def test_reliability_diagram_bad_inputs(conf, acc, count, message):
    with pytest.raises(ValueError, match=message):
        plot.reliability_diagram(conf, acc, count)


# ------------------------------------------------------------------------------------------------ log_log_timing
def test_log_log_timing(ax):
    sizes = [10, 100, 1000]
    drawn = plot.log_log_timing(sizes, {"linear": [1e-3, 1e-2, 1e-1], "quadratic": torch.tensor([1e-4, 1e-2, 1.0])},
                                ax=ax, title="cost")
    assert drawn is ax
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines) == 3  # two methods and the reference
    reference = ax.lines[-1]
    slope = np.diff(np.log(reference.get_ydata())) / np.diff(np.log(reference.get_xdata()))
    np.testing.assert_allclose(slope, 1.0)
    assert reference.get_ydata()[1] == pytest.approx(1e-2)  # through the first method's middle point


@pytest.mark.parametrize("sizes, times, error, message", [
    ([1, 2], {"a": [1.0]}, ValueError, r"times\['a'\] must have shape \(2,\)"),
    ([1, 2], {}, ValueError, "times must hold at least one"),
    ([1, 2], [[1.0, 2.0]], TypeError, "times must be a dict"),
    ([0, 2], {"a": [1.0, 2.0]}, ValueError, "sizes must be non-empty and positive"),
    ([1, 2], {"a": [0.0, 2.0]}, ValueError, r"times\['a'\] must be positive"),
])
def test_log_log_timing_bad_inputs(sizes, times, error, message):
    with pytest.raises(error, match=message):
        plot.log_log_timing(sizes, times)


# ------------------------------------------------------------------------------------------------ cell_overlay
def test_cell_overlay_draws_flat_cells_on_the_given_scale(ax):
    heat = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    drawn = plot.cell_overlay(torch.rand(3, 8, 8), heat, ax=ax, vmin=-1.0, vmax=5.0, alpha=0.3)
    assert drawn is ax.images[1] and len(ax.images) == 2
    np.testing.assert_array_equal(drawn.get_array(), heat.numpy())  # the cells themselves, not an upsampled copy
    assert drawn.get_interpolation() == "nearest" and drawn.get_clim() == (-1.0, 5.0)
    assert drawn.get_extent() == [-0.5, 7.5, 7.5, -0.5] and drawn.get_alpha() == 0.3


def test_cell_overlay_defaults_and_colorbar():
    drawn = plot.cell_overlay(np.random.rand(12, 12), torch.rand(3, 4))
    assert drawn.axes.figure.colorbar(drawn) is not None


@pytest.mark.parametrize("heat, kwargs, error, message", [
    (torch.rand(3, 3), {}, ValueError, "heat must tile the image"),
    (torch.rand(1, 4, 4), {}, ValueError, "heat must be 2-D"),
    (torch.rand(4, 4), {"vmin": 1.0, "vmax": 1.0}, ValueError, "vmin must be below vmax"),
    (torch.rand(4, 4), {"vmax": "top"}, TypeError, "vmax must be a finite number"),
    (torch.rand(4, 4), {"vmin": float("nan")}, TypeError, "vmin must be a finite number"),
    (torch.rand(4, 4), {"alpha": -0.1}, ValueError, r"alpha must be in \[0.0, 1.0\]"),
])
def test_cell_overlay_bad_inputs(heat, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot.cell_overlay(torch.rand(3, 8, 8), heat, **kwargs)
def test_log_log_timing_guide_passes_through_the_named_method(ax):
    plot.log_log_timing([10, 100, 1000], {"flat": [1e-3, 1e-3, 1e-3], "linear": [1e-3, 1e-2, 1e-1]}, ax=ax,
                        guide="linear")
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), [1e-3, 1e-2, 1e-1])  # on the linear method's points
    with pytest.raises(ValueError, match="guide must name one of the methods"):
        plot.log_log_timing([1, 2], {"a": [1.0, 2.0]}, guide="b")


# ------------------------------------------------------------------------------------------------ seed_bands
def test_seed_bands_interval_is_the_student_t_interval(ax):
    from scipy import stats

    runs = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 5.0], [2.0, 2.0, 4.0]])  # 3 seeds, 3 epochs
    drawn = plot.seed_bands([1, 2, 3], {"a": runs, "b": torch.tensor(runs + 1)}, ax=ax, ylabel="loss",
                            styles={"b": "--"})
    assert drawn is ax and len(ax.lines) == 2 and len(ax.collections) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), runs.mean(0))
    assert ax.lines[1].get_linestyle() == "--"
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    half = stats.t.ppf(0.975, df=2) * runs.std(0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose([band.min(), band.max()], [(runs.mean(0) - half).min(), (runs.mean(0) + half).max()])
    assert band[np.isclose(band, runs.mean(0)[1])].size > 0  # equal seeds at epoch 2: the band closes on the mean
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"


def test_seed_bands_range_spans_the_seeds(ax):
    runs = torch.tensor([[0.0, 1.0], [4.0, 3.0]])
    plot.seed_bands(torch.tensor([0.0, 1.0]), {"a": runs}, band="range", ax=ax)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 0.0 and band.max() == 4.0


@pytest.mark.parametrize("x, runs, kwargs, error, message", [
    ([1, 2], {"a": [[1.0, 2.0]]}, {}, ValueError, r"runs\['a'\] must have shape \(seeds >= 2, 2\)"),
    ([1, 2], {"a": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]}, {}, ValueError, r"shape \(seeds >= 2, 2\)"),
    ([1, 2], {"a": [1.0, 2.0]}, {}, ValueError, r"runs\['a'\] must be 2-D"),
    ([1, 2], {"a": [[1.0, np.nan], [1.0, 2.0]]}, {}, ValueError, "finite"),
    ([1, 2], {}, {}, ValueError, "at least one entry"),
    ([1, 2], [[1.0, 2.0], [1.0, 2.0]], {}, TypeError, "runs must be a dict"),
    ([1, 2], {"a": [[1.0, 2.0], [1.0, 2.0]]}, {"band": "std"}, ValueError, "band must be"),
    ([1, 2], {"a": [[1.0, 2.0], [1.0, 2.0]]}, {"confidence": 1.0}, ValueError, "confidence"),
    ([1, 2], {"a": [[1.0, 2.0], [1.0, 2.0]]}, {"styles": ["--"]}, TypeError, "styles must be a dict"),
    ([1, 2], {"a": [["x", "y"], ["x", "y"]]}, {}, TypeError, r"runs\['a'\] must be a tensor or array"),
])
def test_seed_bands_bad_inputs(x, runs, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot.seed_bands(x, runs, **kwargs)
