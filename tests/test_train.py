"""Tests of ``lmcourse.train``: the loop learns, is reproducible, evaluates honestly, clips, and stops on NaN.

The models are tiny and defined here (a bigram table, a two-layer MLP, a GRU that
also returns its state), so the whole file runs in a few seconds on one thread.
Numbers are checked against a direct computation: the full-batch cross-entropy,
the gradient norm and update of one hand-made SGD step, a run stopped early.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lmcourse.batches import IGNORE_INDEX, sample_batch, windows  # noqa: E402
from lmcourse.train import History, TrainingDiverged, evaluate, train, training_loop  # noqa: E402

V = 8


class Bigram(torch.nn.Module):
    """Logits for the next id read from a table: (B, T) -> (B, T, V)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.table = torch.nn.Embedding(V, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids)


class MLP(torch.nn.Module):
    """Chapter 04's shape: a window of ``context`` ids in, one distribution out: (B, context) -> (B, V)."""

    def __init__(self, context: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(V, 6)
        self.hidden = torch.nn.Linear(6 * context, 16)
        self.drop = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(16, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.tanh(self.hidden(self.emb(ids).flatten(1)))))


class GRU(torch.nn.Module):
    """A recurrent model that returns ``(logits, state)``, as the RNN chapters' models do."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(V, 8)
        self.rnn = torch.nn.GRU(8, 12, batch_first=True)
        self.out = torch.nn.Linear(12, V)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.rnn(self.emb(ids))
        return self.out(h), state


def stream(n: int = 600) -> torch.Tensor:
    """A learnable stream: the next id is a fixed function of the current one (a permutation)."""
    nxt = [3, 5, 0, 7, 1, 6, 2, 4]
    ids = [0]
    for _ in range(n - 1):
        ids.append(nxt[ids[-1]])
    return torch.tensor(ids)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return windows(stream(), 8, stride=1)


def direct_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The full-batch cross-entropy, in float64, over the targets that are not IGNORE_INDEX."""
    with torch.no_grad():
        logits = model(x)
    logits = logits[0] if isinstance(logits, tuple) else logits
    return F.cross_entropy(logits.double().flatten(0, -2), y.flatten(), ignore_index=IGNORE_INDEX).item()


# --------------------------------------------------------------------------- it learns, and records what it did


def test_losses_fall_on_a_learnable_task(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = Bigram()
    before = direct_loss(model, x[:100], y[:100])
    h = train(model, x, y, steps=60, batch_size=16, lr=0.1, valid=(x[:100], y[:100]), eval_every=20, seed=0)
    assert h.steps == len(h.train_loss) == len(h.grad_norm) == 60
    assert h.eval_steps == [0, 20, 40, 60]
    assert h.valid_loss[0] == pytest.approx(before, rel=1e-6)  # step 0 is the untrained model
    assert h.valid_loss[-1] == pytest.approx(direct_loss(model, x[:100], y[:100]), rel=1e-5)  # the end: trained
    assert h.valid_loss[-1] < 0.1 * h.valid_loss[0] and h.valid_loss == sorted(h.valid_loss, reverse=True)
    assert sum(h.train_loss[-10:]) < 0.1 * sum(h.train_loss[:10])
    assert all(n > 0 and math.isfinite(n) for n in h.grad_norm)
    assert h.seconds > 0 and model.training


def test_default_eval_every_is_a_tenth_of_the_steps(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    h = train(Bigram(), x, y, steps=25, batch_size=4, lr=0.1, valid=(x[:10], y[:10]), seed=0)
    assert h.eval_steps == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]
    h = train(Bigram(), x, y, steps=3, batch_size=4, lr=0.1, valid=(x[:10], y[:10]), seed=0)
    assert h.eval_steps == [0, 1, 2, 3]
    assert train(Bigram(), x, y, steps=3, batch_size=4, lr=0.1, seed=0).valid_loss == []  # no valid, no evaluation


def test_one_target_per_row_and_dropout_models_train() -> None:
    """The MLP of chapter 04: x of shape (N, context), y of shape (N,), logits (B, V)."""
    ids = stream(300)
    x = torch.stack([ids[:-2], ids[1:-1]], dim=1)
    y = ids[2:].clone()
    model = MLP()
    h = train(model, x, y, steps=150, batch_size=32, lr=0.03, valid=(x, y), eval_every=50, seed=1)
    assert h.valid_loss[-1] < 0.25 * h.valid_loss[0]


def test_models_that_also_return_their_state_train(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = GRU()
    h = train(model, x, y, steps=40, batch_size=8, lr=0.03, valid=(x[:50], y[:50]), eval_every=40, seed=0)
    assert h.valid_loss[-1] < 0.5 * h.valid_loss[0]
    assert h.valid_loss[-1] == pytest.approx(direct_loss(model, x[:50], y[:50]), rel=1e-5)


def test_the_first_step_is_plain_sgd_on_the_first_sampled_batch(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Step 0 draws its batch from the seeded generator, records that batch's loss, then takes one SGD step."""
    x, y = data
    model, copy = Bigram(), Bigram()
    h = train(model, x, y, steps=1, batch_size=5, lr=0.5, optimizer="sgd", seed=7)
    xb, yb = sample_batch(x, y, 5, torch.Generator().manual_seed(7))
    loss = F.cross_entropy(copy(xb).flatten(0, 1), yb.flatten())
    loss.backward()
    assert h.train_loss == [loss.item()]
    torch.testing.assert_close(model.table.weight, copy.table.weight - 0.5 * copy.table.weight.grad)


# --------------------------------------------------------------------------- reproducible


def test_same_seed_gives_bit_identical_runs(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    runs = []
    for _ in range(2):
        model = MLP(context=8, seed=3)  # dropout too: it draws from the global generator, seeded here
        torch.manual_seed(11)
        h = train(model, x, y[:, -1].clone(), steps=30, batch_size=8, lr=0.01, seed=5)
        runs.append((h.train_loss, h.grad_norm, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]  # exactly, not approximately
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2]))
    torch.manual_seed(11)
    other = train(MLP(context=8, seed=3), x, y[:, -1].clone(), steps=30, batch_size=8, lr=0.01, seed=6)
    assert other.train_loss != runs[0][0]  # another seed, other batches


def test_a_generator_is_the_same_as_its_seed_and_keeps_its_place(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    by_seed = train(Bigram(), x, y, steps=10, batch_size=4, lr=0.1, seed=2)
    g = torch.Generator().manual_seed(2)
    first = train(Bigram(), x, y, steps=5, batch_size=4, lr=0.1, generator=g)
    assert first.train_loss == by_seed.train_loss[:5]
    state = g.get_state()
    train(Bigram(), x, y, steps=5, batch_size=4, lr=0.1, generator=g)
    assert not torch.equal(g.get_state(), state)  # the caller's generator moved on: a second call draws new batches


def test_training_does_not_touch_the_global_random_state(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = Bigram()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    train(model, x, y, steps=5, batch_size=4, lr=0.1, valid=(x[:5], y[:5]), seed=0)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------- evaluate


def padded_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Rows with very different numbers of real targets, so a mean of batch means would be wrong."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(V, (7, 5), generator=g)
    y = torch.randint(V, (7, 5), generator=g)
    real = [5, 1, 3, 5, 2, 1, 4]
    for row, n in enumerate(real):
        y[row, n:] = IGNORE_INDEX
    return x, y


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 256])
def test_evaluate_is_the_full_batch_cross_entropy_over_real_targets(batch_size: int) -> None:
    x, y = padded_data()
    model = Bigram(seed=4)
    expected = direct_loss(model, x, y)
    assert evaluate(model, x, y, batch_size=batch_size) == pytest.approx(expected, rel=1e-6)
    if batch_size == 2:  # the mean of the batch means is a different number: the test can tell them apart
        means = [direct_loss(model, x[i:i + 2], y[i:i + 2]) for i in range(0, 7, 2)]
        assert abs(sum(means) / len(means) - expected) > 1e-3


def test_evaluate_works_without_gradients_in_eval_mode_and_restores_each_mode() -> None:
    ids = stream(100)
    x, y = torch.stack([ids[:-2], ids[1:-1]], dim=1), ids[2:].clone()
    model = MLP()
    model.train()
    model.hidden.eval()  # a mixed state, put back as it was
    got = [evaluate(model, x, y, batch_size=16) for _ in range(2)]
    assert got[0] == got[1]  # dropout was off: the same number twice
    assert model.training and not model.hidden.training and model.drop.training
    model.eval()
    assert got[0] == pytest.approx(direct_loss(model, x, y), rel=1e-6)
    evaluate(model, x, y)
    assert not model.training and not model.drop.training
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_restores_the_mode_when_the_model_fails(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = Bigram()
    model.train()
    with pytest.raises(ValueError, match=r"returned shape \(3, 8, 8\)"):
        evaluate(model, x[:3], y[:3, 0].clone())  # one target per row, but logits at every position
    assert model.training


# --------------------------------------------------------------------------- clipping


def test_clipping_caps_the_update_and_the_history_keeps_the_norm_before_clipping(
        data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    copy = Bigram()
    xb, yb = sample_batch(x, y, 6, torch.Generator().manual_seed(1))
    F.cross_entropy(copy(xb).flatten(0, 1), yb.flatten()).backward()
    grad = copy.table.weight.grad
    norm = grad.norm().item()
    clip = norm / 4

    clipped, plain = Bigram(), Bigram()
    h = train(clipped, x, y, steps=1, batch_size=6, lr=1.0, optimizer="sgd", clip=clip, seed=1)
    h_plain = train(plain, x, y, steps=1, batch_size=6, lr=1.0, optimizer="sgd", seed=1)
    assert h.grad_norm == pytest.approx([norm], rel=1e-6) and h_plain.grad_norm == h.grad_norm  # before clipping
    step = (copy.table.weight - clipped.table.weight).detach()
    assert step.norm().item() == pytest.approx(clip, rel=1e-5)  # the update was scaled down to the clip ...
    torch.testing.assert_close(step, grad * clip / norm, rtol=1e-5, atol=1e-7)  # ... along the gradient
    assert (copy.table.weight - plain.table.weight).norm().item() == pytest.approx(norm, rel=1e-6)


def test_a_clip_above_the_norm_changes_nothing(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    a, b = Bigram(), Bigram()
    h = train(a, x, y, steps=5, batch_size=6, lr=0.1, seed=1)
    h_clip = train(b, x, y, steps=5, batch_size=6, lr=0.1, clip=1e6, seed=1)
    assert h.train_loss == h_clip.train_loss
    torch.testing.assert_close(a.table.weight, b.table.weight, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------- divergence


class NaNAt(torch.nn.Module):
    """A bigram model whose logits turn NaN at the ``at``-th training forward pass (0 is the first)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.inner, self.at, self.calls = Bigram(), at, 0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self.inner(ids)
        if self.training:
            self.calls += 1
            if self.calls - 1 == self.at:
                return logits * float("nan")
        return logits


def test_a_nan_loss_stops_at_its_step_and_keeps_what_was_trained(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = NaNAt(3)
    with pytest.raises(TrainingDiverged, match=r"the loss is nan at step 3 \(the last loss recorded was [0-9.]+, "
                                               r"at step 2\)\. Likely cause: the learning rate is too high \(lr=0\.1: "
                                               r"try lr=0\.01, or clip=1\.0") as info:
        train(model, x, y, steps=10, batch_size=4, lr=0.1, valid=(x[:5], y[:5]), eval_every=2, seed=0)
    err = info.value
    assert isinstance(err, RuntimeError) and err.step == 3
    assert "keeps its parameters after 3 updates" in str(err) and "log of zero" in str(err)
    assert err.history.steps == 3 and err.history.eval_steps == [0, 2] and err.history.seconds > 0
    reference = Bigram()  # the same run stopped at 3 steps: the parameters are those after 3 updates
    h = train(reference, x, y, steps=3, batch_size=4, lr=0.1, seed=0)
    assert err.history.train_loss == h.train_loss
    assert torch.equal(model.inner.table.weight, reference.table.weight)


def test_a_nan_at_step_zero_blames_the_model_not_the_learning_rate(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = NaNAt(0)
    before = model.inner.table.weight.detach().clone()
    with pytest.raises(TrainingDiverged, match=r"nan at step 0 \(the first step\).*the learning rate is not the cause"
                                               r".*keeps its initial parameters") as info:
        train(model, x, y, steps=10, batch_size=4, lr=0.1, seed=0)
    assert info.value.history.steps == 0 and torch.equal(model.inner.table.weight, before)


def test_a_learning_rate_far_too_high_diverges_with_a_hint(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data

    class Deep(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.emb, self.out = torch.nn.Embedding(V, 16), torch.nn.Linear(16, V)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.out(self.emb(ids))

    with pytest.raises(TrainingDiverged, match=r"lr=1e\+10: try lr=1e\+09, or clip=1\.0") as info:
        train(Deep(), x, y, steps=50, batch_size=4, lr=1e10, optimizer="sgd", seed=0)
    assert 0 < info.value.step < 50 and all(math.isfinite(v) for v in info.value.history.train_loss)


def test_a_nan_gradient_with_a_finite_loss_stops_before_the_update(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data

    class SqrtZero(Bigram):
        def __init__(self) -> None:
            super().__init__()
            self.z = torch.nn.Parameter(torch.ones(1))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.table(ids) + torch.sqrt(self.z - self.z)  # 0, but its gradient is 0 * inf = nan

    model = SqrtZero()
    before = model.table.weight.detach().clone()
    with pytest.raises(TrainingDiverged, match=r"the gradient norm is nan at step 0.*the square root of zero"):
        train(model, x, y, steps=5, batch_size=4, lr=0.1, seed=0)
    assert torch.equal(model.table.weight, before)


def test_a_batch_of_padding_only_is_named_as_the_cause() -> None:
    x = torch.zeros(4, 3, dtype=torch.long)
    y = torch.full((4, 3), IGNORE_INDEX)
    y[0, 0] = 1  # one real target in all the data: most batches of one row have none
    with pytest.raises(TrainingDiverged, match=r"every target of this batch is IGNORE_INDEX \(padding\), so the mean "
                                               r"loss is 0/0"):
        train(Bigram(), x, y, steps=20, batch_size=1, lr=0.1, seed=0)


# --------------------------------------------------------------------------- optimizers


def test_an_optimizer_of_your_own_is_used(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    a, b = Bigram(), Bigram()
    h_name = train(a, x, y, steps=5, batch_size=4, lr=0.2, optimizer="sgd", seed=0)
    h_own = train(b, x, y, steps=5, batch_size=4, optimizer=torch.optim.SGD(b.parameters(), lr=0.2), seed=0)
    assert h_name.train_loss == h_own.train_loss and torch.equal(a.table.weight, b.table.weight)


def test_weight_decay_reaches_the_optimizer(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    a, b = Bigram(), Bigram()
    train(a, x, y, steps=3, batch_size=4, lr=0.01, seed=0)
    train(b, x, y, steps=3, batch_size=4, lr=0.01, weight_decay=0.5, seed=0)
    assert b.table.weight.norm() < a.table.weight.norm()


def test_frozen_parameters_stay_as_they_are(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = MLP(context=8)
    model.emb.weight.requires_grad_(False)
    frozen = model.emb.weight.detach().clone()
    train(model, x, y[:, -1].clone(), steps=3, batch_size=4, lr=0.1, seed=0)
    assert torch.equal(model.emb.weight, frozen)


# --------------------------------------------------------------------------- devices and progress


def test_device_moves_the_model_and_batches_follow_it(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = Bigram()
    h = train(model, x, y, steps=2, batch_size=4, lr=0.1, device="cpu", seed=0)
    assert h.steps == 2 and model.table.weight.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device 'cuda' was asked for, but torch sees no CUDA GPU"):
            train(model, x, y, steps=2, batch_size=4, lr=0.1, device="cuda", seed=0)


def test_the_progress_bar_is_silent_under_test_and_shows_otherwise(
        data: tuple[torch.Tensor, torch.Tensor], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = data
    train(Bigram(), x, y, steps=3, batch_size=4, lr=0.1, valid=(x[:4], y[:4]), seed=0)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "0")
    train(Bigram(), x, y, steps=3, batch_size=4, lr=0.1, seed=0, desc="bigram")
    out, err = capsys.readouterr()
    assert out == "" and "bigram" in err and "3/3" in err and "loss=" in err


# --------------------------------------------------------------------------- the history


def test_history_smoothing_plotting_and_repr() -> None:
    h = History(train_loss=[4.0, 2.0, 3.0, 1.0], grad_norm=[1.0, 0.5, 0.25, 0.125], eval_steps=[0, 4],
                valid_loss=[4.5, 1.5], seconds=1.25)
    assert h.steps == 4
    assert h.smoothed(2) == [4.0, 3.0, 2.5, 2.0] and h.smoothed(1) == h.train_loss and h.smoothed(9)[-1] == 2.5
    ax = h.plot(window=2, title="bigram")
    train_line, valid_line = ax.get_lines()
    assert list(train_line.get_xdata()) == [0, 1, 2, 3] and list(train_line.get_ydata()) == [4.0, 3.0, 2.5, 2.0]
    assert list(valid_line.get_xdata()) == [0, 4] and list(valid_line.get_ydata()) == [4.5, 1.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (mean of the last 2 steps)", "valid"]
    assert ax.get_title() == "bigram" and ax.get_xlabel() == "step"
    ax = h.plot_grad_norm()
    assert ax.get_yscale() == "log" and list(ax.get_lines()[0].get_ydata()) == h.grad_norm
    assert "before clipping" in ax.get_ylabel()
    plt.close("all")
    assert repr(h) == "History(steps=4, train_loss=2.500 (mean of the last 4), valid_loss=1.500 at step 4)"
    assert repr(History()) == "History(steps=0)"  # and no seconds: a stored output must not vary
    h.resumed_from = 2
    assert repr(h) == ("History(steps=4, train_loss=2.500 (mean of the last 4), valid_loss=1.500 at step 4, resumed "
                       "from step 2)")
    with pytest.raises(ValueError, match=r"window must be >= 1 \(steps to average over, e\.g\. 20\), got 0"):
        h.smoothed(0)


def test_history_repr_prints_both_losses_with_four_significant_digits() -> None:
    """2.2 next to 2.219 looked less precise than it was: trailing zeros are kept (:#.4g)."""
    h = History(train_loss=[2.2] * 20, grad_norm=[1.0] * 20, eval_steps=[20], valid_loss=[2.2191])
    assert repr(h) == "History(steps=20, train_loss=2.200 (mean of the last 20), valid_loss=2.219 at step 20)"
    h = History(train_loss=[0.01], grad_norm=[1.0], eval_steps=[1], valid_loss=[12.0])
    assert repr(h) == "History(steps=1, train_loss=0.01000 (mean of the last 1), valid_loss=12.00 at step 1)"


def test_the_loop_is_short_enough_to_read() -> None:
    """Chapter 09 prints the loop (with its early stopping, mixed precision and checkpoints): it stays a screen, not
    a framework."""
    import inspect

    assert len(inspect.getsource(training_loop).splitlines()) <= 60


# --------------------------------------------------------------------------- bad input


def bad_calls(x: torch.Tensor, y: torch.Tensor) -> list:
    other = Bigram()
    return [
        (dict(steps=0), ValueError, r"steps must be >= 1 \(the number of updates to make\), got 0"),
        (dict(steps=2.0), TypeError, r"steps must be a whole number >= 1 .*got float 2\.0"),
        (dict(steps=True), TypeError, r"steps must be a whole number >= 1 .*got bool True"),
        (dict(batch_size=0), ValueError, r"batch_size must be >= 1 \(rows per batch\), got 0"),
        (dict(lr=0), ValueError, r"lr must be a finite number > 0, e\.g\. lr=3e-3, got 0"),
        (dict(lr=-0.1), ValueError, r"lr must be a finite number > 0, e\.g\. lr=3e-3, got -0\.1"),
        (dict(lr=float("nan")), ValueError, r"lr must be a finite number > 0, e\.g\. lr=3e-3, got nan"),
        (dict(lr=float("inf")), ValueError, r"lr must be a finite number > 0.*got inf"),
        (dict(lr="0.1"), TypeError, r"lr must be a number, e\.g\. lr=3e-3, got str '0\.1'"),
        (dict(lr=None), TypeError, r"lr \(the learning rate\) is required with optimizer='adamw', e\.g\. lr=3e-3"),
        (dict(clip=0), ValueError, r"clip must be a finite number > 0, e\.g\. clip=1\.0 \(or None for no clipping\)"),
        (dict(clip=float("inf")), ValueError, r"clip must be a finite number > 0.*got inf"),
        (dict(eval_every=0), ValueError, r"eval_every must be >= 1 \(steps between evaluations of valid\), got 0"),
        (dict(weight_decay=-0.1), ValueError, r"weight_decay must be a finite number >= 0.*got -0\.1"),
        (dict(optimizer="adam"), ValueError, r"optimizer must be one of 'adamw', 'sgd' or a torch\.optim\.Optimizer, "
                                             r"got 'adam'"),
        (dict(optimizer=torch.optim.SGD(other.parameters(), lr=0.1), lr=None), ValueError,
         r"the optimizer holds none of this model's parameters; was it built for another model"),
        (dict(optimizer="sgd-instance"), ValueError, r"^lr is set on the optimizer you passed; leave it out of "
                                                     r"train\(\) \(or pass optimizer='adamw' or 'sgd' to have "
                                                     r"train\(\) build one\), got lr=0\.1\.$"),
        (dict(optimizer="sgd-instance", lr=None, weight_decay=0.5), ValueError,
         r"^weight_decay is set on the optimizer you passed; leave it out of train\(\) .*got weight_decay=0\.5\.$"),
        (dict(optimizer="sgd-instance", weight_decay=0.5), ValueError,
         r"^lr and weight_decay are set on the optimizer you passed; leave them out .*got lr=0\.1, "
         r"weight_decay=0\.5\.$"),
        (dict(seed=None), TypeError, r"pass exactly one of seed \(e\.g\. seed=0\) and generator .*got neither"),
        (dict(generator=torch.Generator()), TypeError, r"pass exactly one of seed .*got both"),
        (dict(seed=None, generator=0), TypeError, r"generator must be a torch\.Generator, got int"),
        (dict(seed=-1), ValueError, r"seed must be a whole number from 0 to 2\*\*32 - 1, e\.g\. seed=0, got -1"),
        (dict(x=x[:-1]), ValueError, r"x and y must have one row per example each, and at least one, got shapes "
                                     r"\(591, 8\) and \(592, 8\)"),
        (dict(x=x[:0], y=y[:0]), ValueError, r"got shapes \(0, 8\) and \(0, 8\)"),
        (dict(y=y[:, :4]), ValueError, r"y must have the shape of x \(a target at every position\) or one target per "
                                       r"row, got x of shape \(592, 8\) and y of shape \(592, 4\)"),
        (dict(y=y.float()), TypeError, r"y must hold target ids as torch\.long \(int64\).*got torch\.float32; "
                                       r"use y\.long\(\)"),
        (dict(y=torch.full_like(y, IGNORE_INDEX)), ValueError, r"y has no target to learn from: every value is "
                                                               r"IGNORE_INDEX \(-100\)"),
        (dict(x=x.tolist()), TypeError, r"x must be a tensor with one row per example .*got list"),
        (dict(valid=x[:5]), TypeError, r"valid must be a pair \(x_valid, y_valid\) of tensors, or None; got Tensor"),
        (dict(valid=(x[:5], y[:4])), ValueError, r"x_valid and y_valid must have one row per example each.*"
                                                 r"\(5, 8\) and \(4, 8\)"),
        (dict(desc=None), TypeError, r"desc is the progress bar's label, a str such as 'training'; got NoneType"),
        (dict(model=lambda ids: ids), TypeError, r"model must be a torch\.nn\.Module \(ids in, logits out\), "
                                                 r"got function"),
        (dict(model=torch.nn.Identity()), ValueError, r"model Identity has no parameters to train"),
    ]


@pytest.mark.parametrize("case", range(34))
def test_bad_arguments_are_refused_with_a_remedy(case: int, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    cases = bad_calls(x, y)
    assert len(cases) == 34  # keep the parametrize range in step with the list
    change, error, message = cases[case]
    model = change.pop("model", Bigram())
    kwargs: dict = dict(x=x, y=y, steps=3, batch_size=4, lr=0.1, seed=0) | change
    if kwargs.get("optimizer") == "sgd-instance":
        kwargs["optimizer"] = torch.optim.SGD(model.parameters(), lr=0.1)
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    before = [p.detach().clone() for p in params]
    with pytest.raises(error, match=message):
        train(model, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, params))  # refused before any update


def test_a_model_returning_the_wrong_shape_is_named(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data

    class Flat(Bigram):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.table(ids).flatten(0, 1)  # (B*T, V) instead of (B, T, V)

    with pytest.raises(ValueError, match=r"logits of the targets' shape plus a vocabulary axis, \(4, 8, 'V'\), for "
                                         r"inputs of shape \(4, 8\) and targets of shape \(4, 8\); it returned shape "
                                         r"\(32, 8\)"):
        train(Flat(), x, y, steps=3, batch_size=4, lr=0.1, seed=0)
    with pytest.raises(ValueError, match=r"it returned str"):
        evaluate(type("Words", (Bigram,), {"forward": lambda self, ids: "logits"})(), x, y)


def test_evaluate_refuses_bad_input(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    with pytest.raises(ValueError, match=r"batch_size must be >= 1 \(rows scored at a time\), got 0"):
        evaluate(Bigram(), x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"x and y must have one row per example each"):
        evaluate(Bigram(), x, y[:3])
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        evaluate("bigram", x, y)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- targets outside the model's vocabulary


def with_target(y: torch.Tensor, where: tuple[int, ...], value: int) -> torch.Tensor:
    y = y.clone()
    y[where] = value
    return y


@pytest.mark.parametrize("value", [V, 30, -1, -99])
def test_a_target_outside_the_vocabulary_is_named_before_any_update(
        value: int, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Not torch's "IndexError: Target 30 is out of bounds": which target, where, and what would be right."""
    x, y = data
    model = Bigram()
    before = model.table.weight.detach().clone()
    message = (rf"^y\[300, 5\] = {value} is not a target id of this model: it returns 8 logits per prediction \(a "
               r"vocabulary of size 8\), so targets are ids 0 \.\. 7, or -100 \(batches\.IGNORE_INDEX\) for a "
               r"position to skip; 1 target is out of range\. Encode y with the tokeniser the model was built for, or "
               r"build the model with a vocab_size that covers every id\.$")
    bad = with_target(y, (300, 5), value)
    with pytest.raises(ValueError, match=message):
        train(model, x, bad, steps=3, batch_size=4, lr=0.1, seed=0)
    with pytest.raises(ValueError, match=message):
        evaluate(model, x, bad, batch_size=16)  # in the 19th batch: all of y is checked, up front
    assert torch.equal(model.table.weight, before)


def test_windows_views_are_checked_through_their_ids_and_still_name_a_bad_target() -> None:
    """The fast path (checking the ids a stride-1 view shows) never hides a bad target nor invents one."""
    ids = stream(400)
    x, y = windows(ids, 16, stride=1)
    assert y._base is not None and y._base.numel() < y.numel()  # the case the fast path is for
    train(Bigram(), x, y, steps=2, batch_size=4, lr=0.1, seed=0)
    bad_ids = ids.clone()
    bad_ids[100] = 9
    xb, yb = windows(bad_ids, 16, stride=1)
    with pytest.raises(ValueError, match=r"^y\[84, 15\] = 9 is not a target id of this model.*; 16 targets are out"):
        train(Bigram(), xb, yb, steps=2, batch_size=4, lr=0.1, seed=0)
    # a bad id the view does not show (the first id is never a target) is no error
    first_bad = ids.clone()
    first_bad[0] = 9
    x0, y0 = windows(first_bad, 16, stride=1)
    assert y0._base is not None and int(y0._base.max()) == 9
    evaluate(Bigram(), x0[1:], y0[1:])  # the full check runs, and finds nothing wrong


def test_out_of_range_targets_are_named_in_valid_and_per_row_too(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    model = Bigram()
    before = model.table.weight.detach().clone()
    with pytest.raises(ValueError, match=r"^y_valid\[2, 0\] = 8 is not a target id of this model.*; 2 targets are "
                                         r"out of range\. Encode y_valid with"):
        train(model, x, y, steps=3, batch_size=4, lr=0.1, seed=0,
              valid=(x[:5], with_target(with_target(y[:5], (2, 0), 8), (4, 7), 9)))
    assert torch.equal(model.table.weight, before)
    ids = stream(50)
    x1, y1 = torch.stack([ids[:-2], ids[1:-1]], dim=1), with_target(ids[2:], (7,), -5)
    with pytest.raises(ValueError, match=r"^y\[7\] = -5 is not a target id of this model: it returns 8 logits"):
        train(MLP(), x1, y1, steps=3, batch_size=4, lr=0.1, seed=0)
    with pytest.raises(ValueError, match=r"^y\[7\] = -5 is not a target id"):
        evaluate(MLP(), x1, y1)
    # IGNORE_INDEX itself is fine anywhere
    train(Bigram(), x, with_target(y, (0, 0), IGNORE_INDEX), steps=2, batch_size=4, lr=0.1, seed=0)


# --------------------------------------------------------------------------- logits, not probabilities


class Softmaxed(Bigram):
    """A model that ends in a softmax: it returns probabilities, which F.cross_entropy would softmax again."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.table(ids), dim=-1)


class LogSoftmaxed(Bigram):
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.softmax(self.table(ids), dim=-1))


class StateAndProbs(GRU):
    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, state = super().forward(ids)
        return F.softmax(logits, dim=-1), state


PROBS = (r"^the model returns probabilities \(rows sum to 1\); return logits: F\.cross_entropy applies the softmax "
         r"itself\. Leave out the last softmax \(torch\.softmax, F\.softmax, nn\.Softmax\) of the model's forward")
LOG_PROBS = (r"^the model returns log-probabilities \(each row's logsumexp is 0\); return logits: F\.cross_entropy "
             r"applies the log-softmax itself\. Leave out the last log_softmax")


@pytest.mark.parametrize("model,message", [(Softmaxed(), PROBS), (LogSoftmaxed(), LOG_PROBS),
                                           (StateAndProbs(), PROBS)])
def test_a_model_returning_probabilities_is_refused_at_the_first_step(
        model: torch.nn.Module, message: str, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        train(model, x, y, steps=3, batch_size=4, lr=0.1, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before the first update
    with pytest.raises(ValueError, match=message):
        evaluate(model, x, y)


def test_the_first_output_check_draws_nothing_and_keeps_each_mode(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    """The check runs the model on the first rows in eval mode: no dropout draw, the same run as without it."""
    ids = stream(100)
    x, y = torch.stack([ids[:-2], ids[1:-1]], dim=1), ids[2:].clone()
    model = MLP()
    model.hidden.eval()
    torch.manual_seed(3)
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match="y_valid"):
        train(model, x, y, steps=2, batch_size=4, lr=0.1, seed=0, valid=(x, with_target(y, (0,), V)))
    assert torch.equal(torch.get_rng_state(), state)
    assert model.training and not model.hidden.training and model.drop.training


def test_real_logits_never_look_like_probabilities(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Freshly initialised (random, or all zeros as lmcourse's BigramLM starts) and trained models pass the check."""
    from lmcourse.models import MLPLM, BigramLM
    from lmcourse.train import _check_logits_kind

    x, y = data
    torch.manual_seed(0)
    fresh = [Bigram(), GRU(), BigramLM(V), MLPLM(V, context=3, embed_dim=4, hidden=8)]
    for model in fresh:
        h = train(model, x, y, steps=300, batch_size=16, lr=0.1, optimizer="sgd", seed=0)
        assert h.train_loss[-1] < 0.5 * h.train_loss[0]
        model.eval()
        assert evaluate(model, x, y) < 0.5 * h.train_loss[0]  # the trained model's logits pass, in evaluate too
        with torch.no_grad():
            out = model(x)
        _check_logits_kind(out[0] if isinstance(out, tuple) else out)
        train(model, x, y, steps=1, batch_size=4, lr=0.1, seed=0)  # and train again from there
    lp = torch.log_softmax(torch.randn(5, V), dim=-1)
    _check_logits_kind(lp + 0.01)  # shifted by more than 1e-3: logits like any other
    _check_logits_kind(torch.softmax(torch.randn(5, V), -1) * 1.01)  # rows sum to 1.01
    _check_logits_kind(torch.zeros(4, 1))  # one token: logits 0 are its log-probability, nothing to tell
    with pytest.raises(ValueError, match="log-probabilities"):
        _check_logits_kind(lp + 1e-4)
    with pytest.raises(ValueError, match="probabilities"):
        _check_logits_kind(torch.softmax(torch.randn(5, V), -1).half())


# --------------------------------------------------------------------------- chapter 09: AdamW written out


@pytest.fixture
def windows2() -> tuple[torch.Tensor, torch.Tensor]:
    """The MLP's data: two ids in, the next one out (chapter 04's shape)."""
    ids = stream(300)
    return torch.stack([ids[:-2], ids[1:-1]], dim=1), ids[2:].clone()


def tiny_transformer(dropout: float = 0.0) -> torch.nn.Module:
    from lmcourse.transformer import TransformerConfig, TransformerLM

    torch.manual_seed(0)
    return TransformerLM(TransformerConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=16,
                                           dropout=dropout))


def test_adamw_matches_torch_bit_for_bit_at_every_step(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import AdamW

    x, y = data
    ours, theirs = tiny_transformer(), tiny_transformer()
    groups = lambda m: [{"params": [p for n, p in m.named_parameters() if "ln" not in n]},  # noqa: E731
                        {"params": [p for n, p in m.named_parameters() if "ln" in n], "weight_decay": 0.0}]
    mine = AdamW(groups(ours), lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    ref = torch.optim.AdamW(groups(theirs), lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, foreach=False)
    gen = torch.Generator().manual_seed(0)
    identical = True
    for step in range(50):
        xb, yb = sample_batch(x, y, 16, gen)
        for model, opt in ((ours, mine), (theirs, ref)):
            opt.zero_grad()
            F.cross_entropy(model(xb)[0].flatten(0, -2), yb.flatten()).backward()
            for group in opt.param_groups:
                group["lr"] = 3e-3 * (1 - step / 50)  # as a schedule does
            opt.step()
        for p, q in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
            identical = identical and torch.equal(p, q)
    assert identical  # the same operations in the same order: not only close, equal
    state = mine.state[next(ours.parameters())]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "step"] and state["step"] == 50


def test_adamw_in_train_gives_torch_adamws_run(windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import AdamW, cosine_schedule

    x, y = windows2
    runs = []
    for kind in (AdamW, lambda params, **kw: torch.optim.AdamW(params, foreach=False, **kw)):
        model = MLP()
        history = train(model, x, y, steps=30, batch_size=8, optimizer=kind(model.parameters(), lr=1e-2),
                        schedule=cosine_schedule(30, warmup=3), clip=0.5, seed=0, valid=(x[:50], y[:50]))
        runs.append((history.train_loss, history.valid_loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][:2] == runs[1][:2]
    assert all(torch.equal(p, q) for p, q in zip(runs[0][2], runs[1][2]))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(lr=-1.0), ValueError, r"lr must be a finite number >= 0, e\.g\. lr=1e-3, got -1\.0"),
    (dict(lr="big"), TypeError, r"lr must be a number"),
    (dict(betas=0.9), TypeError, r"betas must be a pair \(beta1, beta2\), e\.g\. \(0\.9, 0\.999\), got 0\.9"),
    (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0, 1\) .*got 1\.0"),
    (dict(eps=-1e-8), ValueError, r"eps must be a finite number >= 0"),
    (dict(weight_decay=float("nan")), ValueError, r"weight_decay must be a finite number >= 0"),
])
def test_adamw_refuses_bad_hyperparameters(kwargs: dict, error: type, message: str) -> None:
    from lmcourse.train import AdamW

    with pytest.raises(error, match=message):
        AdamW(Bigram().parameters(), **kwargs)


# --------------------------------------------------------------------------- the learning-rate range test


def test_lr_range_test_rises_geometrically_and_leaves_the_model_and_random_state_alone(
        windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import lr_range_test

    x, y = windows2
    model = MLP()  # with dropout: the global generator is drawn from, inside a fork
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    lrs, losses = lr_range_test(model, x, y, lr_min=1e-4, lr_max=1e-1, steps=30, batch_size=16)
    assert len(lrs) == len(losses) == 30
    assert lrs[0] == 1e-4 and lrs[-1] == 1e-1
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9) and ratios[0] == pytest.approx(1000 ** (1 / 29))
    assert min(losses) < losses[0] - 0.5  # the rates get large enough to learn
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert torch.equal(rng, torch.get_rng_state()) and model.training
    assert lr_range_test(model, x, y, lr_min=1e-4, lr_max=1e-1, steps=30, batch_size=16) == (lrs, losses)


def test_lr_range_test_stops_once_the_loss_explodes(windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import lr_range_test

    x, y = windows2
    for optimizer in ("adamw", "sgd"):
        lrs, losses = lr_range_test(MLP(), x, y, lr_min=1e-4, lr_max=100.0, steps=100, optimizer=optimizer)
        assert 10 < len(lrs) == len(losses) < 100 and lrs[-1] < 100.0
        assert losses[-1] > 4 * min(losses[:-1]) and all(v <= 4 * min(losses[:i + 1]) for i, v in
                                                          enumerate(losses[:-1]))  # stopped at the first one
        assert all(math.isfinite(v) for v in losses)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(lr_min=1e-2, lr_max=1e-3), ValueError, r"lr_min must be below lr_max .*got lr_min=0\.01 and lr_max=0\.001"),
    (dict(lr_min=1e-2, lr_max=1e-2), ValueError, r"lr_min must be below lr_max"),
    (dict(lr_min=0.0), ValueError, r"lr_min must be a finite number > 0"),
    (dict(lr_max=-1.0), ValueError, r"lr_max must be a finite number > 0"),
    (dict(steps=1), ValueError, r"steps must be at least 2"),
    (dict(steps=0), ValueError, r"steps must be >= 1"),
    (dict(batch_size=0), ValueError, r"batch_size must be >= 1"),
    (dict(optimizer="adam"), ValueError, r"optimizer must be one of 'adamw', 'sgd', got 'adam'"),
    (dict(seed=-1), ValueError, r"seed must be a whole number"),
])
def test_lr_range_test_refuses_bad_arguments(kwargs: dict, error: type, message: str,
                                             data: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import lr_range_test

    with pytest.raises(error, match=message):
        lr_range_test(Bigram(), *data, **kwargs)


def test_cosine_schedule_explains_a_warmup_as_long_as_the_run() -> None:
    from lmcourse.train import cosine_schedule

    with pytest.raises(ValueError, match=r"warmup must be a whole number of steps from 0 to steps - 1 = 99 \(a "
                                         r"warm-up as long as the run would leave nothing to decay\), got 100"):
        cosine_schedule(100, warmup=100)
    f = cosine_schedule(10, warmup=2, floor=0.1)
    assert [f(0), f(1), f(2)] == [0.5, 1.0, 1.0] and f(10) == pytest.approx(0.1)


def test_train_refuses_the_schedule_factory_and_a_schedule_built_for_another_length(
        data: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import cosine_schedule

    x, y = data
    assert cosine_schedule(10, warmup=2).steps == 10
    with pytest.raises(TypeError, match=r"schedule=cosine_schedule is the function that builds a schedule, not a "
                                        r"schedule: call it, schedule=cosine_schedule\(20, warmup=2\)"):
        train(Bigram(), x, y, steps=20, batch_size=4, lr=0.1, seed=0, schedule=cosine_schedule)
    with pytest.raises(ValueError, match=r"the schedule was built for 10 steps, this run has 20: build it with "
                                         r"cosine_schedule\(20, \.\.\.\)"):
        train(Bigram(), x, y, steps=20, batch_size=4, lr=0.1, seed=0, schedule=cosine_schedule(10, warmup=2))
    plain = train(Bigram(), x, y, steps=5, batch_size=4, lr=0.1, seed=0, schedule=lambda step: 0.5)  # no .steps
    built = train(Bigram(), x, y, steps=5, batch_size=4, lr=0.1, seed=0, schedule=cosine_schedule(5, warmup=1))
    assert plain.steps == built.steps == 5


# --------------------------------------------------------------------------- early stopping


def overfitting_data() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Training text that follows one permutation, validation text another: learning the first makes the
    validation loss rise, after a short fall while both learn the token frequencies."""
    x, y = windows(stream(), 8, stride=1)
    other = [1, 2, 3, 4, 5, 6, 7, 0]
    ids = [0]
    for _ in range(200):
        ids.append(other[ids[-1]])
    return (x, y), windows(torch.tensor(ids), 8)


def test_early_stopping_stops_after_patience_evaluations_and_restores_the_best() -> None:
    (x, y), valid = overfitting_data()
    model = Bigram()
    history = train(model, x, y, steps=200, batch_size=16, lr=0.05, valid=valid, eval_every=5, patience=3, seed=0)
    best = min(history.valid_loss)
    assert history.best_step == history.eval_steps[history.valid_loss.index(best)]
    assert history.stopped_at == history.best_step + 3 * 5 == history.eval_steps[-1] == history.steps < 200
    assert all(v >= best for v in history.valid_loss[-3:])
    assert evaluate(model, *valid, batch_size=16) == best  # the best evaluation's parameters, restored exactly
    assert "stopped early at step" in repr(history)


def test_patience_that_never_runs_out_changes_no_step_and_ends_on_the_best(
        data: tuple[torch.Tensor, torch.Tensor]) -> None:
    (x, y), valid = overfitting_data()
    plain, patient = Bigram(), Bigram()
    a = train(plain, x, y, steps=60, batch_size=16, lr=0.05, valid=valid, eval_every=5, seed=0)
    b = train(patient, x, y, steps=60, batch_size=16, lr=0.05, valid=valid, eval_every=5, seed=0, patience=100)
    assert (a.train_loss, a.valid_loss, a.stopped_at, b.stopped_at) == (b.train_loss, b.valid_loss, None, None)
    assert a.best_step == b.best_step and evaluate(patient, *valid, batch_size=16) == min(b.valid_loss)
    assert History().best_step is None


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(patience=2), ValueError, r"patience=2 stops on the validation loss: pass valid=\(x_valid, y_valid\) too"),
    (dict(patience=0, valid="v"), ValueError, r"patience must be >= 1 \(evaluations without a new best"),
    (dict(patience=2.0, valid="v"), TypeError, r"patience must be a whole number >= 1 .*got float 2\.0"),
    (dict(autocast=torch.float64), ValueError, r"autocast must be None \(float32 throughout\) or torch\.bfloat16"),
    (dict(autocast="bf16"), ValueError, r"autocast must be None .*got str 'bf16'"),
    (dict(checkpoint_every=5), ValueError, r"checkpoint_every=5 needs checkpoint=PATH"),
    (dict(checkpoint=3), TypeError, r"checkpoint must be a file path .*got int 3"),
    (dict(checkpoint="/no/such/folder/run.safetensors"), FileNotFoundError, r"does not exist; create it first"),
])
def test_chapter_09_arguments_are_refused_with_a_remedy(kwargs: dict, error: type, message: str,
                                                        data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    if kwargs.get("valid") == "v":
        kwargs["valid"] = (x[:8], y[:8])
    with pytest.raises(error, match=message):
        train(Bigram(), x, y, steps=3, batch_size=4, lr=0.1, seed=0, **kwargs)


# --------------------------------------------------------------------------- mixed precision


def test_bfloat16_autocast_trains_close_to_float32_but_not_identically(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    runs = {}
    for dtype in (None, torch.bfloat16):
        model = tiny_transformer()
        h = train(model, x, y, steps=50, batch_size=16, lr=1e-2, seed=0, autocast=dtype, valid=(x[:64], y[:64]))
        assert all(p.dtype == torch.float32 for p in model.parameters())
        runs[dtype] = h
    full, mixed = runs[None], runs[torch.bfloat16]
    assert full.train_loss != mixed.train_loss
    assert abs(full.smoothed(10)[-1] - mixed.smoothed(10)[-1]) < 0.05
    assert abs(full.valid_loss[-1] - mixed.valid_loss[-1]) < 0.05
    assert full.train_loss[-1] < full.train_loss[0] - 0.5


def test_float16_is_refused_on_a_gpu_and_allowed_on_the_cpu(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.train import _check_autocast

    with pytest.raises(ValueError, match=r"float16 on a GPU needs a gradient scaler .*use autocast=torch\.bfloat16"):
        _check_autocast(torch.float16, torch.device("cuda"))
    h = train(tiny_transformer(), *data, steps=5, batch_size=8, lr=1e-2, seed=0, autocast=torch.float16)
    assert all(math.isfinite(v) for v in h.train_loss)


# --------------------------------------------------------------------------- checkpoints that survive interruption


class Interruptible(MLP):
    """Chapter 04's MLP with dropout, which raises KeyboardInterrupt at its training forward pass number ``at``
    (a learner pressing the stop button mid-step); ``at=None`` never does."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__(seed=0)
        self.at, self.calls = at, 0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.training:
            if self.calls == self.at:
                raise KeyboardInterrupt
            self.calls += 1
        return super().forward(ids)


class InterruptibleBigram(Bigram):
    """The same for a model of whole sequences."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__(seed=0)
        self.at, self.calls = at, 0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.training:
            if self.calls == self.at:
                raise KeyboardInterrupt
            self.calls += 1
        return super().forward(ids)


def resumable_run(model: torch.nn.Module, path: object, x: torch.Tensor, y: torch.Tensor, **change: object) -> History:
    from lmcourse.train import AdamW, cosine_schedule

    settings: dict = dict(steps=20, batch_size=8, clip=0.5, schedule=cosine_schedule(20, warmup=3), seed=0,
                          valid=(x[:40], y[:40]), eval_every=5, checkpoint=path, checkpoint_every=3)
    settings |= change
    optimizer = settings.pop("optimizer", None) or AdamW(model.parameters(), lr=2e-2, weight_decay=0.1)
    return train(model, x, y, optimizer=optimizer, **settings)


def same_run(a: History, b: History) -> bool:
    return (a.train_loss, a.grad_norm, a.eval_steps, a.valid_loss, a.stopped_at) == \
        (b.train_loss, b.grad_norm, b.eval_steps, b.valid_loss, b.stopped_at)


@pytest.mark.parametrize("interrupt_at", [8, 1, 19])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(interrupt_at: int, tmp_path: object,
                                                                windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse import checkpoints

    x, y = windows2
    whole_model = Interruptible()
    whole = resumable_run(whole_model, tmp_path / "whole.safetensors", x, y)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        resumable_run(Interruptible(at=interrupt_at), path, x, y)
    saved = interrupt_at // 3 * 3  # the last multiple of checkpoint_every reached
    assert (checkpoints.state_step(path) if saved else None) == (saved or None) or not path.exists()
    if not saved:
        assert not path.exists()
    torch.manual_seed(123)  # the global state at the restart is anything: the checkpoint restores it
    fresh = Interruptible()
    resumed = resumable_run(fresh, path, x, y)
    assert same_run(resumed, whole)
    assert whole.resumed_from is None and resumed.resumed_from == (saved or None)
    assert all(torch.equal(p, q) for p, q in zip(fresh.parameters(), whole_model.parameters()))
    assert checkpoints.state_step(path) == 20
    again = Interruptible()  # the file of a finished run gives its history and model back, without training
    finished = resumable_run(again, path, x, y)
    assert same_run(finished, whole) and again.calls == 0 and finished.resumed_from == 20
    assert all(torch.equal(p, q) for p, q in zip(again.parameters(), whole_model.parameters()))


def test_early_stopping_resumes_exactly_too(tmp_path: object) -> None:
    (x, y), valid = overfitting_data()

    def run(path: object, at: int | None = None) -> tuple[History, torch.nn.Module]:
        model = InterruptibleBigram(at)
        return resumable_run(model, path, x, y, steps=200, valid=valid, patience=3, schedule=None,
                             clip=None, optimizer=torch.optim.AdamW(model.parameters(), lr=0.05)), model

    whole, whole_model = run(tmp_path / "whole.safetensors")
    assert whole.stopped_at is not None
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "run.safetensors", at=whole.stopped_at - 2)
    resumed, model = run(tmp_path / "run.safetensors")
    assert same_run(resumed, whole) and resumed.best_step == whole.best_step
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), whole_model.parameters()))


def test_the_progress_bar_of_a_resumed_run_starts_at_its_step(tmp_path: object, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = windows2
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        resumable_run(Interruptible(at=10), path, x, y)
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "0")
    capsys.readouterr()
    resumable_run(Interruptible(), path, x, y, desc="resumed")
    out, err = capsys.readouterr()
    assert out == "" and "resumed" in err and " 9/20" in err and "20/20" in err and " 0/20" not in err


def test_another_runs_checkpoint_is_refused_and_left_alone(tmp_path: object,
                                                           windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.checkpoints import CheckpointError

    x, y = windows2
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        resumable_run(Interruptible(at=10), path, x, y)
    before = path.read_bytes()
    cases = [
        (dict(steps=30, schedule="30"), r"another run: .*steps: 20 in the file, 30 now"),
        (dict(batch_size=4), r"another run: batch_size: 8 in the file, 4 now"),
        (dict(clip=1.0), r"another run: clip: 0\.5 in the file, 1\.0 now"),
        (dict(schedule=None), r"another run: schedule: \[0\.3333333333333333, .*\] in the file, None now"),
        (dict(optimizer="lr"), r"another run: optimizer lr: 0\.02 in the file, 0\.01 now\. Pass the same"),
        (dict(optimizer="sgd"), r"written with a AdamW optimizer, not a SGD"),
        (dict(seed=1), r"another run: seed: 0 in the file, 1 now\. Pass the same settings"),
        (dict(seed=None, generator=torch.Generator().manual_seed(0)), r"another run: seed: 0 in the file, None now"),
        (dict(data="other targets"), r"another run: the training data \(x, y\): 'x \(298, 2\) int64, y \(298,\) "
                                     r"int64, sha256 of 64 rows ([0-9a-f]{16})' in the file, 'x \(298, 2\) int64, y "
                                     r"\(298,\) int64, sha256 of 64 rows (?!\1)[0-9a-f]{16}' now\. Pass the same"),
        (dict(data="fewer rows"), r"another run: the training data \(x, y\): 'x \(298, 2\) .* in the file, "
                                  r"'x \(297, 2\) .*' now"),
        (dict(model=type("OtherMLP", (MLP,), {})()), r"training state of a Interruptible, not of a OtherMLP"),
        (dict(model="wider"), r"does not fit this Interruptible: its parameters differ \(hidden\.bias: \[16\] in the "
                              r"file, \[32\] in the model"),
    ]
    for change, message in cases:
        model = change.pop("model", Interruptible())
        if model == "wider":
            model = Interruptible()
            model.hidden = torch.nn.Linear(12, 32)
            model.out = torch.nn.Linear(32, V)
        if change.get("schedule") == "30":  # a schedule built for 20 steps is refused before the file is read
            from lmcourse.train import cosine_schedule

            change["schedule"] = cosine_schedule(30, warmup=3)
        if change.get("optimizer") == "lr":
            from lmcourse.train import AdamW

            change["optimizer"] = AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        elif change.get("optimizer") == "sgd":
            change["optimizer"] = torch.optim.SGD(model.parameters(), lr=0.1)
        data = {"other targets": (x, (y + 1) % V), "fewer rows": (x[:-1], y[:-1])}.get(change.pop("data", None),
                                                                                        (x, y))
        params = [p.detach().clone() for p in model.parameters()]
        with pytest.raises(CheckpointError, match=message):
            resumable_run(model, path, *data, **change)
        assert all(torch.equal(p, q) for p, q in zip(params, model.parameters()))  # nothing restored
    assert path.read_bytes() == before


def test_a_damaged_checkpoint_stops_train_and_names_the_previous_one(
        tmp_path: object, windows2: tuple[torch.Tensor, torch.Tensor]) -> None:
    from lmcourse.checkpoints import CheckpointError

    x, y = windows2
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        resumable_run(Interruptible(at=10), path, x, y)
    blob = path.read_bytes()
    path.write_bytes(blob[:-100])
    prev = tmp_path / "run.prev.safetensors"
    with pytest.raises(CheckpointError, match=rf"(?s){path}.*truncated.*{prev} \(step 6\) is intact"):
        resumable_run(Interruptible(), path, x, y)
    assert path.read_bytes() == blob[:-100] and prev.exists()  # nothing deleted, nothing started over
    whole = resumable_run(Interruptible(), tmp_path / "whole.safetensors", x, y)
    assert same_run(resumable_run(Interruptible(), prev, x, y), whole)  # resuming from the previous one works
