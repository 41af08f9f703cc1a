"""The plots every chapter draws, with labelled axes, in one place.

Each function draws on the ``ax`` it is given (or a new figure) and returns the
axes, so a notebook can add to the plot or put several side by side. Finish a
plotting cell with ``plt.show()``: a trailing ``;`` does not hide the figure's
text representation from nbval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes


def _check_ax(ax: object) -> None:
    """Refuse an ``ax`` that is neither None nor a matplotlib Axes, before anything is drawn."""
    from matplotlib.axes import Axes

    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, e.g. from `fig, ax = plt.subplots()`, or None for a new "
                        f"figure; got {type(ax).__name__} {ax!r}.")


def _check_flag(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 3.6)) -> Axes:
    import matplotlib.pyplot as plt

    _check_ax(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _numbers(label: object, what: str, seq: object) -> list[float]:
    """The ``what`` (``"values"`` or ``"steps"``) of one curve as floats; anything else is an error naming the curve."""
    if hasattr(seq, "detach"):  # a torch tensor of losses, possibly with gradients
        seq = seq.detach().cpu()
    if isinstance(seq, (str, bytes)) or not (hasattr(seq, "__len__") and hasattr(seq, "__iter__")):
        remedy = ": pass list(...)" if hasattr(seq, "__iter__") and not isinstance(seq, (str, bytes)) else ""
        raise TypeError(f"curve {label!r}: the {what} must be a list of numbers, e.g. [2.3, 1.9, 1.7], or a pair "
                        f"(steps, values); got {type(seq).__name__} {seq!r}{remedy}.")
    out = []
    for i, v in enumerate(seq):
        if hasattr(v, "detach"):  # loss tensors appended without .item()
            v = v.detach()
        try:
            if isinstance(v, (str, bytes, bool)):  # float() would take '2.3' and True
                raise TypeError
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(f"curve {label!r}: {what.rstrip('s')} {i} is {v!r}, not a number; "
                            "a curve is a flat list of numbers.") from None
    return out


def loss_curves(
    curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "loss (nats per token)",
    logy: bool = False,
) -> Axes:
    """Plot named loss curves: ``{"train": losses}`` or ``{"valid": (steps, losses)}``.

    A curve given as a plain sequence is plotted against 0, 1, 2, ...; a pair
    ``(steps, values)`` against its own steps (validation is often measured
    less often than training). A tuple of two numbers, ``(2.3, 1.9)``, is a
    curve of two values, not a pair. Values may be numbers or 0-d tensors
    (detached for you); an empty curve is an error.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("loss_curves needs a dict of named curves, e.g. {'train': [2.3, 1.9, 1.7]} "
                         f"or {{'valid': (steps, losses)}}; got {type(curves).__name__}.")
    _check_flag(logy, "logy")
    _check_ax(ax)
    lines = []
    for label, curve in curves.items():
        if isinstance(curve, tuple) and len(curve) == 2 and all(hasattr(c, "__len__") for c in curve):
            steps, values = _numbers(label, "steps", curve[0]), _numbers(label, "values", curve[1])
            if len(steps) != len(values):
                raise ValueError(f"curve {label!r}: {len(steps)} steps but {len(values)} values.")
        else:
            values = _numbers(label, "values", curve)
            steps = list(range(len(values)))
        if not values:
            raise ValueError(f"curve {label!r} is empty: nothing to plot (did the loop that records it run?).")
        lines.append((label, steps, values))
    ax = _axes(ax)  # only now: bad input leaves no empty figure behind
    for label, steps, values in lines:
        ax.plot(steps, values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "",
    annotate: bool = False,
    fmt: str = "{:.2g}",
    cmap: str = "Blues",
) -> Axes:
    """Show a 2-D array as a colour grid, e.g. bigram counts or an attention map.

    ``annotate`` writes each value in its cell (readable up to about 30 x 30), formatted
    with ``fmt``, a :meth:`str.format` pattern such as ``"{:.2g}"`` or ``"{:.0f}"``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if hasattr(matrix, "detach"):  # a torch tensor, possibly on a GPU, with gradients, or in bfloat16
        matrix = matrix.detach().cpu()
        matrix = (matrix.float() if str(matrix.dtype) == "torch.bfloat16" else matrix).numpy()
    try:
        m = np.asarray(matrix)
    except ValueError:
        raise ValueError("heatmap needs a 2-D array, but the rows given have different lengths.") from None
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {m.shape}"
                         + (f" ({type(matrix).__name__})" if m.ndim == 0 else "") + ".")
    if m.dtype != bool and not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
        raise TypeError(f"heatmap needs a matrix of real numbers, got dtype {m.dtype}.")
    if m.size == 0:
        raise ValueError(f"heatmap got an empty matrix of shape {m.shape}: nothing to show.")
    for labels, n, what, arg in ((row_labels, m.shape[0], "row", "row_labels"),
                                 (col_labels, m.shape[1], "column", "col_labels")):
        if labels is None:
            continue
        if isinstance(labels, str) or not (hasattr(labels, "__len__") and hasattr(labels, "__getitem__")):
            raise TypeError(f"{arg} must be a list of labels, e.g. list('abc'); "
                            f"got {type(labels).__name__} {labels!r}.")
        if len(labels) != n:
            raise ValueError(f"{len(labels)} {what} labels for a matrix of shape {m.shape}.")
    _check_flag(annotate, "annotate")
    if annotate:
        if not isinstance(fmt, str):
            raise TypeError(f"fmt must be a str.format pattern such as '{{:.2g}}', got {type(fmt).__name__} {fmt!r}.")
        try:
            sample = fmt.format(m.flat[0])
        except (ValueError, KeyError, IndexError, AttributeError) as err:
            raise ValueError(f"fmt={fmt!r} cannot format the value {m.flat[0]!r} ({type(err).__name__}: {err}); "
                             "use a str.format pattern such as '{:.2g}' or '{:.0f}'.") from None
        if sample == fmt:
            raise ValueError(f"fmt={fmt!r} has no {{}} field, so every cell would read {fmt!r}; use a str.format "
                             "pattern such as '{:.2g}' or '{:.0f}' (not '%.2f').")
    ax = _axes(ax, figsize=(5.0, 4.2))
    image = ax.imshow(m, cmap=cmap, aspect="auto")
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels))
    if annotate:
        threshold = (np.nanmax(m) + np.nanmin(m)) / 2
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                    color="white" if v > threshold else "black")
    cbar = plt.colorbar(image, ax=ax)
    if colorbar:
        cbar.set_label(colorbar)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
