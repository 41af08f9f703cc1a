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


@pytest.mark.parametrize("curves,error,why", [
    ({"t": 3.0}, TypeError, r"curve 't': the values must be a list of numbers, e\.g\. \[2\.3, 1\.9, 1\.7\]"),
    ({"t": "abc"}, TypeError, "got str 'abc'"),
    ({"t": None}, TypeError, "got NoneType"),
    ({"t": (x for x in [1.0])}, TypeError, r"got generator .*: pass list\(\.\.\.\)"),
    ({"t": []}, ValueError, r"curve 't' is empty: nothing to plot"),
    ({"t": ([], [])}, ValueError, "curve 't' is empty"),
    ({"t": ["a", "b"]}, TypeError, r"curve 't': value 0 is 'a', not a number"),
    ({"t": [1.0, True]}, TypeError, r"curve 't': value 1 is True, not a number"),
    ({"t": [[1, 2], [3, 4]]}, TypeError, r"value 0 is \[1, 2\], not a number; a curve is a flat list of numbers"),
    ({"t": torch.ones(2, 3)}, TypeError, r"value 0 is tensor\(\[1\., 1\., 1\.\]\), not a number"),
    ({"t": (["a", "b"], [1.0, 2.0])}, TypeError, r"curve 't': step 0 is 'a', not a number"),
])
def test_loss_curves_names_the_bad_curve(curves: object, error: type, why: str) -> None:
    plt.close("all")
    with pytest.raises(error, match=why):
        plot.loss_curves(curves)  # type: ignore[arg-type]
    assert plt.get_fignums() == []


def test_loss_curves_takes_tensors_with_gradients_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    losses = [torch.tensor(2.0, requires_grad=True) * 1.5, torch.tensor(1.0, requires_grad=True)]  # no .item()
    ax = plot.loss_curves({"train": losses, "valid": torch.tensor([3.0, 2.0], requires_grad=True)})
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[3.0, 1.0], [3.0, 2.0]]
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]
    plt.close("all")


@pytest.mark.parametrize("call", [lambda ax: plot.loss_curves({"t": [1.0]}, ax=ax),
                                  lambda ax: plot.heatmap(np.ones((2, 2)), ax=ax)])
def test_ax_must_be_axes(call) -> None:  # type: ignore[no-untyped-def]
    plt.close("all")
    for bad in ("x", 3, plt):
        with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes, e\.g\. from `fig, ax = plt\.subplots\(\)`"):
            call(bad)
    assert plt.get_fignums() == []
    _, ax = plt.subplots()
    assert call(ax) is ax
    plt.close("all")


def test_flags_must_be_bools() -> None:
    with pytest.raises(TypeError, match="logy must be True or False, got str 'no'"):
        plot.loss_curves({"t": [1.0, 2.0]}, logy="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="annotate must be True or False, got str 'no'"):
        plot.heatmap(np.ones((2, 2)), annotate="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs,error,why", [
    ({"matrix": [["a", "b"], ["c", "d"]]}, TypeError, r"heatmap needs a matrix of real numbers, got dtype <U1"),
    ({"matrix": np.ones((2, 2)) * 1j}, TypeError, "got dtype complex128"),
    ({"matrix": [[1, 2], [3]]}, ValueError, "needs a 2-D array, but the rows given have different lengths"),
    ({"matrix": None}, ValueError, r"needs a 2-D array, got shape \(\) \(NoneType\)"),
    ({"matrix": np.zeros((0, 3))}, ValueError, r"empty matrix of shape \(0, 3\): nothing to show"),
    ({"row_labels": "ab"}, TypeError, r"row_labels must be a list of labels, e\.g\. list\('abc'\); got str 'ab'"),
    ({"col_labels": (c for c in "ab")}, TypeError, "col_labels must be a list of labels"),
    ({"row_labels": 3}, TypeError, "got int 3"),
    ({"annotate": True, "fmt": "%.2f"}, ValueError, r"fmt='%\.2f' has no \{\} field, so every cell would read '%\.2f'"),
    ({"annotate": True, "fmt": "{:d}"}, ValueError, r"fmt='\{:d\}' cannot format the value .*Unknown format code 'd'"),
    ({"annotate": True, "fmt": "{x}"}, ValueError, r"fmt='\{x\}' cannot format the value .*KeyError"),
    ({"annotate": True, "fmt": 3}, TypeError, r"fmt must be a str\.format pattern such as '\{:\.2g\}'"),
])
def test_heatmap_rejects_what_it_cannot_draw(kwargs: dict, error: type, why: str) -> None:
    plt.close("all")
    kwargs = {"matrix": np.ones((2, 2)), **kwargs}
    with pytest.raises(error, match=why):
        plot.heatmap(**kwargs)
    assert plt.get_fignums() == []


def test_heatmap_takes_bfloat16_and_bools() -> None:
    ax = plot.heatmap(torch.tensor([[0.5, 1.5]], dtype=torch.bfloat16))
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), [[0.5, 1.5]])
    ax = plot.heatmap(np.eye(2, dtype=bool), annotate=True, fmt="{}")
    assert [t.get_text() for t in ax.texts] == ["True", "False", "False", "True"]
    plt.close("all")


# --- the course map (lmcourse.course), drawn in chapter 00 --------------------------------------

def test_chapter_lookup_and_its_errors() -> None:
    from lmcourse import course

    assert course.chapter("06").slug == "06_lstm"
    with pytest.raises(TypeError, match=r"a chapter number is a two-digit str, e\.g\. chapter\('06'\); got int 6: "
                                        r"write chapter\('06'\)"):
        course.chapter(6)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got NoneType None"):
        course.chapter(None)  # type: ignore[arg-type]
    for near in ("6", "06 ", "06_lstm"):
        with pytest.raises(KeyError, match=r"no chapter .*; the chapters are 00, 01, .*, 13\. Did you mean '06'\?"):
            course.chapter(near)
    with pytest.raises(KeyError, match=r"no chapter '14'; the chapters are 00, .*, 13\.\"$"):
        course.chapter("14")


def test_course_map_draws_on_given_axes_and_rejects_others() -> None:
    from lmcourse import course

    plt.close("all")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        course.draw_map(ax="x")  # type: ignore[arg-type]
    assert plt.get_fignums() == []
    _, ax = plt.subplots()
    assert course.draw_map(ax) is ax
    assert sorted(t.get_text() for t in ax.texts if t.get_text().isdigit()) == [c.number for c in course.CHAPTERS]
    plt.close("all")


def test_reliability_diagram_draws_the_non_empty_bins_against_the_diagonal() -> None:
    from lmcourse.evaluate import calibration

    cal = calibration([0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 1.0, 0.95], [False, False, True, True, False, True, True, True],
                      bins=5)  # bin 2 (0.4-0.6) is empty
    ax = cal.plot(title="a tiny model")
    bars = ax.patches
    assert len(bars) == 4  # the empty bin is not drawn
    assert [round(b.get_x(), 6) for b in bars] == [0.0, 0.2, 0.6, 0.8]
    assert [round(b.get_width(), 6) for b in bars] == [0.2] * 4
    np.testing.assert_allclose([b.get_height() for b in bars], [0.0, 0.5, 0.5, 1.0])
    diagonal, dots = ax.get_lines()
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    np.testing.assert_allclose(dots.get_xdata(), [0.1, 0.25, 0.65, 0.95])  # each bin's mean confidence
    np.testing.assert_allclose(dots.get_ydata(), [0.0, 0.5, 0.5, 1.0])
    assert "confidence" in ax.get_xlabel() and "accuracy" in ax.get_ylabel() and ax.get_title() == "a tiny model"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "perfect calibration", "each bin: (mean confidence, accuracy)", "accuracy per bin (ECE 0.131)"]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    assert len(ax.figure.axes) == 1
    plt.close("all")


def test_reliability_diagram_on_given_axes_with_the_counts() -> None:
    from lmcourse.evaluate import calibration

    cal = calibration(np.array([0.05, 0.15, 0.15, 0.95]), np.array([True, False, True, True]))
    fig, (left, right) = plt.subplots(1, 2)
    assert cal.plot(ax=right, histogram=True) is right
    assert len(fig.axes) == 3 and not left.patches  # the twin axis holds the counts
    twin = fig.axes[2]
    assert twin.get_ylabel() == "predictions per bin"
    np.testing.assert_array_equal(twin.patches[0].get_data()[0], cal.counts)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        cal.plot(ax="left")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="histogram must be True or False"):
        cal.plot(histogram=1)  # type: ignore[arg-type]
    plt.close("all")


def test_a_chapter_in_two_notebooks() -> None:
    from lmcourse import course

    assert course.chapter("06").notebooks == (("06_lstm", 75),)
    eleven = course.chapter("11")
    assert [slug for slug, _ in eleven.notebooks] == ["11_applications", "11_text_to_text"]
    assert sum(m for _, m in eleven.notebooks) == eleven.reading_min
    with pytest.raises(ValueError, match=r"its first part must be its slug '99_x' and the parts' minutes must add up"):
        course.Chapter("99", "99_x", "X", (), 10, parts=(("99_x", 5), ("99_y", 4)))
