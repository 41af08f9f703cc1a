"""Tests of ``lmcourse.scaling``: the FLOP formula against PyTorch's FlopCounterMode on four TransformerLMs (exactly),
6 N D against the formula, count_flops and seconds_per_step leaving the model, its gradients and the random streams
as they were, power-law fits on exact data, the frontier on a hand-made sweep, Chinchilla's optimum against a scan,
hand values of the all-reduce, ZeRO and cost formulas, and every error; and that no module of the package is named
like a function ``import lmcourse`` exports (a ``lmcourse/scale.py`` would replace ``lmcourse.scale()``)."""

from __future__ import annotations

import importlib
import math
import pkgutil

import numpy as np
import pytest
import torch

from lmcourse.scaling import (
    CHINCHILLA,
    Cost,
    Flops,
    PowerLaw,
    allreduce_bytes,
    approx_training_flops,
    chinchilla_loss,
    chinchilla_optimal,
    compute_optimal,
    count_flops,
    fit_power_law,
    flops_per_token,
    frontier,
    matmul_peak,
    mfu,
    seconds_per_step,
    training_cost,
    training_state_bytes,
)
from lmcourse.transformer import TransformerConfig, TransformerLM

# --------------------------------------------------------------------------- the module's name


def test_no_module_shadows_a_package_level_name() -> None:
    # importing lmcourse.X sets the attribute lmcourse.X to the module, replacing a function of that name for
    # the rest of the process: lmcourse.scale() (the SCALE setting) would become "'module' object is not callable"
    import lmcourse

    modules = {m.name for m in pkgutil.iter_modules(lmcourse.__path__)}
    assert "scaling" in modules
    assert not modules & set(lmcourse.__all__), modules & set(lmcourse.__all__)
    importlib.import_module("lmcourse.scaling")
    assert lmcourse.scale() in lmcourse.SCALES


# --------------------------------------------------------------------------- FLOPs

# (config, T, B): vocabularies, depths, widths, heads, contexts below block_size, tied and untied heads, biases on
# and off, learned and sinusoidal positions, dropout on
CONFIGS = [
    (TransformerConfig(vocab_size=70, block_size=64, n_layer=3, n_head=4, n_embd=128), 64, 2),
    (TransformerConfig(vocab_size=33, block_size=32, n_layer=2, n_head=2, n_embd=48, bias=False, tie_weights=False,
                       dropout=0.1), 20, 3),
    (TransformerConfig(vocab_size=11, block_size=16, n_layer=1, n_head=3, n_embd=24, positions="sinusoidal"), 7, 5),
    (TransformerConfig(vocab_size=5, block_size=8, n_layer=4, n_head=1, n_embd=8, tie_weights=False), 1, 4),
]


def _batch(cfg: TransformerConfig, B: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, cfg.vocab_size, (B, T), generator=g),
            torch.randint(0, cfg.vocab_size, (B, T), generator=g))


def test_flops_hand_values() -> None:
    cfg = TransformerConfig(vocab_size=70, block_size=64, n_layer=3, n_head=4, n_embd=128)
    f = flops_per_token(cfg)
    assert f == Flops(dense=24 * 3 * 128 ** 2, attention=4 * 3 * 64 * 128, head=2 * 70 * 128)
    assert f.forward == 1179648 + 98304 + 17920
    assert f.training == 3 * f.forward
    assert flops_per_token(cfg, 10).attention == 4 * 3 * 10 * 128
    assert all(isinstance(v, int) for v in (f.dense, f.attention, f.head, f.forward, f.training))


@pytest.mark.parametrize(("cfg", "T", "B"), CONFIGS)
def test_formula_equals_flop_counter(cfg: TransformerConfig, T: int, B: int) -> None:
    torch.manual_seed(0)
    model = TransformerLM(cfg)
    idx, targets = _batch(cfg, B, T)
    forward, backward = count_flops(model, idx, targets)
    f = flops_per_token(cfg, T)
    assert isinstance(forward, int) and isinstance(backward, int)
    assert forward == B * T * f.forward
    assert forward + backward == B * T * f.training
    assert backward == 2 * forward


def test_six_n_d_is_three_times_the_dense_forward() -> None:
    for cfg, T, _ in CONFIGS:
        f = flops_per_token(cfg, T)
        n = 12 * cfg.n_layer * cfg.n_embd ** 2  # the blocks' weight matrices, no embeddings
        assert approx_training_flops(n, 1) == 3 * f.dense
        assert approx_training_flops(n, 1000) == 3000 * f.dense
    assert approx_training_flops(7e10, 1.4e12) == pytest.approx(5.88e23, rel=1e-12)


def test_count_flops_leaves_grads_and_random_streams_alone() -> None:
    cfg = CONFIGS[1][0]  # has dropout, which draws random numbers in train mode
    torch.manual_seed(1)
    model = TransformerLM(cfg).train()
    params = list(model.parameters())
    before = {}
    for i, p in enumerate(params):
        if i % 2:
            p.grad = torch.full_like(p, float(i))
            before[i] = p.grad
    state = torch.get_rng_state()
    count_flops(model, *_batch(cfg, 2, 5))
    assert torch.equal(torch.get_rng_state(), state)
    for i, p in enumerate(params):
        if i % 2:
            assert p.grad is before[i]
            assert torch.equal(p.grad, torch.full_like(p, float(i)))
        else:
            assert p.grad is None


def test_count_flops_restores_grads_after_an_error() -> None:
    class Broken(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return self.w.sum()  # no (logits, loss) pair

    model = Broken()
    model.w.grad = torch.full((3,), 2.0)
    grad = model.w.grad
    with pytest.raises(TypeError, match=r"\(logits, loss\)"):
        count_flops(model, torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    assert model.w.grad is grad


def test_flops_errors() -> None:
    cfg = CONFIGS[0][0]
    with pytest.raises(ValueError, match=r"block_size=64.*got 65"):
        flops_per_token(cfg, 65)
    with pytest.raises(ValueError, match="context must be >= 1, got 0"):
        flops_per_token(cfg, 0)
    with pytest.raises(TypeError, match="context must be a whole number"):
        flops_per_token(cfg, 8.0)
    with pytest.raises(TypeError, match="needs a TransformerConfig"):
        flops_per_token({"vocab_size": 70})
    model = TransformerLM(cfg)
    idx, targets = _batch(cfg, 2, 4)
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        count_flops("model", idx, targets)
    with pytest.raises(ValueError, match=r"idx must be a tensor of token ids \(B, T\), got shape \(4,\)"):
        count_flops(model, idx[0], targets)
    with pytest.raises(TypeError, match="targets must be a tensor"):
        count_flops(model, idx, targets.tolist())
    with pytest.raises(ValueError, match="no parameters"):
        count_flops(torch.nn.Identity(), idx, targets)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="does not require a gradient"):
        count_flops(model, idx, targets)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="n_params must be a finite number greater than 0"):
            approx_training_flops(bad, 1e9)
    with pytest.raises(TypeError, match="tokens must be a number, got str"):
        approx_training_flops(1e6, "1e9")
    with pytest.raises(TypeError, match="tokens must be a number, got bool"):
        approx_training_flops(1e6, True)


# --------------------------------------------------------------------------- speed


def test_matmul_peak() -> None:
    peak = matmul_peak(128, 2, device="cpu")
    assert isinstance(peak, float) and math.isfinite(peak) and peak > 0
    state = torch.get_rng_state()
    assert matmul_peak(16, 1, dtype=torch.float64, device=torch.device("cpu")) > 0
    assert torch.equal(torch.get_rng_state(), state)


def test_matmul_peak_errors() -> None:
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        matmul_peak(0)
    with pytest.raises(TypeError, match="repeats must be a whole number"):
        matmul_peak(16, 2.0)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        matmul_peak(16, dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        matmul_peak(16, dtype="float32")
    with pytest.raises(ValueError, match="is not one of"):
        matmul_peak(16, device="tpu")


def test_seconds_per_step_changes_nothing() -> None:
    cfg = TransformerConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.2)
    torch.manual_seed(2)
    model = TransformerLM(cfg).train()
    x, y = _batch(cfg, 6, 16)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    state = torch.get_rng_state()
    s = seconds_per_step(model, x, y, batch_size=4, steps=3, lr=1e-2)
    assert isinstance(s, float) and 0 < s < 60
    assert torch.equal(torch.get_rng_state(), state)
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), name
        assert p.grad is None
    assert model.training


def test_seconds_per_step_errors() -> None:
    cfg = TransformerConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=16)
    model = TransformerLM(cfg)
    x, y = _batch(cfg, 4, 8)
    with pytest.raises(ValueError, match="batch_size=5 is more than the 4 rows of x"):
        seconds_per_step(model, x, y, batch_size=5)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        seconds_per_step(model, x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"same shape.*x \(4, 8\) and y \(4, 7\)"):
        seconds_per_step(model, x, y[:, :7], batch_size=2)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        seconds_per_step(model, x, y, batch_size=2, steps=0)
    with pytest.raises(ValueError, match="lr must be a finite number greater than 0, got -0.001"):
        seconds_per_step(model, x, y, batch_size=2, lr=-1e-3)
    with pytest.raises(TypeError, match="batch_size must be a whole number"):
        seconds_per_step(model, x, y, batch_size=2.0)


def test_mfu() -> None:
    assert mfu(3e12, 2.0, 5e12) == pytest.approx(0.3, rel=1e-15)
    with pytest.raises(ValueError, match="seconds_per_step must be a finite number greater than 0, got 0"):
        mfu(1e12, 0, 1e13)
    with pytest.raises(ValueError, match="peak_flops must be a finite number greater than 0"):
        mfu(1e12, 1.0, -1.0)


# --------------------------------------------------------------------------- scaling laws


def test_fit_power_law_recovers_exact_data() -> None:
    x = np.logspace(15, 21, 9)
    for a, b in ((3.7, 0.076), (120.0, 0.5), (0.2, -0.3)):
        law = fit_power_law(x, a * x ** (-b))
        assert law.a == pytest.approx(a, rel=1e-9) and law.b == pytest.approx(b, rel=1e-9)
    law = fit_power_law([1, 2], [4.0, 1.0])  # two points: a = 4, b = 2, from lists of ints and floats
    assert (law.a, law.b) == pytest.approx((4.0, 2.0), rel=1e-12)


def test_fit_power_law_is_least_squares_in_log_space() -> None:
    rng = np.random.default_rng(0)
    x = np.logspace(0, 3, 20)
    y = 5 * x ** -0.4 * np.exp(rng.normal(0, 0.1, 20))
    law = fit_power_law(x, y)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    assert law.b == pytest.approx(-slope, rel=1e-9) and law.a == pytest.approx(math.exp(intercept), rel=1e-9)


def test_power_law_call() -> None:
    law = PowerLaw(a=2.0, b=0.5)
    assert law(4.0) == 1.0 and isinstance(law(4), float)
    np.testing.assert_allclose(law(np.array([[1.0, 4.0], [16.0, 100.0]])), [[2.0, 1.0], [0.5, 0.2]], rtol=1e-15)
    with pytest.raises(ValueError, match="x must be greater than 0"):
        law(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="x must be a finite number greater than 0, got -1"):
        law(-1)
    with pytest.raises(ValueError, match="a must be a finite number greater than 0"):
        PowerLaw(a=0.0, b=1.0)
    with pytest.raises(TypeError, match="b must be a number"):
        PowerLaw(a=1.0, b="1")


def test_fit_power_law_errors() -> None:
    with pytest.raises(ValueError, match="at least 2 points to fit a line in log-log space, got 1"):
        fit_power_law([1.0], [2.0])
    with pytest.raises(ValueError, match="x has 3 points but y has 2"):
        fit_power_law([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"every y must be greater than 0.*y\[1\] = 0.0"):
        fit_power_law([1, 2, 3], [1, 0, 2])
    with pytest.raises(ValueError, match=r"every x must be greater than 0.*x\[0\] = -1.0"):
        fit_power_law([-1, 2, 3], [1, 1, 2])
    with pytest.raises(ValueError, match="two different x"):
        fit_power_law([2, 2, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="nan or an infinity at index 1"):
        fit_power_law([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match=r"must be 1-D.*\(2, 2\)"):
        fit_power_law(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="torch tensor"):
        fit_power_law(torch.ones(3), [1, 2, 3])
    with pytest.raises(TypeError, match="must hold numbers only"):
        fit_power_law(["a", "b"], [1, 2])
    with pytest.raises(TypeError, match="list or 1-D array of numbers, got str"):
        fit_power_law("12", [1, 2])


def test_frontier() -> None:
    #        0    1    2    3    4    5    6    7
    x = [4.0, 1.0, 2.0, 8.0, 2.0, 16.0, 8.0, 32.0]
    y = [2.5, 4.0, 3.0, 2.0, 3.5, 2.2, 2.0, 1.5]
    # by x: 1 (4.0) yes; 2 (3.0) yes, 4 (same x, higher) no; 0 (2.5) yes; 3 and 6 tie at (8, 2.0): the first only;
    # 5 (2.2 > 2.0) no; 7 (1.5) yes
    got = frontier(x, y)
    assert got.dtype == np.int64
    assert got.tolist() == [1, 2, 0, 3, 7]
    assert frontier(np.array([3.0]), np.array([1.0])).tolist() == [0]
    with pytest.raises(ValueError, match="x has 2 points but y has 1"):
        frontier([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        frontier([], [])


def test_chinchilla_loss_hand_value() -> None:
    assert chinchilla_loss(1, 1) == pytest.approx(1.69 + 406.4 + 410.7, rel=1e-15)
    N, D = 7e10, 1.4e12
    assert chinchilla_loss(N, D) == pytest.approx(1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28, rel=1e-15)
    assert CHINCHILLA == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    with pytest.raises(ValueError, match="tokens must be a finite number greater than 0, got 0"):
        chinchilla_loss(1e9, 0)


@pytest.mark.parametrize("C", [1e18, 5.76e23, 1e26])
def test_chinchilla_optimal_minimises_the_loss_along_the_budget(C: float) -> None:
    N_opt, D_opt = chinchilla_optimal(C)
    assert 6 * N_opt * D_opt == pytest.approx(C, rel=1e-12)
    Ns = N_opt * np.logspace(-2, 2, 4001)  # 4 decades around it, steps of 0.1%
    losses = [chinchilla_loss(float(N), C / (6 * float(N))) for N in Ns]
    assert Ns[int(np.argmin(losses))] == pytest.approx(N_opt, rel=1.5e-3)
    best = chinchilla_loss(N_opt, D_opt)
    assert best < chinchilla_loss(N_opt * 1.01, D_opt / 1.01) and best < chinchilla_loss(N_opt / 1.01, D_opt * 1.01)


def test_chinchilla_optimal_formula() -> None:
    a, b = 0.34, 0.28
    G = (a * 406.4 / (b * 410.7)) ** (1 / (a + b))
    N, D = chinchilla_optimal(5.76e23)
    assert N == pytest.approx(G * (5.76e23 / 6) ** (b / (a + b)), rel=1e-12)
    assert D == pytest.approx(5.76e23 / (6 * N), rel=1e-12)
    # approach 3's published fit puts Chinchilla's budget at 32 billion parameters and 3 trillion tokens, not 70 and 1.4
    assert (f"{N:.3g}", f"{D:.3g}", round(D / N)) == ("3.22e+10", "2.98e+12", 93)


def test_compute_optimal_gives_chinchilla() -> None:
    N, D = compute_optimal(5.76e23)
    assert N == pytest.approx(math.sqrt(5.76e23 / 120), rel=1e-15) and D == pytest.approx(20 * N, rel=1e-15)
    assert (f"{N:.3g}", f"{D:.3g}") == ("6.93e+10", "1.39e+12")  # 69 billion parameters, 1.4 trillion tokens
    N, D = compute_optimal(6e6, tokens_per_param=10)
    assert (N, D) == pytest.approx((316.227766, 3162.27766), rel=1e-8)
    with pytest.raises(ValueError, match="compute must be a finite number greater than 0"):
        compute_optimal(-1.0)
    with pytest.raises(ValueError, match="tokens_per_param must be a finite number greater than 0"):
        compute_optimal(1e20, 0)
    with pytest.raises(ValueError, match="compute must be a finite number greater than 0, got inf"):
        chinchilla_optimal(float("inf"))


# --------------------------------------------------------------------------- many devices


def test_allreduce_bytes() -> None:
    N = 1e9
    assert allreduce_bytes(N, 1) == 0.0
    assert allreduce_bytes(N, 2) == N * 4
    assert allreduce_bytes(N, 4) == 1.5 * N * 4
    assert allreduce_bytes(N, 4, bytes_per_value=2) == 1.5 * N * 2
    assert allreduce_bytes(N, 1000) == pytest.approx(2 * 0.999 * N * 4, rel=1e-15)
    with pytest.raises(ValueError, match="world_size must be >= 1, got 0"):
        allreduce_bytes(N, 0)
    with pytest.raises(TypeError, match="world_size must be a whole number"):
        allreduce_bytes(N, 2.0)
    with pytest.raises(TypeError, match="bytes_per_value must be a whole number"):
        allreduce_bytes(N, 2, bytes_per_value=2.5)
    with pytest.raises(ValueError, match="n_params must be a finite number greater than 0"):
        allreduce_bytes(0, 2)


def test_training_state_bytes() -> None:
    N = 1e9
    assert training_state_bytes(N) == 16e9
    assert training_state_bytes(N, 8) == 16e9  # stage 0: every device holds everything
    assert training_state_bytes(N, 8, 1) == (2 + 2 + 12 / 8) * N
    assert training_state_bytes(N, 8, 2) == (2 + 14 / 8) * N
    assert training_state_bytes(N, 8, 3) == 2e9
    assert [training_state_bytes(N, 1, s) for s in range(4)] == [16e9] * 4
    with pytest.raises(ValueError, match="zero_stage must be 0, 1, 2 or 3.*got 4"):
        training_state_bytes(N, 8, 4)
    with pytest.raises(ValueError, match="zero_stage must be >= 0, got -1"):
        training_state_bytes(N, 8, -1)
    with pytest.raises(ValueError, match="world_size must be >= 1, got 0"):
        training_state_bytes(N, 0)


# --------------------------------------------------------------------------- money and energy


def test_training_cost_hand_value() -> None:
    cost = training_cost(3.6e18, peak_flops=1e15, utilisation=0.5, price_per_hour=3.0, watts=700)
    assert isinstance(cost, Cost)
    assert cost.device_hours == pytest.approx(2.0, rel=1e-15)  # 3.6e18 / 5e14 = 7200 s
    assert cost.kwh == pytest.approx(1.4, rel=1e-15)
    assert cost.dollars == pytest.approx(6.0, rel=1e-15)
    free = training_cost(3.6e18, peak_flops=1e15, utilisation=1, price_per_hour=0, watts=0)
    assert (free.device_hours, free.kwh, free.dollars) == (1.0, 0.0, 0.0)


def test_training_cost_errors() -> None:
    good = {"peak_flops": 1e15, "utilisation": 0.4, "price_per_hour": 2.0, "watts": 700.0}
    cases = [({"utilisation": 0}, ValueError, "utilisation must be a finite number greater than 0, got 0"),
             ({"utilisation": 40}, ValueError, "utilisation is a fraction of the peak in \\(0, 1\\].*got 40"),
             ({"peak_flops": 0}, ValueError, "peak_flops must be a finite number greater than 0"),
             ({"price_per_hour": -1}, ValueError, "price_per_hour must be a finite number 0 or more, got -1"),
             ({"watts": float("nan")}, ValueError, "watts must be a finite number 0 or more, got nan"),
             ({"watts": "700"}, TypeError, "watts must be a number, got str")]
    for change, error, message in cases:
        with pytest.raises(error, match=message):
            training_cost(1e20, **{**good, **change})
    with pytest.raises(ValueError, match="flops must be a finite number greater than 0, got -1"):
        training_cost(-1e20, **good)
