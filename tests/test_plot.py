"""lmcourse.plot: the shared plots draw what they are given, label their axes, and reject bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lmcourse import plot  # noqa: E402


def test_loss_curves_plain_and_with_steps() -> None:
    ax = plot.loss_curves({"train": [3.0, 2.0, 1.5], "valid": ([0, 2], [3.1, 1.9])}, title="demo")
    (train, valid) = ax.get_lines()
    assert list(train.get_xdata()) == [0, 1, 2] and list(valid.get_xdata()) == [0, 2]
    assert list(valid.get_ydata()) == [3.1, 1.9]
    assert ax.get_xlabel() == "step" and "loss" in ax.get_ylabel() and ax.get_title() == "demo"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "valid"]
    plt.close("all")


@pytest.mark.parametrize("bad,why", [([1, 2, 3], "dict of named curves"), ({}, "dict of named curves"),
                                     ({"v": ([0, 1, 2], [1.0, 2.0])}, "3 steps but 2 values")])
def test_loss_curves_rejects_bad_input_without_leaving_a_figure(bad: object, why: str) -> None:
    plt.close("all")
    with pytest.raises(ValueError, match=why):
        plot.loss_curves(bad)  # type: ignore[arg-type]
    assert plt.get_fignums() == []


def test_heatmap_shows_the_matrix_with_labels() -> None:
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    ax = plot.heatmap(m, ["a", "b"], ["x", "y"], xlabel="next", ylabel="previous", annotate=True)
    image = ax.get_images()[0]
    np.testing.assert_array_equal(image.get_array(), [[1.0, 2.0], [3.0, 4.0]])
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3", "4"]
    assert ax.get_xlabel() == "next" and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="needs a 2-D array"):
        plot.heatmap(np.ones(3))
    with pytest.raises(ValueError, match=r"3 row labels for a matrix of shape \(2, 2\)"):
        plot.heatmap(np.ones((2, 2)), row_labels=["a", "b", "c"])
    plt.close("all")
