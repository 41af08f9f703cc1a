"""The checkers of chapter 06 (the LSTM from scratch) accept every right answer and name each typical mistake."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmcourse import checks
from lmcourse.checks import ch06 as ch06_checks
from lmcourse.models import lstm_cell


def stub(*args: object) -> None:
    raise NotImplementedError


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch06_lstm_step", "ch06_gru_step", "ch06_set_forget_bias"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 06.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def arrays(*args: Any) -> list[np.ndarray]:
    return [np.asarray(a.numpy() if isinstance(a, torch.Tensor) else a) for a in args]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# --- 06.1 lstm_step ------------------------------------------------------------------------------------------------


def lstm_numpy(x: Any, h: Any, c: Any, W: Any, U: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, h, c, W, U, b = arrays(x, h, c, W, U, b)
    z = x @ W + h @ U + b
    H = h.shape[1]
    i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def lstm_numpy32(*args: Any) -> list[np.ndarray]:
    """float32 throughout, np.split into the four gates, and a list rather than a tuple."""
    x, h, c, W, U, b = (a.astype(np.float32) for a in arrays(*args))
    zi, zf, zg, zo = np.split(x @ W + h @ U + b, 4, axis=1)
    c_new = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
    return [sigmoid(zo) * np.tanh(c_new), c_new]


def lstm_torch(dtype: torch.dtype) -> Any:
    def step(*args: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, h, c, W, U, b = (torch.as_tensor(a).to(dtype) for a in args)
        i, f, g, o = (x @ W + h @ U + b).chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    return step


def lstm_package(*args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The package's lstm_cell, which takes PyTorch's layout: the weights transposed."""
    x, h, c, W, U, b = (torch.as_tensor(a) for a in args)
    return lstm_cell(x, h, c, W.T, U.T, b)


def lstm_nn_cell(*args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x, h, c, W, U, b = (torch.as_tensor(a) for a in args)
    cell = nn.LSTMCell(W.shape[0], U.shape[0]).to(x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(W.T)
        cell.weight_hh.copy_(U.T)
        cell.bias_ih.copy_(b)
        cell.bias_hh.zero_()
    return cell(x, (h, c))


@pytest.mark.parametrize("right", [lstm_numpy, lstm_numpy32, lstm_torch(torch.float32), lstm_torch(torch.float64),
                                   lstm_package, lstm_nn_cell])
def test_lstm_step_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch06_lstm_step(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 06.1 (lstm_step) passed: (h_new, c_new) match torch.nn.LSTMCell")


def lstm_variant(order: str = "ifgo", acts: str = "ssts", cell: str = "right", out: str = "right",
                 swap: bool = False) -> Any:
    """A wrong lstm_step: ``order`` is the gate each column block is taken for, ``acts`` the function of each of
    i, f, g, o ("s" sigmoid, "t" tanh); ``cell`` and ``out`` the update rules; ``swap`` returns (c_new, h_new)."""

    def step(*args: Any) -> tuple[np.ndarray, np.ndarray]:
        x, h, c, W, U, b = arrays(*args)
        blocks = dict(zip(order, np.split(x @ W + h @ U + b, 4, axis=1)))
        i, f, g, o = ((np.tanh if a == "t" else sigmoid)(blocks[name]) for name, a in zip("ifgo", acts))
        c_new = {"right": f * c + i * g, "no f": i * g, "no i": f * c + g, "h": f * h + i * g}[cell]
        h_new = {"right": o * np.tanh(c_new), "no o": np.tanh(c_new), "no tanh": o * c_new,
                 "old c": o * np.tanh(c)}[out]
        return (c_new, h_new) if swap else (h_new, c_new)

    return step


def lstm_in_place(x: Any, h: Any, c: Any, W: Any, U: Any, b: Any) -> Any:
    h_new, c_new = lstm_numpy(x, h, c, W, U, b)
    c *= 1.0  # harmless for the numbers, but a write into the caller's c ...
    c[0, 0] = c_new[0, 0]  # ... and a change
    return h_new, c_new


def lstm_transposed(*args: Any) -> Any:
    x, h, c, W, U, b = arrays(*args)
    return lstm_numpy(x, h, c, W.T, U, b)  # x_t @ W.T: (B, D) @ (4H, D)


def lstm_u_transposed(*args: Any) -> Any:
    x, h, c, W, U, b = (torch.as_tensor(a) for a in args)
    return lstm_torch(x.dtype)(x, h, c, W, U.T, b)  # h @ U.T: (B, H) @ (4H, H)


def lstm_x_with_u(*args: Any) -> Any:
    x, h, c, W, U, b = arrays(*args)
    z = x @ U + h @ W + b  # x_t (B, D) @ U (H, 4H)
    return z, z


def no_h_term(*args: Any) -> Any:
    x, h, c, W, U, b = arrays(*args)
    return lstm_numpy(x, np.zeros_like(h), c, W, U, b)


def no_bias(*args: Any) -> Any:
    x, h, c, W, U, b = arrays(*args)
    return lstm_numpy(x, h, c, W, U, np.zeros_like(b))


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lstm_variant(cell="no f"), "the forget gate f scales the previous cell state c(.|\n)*forgets everything"),
        (lstm_variant(cell="no i"), r"scale the candidate by the input gate(.|\n)*not f \* c \+ g"),
        (lstm_variant(cell="h"), "not the hidden state h"),
        (lstm_variant(out="no o"), "the output gate o scales what the cell shows"),
        (lstm_variant(out="no tanh"), r"squash the cell state with tanh(.|\n)*not\s+o \* c_new"),
        (lstm_variant(out="old c"), "with the NEW cell state"),
        (lstm_variant(acts="ssss"), "the candidate g goes through tanh"),
        (lstm_variant(acts="tsts"), "The input gate i is a sigmoid"),
        (lstm_variant(acts="stts"), "The forget gate f is a sigmoid"),
        (lstm_variant(acts="sstt"), "The output gate o is a sigmoid"),
        (lstm_variant(acts="tttt"), r"Each gate \(i, f, o\) is a sigmoid"),
        (lstm_variant(order="figo"), r"PyTorch's order i, f, g, o(.|\n)*Yours read them as f, i, g, o \(i and f "
                                     r"swapped\)"),
        (lstm_variant(order="igfo"), r"Yours read them as i, g, f, o: TensorFlow 1's LSTMCell order"),
        (lstm_variant(order="iofg"), r"Yours read them as i, o, f, g: ONNX's order"),
        (lstm_variant(order="fiog"), r"Yours read them as f, i, o, g\."),
        (lstm_variant(order="oifg"), r"Yours read them as o, i, f, g\."),
        (lstm_variant(swap=True), r"yours is \(c_new, h_new\)"),
        (lambda *a: lstm_numpy(*a)[0], r"should return the pair(.|\n)*that is h_new alone"),
        (lambda *a: lstm_numpy(*a)[1], r"that is c_new alone"),
        (lambda *a: np.stack(lstm_numpy(*a)), "not the two stacked into one array"),
        (lambda *a: (*lstm_numpy(*a), 0.0), r"return exactly two things(.|\n)*a tuple of 3"),
        (lambda *a: (lstm_numpy(*a)[0], lstm_numpy(*a)[1][:, :2]), r"c_new should have shape \(B, H\) = \(6, 7\)"),
        (lambda *a: (lstm_numpy(*a)[0], "c"), r"c_new should have shape(.|\n)*this is a str"),
        (lstm_in_place, r"changed c(.|\n)*c \*= f"),
        (lstm_transposed, r"raised ValueError(.|\n)*W is \(D, 4H\) = \(5, 28\), laid out for x @ W: x_t @ W as it is"),
        (lstm_u_transposed, r"raised RuntimeError(.|\n)*U is \(H, 4H\) = \(7, 28\)"),
        (lstm_x_with_u, r"raised ValueError(.|\n)*x_t \(B, 5\) goes with W \(5, 28\), h \(B, 7\) with U"),
        (no_h_term, "add h @ U to z"),
        (no_bias, "add the bias"),
        (lambda *a: tuple(np.round(v, 2) for v in lstm_numpy(*a)), "don't round: this is h_new rounded to 2 decimals"),
        (lambda *a: tuple(v + 1e-3 for v in lstm_numpy(*a)), r"z = x_t @ W \+ h @ U \+ b; i, f, o = sigmoid"),
        (lambda *a: tuple(v * 1 for v in lstm_numpy(*a)), None),  # right: a control
    ],
)
def test_lstm_step_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch06_lstm_step(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch06_lstm_step(wrong)


def test_lstm_step_float32_tolerance_is_honest() -> None:
    """float32 arithmetic passes; an error of 3e-4 relative fails."""
    checks.ch06_lstm_step(lstm_torch(torch.float32))
    with pytest.raises(checks.CheckFailed):
        checks.ch06_lstm_step(lambda *a: tuple(v * (1 + 3e-4) for v in lstm_numpy(*a)))


def test_lstm_cases_have_distinct_sizes_and_gates_that_bend() -> None:
    """No weight is square (a transpose cannot fit by chance); some pre-activations lie beyond 5, where sigmoid and
    tanh differ clearly; the checker's numpy model is torch.nn.LSTMCell's (the reference) on every case."""
    for _, (x, h, c, W, U, b) in ch06_checks._lstm_cases():
        (B, D), H = tuple(x.shape), h.shape[1]
        assert len({B, D, H, 4 * H}) == 4
        assert tuple(W.shape) == (D, 4 * H) and tuple(U.shape) == (H, 4 * H) and tuple(b.shape) == (4 * H,)
        z = np.asarray(x, dtype=float) @ np.asarray(W, dtype=float) + np.asarray(h, dtype=float) @ np.asarray(
            U, dtype=float) + np.asarray(b, dtype=float)
        assert np.abs(z).max() > 5 and 1.5 < z.std() < 3
        for ours, torchs in zip(ch06_checks._lstm(x, h, c, W, U, b), ch06_checks._lstm_reference(x, h, c, W, U, b)):
            torch.testing.assert_close(torch.tensor(ours), torch.tensor(torchs), rtol=1e-12, atol=1e-12)


# --- 06.2 gru_step ---------------------------------------------------------------------------------------------


def gru_numpy(x: Any, h: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> np.ndarray:
    x, h, W_ih, W_hh, b_ih, b_hh = arrays(x, h, W_ih, W_hh, b_ih, b_hh)
    H = h.shape[1]
    gi, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def gru_torch(dtype: torch.dtype) -> Any:
    """Weight by weight, with chunk and F.linear (which computes x @ W.T + b)."""

    def step(*args: Any) -> torch.Tensor:
        x, h, W_ih, W_hh, b_ih, b_hh = (torch.as_tensor(a).to(dtype) for a in args)
        (W_ir, W_iz, W_in), (W_hr, W_hz, W_hn) = W_ih.chunk(3), W_hh.chunk(3)
        (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = b_ih.chunk(3), b_hh.chunk(3)
        r = torch.sigmoid(F.linear(x, W_ir, b_ir) + F.linear(h, W_hr, b_hr))
        z = torch.sigmoid(F.linear(x, W_iz, b_iz) + F.linear(h, W_hz, b_hz))
        n = torch.tanh(F.linear(x, W_in, b_in) + r * F.linear(h, W_hn, b_hn))
        return (1 - z) * n + z * h

    return step


def gru_nn_cell(*args: Any) -> torch.Tensor:
    x, h, W_ih, W_hh, b_ih, b_hh = (torch.as_tensor(a) for a in args)
    cell = nn.GRUCell(x.shape[1], h.shape[1]).to(x.dtype)
    with torch.no_grad():
        for param, value in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            param.copy_(value)
    return cell(x, h)


def gru_numpy32(*args: Any) -> np.ndarray:
    return gru_numpy(*(a.astype(np.float32) for a in arrays(*args))).tolist()  # type: ignore[return-value]


@pytest.mark.parametrize("right", [gru_numpy, gru_numpy32, gru_torch(torch.float32), gru_torch(torch.float64),
                                   gru_nn_cell])
def test_gru_step_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch06_gru_step(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 06.2 (gru_step) passed: h_new matches torch.nn.GRUCell")


def gru_variant(order: str = "rzn", acts: str = "sst", reset: str = "torch", mix: str = "torch",
                transpose_hh: bool = True, biases: str = "ih hh") -> Any:
    """A wrong gru_step: ``order`` is the gate each block of rows is taken for, ``acts`` the function of r, z, n;
    ``reset`` where r goes, ``mix`` the update, ``transpose_hh`` whether h @ W_h?.T, ``biases`` which are added."""

    def step(*args: Any) -> np.ndarray:
        x, h, W_ih, W_hh, b_ih, b_hh = arrays(*args)
        H = h.shape[1]
        b_ih, b_hh = b_ih * ("ih" in biases), b_hh * ("hh" in biases)
        rows = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(order)}

        def hh(name: str, v: np.ndarray) -> np.ndarray:
            return v @ (W_hh[rows[name]].T if transpose_hh else W_hh[rows[name]])

        fr, fz, fn = ((np.tanh if a == "t" else sigmoid) for a in acts)
        r = fr(x @ W_ih[rows["r"]].T + b_ih[rows["r"]] + hh("r", h) + b_hh[rows["r"]])
        z = fz(x @ W_ih[rows["z"]].T + b_ih[rows["z"]] + hh("z", h) + b_hh[rows["z"]])
        b_hn = b_hh[rows["n"]]
        inner = {"torch": r * (hh("n", h) + b_hn), "outside": r * hh("n", h) + b_hn, "cho": hh("n", r * h) + b_hn,
                 "none": hh("n", h) + b_hn}[reset]
        n = fn(x @ W_ih[rows["n"]].T + b_ih[rows["n"]] + inner)
        return {"torch": (1 - z) * n + z * h, "swapped": z * n + (1 - z) * h, "n": n}[mix]

    return step


def gru_untransposed(*args: Any) -> Any:
    x, h, W_ih, W_hh, b_ih, b_hh = arrays(*args)
    return gru_numpy(x, h, W_ih.T, W_hh, b_ih, b_hh)  # x @ W_ih.T.T = x @ W_ih: (B, D) @ (3H, D)


def gru_torch_untransposed(*args: Any) -> Any:
    x, h, W_ih, W_hh, b_ih, b_hh = (torch.as_tensor(a) for a in args)
    H = h.shape[1]
    gh = h @ W_hh + b_hh  # (B, H) @ (3H, H)
    return gh[:, :H]


def gru_in_place(*args: Any) -> Any:
    out = gru_numpy(*args)
    h = args[1]
    h[:] = torch.as_tensor(out) if isinstance(h, torch.Tensor) else out  # the new state written into the caller's
    return out


@pytest.mark.parametrize(
    "wrong,why",
    [
        (gru_variant(mix="swapped"), r"PyTorch keeps z of the old state: h_new = \(1 - z\) \* n \+ z \* h"),
        (gru_variant(reset="outside"), r"r multiplies W_hn h \+ b_hn, bias included, as torch does"),
        (gru_variant(reset="cho"), r"W_hn \(r \* h\)(.|\n)*Cho et al. \(2014\)'s original GRU(.|\n)*valid variant, "
                                   "but not PyTorch's"),
        (gru_variant(reset="none"), "apply the reset gate"),
        (gru_variant(order="zrn"), r"PyTorch's order r, z, n(.|\n)*Yours read them as z, r, n \(r and z swapped"),
        (gru_variant(order="nzr"), r"Yours read them as n, z, r\."),
        (gru_variant(acts="tts"), "yours are the other way round"),
        (gru_variant(acts="sss"), "the candidate n goes through tanh"),
        (gru_variant(acts="tst"), "the reset gate r is a sigmoid"),
        (gru_variant(acts="stt"), "the update gate z is a sigmoid"),
        (gru_variant(transpose_hh=False), r"h @ W_hr fits without the transpose(.|\n)*h @ W_hr.T"),
        (gru_variant(mix="n"), "Yours returns n alone"),
        (gru_variant(biases="ih"), "add both biases: PyTorch's GRU has two(.|\n)*b_hn inside"),
        (gru_variant(biases="hh"), "add both biases"),
        (gru_untransposed, r"raised ValueError(.|\n)*PyTorch's layout: W_ih @ x, i.e. x_t @ W_ih.T"),
        (gru_torch_untransposed, r"raised RuntimeError(.|\n)*PyTorch's layout: W_hh @ x, i.e. h @ W_hh.T"),
        (gru_in_place, r"changed h(.|\n)*don't modify them"),
        (lambda *a: gru_numpy(*a).T, r"shape \(B, H\) = \(6, 7\)(.|\n)*shape \(7, 6\)"),
        (lambda *a: (gru_numpy(*a), gru_numpy(*a)), r"shape \(B, H\) = \(6, 7\)(.|\n)*shape \(2, 6, 7\)"),
        (lambda *a: np.round(gru_numpy(*a), 3), "don't round: this is the new state rounded to 3 decimals"),
        (lambda *a: gru_numpy(*a) + 1e-3, r"h_new = \(1 - z\) \* n \+ z \* h\."),
        (lambda *a: gru_numpy(*a) * 1, None),  # right: a control
    ],
)
def test_gru_step_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch06_gru_step(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch06_gru_step(wrong)


def test_gru_step_float32_tolerance_is_honest() -> None:
    checks.ch06_gru_step(gru_torch(torch.float32))
    with pytest.raises(checks.CheckFailed):
        checks.ch06_gru_step(lambda *a: gru_numpy(*a) * (1 + 3e-4))


def test_gru_cases_have_distinct_sizes_and_the_numpy_model_is_torchs() -> None:
    for _, args in ch06_checks._gru_cases():
        x, h, W_ih, W_hh, b_ih, b_hh = args
        (B, D), H = tuple(x.shape), h.shape[1]
        assert len({B, D, H, 3 * H}) == 4
        assert tuple(W_ih.shape) == (3 * H, D) and tuple(W_hh.shape) == (3 * H, H)
        torch.testing.assert_close(torch.tensor(ch06_checks._gru(*args)),
                                   torch.tensor(ch06_checks._gru_reference(*args)), rtol=1e-12, atol=1e-12)


# --- 06.3 set_forget_bias ------------------------------------------------------------------------------------------


def forget_by_layer(lstm: nn.LSTM, value: float) -> None:
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = value
            getattr(lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0


def forget_by_name(lstm: nn.LSTM, value: float) -> nn.LSTM:
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[H:2 * H].fill_(value)
            elif name.startswith("bias_hh"):
                p[H:2 * H].zero_()
    return lstm


def forget_halves_through_data(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Half of the value in each vector, written through .data (no torch.no_grad() needed)."""
    for name, p in lstm.named_parameters():
        if "bias" in name:
            p.data.chunk(4)[1].fill_(value / 2)
    return lstm


def forget_keeping_b_hh(lstm: nn.LSTM, value: float) -> None:
    """bias_ih's slice set to value - bias_hh's: the sum is value, bias_hh unchanged."""
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            b_hh = getattr(lstm, f"bias_hh_l{k}")
            getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = value - b_hh[H:2 * H]


@pytest.mark.parametrize("right", [forget_by_layer, forget_by_name, forget_halves_through_data, forget_keeping_b_hh])
def test_set_forget_bias_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch06_set_forget_bias(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 06.3 (set_forget_bias) passed: every layer's forget gate")


def setting(slices: tuple[int, ...] = (1,), ih: float | None = 1.0, hh: float | None = 0.0,
            layers: int | None = None) -> Any:
    """A set_forget_bias that writes ``ih`` * value and ``hh`` * value (None: leaves it) into the given gate slices
    (0 i, 1 f, 2 g, 3 o) of the first ``layers`` layers (None: all)."""

    def set_forget_bias(lstm: nn.LSTM, value: float) -> None:
        H = lstm.hidden_size
        with torch.no_grad():
            for k in range(lstm.num_layers if layers is None else layers):
                for q in slices:
                    if ih is not None:
                        getattr(lstm, f"bias_ih_l{k}")[q * H:(q + 1) * H] = ih * value
                    if hh is not None:
                        getattr(lstm, f"bias_hh_l{k}")[q * H:(q + 1) * H] = hh * value

    return set_forget_bias


def without_no_grad(lstm: nn.LSTM, value: float) -> None:
    lstm.bias_ih_l0[lstm.hidden_size:2 * lstm.hidden_size] = value


def plain_tensor(lstm: nn.LSTM, value: float) -> None:
    b = lstm.bias_ih_l0.detach().clone()
    b[lstm.hidden_size:2 * lstm.hidden_size] = value
    lstm.bias_ih_l0 = b  # type: ignore[assignment]


def new_parameter(lstm: nn.LSTM, value: float) -> None:
    H = lstm.hidden_size
    for k in range(lstm.num_layers):
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}").detach().clone(), getattr(lstm, f"bias_hh_l{k}").detach().clone()
        b_ih[H:2 * H], b_hh[H:2 * H] = value, 0.0
        setattr(lstm, f"bias_ih_l{k}", nn.Parameter(b_ih))
        setattr(lstm, f"bias_hh_l{k}", nn.Parameter(b_hh))


def no_grad_anymore(lstm: nn.LSTM, value: float) -> None:
    forget_by_layer(lstm, value)
    lstm.bias_hh_l0.requires_grad_(False)


def new_module(lstm: nn.LSTM, value: float) -> nn.LSTM:
    fresh = nn.LSTM(lstm.input_size, lstm.hidden_size, lstm.num_layers, batch_first=lstm.batch_first)
    forget_by_layer(fresh, value)
    return fresh


def copied_module(lstm: nn.LSTM, value: float) -> nn.LSTM:
    other = copy.deepcopy(lstm)
    forget_by_layer(other, value)
    return other


def on_a_clone(lstm: nn.LSTM, value: float) -> None:
    for name, p in lstm.named_parameters():
        if "bias_ih" in name:
            p.detach().clone()[lstm.hidden_size:2 * lstm.hidden_size] = value  # changes the copy only


def weight_too(lstm: nn.LSTM, value: float) -> None:
    forget_by_layer(lstm, value)
    with torch.no_grad():
        lstm.weight_hh_l0.mul_(0.5)


def returns_the_bias(lstm: nn.LSTM, value: float) -> torch.Tensor:
    forget_by_layer(lstm, value)
    return lstm.bias_ih_l0


def zeroed_b_hh(lstm: nn.LSTM, value: float) -> None:
    forget_by_layer(lstm, value)
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()


def whole_vector(lstm: nn.LSTM, value: float) -> None:
    forget_by_layer(lstm, value)
    with torch.no_grad():
        lstm.bias_ih_l0.fill_(value)
        lstm.bias_hh_l0[lstm.hidden_size:2 * lstm.hidden_size] = 0.0


@pytest.mark.parametrize(
    "wrong,why",
    [
        (setting(slices=(0,)), r"wrong slice: you changed 0:16 \(the input gate i\)(.|\n)*H:2H = 16:32"),
        (setting(slices=(2,)), r"wrong slice: you changed 32:48 \(the candidate g\)"),
        (setting(slices=(3,)), r"wrong slice: you changed 48:64 \(the output gate o\)"),
        (setting(layers=1), r"layer 1, bias_ih_l1(.|\n)*only layer 0 changed(.|\n)*range\(lstm.num_layers\)"),
        (setting(ih=1.0, hh=1.0), r"both bias vectors are set to value(.|\n)*2 \* value"),
        (setting(ih=1.0, hh=None), r"you set bias_ih's slice to value but left bias_hh's"),
        (setting(ih=None, hh=1.0), r"you set bias_hh's slice to value but left bias_ih's"),
        (setting(slices=(1, 0)), r"also changed bias_ih_l0\[0:16\] \(the input gate i\)"),
        (whole_vector, r"not the whole bias vector \(the whole of bias_ih_l0 is 1\)"),
        (zeroed_b_hh, r"not the whole bias vector \(the whole of bias_hh_l0 is 0\)"),
        (without_no_grad, r"raised RuntimeError(.|\n)*wrap the assignment in torch.no_grad\(\)"),
        (plain_tensor, r"raised TypeError(.|\n)*don't replace a parameter by a plain tensor"),
        (new_parameter, r"replaced the parameter bias_ih_l0(.|\n)*a new Parameter(.|\n)*optimizer"),
        (no_grad_anymore, r"bias_hh_l0 no longer requires grad"),
        (new_module, r"a new LSTM, with fresh random weights: change the one given, in place"),
        (copied_module, r"you returned a copy of the LSTM"),
        (on_a_clone, r"did not change(.|\n)*A copy"),
        (weight_too, r"changed the weight weight_hh_l0"),
        (returns_the_bias, r"return it \(or nothing, None\); this is a torch.float32 tensor"),
        (forget_by_name, None),  # right: a control
    ],
)
def test_set_forget_bias_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch06_set_forget_bias(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch06_set_forget_bias(wrong)


# --- all three ---------------------------------------------------------------------------------------------------


def test_mistakes_made_in_float32_are_named_too() -> None:
    def forget_missing32(*args: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, h, c, W, U, b = (torch.as_tensor(a).float() for a in args)
        i, f, g, o = (x @ W + h @ U + b).chunk(4, dim=1)
        c_new = torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    def z_swapped32(*args: Any) -> torch.Tensor:
        x, h, W_ih, W_hh, b_ih, b_hh = (torch.as_tensor(a).float() for a in args)
        (ir, iz, i_n), (hr, hz, hn) = F.linear(x, W_ih, b_ih).chunk(3, 1), F.linear(h, W_hh, b_hh).chunk(3, 1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(i_n + r * hn)
        return z * n + (1 - z) * h

    with pytest.raises(checks.CheckFailed, match="forgets everything"):
        checks.ch06_lstm_step(forget_missing32)
    with pytest.raises(checks.CheckFailed, match="PyTorch keeps z of the old state"):
        checks.ch06_gru_step(z_swapped32)


def test_the_checkers_leave_the_inputs_of_a_right_answer_alone() -> None:
    """A right answer that checks its own inputs are never changed by the checker between its calls."""
    seen: list[list[np.ndarray]] = []

    def recording(*args: Any) -> Any:
        seen.append([np.array(a) for a in arrays(*args)])
        return lstm_numpy(*args)

    checks.ch06_lstm_step(recording)
    cases = ch06_checks._lstm_cases()
    for got, (_, args) in zip(seen, cases):
        assert all(np.array_equal(g, a) for g, a in zip(got, arrays(*args)))
