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
    from matplotlib.axes import Axes
    import numpy as np


def _axes(ax: "Axes | None", figsize: tuple[float, float] = (6.4, 3.6)) -> "Axes":
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def loss_curves(
    curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
    ax: "Axes | None" = None,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "loss (nats per token)",
    logy: bool = False,
) -> "Axes":
    """Plot named loss curves: ``{"train": losses}`` or ``{"valid": (steps, losses)}``.

    A curve given as a plain sequence is plotted against 0, 1, 2, ...; a pair
    ``(steps, values)`` against its own steps (validation is often measured
    less often than training).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("loss_curves needs a dict of named curves, e.g. {'train': [2.3, 1.9, 1.7]} "
                         f"or {{'valid': (steps, losses)}}; got {type(curves).__name__}.")
    lines = []
    for label, curve in curves.items():
        if isinstance(curve, tuple) and len(curve) == 2 and all(hasattr(c, "__len__") for c in curve):
            steps, values = curve
            if len(steps) != len(values):
                raise ValueError(f"curve {label!r}: {len(steps)} steps but {len(values)} values.")
        else:
            values = curve
            steps = range(len(values))
        lines.append((label, list(steps), [float(v) for v in values]))
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
    matrix: "np.ndarray",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax: "Axes | None" = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colorbar: str = "",
    annotate: bool = False,
    fmt: str = "{:.2g}",
    cmap: str = "Blues",
) -> "Axes":
    """Show a 2-D array as a colour grid, e.g. bigram counts or an attention map.

    ``annotate`` writes each value in its cell (readable up to about 30 x 30).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if hasattr(matrix, "detach"):  # a torch tensor, possibly on a GPU or with gradients
        matrix = matrix.detach().cpu().numpy()
    m = np.asarray(matrix)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {m.shape}.")
    for labels, n, what in ((row_labels, m.shape[0], "row"), (col_labels, m.shape[1], "column")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {what} labels for a matrix of shape {m.shape}.")
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
