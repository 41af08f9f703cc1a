"""The checkers of chapter 13 (the ecosystem) accept every right answer and name each typical mistake."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from checker_cases import expect, stub
from torch import nn

from lmcourse import checks, ecosystem
from lmcourse.models import LSTM

ecosystem.offline()


@pytest.mark.parametrize("name", ["ch13_keras_model", "ch13_keras_lstm", "ch13_block_to_gpt2", "ch13_greedy"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 13.\d \(.+\): stub is still the stub"):
        getattr(checks, name)(stub)


# --- 13.1 the Keras model in PyTorch


class KerasLike(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, units: int, batch_first: bool = True) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, units, batch_first=batch_first)
        self.dense = nn.Linear(units, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(idx))
        return self.dense(out)


class OneBias(KerasLike):  # Keras's own count: one bias vector
    def __init__(self, vocab_size: int, embed_dim: int, units: int) -> None:
        super().__init__(vocab_size, embed_dim, units)
        self.lstm = nn.LSTM(embed_dim, units, batch_first=True, bias=False)
        self.b = nn.Parameter(torch.zeros(4 * units))


class CourseLSTM(KerasLike):  # the course's own LSTM layer is right too
    def __init__(self, vocab_size: int, embed_dim: int, units: int) -> None:
        super().__init__(vocab_size, embed_dim, units)
        self.lstm = LSTM(embed_dim, units)  # type: ignore[assignment]


class WithSoftmax(KerasLike):
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(idx), dim=-1)


class TimeFirst(KerasLike):
    def __init__(self, vocab_size: int, embed_dim: int, units: int) -> None:
        super().__init__(vocab_size, embed_dim, units, batch_first=False)


class BothWays(KerasLike):
    def __init__(self, vocab_size: int, embed_dim: int, units: int) -> None:
        super().__init__(vocab_size, embed_dim, units)
        self.lstm = nn.LSTM(embed_dim, units // 2, batch_first=True, bidirectional=True)


class ReturnsPair(KerasLike):  # nn.LSTM's (output, state) passed on
    def forward(self, idx: torch.Tensor) -> Any:
        return self.lstm(self.embed(idx))


class WithSigmoid(KerasLike):
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(idx))


class LogitsAndLoss(KerasLike):  # the course's contract, (logits, loss), where torch.nn returns one tensor
    def forward(self, idx: torch.Tensor) -> Any:
        return super().forward(idx), None


class Halved(KerasLike):
    def __init__(self, vocab_size: int, embed_dim: int, units: int) -> None:
        super().__init__(vocab_size, embed_dim, units)
        self.embed = nn.Embedding(vocab_size, embed_dim // 2)
        self.lstm = nn.LSTM(embed_dim // 2, units, batch_first=True)


def sequential(vocab_size: int, embed_dim: int, units: int) -> nn.Module:
    """nn.Sequential cannot drop LSTM's state: a tiny module that keeps the output does."""

    class Keep(nn.Module):
        def forward(self, pair: Any) -> torch.Tensor:
            return pair[0]

    return nn.Sequential(nn.Embedding(vocab_size, embed_dim), nn.LSTM(embed_dim, units, batch_first=True), Keep(),
                         nn.Linear(units, vocab_size))


@pytest.mark.parametrize(("answer", "why"), [
    (KerasLike, None), (OneBias, None), (CourseLSTM, None), (sequential, None),
    (WithSoftmax, r"probabilities(.|\n)*drop the softmax"),
    (TimeFirst, r"other sequences(.|\n)*batch_first=True"),
    (BothWays, r"no earlier ones(.|\n)*not bidirectional"),
    (ReturnsPair, r"returned a tuple(.|\n)*output, _ = self.lstm"),
    (WithSigmoid, r"never negative(.|\n)*activation must go"),
    (Halved, r"the number of parameters(.|\n)*embed: "),
    (LogitsAndLoss, r"return only the logits"),
    (lambda V, E, H: "model", r"should be a torch.nn.Module"),
])
def test_keras_model(answer: Any, why: str | None) -> None:
    expect(checks.ch13_keras_model, answer, why)


def test_the_pass_message_explains_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch13_keras_model(KerasLike)
    assert "31878 parameters, Keras 31622: the difference, 4H = 256" in capsys.readouterr().out
    checks.ch13_keras_model(OneBias)
    assert "31622 parameters, Keras 31622: exactly Keras's" in capsys.readouterr().out


def test_keras_param_count_is_what_keras_summary_reports() -> None:
    # model.summary() of Sequential([Embedding(70, 32), LSTM(64, return_sequences=True), Dense(70)]):
    # 2,240 + 24,832 + 4,550 = 31,622
    assert checks.ch13.keras_param_count(70, 32, 64) == 2240 + 24832 + 4550


# --- 13.2 a Keras LSTM's weights in torch.nn.LSTM


def from_keras(W: np.ndarray, U: np.ndarray, b: np.ndarray, *, transpose: bool = True, bias_hh: bool = False,
               order: tuple[int, ...] = (0, 1, 2, 3), batch_first: bool = True, dtype: Any = None) -> nn.LSTM:
    H = U.shape[0]

    def gates(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)

    W, U, b = gates(W), gates(U), gates(b)
    lstm = nn.LSTM(W.shape[0], H, batch_first=batch_first)
    if dtype is not None:
        lstm = lstm.to(dtype)
    with torch.no_grad():
        if transpose:
            lstm.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
            lstm.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
        else:
            lstm.weight_ih_l0 = nn.Parameter(torch.from_numpy(W))
            lstm.weight_hh_l0 = nn.Parameter(torch.from_numpy(U))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.copy_(torch.from_numpy(b) if bias_hh else torch.zeros(4 * H))
    return lstm


def reshape_not_transpose(W: np.ndarray, U: np.ndarray, b: np.ndarray) -> nn.LSTM:
    lstm = from_keras(W, U, b)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W.reshape(-1, W.shape[0])))
    return lstm


def reshaped(W: np.ndarray, U: np.ndarray, b: np.ndarray) -> nn.LSTM:
    """Right everywhere except a reshape in place of the transpose: found where D = H too."""
    lstm = from_keras(W, U, b)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W.reshape(-1, W.shape[0]).copy()))
    return lstm


def split_bias(W: np.ndarray, U: np.ndarray, b: np.ndarray) -> nn.LSTM:
    lstm = from_keras(W, U, b)
    with torch.no_grad():
        lstm.bias_ih_l0.copy_(torch.from_numpy(b / 2))
        lstm.bias_hh_l0.copy_(torch.from_numpy(b / 2))
    return lstm


def in_place(W: np.ndarray, U: np.ndarray, b: np.ndarray) -> nn.LSTM:
    b *= 1.0  # harmless
    W[...] = W  # harmless
    lstm = from_keras(W, U, b)
    b[0] = 0.0
    return lstm


@pytest.mark.parametrize(("answer", "why"), [
    (from_keras, None), (split_bias, None),
    (lambda W, U, b: from_keras(W, U, b, dtype=torch.float64), None),
    (lambda W, U, b: from_keras(W, U, b, transpose=False), r"kernel.T and recurrent_kernel.T"),
    (lambda W, U, b: from_keras(W, U, b, bias_hh=True), r"counted twice"),
    (lambda W, U, b: from_keras(W, U, b, order=(0, 1, 3, 2)), r"order i, f, o, c"),
    (lambda W, U, b: from_keras(W, U, b, order=(1, 0, 2, 3)), r"order f, i, c, o"),
    (lambda W, U, b: from_keras(W, U, b, batch_first=False), r"batch_first=True"),
    (reshape_not_transpose, r"differ from Keras's"),
    (in_place, r"changed an input array"),
    (lambda W, U, b: from_keras(W, U, b) if W.shape[0] != U.shape[0] else reshaped(W, U, b), r"reshape\(4H, D\)"),
    (lambda W, U, b: LSTM(W.shape[0], U.shape[0]), r"lmcourse.models.LSTM(.|\n)*torch.nn.LSTM itself"),
    (lambda W, U, b: nn.RNN(W.shape[0], U.shape[0]), r"should return a torch.nn.LSTM"),
])
def test_keras_lstm(answer: Any, why: str | None) -> None:
    expect(checks.ch13_keras_lstm, answer, why)


def test_keras_lstm_numpy_equals_torch_lstm_with_the_documented_conversion() -> None:
    rng = np.random.default_rng(0)
    D, H = 5, 3
    W, U, b = rng.normal(0, 0.5, (D, 4 * H)), rng.normal(0, 0.5, (H, 4 * H)), rng.normal(0, 0.5, 4 * H)
    x = rng.normal(0, 1, (2, 7, D))
    lstm = from_keras(W, U, b, dtype=torch.float64)
    with torch.no_grad():
        theirs = lstm(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(ecosystem.keras_lstm(x, W, U, b), theirs, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"kernel must be \(5, 12\)"):
        ecosystem.keras_lstm(x, W.T, U, b)


# --- 13.3 one block under GPT-2's names


def block_to_gpt2(block: Any, i: int, transpose: tuple[str, ...] = ("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj")
                  ) -> dict[str, torch.Tensor]:
    p = f"transformer.h.{i}."
    pairs = {"ln_1.weight": block.ln1.weight, "ln_1.bias": block.ln1.bias,
             "attn.c_attn.weight": block.attn.in_proj_weight, "attn.c_attn.bias": block.attn.in_proj_bias,
             "attn.c_proj.weight": block.attn.out_proj.weight, "attn.c_proj.bias": block.attn.out_proj.bias,
             "ln_2.weight": block.ln2.weight, "ln_2.bias": block.ln2.bias,
             "mlp.c_fc.weight": block.mlp[0].weight, "mlp.c_fc.bias": block.mlp[0].bias,
             "mlp.c_proj.weight": block.mlp[2].weight, "mlp.c_proj.bias": block.mlp[2].bias}
    return {p + k: (v.T if k.endswith("weight") and any(k.startswith(t) or t in k for t in transpose)
                    and v.ndim == 2 else v) for k, v in pairs.items()}


def copies(block: Any, i: int) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in block_to_gpt2(block, i).items()}


def swapped_ln(block: Any, i: int) -> dict[str, torch.Tensor]:
    d = block_to_gpt2(block, i)
    d[f"transformer.h.{i}.ln_1.weight"], d[f"transformer.h.{i}.ln_1.bias"] = block.ln1.bias, block.ln1.weight
    return d


def ln2_for_ln1(block: Any, i: int) -> dict[str, torch.Tensor]:
    d = block_to_gpt2(block, i)
    d[f"transformer.h.{i}.ln_1.weight"] = block.ln2.weight
    return d


def other_block(block: Any, i: int) -> dict[str, torch.Tensor]:
    d = block_to_gpt2(block, i)
    if i == 0:
        OTHER["block"] = block
    else:  # block 1 given block 0's attention: a variable left over from the previous call
        d[f"transformer.h.{i}.attn.c_attn.weight"] = OTHER["block"].attn.in_proj_weight.T
    return d


OTHER: dict[str, Any] = {}


@pytest.mark.parametrize(("answer", "why"), [
    (block_to_gpt2, None), (copies, None),
    (lambda b, i: block_to_gpt2(b, i, transpose=()), r"c_attn.weight'\](.|\n)*give its .T"),
    (lambda b, i: block_to_gpt2(b, i, transpose=("c_attn", "c_fc", "mlp.c_proj")),
     r"attn.c_proj.weight'\](.|\n)*square"),
    (lambda b, i: block_to_gpt2(b, 0), r"names are block 0's(.|\n)*block's number i"),
    (lambda b, i: {k: v for k, v in block_to_gpt2(b, i).items() if "ln_2" not in k}, r"missing \['ln_2.bias'"),
    (swapped_ln, r"ln_1.weight'\](.|\n)*yours holds block 0's ln1.bias \(a LayerNorm's weight and bias"),
    (ln2_for_ln1, r"ln_1.weight'\](.|\n)*yours holds block 0's ln2.weight"),
    (other_block, r"yours holds block 0's attn.in_proj_weight transposed: the tensor of another block"),
    (lambda b, i: list(block_to_gpt2(b, i).values()), r"should return a dict"),
])
def test_block_to_gpt2(answer: Any, why: str | None) -> None:
    expect(checks.ch13_block_to_gpt2, answer, why)


# --- 13.4 greedy decoding with generate


def greedy(hf: Any, prompt: list[int], n: int, **kw: Any) -> list[int]:
    kw = kw or {"max_new_tokens": n, "do_sample": False}
    out = hf.generate(torch.tensor([prompt]), **kw)
    return out[0, len(prompt):].tolist()


@pytest.mark.parametrize(("answer", "why"), [
    (greedy, None),
    (lambda hf, p, n: hf.generate(torch.tensor([p]), max_new_tokens=n)[:, len(p):], None),   # a (1, n) tensor
    (lambda hf, p, n: greedy(hf, p, n, max_new_tokens=n, num_beams=1, do_sample=False), None),
    (lambda hf, p, n: hf.generate(torch.tensor([p]), max_new_tokens=n)[0].tolist(), r"prompt followed by"),
    (lambda hf, p, n: greedy(hf, p, n, max_length=n), r"max_length counts the prompt"),
    (lambda hf, p, n: greedy(hf, p, n, max_new_tokens=n, do_sample=True), r"do_sample=False"),
    (lambda hf, p, n: greedy(hf, p, n, max_new_tokens=n, do_sample=False, num_beams=3), r"num_beams=1"),
    (lambda hf, p, n: greedy(hf, p, n)[1:], r"first new token is missing"),
    (lambda hf, p, n: hf.generate(torch.tensor([p]), max_new_tokens=n), r"prompt followed by"),  # (1, P + n)
    (lambda hf, p, n: [float(t) for t in greedy(hf, p, n)], r"list of ints"),
    (lambda hf, p, n: [np.int64(t) for t in greedy(hf, p, n)], None),                      # numpy integers
    (lambda hf, p, n: list(hf.generate(torch.tensor([p]), max_new_tokens=n)[0, len(p):]), None),  # 0-d tensors
])
def test_greedy(answer: Any, why: str | None) -> None:
    torch.manual_seed(0)
    expect(checks.ch13_greedy, answer, why)
