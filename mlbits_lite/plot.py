"""The book's figure style and the figures several chapters share.

``use_style()`` once in a notebook's setup cell; then each helper draws one kind of picture:

    function_curves      f(x) for several functions on one axes (activations, losses, derivatives)
    matrix               a small matrix or vector as a heatmap with its numbers (Jacobians, confusion)
    image_grid           a batch of images with titles (datasets, augmentations)
    overlay              a heat map over an image (class activation maps)
    reliability_diagram  accuracy against confidence per bin (calibration)
    log_log_timing       run time against size on log-log axes, with a slope-1 reference
    cell_overlay         a coarse map (one value per patch) over an image, cells as flat blocks, on a given scale
    seed_bands           curves over seeds: each mean with a shaded band (Student-t interval or min-max)

Helpers take tensors or arrays, draw into ``ax`` when given one (else a new figure), return the Axes, Figure or
image they drew, and never call ``plt.show()``. matplotlib is imported inside the functions, so importing
mlbits_lite does not load it.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._validate import require_bool, require_in_range, require_positive_int

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = [
    "COLORS",
    "use_style",
    "function_curves",
    "matrix",
    "image_grid",
    "overlay",
    "reliability_diagram",
    "log_log_timing",
    "cell_overlay",
    "seed_bands",
]

# Okabe–Ito: distinguishable with every common kind of colour blindness (yellow last: weak on white)
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

STYLE = {
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 110,  # crisp but small PNGs: notebooks must stay under 2 MB
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's matplotlib style (figure size, dpi, fonts, grid, spines, colour cycle). Idempotent."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=COLORS)


# ----------------------------------------------------------------------------------------------------- helpers


def _as_array(name: str, value: Any, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """A real tensor, array or sequence of numbers as a float64 NumPy array, with ``ndim`` checked."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must be real, got dtype {value.dtype}")
        array = value.detach().cpu().double().numpy()
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a tensor or array of real numbers, got {type(value).__name__}") from error
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in allowed:
        wanted = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{name} must be {wanted}, got shape {array.shape}")
    return array


def _series(name: str, mapping: Any, *, like: np.ndarray) -> dict[str, np.ndarray]:
    """Check a dict of label -> 1-D values, each shaped like ``like``; return it as arrays."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a dict of label -> values, got {type(mapping).__name__}")
    if not mapping:
        raise ValueError(f"{name} must hold at least one entry, got an empty dict")
    series = {label: _as_array(f"{name}[{label!r}]", y, ndim=1) for label, y in mapping.items()}
    for label, y in series.items():
        if y.shape != like.shape:
            raise ValueError(f"{name}[{label!r}] must have shape {like.shape}, got {y.shape}")
    return series


def _require_axes(ax: Any) -> Axes:
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def _labelled(ax: Axes, title: str | None, xlabel: str, ylabel: str | None) -> Axes:
    """Axis labels, an optional title and a legend: how every line plot of several labelled curves ends."""
    ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend()
    return ax


def _axes_or_new(ax: Axes | None) -> Axes:
    """``ax`` if given, else the Axes of a new figure."""
    if ax is not None:
        return _require_axes(ax)
    import matplotlib.pyplot as plt

    return plt.subplots(layout="constrained")[1]


def _to_hwc(name: str, image: np.ndarray) -> np.ndarray:
    """(H, W) stays; (C, H, W) with C = 1 or 3 becomes (H, W) or (H, W, 3) for imshow."""
    if image.ndim == 2:
        return image
    if image.shape[0] == 1:
        return image[0]  # (H, W)
    if image.shape[0] == 3:
        return image.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    raise ValueError(f"{name} must have 1 or 3 channels (C, H, W), got shape {image.shape}")


def _rgb_in_unit_range(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) image with values outside [0, 1] min-max scaled into it (imshow clips RGB otherwise)."""
    low, high = image.min(), image.max()
    if low >= 0 and high <= 1:
        return image
    if low >= 0 and high <= 255 and np.all(image == np.round(image)):
        return image / 255  # 8-bit pixel values
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


# ----------------------------------------------------------------------------------------------------- figures


def function_curves(
    x: torch.Tensor | np.ndarray,
    curves: Mapping[str, torch.Tensor | np.ndarray],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "x",
    ylabel: str | None = None,
) -> Axes:
    """Plot several functions of the same x on one axes, with a legend.

    Args:
        x: (N,) points.
        curves: Label -> (N,) values at ``x``, drawn in order.
        ax: Axes to draw into; default a new figure.
        title: Axes title.
        xlabel: x-axis label.
        ylabel: y-axis label.

    Returns:
        The Axes.

    Raises:
        TypeError: ``curves`` is not a mapping, or values are not numeric.
        ValueError: ``curves`` is empty, or a curve's length differs from x's.
    """
    xs = _as_array("x", x, ndim=1)
    ys = _series("curves", curves, like=xs)

    ax = _axes_or_new(ax)
    for label, y in ys.items():
        ax.plot(xs, y, label=str(label))
    return _labelled(ax, title, xlabel, ylabel)


def matrix(
    ax: Axes,
    M: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    cmap: str = "RdBu_r",
) -> AxesImage:
    """Show a small matrix (or vector) as a heatmap, colours symmetric about 0, each cell labelled with its value.

    Args:
        ax: Axes to draw into.
        M: (R, C) matrix, or (N,) vector drawn as one row (reshape to (N, 1) for a column).
        title: Axes title.
        annotate: Write each value in its cell.
        fmt: Format of the cell labels, e.g. ``"{:.2f}"``.
        cmap: A diverging colour map; its midpoint is 0 (the limits are ±max|M|).

    Returns:
        The image (pass it to ``fig.colorbar`` for a colour bar).

    Raises:
        TypeError: ``ax`` is not an Axes, or ``M`` is not numeric.
        ValueError: ``M`` is not 1-D or 2-D, or is empty.
    """
    ax = _require_axes(ax)
    values = _as_array("M", M, ndim=(1, 2))
    require_bool("annotate", annotate)
    if values.size == 0:
        raise ValueError(f"M must not be empty, got shape {values.shape}")
    values = values.reshape(1, -1) if values.ndim == 1 else values  # (R, C)
    finite = np.abs(values[np.isfinite(values)])
    limit = finite.max() if finite.size and finite.max() > 0 else 1.0  # ±max|M|; all zeros still get a scale
    image = ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.grid(False)
    if annotate:
        for (r, c), value in np.ndenumerate(values):
            dark = abs(value) > 0.6 * limit  # white text on saturated cells
            ax.text(c, r, fmt.format(value), ha="center", va="center", color="white" if dark else "black",
                    fontsize=8)
    if title is not None:
        ax.set_title(title)
    return image


def image_grid(
    images: torch.Tensor | np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
) -> Figure:
    """A grid of images, one per sample, with optional titles.

    Args:
        images: (N, C, H, W) with C = 1 or 3, or (N, H, W). RGB values outside [0, 1] are shown min-max scaled
            per image (8-bit values in [0, 255] are divided by 255); grey images are scaled per image.
        titles: N titles (e.g. class names), or None.
        ncols: Images per row (fewer if N is smaller).
        cmap: Colour map of single-channel images.

    Returns:
        The Figure.

    Raises:
        TypeError: ``images`` is not numeric, or ``ncols`` is not an int.
        ValueError: wrong shape or channel count, N = 0, ``ncols`` < 1, or ``titles`` of the wrong length.
    """
    batch = _as_array("images", images, ndim=(3, 4))
    ncols = require_positive_int("ncols", ncols)
    n = batch.shape[0]
    if n == 0:
        raise ValueError(f"images must hold at least one image, got shape {batch.shape}")
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) != n:
            raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    pictures = [_to_hwc("images[i]", image) for image in batch]  # each (H, W) or (H, W, 3)

    import matplotlib.pyplot as plt

    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    size = 1.3  # inches per image
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3 * (titles is not None)),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        picture = pictures[i]
        if picture.ndim == 3:
            ax.imshow(_rgb_in_unit_range(picture))
        else:
            ax.imshow(picture, cmap=cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return fig


def overlay(
    image: torch.Tensor | np.ndarray,
    heat: torch.Tensor | np.ndarray,
    *,
    ax: Axes | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """Draw a heat map (e.g. a class activation map) over an image.

    A heat map smaller than the image (a 7×7 CAM over a 224×224 picture) is upsampled bilinearly to the image
    size first, as in the CAM paper. The heat map is the Axes' last image: ``fig.colorbar(ax.images[-1])`` draws
    its colour bar. Give panels that are compared the same ``vmin`` and ``vmax``.

    Args:
        image: (H, W) grey, or (C, H, W) with C = 1 or 3.
        heat: (h, w) map.
        ax: Axes to draw into; default a new figure.
        alpha: Opacity of the heat map, in [0, 1].
        cmap: Colour map of the heat map.
        vmin: value at the bottom of the colour scale; default the map's minimum.
        vmax: value at the top of the colour scale; default the map's maximum.

    Returns:
        The Axes.

    Raises:
        TypeError: ``image`` or ``heat`` is not numeric, or ``vmin`` / ``vmax`` is not a finite number.
        ValueError: wrong shapes, ``alpha`` outside [0, 1], or ``vmin`` >= ``vmax``.
    """
    picture = _to_hwc("image", _as_array("image", image, ndim=(2, 3)))  # (H, W) or (H, W, 3)
    heat_map = _as_array("heat", heat, ndim=2)  # (h, w)
    alpha = require_in_range("alpha", alpha, 0.0, 1.0)
    for name, value in (("vmin", vmin), ("vmax", vmax)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value)):
            raise TypeError(f"{name} must be a finite number or None, got {value!r}")
    if vmin is not None and vmax is not None and vmin >= vmax:
        raise ValueError(f"vmin must be below vmax, got vmin={vmin}, vmax={vmax}")
    height, width = picture.shape[:2]
    if heat_map.shape != (height, width):
        upsampled = torch.nn.functional.interpolate(
            torch.from_numpy(heat_map)[None, None], size=(height, width), mode="bilinear", align_corners=False
        )  # (1, 1, H, W)
        heat_map = upsampled[0, 0].numpy()

    ax = _axes_or_new(ax)
    if picture.ndim == 3:
        ax.imshow(_rgb_in_unit_range(picture))
    else:
        ax.imshow(picture, cmap="gray")
    ax.imshow(heat_map, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    ax.axis("off")
    return ax


def reliability_diagram(
    bin_confidence: torch.Tensor | np.ndarray,
    bin_accuracy: torch.Tensor | np.ndarray,
    bin_count: torch.Tensor | np.ndarray,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Reliability diagram (Guo et al. 2017): accuracy per confidence bin against the diagonal of perfect calibration.

    Takes the output of ``metrics.reliability_bins`` (M equal-width bins over [0, 1]). Bars show each bin's
    accuracy, the hatched part the gap to its mean confidence; the legend gives the ECE.

    Args:
        bin_confidence: (M,) mean confidence per bin (NaN for empty bins).
        bin_accuracy: (M,) accuracy per bin (NaN for empty bins).
        bin_count: (M,) number of samples per bin.
        ax: Axes to draw into; default a new figure.
        title: Axes title.

    Returns:
        The Axes.

    Raises:
        TypeError: inputs are not numeric.
        ValueError: inputs are not 1-D of one length, counts are negative or all zero, or a non-empty bin has
            confidence or accuracy outside [0, 1].
    """
    confidence = _as_array("bin_confidence", bin_confidence, ndim=1)
    accuracy = _as_array("bin_accuracy", bin_accuracy, ndim=1)
    count = _as_array("bin_count", bin_count, ndim=1)
    if not (confidence.shape == accuracy.shape == count.shape) or count.size == 0:
        raise ValueError(
            "bin_confidence, bin_accuracy and bin_count must be non-empty and of one length, got lengths "
            f"{len(confidence)}, {len(accuracy)}, {len(count)}"
        )
    if (count < 0).any() or count.sum() == 0:
        raise ValueError("bin_count must be non-negative with at least one sample")
    filled = count > 0
    for name, values in (("bin_confidence", confidence), ("bin_accuracy", accuracy)):
        if not ((values[filled] >= 0) & (values[filled] <= 1)).all():
            raise ValueError(f"{name} must lie in [0, 1] for every non-empty bin")

    n_bins = len(count)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    accuracy_shown = np.where(filled, accuracy, 0.0)
    confidence_shown = np.where(filled, confidence, 0.0)
    weight = count[filled] / count.sum()  # |Bₘ|/N
    ece = float(np.sum(weight * np.abs(accuracy[filled] - confidence[filled])))  # Σ |Bₘ|/N · |acc - conf|

    ax = _axes_or_new(ax)
    ax.bar(centres, accuracy_shown, width=1 / n_bins, edgecolor="black", linewidth=0.5, color=COLORS[0],
           label="accuracy")
    ax.bar(centres, confidence_shown - accuracy_shown, bottom=accuracy_shown, width=1 / n_bins,
           edgecolor=COLORS[1], linewidth=0.5, color="none", hatch="//", label=f"gap (ECE = {ece:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def log_log_timing(
    sizes: Sequence[float] | torch.Tensor | np.ndarray,
    times: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "size",
    ylabel: str = "seconds",
    guide: str | None = None,
) -> Axes:
    """Run time against problem size on log-log axes, with a dotted slope-1 line (time ∝ size) for reference.

    On log-log axes time ∝ size^k is a straight line of slope k, so the reference line shows at a glance which
    method scales linearly and which faster. The line passes through the middle point of the method named by
    ``guide`` (default: the first method).

    Args:
        sizes: (K,) positive problem sizes.
        times: Method name -> (K,) positive times in seconds, one per size.
        ax: Axes to draw into; default a new figure.
        title: Axes title.
        xlabel: x-axis label.
        ylabel: y-axis label.
        guide: Name of the method the slope-1 line passes through; None for the first.

    Returns:
        The Axes.

    Raises:
        TypeError: ``times`` is not a mapping, or values are not numeric.
        ValueError: ``times`` is empty, lengths differ from ``sizes``, a size or time is not positive, or
            ``guide`` names no method.
    """
    xs = _as_array("sizes", sizes, ndim=1)
    if xs.size == 0 or not (xs > 0).all():
        raise ValueError("sizes must be non-empty and positive (log axes)")
    series = _series("times", times, like=xs)
    for name, t in series.items():
        if not (t > 0).all():
            raise ValueError(f"times[{name!r}] must be positive (log axes)")

    ax = _axes_or_new(ax)
    for name, t in series.items():
        ax.loglog(xs, t, marker="o", label=str(name))
    if guide is not None and guide not in series:
        raise ValueError(f"guide must name one of the methods {list(series)}, got {guide!r}")
    anchor = len(xs) // 2
    through = series[guide] if guide is not None else next(iter(series.values()))
    reference = through[anchor] * xs / xs[anchor]  # t = t₀ · s/s₀: slope 1 on log-log axes
    ax.loglog(xs, reference, linestyle=":", color="gray", label="∝ size (slope 1)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend()
    return ax


def cell_overlay(
    image: torch.Tensor | np.ndarray,
    heat: torch.Tensor | np.ndarray,
    *,
    ax: Axes | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.6,
    cmap: str = "viridis",
) -> AxesImage:
    """Draw a coarse map (one value per patch or feature cell) over an image, each cell as one flat block.

    Nearest-neighbour, not bilinear: a cell's value covers exactly its own pixels, so a flat map looks flat
    (bilinear upsampling invents peaks and slopes between cell centres). Pass the same ``vmin`` and ``vmax`` to
    every panel that is compared, and the returned image to ``fig.colorbar`` to show the scale.

    Args:
        image: (H, W) grey, or (C, H, W) with C = 1 or 3.
        heat: (h, w) map with h dividing H and w dividing W: each cell covers (H/h)×(W/w) pixels.
        ax: Axes to draw into; default a new figure.
        vmin: value at the bottom of the colour scale; default the map's minimum.
        vmax: value at the top of the colour scale; default the map's maximum.
        alpha: Opacity of the map, in [0, 1].
        cmap: Colour map of the map.

    Returns:
        The map's AxesImage (for a colour bar).

    Raises:
        TypeError: ``image`` or ``heat`` is not numeric.
        ValueError: wrong shapes, cells that do not tile the image, ``vmin`` >= ``vmax``, or ``alpha`` outside
            [0, 1].
    """
    picture = _to_hwc("image", _as_array("image", image, ndim=(2, 3)))  # (H, W) or (H, W, 3)
    heat_map = _as_array("heat", heat, ndim=2)  # (h, w)
    alpha = require_in_range("alpha", alpha, 0.0, 1.0)
    height, width = picture.shape[:2]
    rows, cols = heat_map.shape
    if rows == 0 or cols == 0 or height % rows or width % cols:
        raise ValueError(f"heat must tile the image: its shape {heat_map.shape} must divide the image's "
                         f"{height}x{width}")
    for name, value in (("vmin", vmin), ("vmax", vmax)):
        if value is not None and not (isinstance(value, (int, float, np.floating)) and math.isfinite(value)):
            raise TypeError(f"{name} must be a finite number or None, got {value!r}")
    if vmin is not None and vmax is not None and vmin >= vmax:
        raise ValueError(f"vmin must be below vmax, got vmin={vmin}, vmax={vmax}")
    ax = _axes_or_new(ax)
    if picture.ndim == 3:
        ax.imshow(_rgb_in_unit_range(picture))
    else:
        ax.imshow(picture, cmap="gray")
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # the cells span the image's pixels exactly
    drawn = ax.imshow(heat_map, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax, extent=extent,
                      interpolation="nearest")
    ax.axis("off")
    return drawn
def seed_bands(
    x: Sequence[float] | torch.Tensor | np.ndarray,
    runs: Mapping[str, torch.Tensor | np.ndarray],
    *,
    band: str = "interval",
    confidence: float = 0.95,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "epoch",
    ylabel: str | None = None,
    styles: Mapping[str, str] | None = None,
) -> Axes:
    """Curves repeated over seeds: each label's mean over seeds as a line, with a shaded band around it.

    ``band="interval"`` shades the Student-t confidence interval of the mean at each x (the interval the book's
    tables give, mean ± t·s/√n); ``band="range"`` shades the lowest to the highest seed.

    Args:
        x: (T,) positions, e.g. epochs.
        runs: Label -> (S, T) values, one row per seed (S >= 2), drawn in order.
        band: "interval" (Student-t interval of the mean) or "range" (min to max over seeds).
        confidence: The interval's coverage, in (0, 1); used when ``band="interval"``.
        ax: Axes to draw into; default a new figure.
        title: Axes title.
        xlabel: x-axis label.
        ylabel: y-axis label.
        styles: Optional label -> matplotlib line style (e.g. "--") for some labels.

    Returns:
        The Axes.

    Raises:
        TypeError: ``runs`` or ``styles`` is not a mapping, or values are not numeric.
        ValueError: ``runs`` is empty, a run is not (S, T) with S >= 2 and T = len(x), holds non-finite values,
            ``band`` is unknown, or ``confidence`` is not in (0, 1).
    """
    xs = _as_array("x", x, ndim=1)
    if band not in ("interval", "range"):
        raise ValueError(f'band must be "interval" or "range", got {band!r}')
    confidence = require_in_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    if not isinstance(runs, Mapping):
        raise TypeError(f"runs must be a dict of label -> (seeds, len(x)) values, got {type(runs).__name__}")
    if not runs:
        raise ValueError("runs must hold at least one entry, got an empty dict")
    if styles is not None and not isinstance(styles, Mapping):
        raise TypeError(f"styles must be a dict of label -> line style, got {type(styles).__name__}")
    series = {label: _as_array(f"runs[{label!r}]", y, ndim=2) for label, y in runs.items()}
    for label, y in series.items():
        if y.shape[0] < 2 or y.shape[1] != xs.size:
            raise ValueError(f"runs[{label!r}] must have shape (seeds >= 2, {xs.size}), got {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError(f"runs[{label!r}] must hold finite values")
    from scipy import stats

    ax = _axes_or_new(ax)
    for label, y in series.items():
        mean = y.mean(axis=0)
        if band == "interval":
            n = y.shape[0]
            half = stats.t.ppf((1 + confidence) / 2, df=n - 1) * y.std(axis=0, ddof=1) / math.sqrt(n)  # t·s/√n
            low, high = mean - half, mean + half
        else:
            low, high = y.min(axis=0), y.max(axis=0)
        (line,) = ax.plot(xs, mean, (styles or {}).get(label, "-"), label=str(label))
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    return _labelled(ax, title, xlabel, ylabel)
