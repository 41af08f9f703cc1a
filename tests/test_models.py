"""Tests of ``lmcourse.models``: the RNN and LSTM against PyTorch's, the hand-written LSTM backward
against autograd and finite differences, and the language models' shapes, errors and sampling.

Parity is checked with weights copied from ``torch.nn`` (``from_torch``) at float32 precision,
for outputs, final states and the gradients of every parameter, the input and the initial state.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmcourse.batches import IGNORE_INDEX
from lmcourse.models import (
    LSTM,
    MLPLM,
    RNN,
    BigramLM,
    RecurrentLM,
    _LSTMSequence,
    detach_state,
    generate,
    lm_loss,
    lstm_cell,
    rnn_cell,
)

ATOL = 1e-5  # float32


def grads(loss: torch.Tensor, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, tensors))


def weighted_sum(*outs: torch.Tensor) -> torch.Tensor:
    """A scalar that gives every output element its own gradient (a plain sum would hide a transposition)."""
    g = torch.Generator().manual_seed(123)
    return sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)  # type: ignore[return-value]


def assert_close(got: torch.Tensor, expected: torch.Tensor, atol: float = ATOL, what: str = "") -> None:
    assert got.shape == expected.shape, (what, tuple(got.shape), tuple(expected.shape))
    torch.testing.assert_close(got, expected, atol=atol, rtol=1e-5, msg=lambda m: f"{what}: {m}")


# --------------------------------------------------------------------------- LSTM against torch.nn.LSTM


@pytest.mark.parametrize("impl", ["fused", "cell"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_matches_torch(impl: str, num_layers: int, with_state: bool, bias: bool) -> None:
    torch.manual_seed(0)
    B, T, n_in, H = 3, 7, 5, 6
    ref = nn.LSTM(n_in, H, num_layers, bias=bias, batch_first=True)
    ours = LSTM.from_torch(ref, impl=impl)
    x = torch.randn(B, T, n_in, requires_grad=True)
    state = (torch.randn(num_layers, B, H, requires_grad=True), torch.randn(num_layers, B, H, requires_grad=True))
    inputs = [x, *state] if with_state else [x]
    out_r, (h_r, c_r) = ref(x, state if with_state else None)
    out_o, (h_o, c_o) = ours(x, state if with_state else None)
    assert_close(out_o, out_r, what="output")
    assert_close(h_o, h_r, what="h")
    assert_close(c_o, c_r, what="c")
    names = [n for n, _ in ref.named_parameters()]
    assert names == [n for n, _ in ours.named_parameters()]
    g_r = grads(weighted_sum(out_r, h_r, c_r), inputs + list(ref.parameters()))
    g_o = grads(weighted_sum(out_o, h_o, c_o), inputs + list(ours.parameters()))
    for name, a, b in zip(["x", "h0", "c0"][:len(inputs)] + names, g_o, g_r):
        assert_close(a, b, what=f"gradient of {name}")


def test_lstm_loss_of_the_final_cell_state_alone_has_the_right_gradient() -> None:
    """Only c is used: the output gradient reaching the hand-written backward is all zeros."""
    torch.manual_seed(1)
    ref = nn.LSTM(4, 5, batch_first=True)
    ours = LSTM.from_torch(ref)
    x = torch.randn(2, 6, 4)
    g_r = grads(ref(x)[1][1].square().sum(), list(ref.parameters()))
    g_o = grads(ours(x)[1][1].square().sum(), list(ours.parameters()))
    for a, b in zip(g_o, g_r):
        assert_close(a, b)
    # plain sums: the gradients arrive as expanded (stride 0) tensors
    out_r, (_, c_r) = ref(x)
    out_o, (_, c_o) = ours(x)
    g_r = grads(out_r.sum() + c_r.sum(), list(ref.parameters()))
    g_o = grads(out_o.sum() + c_o.sum(), list(ours.parameters()))
    for a, b in zip(g_o, g_r):
        assert_close(a, b)


def test_lstm_same_seed_gives_torch_s_weights_and_shapes() -> None:
    torch.manual_seed(7)
    ref = nn.LSTM(5, 6, 2)
    torch.manual_seed(7)
    ours = LSTM(5, 6, 2)
    for (n_r, p_r), (n_o, p_o) in zip(ref.named_parameters(), ours.named_parameters(), strict=True):
        assert n_r == n_o
        assert torch.equal(p_r, p_o), n_r
    assert ours.weight_ih_l0.shape == (24, 5) and ours.weight_hh_l1.shape == (24, 6) and ours.bias_ih_l1.shape == (24,)


@pytest.mark.parametrize("batch_first", [True, False])
def test_lstm_round_trip_through_torch(batch_first: bool) -> None:
    torch.manual_seed(2)
    ours = LSTM(3, 4, 2)
    back = ours.to_torch(batch_first=batch_first)
    assert isinstance(back, nn.LSTM) and back.batch_first == batch_first
    x = torch.randn(2, 5, 3)
    out_o, (h_o, c_o) = ours(x)
    out_t, (h_t, c_t) = back(x if batch_first else x.transpose(0, 1))
    assert_close(out_o, out_t if batch_first else out_t.transpose(0, 1))
    assert_close(h_o, h_t)
    assert_close(c_o, c_t)
    again = LSTM.from_torch(back)  # a batch_first=False module is accepted: the weights are the same
    for (n, p), (_, q) in zip(ours.named_parameters(), again.named_parameters(), strict=True):
        assert torch.equal(p, q), n


@pytest.mark.parametrize("kwargs, message", [
    ({"proj_size": 2}, "proj_size=2"),
    ({"bidirectional": True}, "bidirectional"),
    ({"num_layers": 2, "dropout": 0.5}, "dropout=0.5"),
])
def test_lstm_from_torch_refuses_what_it_cannot_copy(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LSTM.from_torch(nn.LSTM(3, 4, **kwargs))
    with pytest.raises(TypeError, match="needs a torch.nn.LSTM, got GRU"):
        LSTM.from_torch(nn.GRU(3, 4))  # type: ignore[arg-type]


def test_lstm_float64_and_the_hand_written_backward_agree_with_autograd_through_lstm_cell() -> None:
    torch.manual_seed(3)
    fused = LSTM(3, 4, 2).double()
    cell = LSTM(3, 4, 2, impl="cell").double()
    cell.load_state_dict(fused.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    state = (torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True),
             torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True))
    outs_f = fused(x, state)
    outs_c = cell(x, state)
    assert outs_f[0].dtype == torch.float64
    g_f = grads(weighted_sum(outs_f[0], *outs_f[1]), [x, *state, *fused.parameters()])
    g_c = grads(weighted_sum(outs_c[0], *outs_c[1]), [x, *state, *cell.parameters()])
    for a, b in zip(g_f, g_c, strict=True):
        assert_close(a, b, atol=1e-12)


def test_lstm_sequence_function_passes_gradcheck() -> None:
    """The hand-written backward pass against finite differences, in float64, on tiny sizes."""
    g = torch.Generator().manual_seed(4)
    B, T, H = 2, 4, 3

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()

    assert torch.autograd.gradcheck(_LSTMSequence.apply, (r(B, T, 4 * H), r(B, H), r(B, H), r(4 * H, H)))


def test_lstm_cell_matches_torch_lstm_cell() -> None:
    torch.manual_seed(5)
    ref = nn.LSTMCell(3, 4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    h_r, c_r = ref(x, (h, c))
    h_o, c_o = lstm_cell(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    assert_close(h_o, h_r)
    assert_close(c_o, c_r)


def test_lstm_and_rnn_make_no_tensor_on_the_cpu_themselves() -> None:
    """On the meta device (shapes only, no data), forward and backward run: nothing assumes the CPU."""
    for layer in (LSTM(3, 4, 2), RNN(3, 4, 2)):
        layer = layer.to("meta")
        x = torch.randn(2, 5, 3, device="meta", requires_grad=True)
        out, _ = layer(x)
        out.sum().backward()
        assert out.device.type == "meta" and out.shape == (2, 5, 4)
        assert x.grad is not None and x.grad.device.type == "meta"


def test_lstm_input_errors_name_the_shapes() -> None:
    lstm = LSTM(3, 4, 2)
    with pytest.raises(ValueError, match=r"\(B, T, 3\).*got shape \(5, 3\); for one sequence use x\[None\]"):
        lstm(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"got shape \(2, 5, 4\)"):
        lstm(torch.randn(2, 5, 4))
    with pytest.raises(TypeError, match="float64"):
        lstm(torch.randn(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"h0 must have shape .* = \(2, 2, 4\), got shape \(1, 2, 4\)"):
        lstm(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="pair"):
        lstm(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="impl must be one of"):
        LSTM(3, 4, impl="cudnn")
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        LSTM(3, 0)


# --------------------------------------------------------------------------- RNN


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_rnn_matches_torch(nonlinearity: str, num_layers: int, with_state: bool) -> None:
    torch.manual_seed(6)
    B, T, n_in, H = 3, 6, 4, 5
    ref = nn.RNN(n_in, H, num_layers, nonlinearity=nonlinearity, batch_first=True)
    ours = RNN.from_torch(ref)
    assert ours.nonlinearity == nonlinearity
    x = torch.randn(B, T, n_in, requires_grad=True)
    h0 = torch.randn(num_layers, B, H, requires_grad=True)
    inputs = [x, h0] if with_state else [x]
    out_r, h_r = ref(x, h0 if with_state else None)
    out_o, h_o = ours(x, h0 if with_state else None)
    assert_close(out_o, out_r)
    assert_close(h_o, h_r)
    g_r = grads(weighted_sum(out_r, h_r), inputs + list(ref.parameters()))
    g_o = grads(weighted_sum(out_o, h_o), inputs + list(ours.parameters()))
    for a, b in zip(g_o, g_r, strict=True):
        assert_close(a, b)
    back = ours.to_torch()
    assert_close(back(x)[0], ours(x)[0])


def test_rnn_passes_gradcheck() -> None:
    torch.manual_seed(7)
    rnn = RNN(3, 4, 2).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True)
    params = list(rnn.parameters())

    def f(x: torch.Tensor, h0: torch.Tensor, *ps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.func.functional_call(rnn, dict(zip([n for n, _ in rnn.named_parameters()], ps)), (x, h0))

    assert torch.autograd.gradcheck(f, (x, h0, *params))


def test_rnn_cell_matches_torch_rnn_cell() -> None:
    torch.manual_seed(8)
    for nl in ("tanh", "relu"):
        ref = nn.RNNCell(3, 4, nonlinearity=nl)
        x, h = torch.randn(2, 3), torch.randn(2, 4)
        assert_close(rnn_cell(x, h, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh, nonlinearity=nl), ref(x, h))


def test_rnn_from_torch_refusals_and_input_errors() -> None:
    with pytest.raises(ValueError, match="bidirectional"):
        RNN.from_torch(nn.RNN(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="dropout=0.2"):
        RNN.from_torch(nn.RNN(3, 4, 2, dropout=0.2))
    with pytest.raises(ValueError, match="nonlinearity must be one of 'tanh', 'relu', got 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"state must have shape .* = \(1, 2, 4\), got shape \(2, 4\)"):
        RNN(3, 4)(torch.randn(2, 5, 3), torch.zeros(2, 4))


# --------------------------------------------------------------------------- language models

V = 11


def make(kind: str) -> nn.Module:
    if kind == "bigram":
        return BigramLM(V)
    if kind == "mlp":
        return MLPLM(V, context=3, embed_dim=4, hidden=8)
    return RecurrentLM(V, embed_dim=4, hidden=6, num_layers=2, cell=kind)


KINDS = ["bigram", "mlp", "lstm", "rnn", "torch-lstm"]


@pytest.mark.parametrize("kind", KINDS)
def test_lm_shapes_loss_and_determinism(kind: str) -> None:
    torch.manual_seed(0)
    model = make(kind)
    torch.manual_seed(0)
    twin = make(kind)
    idx = torch.randint(V, (3, 5), generator=torch.Generator().manual_seed(1))
    y = torch.randint(V, (3, 5), generator=torch.Generator().manual_seed(2))
    logits, loss = model(idx)
    assert logits.shape == (3, 5, V) and loss is None
    logits, loss = model(idx, y)
    assert loss is not None
    assert_close(loss, F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)))
    assert torch.equal(twin(idx)[0], logits)
    # padded targets count for nothing
    y_pad = y.clone()
    y_pad[:, 3:] = IGNORE_INDEX
    assert_close(model(idx, y_pad)[1], F.cross_entropy(logits[:, :3].reshape(-1, V), y[:, :3].reshape(-1)))


@pytest.mark.parametrize("kind", KINDS)
def test_lm_errors_name_the_id_and_the_shapes(kind: str) -> None:
    model = make(kind)
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}: token id 11 at idx\[1, 2\] is outside the vocabulary of size 11"):
        model(torch.tensor([[0, 1, 2], [3, 4, 11]]))
    with pytest.raises(ValueError, match=r"token id -1 at idx\[0, 0\]"):
        model(torch.tensor([[-1, 1]]))
    with pytest.raises(ValueError, match=r"shape \(batch, time\) = \(B, T\).*got shape \(4,\); for one sequence"):
        model(torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="integer token ids.*torch.float32"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"targets must have shape \(B, T\) = \(2, 3\).*got shape \(2, 4\)"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token id 11 at targets\[0, 1\]"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.tensor([[0, 11, 0], [0, 0, 0]]))


def test_bigram_starts_uniform_and_reads_one_token() -> None:
    model = BigramLM(V)
    idx = torch.tensor([[3, 4, 5]])
    assert_close(model(idx, idx)[1], torch.tensor(math.log(V)))
    with torch.no_grad():
        model.table.weight.normal_()
    assert torch.equal(model(idx)[0][0, 1], model.table.weight[4])


def test_mlp_sees_exactly_the_last_context_tokens_and_pads_the_left() -> None:
    torch.manual_seed(1)
    model = MLPLM(V, context=3, embed_dim=4, hidden=8)
    row = torch.tensor([[1, 2, 3, 4, 5, 6]])
    logits = model(row)[0]
    # position 4 (token 5) depends on tokens 3, 4, 5 only: the same as reading them alone
    assert_close(logits[0, 4], model(torch.tensor([[3, 4, 5]]))[0][0, -1])
    changed = row.clone()
    changed[0, 1] = 9  # outside the window of positions 4 and 5, inside those of 1, 2, 3
    other = model(changed)[0]
    assert torch.equal(other[0, 4:], logits[0, 4:])
    assert not torch.equal(other[0, 1], logits[0, 1])
    # position 0 reads [start, start, 1]: the same as a one-token row
    assert_close(logits[0, 0], model(torch.tensor([[1]]))[0][0, 0])


@pytest.mark.parametrize("cell", ["lstm", "rnn", "torch-lstm"])
def test_recurrent_state_carried_across_calls_equals_one_long_call(cell: str) -> None:
    torch.manual_seed(2)
    model = RecurrentLM(V, 4, 6, num_layers=2, cell=cell)
    idx = torch.randint(V, (2, 9), generator=torch.Generator().manual_seed(3))
    whole, state = model.run(idx)
    first, mid = model.run(idx[:, :4])
    second, end = model.run(idx[:, 4:], detach_state(mid))
    assert_close(torch.cat((first, second), dim=1), whole)
    for a, b in zip(end if cell != "rnn" else [end], state if cell != "rnn" else [state]):
        assert_close(a, b)
        assert a.shape == (2, 2, 6)
    with pytest.raises((TypeError, ValueError), match=r"\(2, 2, 6\)"):
        model.run(idx, torch.zeros(2, 3, 6) if cell == "rnn" else (torch.zeros(2, 3, 6), torch.zeros(2, 3, 6)))


def test_recurrent_lstm_and_torch_lstm_give_the_same_logits_with_the_same_weights() -> None:
    torch.manual_seed(3)
    ours = RecurrentLM(V, 4, 6, 2, cell="lstm")
    theirs = RecurrentLM(V, 4, 6, 2, cell="torch-lstm")
    theirs.load_state_dict(ours.state_dict())  # same parameter names: recurrent.weight_ih_l0, ...
    idx = torch.randint(V, (3, 7))
    assert_close(ours(idx)[0], theirs(idx)[0])


def test_lm_constructor_errors() -> None:
    with pytest.raises(ValueError, match="cell must be one of 'lstm', 'rnn', 'torch-lstm', got 'gru'"):
        RecurrentLM(V, 4, 6, cell="gru")
    with pytest.raises(TypeError, match=r"vocab_size must be a whole number >= 1, got 3.0"):
        BigramLM(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context must be >= 1, got 0"):
        MLPLM(V, 0, 4, 8)
    with pytest.raises(ValueError, match=r"dropout is the probability .* in \[0, 1\) .* got 1.0"):
        MLPLM(V, 3, 4, 8, dropout=1.0)


def test_mlp_dropout_acts_only_while_training_and_zero_changes_nothing() -> None:
    torch.manual_seed(0)
    plain = MLPLM(V, context=3, embed_dim=4, hidden=64)
    dropped = MLPLM(V, context=3, embed_dim=4, hidden=64, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    idx = torch.randint(0, V, (2, 5))
    before = torch.get_rng_state()
    plain.train()
    out_plain = plain(idx)[0]
    assert torch.equal(torch.get_rng_state(), before)  # dropout=0 draws nothing
    dropped.eval()
    assert torch.equal(dropped(idx)[0], out_plain)  # eval: nothing dropped
    dropped.train()
    torch.manual_seed(1)
    a = dropped(idx)[0]
    assert not torch.allclose(a, out_plain)
    torch.manual_seed(1)
    assert torch.equal(dropped(idx)[0], a)  # the draws come from the global generator


# --------------------------------------------------------------------------- generate


@pytest.mark.parametrize("kind", KINDS)
def test_generate_is_reproducible_and_leaves_the_global_random_state_alone(kind: str) -> None:
    torch.manual_seed(4)
    model = make(kind)
    before = torch.get_rng_state()
    a = generate(model, [1, 2], 20, generator=torch.Generator().manual_seed(0))
    b = generate(model, torch.tensor([1, 2]), 20, generator=torch.Generator().manual_seed(0))
    c = generate(model, [1, 2], 20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before)
    assert a == b and len(a) == 20 and all(isinstance(t, int) and 0 <= t < V for t in a)
    assert a != c
    assert model.training  # put back in its mode


@pytest.mark.parametrize("kind", ["mlp", "lstm", "rnn"])
def test_generate_draws_from_the_model_s_next_token_distribution(kind: str) -> None:
    """The carried state (recurrent) and the trimmed window (MLP) give the same draws as re-reading the
    whole sequence every time, with the same generator."""
    torch.manual_seed(5)
    model = make(kind).eval()
    got = generate(model, [3, 1, 4], 12, generator=torch.Generator().manual_seed(9), temperature=0.7)
    g, seq = torch.Generator().manual_seed(9), [3, 1, 4]
    with torch.no_grad():
        for _ in range(12):
            logits = model(torch.tensor([seq]))[0][0, -1]
            seq.append(int(torch.multinomial(torch.softmax(logits / 0.7, -1), 1, generator=g)))
    assert got == seq[3:]


def test_generate_stops_at_stop_and_checks_its_arguments() -> None:
    model = BigramLM(V)
    with torch.no_grad():
        model.table.weight.fill_(-30.0)
        model.table.weight[:, 7] = 0.0
        model.table.weight[7, :] = -30.0
        model.table.weight[7, 2] = 0.0  # 7 is (almost surely) followed by 2, anything else by 7
    out = generate(model, [0], 10, generator=torch.Generator().manual_seed(0), stop=2)
    assert out == [7, 2]
    assert generate(model, [0], 0, generator=torch.Generator().manual_seed(0)) == []
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            generate(model, [0], 5, generator=torch.Generator(), temperature=bad)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        generate(model, [0], 5, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        generate(model, [], 5, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"token id 11 at prompt_ids\[1\] is outside"):
        generate(model, [0, 11], 5, generator=torch.Generator())
    with pytest.raises(TypeError, match=r"BigramLM, MLPLM, RecurrentLM, TransformerLM\), got Linear"):
        generate(nn.Linear(2, 2), [0], 5, generator=torch.Generator())


@pytest.mark.parametrize("bad", [V, 999, -1])
def test_generate_refuses_a_stop_outside_the_vocabulary(bad: int) -> None:
    """A stop that can never be drawn used to be accepted: the sample then always ran to n tokens."""
    with pytest.raises(ValueError, match=rf"^stop={bad} is not a token id of the model's vocabulary, ids 0 \.\. "
                                         rf"{V - 1} \(vocab_size {V}\), so it could never be drawn; pass the id of "
                                         r"the token that ends a sample, e\.g\. stop=tok\.token_to_id\(EOS\), or "
                                         r"stop=None to always generate n tokens\.$"):
        generate(BigramLM(V), [0], 5, generator=torch.Generator().manual_seed(0), stop=bad)


def test_generate_refuses_a_stop_that_is_not_an_id() -> None:
    for bad in ("<eos>", 2.0, True):
        with pytest.raises(TypeError, match=r"stop must be a token id \(an int\) or None, got .*stop=tok\.token_to_id"):
            generate(BigramLM(V), [0], 5, generator=torch.Generator().manual_seed(0), stop=bad)  # type: ignore[arg-type]
    assert generate(BigramLM(V), [0], 3, generator=torch.Generator().manual_seed(0), stop=V - 1) is not None


@pytest.mark.parametrize("temperature", [1e-9, 1e-45, 1e-300, 5e-324])
@pytest.mark.parametrize("kind", ["bigram", "mlp", "lstm"])
def test_a_tiny_temperature_samples_greedily(kind: str, temperature: float) -> None:
    """logits / 1e-45 overflowed to inf and softmax gave nan; shifted by the max first, it is the argmax."""
    torch.manual_seed(6)
    model = make(kind).eval()
    if kind == "bigram":
        with torch.no_grad():
            model.table.weight.normal_(0.0, 0.01)  # close logits: only a tiny temperature makes the choice certain
    got = generate(model, [3, 1], 15, generator=torch.Generator().manual_seed(0), temperature=temperature)
    seq = [3, 1]
    with torch.no_grad():
        for _ in range(15):
            seq.append(int(model(torch.tensor([seq]))[0][0, -1].argmax()))
    assert got == seq[2:]


def test_generate_at_temperature_one_draws_what_softmax_of_the_logits_draws() -> None:
    """Subtracting the max changes no draw at temperature 1: the stored samples of the chapters stay the same."""
    torch.manual_seed(7)
    model = make("mlp").eval()
    got = generate(model, [3, 1, 4], 200, generator=torch.Generator().manual_seed(2))
    g, seq = torch.Generator().manual_seed(2), [3, 1, 4]
    with torch.no_grad():
        for _ in range(200):
            logits = model(torch.tensor([seq]))[0][0, -1]
            seq.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g)))
    assert got == seq[3:]


def test_lm_loss_is_the_mean_cross_entropy() -> None:
    logits = torch.randn(2, 3, V)
    y = torch.tensor([[1, 2, IGNORE_INDEX], [4, IGNORE_INDEX, 6]])
    expected = -torch.stack([logits[b, t].log_softmax(-1)[y[b, t]] for b, t in [(0, 0), (0, 1), (1, 0), (1, 2)]]).mean()
    assert_close(lm_loss(logits, y), expected)


def test_lstm_runs_under_autocast_and_its_gradients_reach_every_weight() -> None:
    torch.manual_seed(9)
    ours = LSTM(4, 5, 2)
    x = torch.randn(2, 3, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (h, c) = ours(x)
    exact, _ = ours(x)
    assert_close(out.float(), exact, atol=0.05)  # bfloat16 keeps about 3 significant digits
    out.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in ours.parameters())


# --------------------------------------------------------------------------- generate's draws, pinned

PIN_V = 13

# Each combination of generate's arguments the chapters used before top_p, repetition_penalty and greedy
# existed; PINNED holds what generate returned for them then (computed before sampling moved to
# lmcourse.sampling), so the stored samples of chapters 04-08 cannot change unnoticed.
PIN_COMBOS: list[dict] = [
    {},
    {"temperature": 0.7},
    {"temperature": 1.6, "top_k": 4},
    {"top_k": 1},
    {"temperature": 1e-9},
    {"top_k": 5, "stop": 3},
    {"temperature": 0.8, "cache": False},
    {"temperature": 1.3, "top_k": 6, "cache": False},
]

PINNED = {
    ('bigram', 0): [12, 1, 2, 7, 8, 10, 7, 9, 9, 1, 12, 12, 4, 3, 9, 12, 12, 12, 0, 6, 7, 7, 8, 10],
    ('bigram', 1): [7, 4, 2, 4, 6, 2, 9, 7, 12, 12, 9, 7, 0, 10, 10, 10, 7, 0, 6, 2, 1, 0, 10, 3],
    ('bigram', 2): [10, 10, 7, 8, 1, 2, 1, 12, 9, 8, 10, 10, 12, 12, 1, 11, 10, 10, 3, 4, 3, 1, 12, 1],
    ('bigram', 3): [4, 3, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
    ('bigram', 4): [4, 3, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
    ('bigram', 5): [4, 6, 2, 1, 2, 11, 9, 8, 0, 1, 2, 11, 10, 10, 10, 10, 7, 4, 2, 1, 7, 0, 3],
    ('bigram', 6): [8, 10, 0, 10, 3, 10, 3, 1, 10, 10, 10, 7, 8, 10, 10, 3, 11, 10, 3, 10, 3, 10, 10, 3],
    ('bigram', 7): [4, 2, 4, 2, 4, 12, 12, 12, 7, 0, 10, 3, 4, 0, 0, 10, 9, 9, 1, 10, 10, 5, 7, 1],
    ('mlp', 0): [12, 7, 2, 7, 5, 1, 5, 9, 9, 3, 12, 5, 4, 9, 0, 12, 10, 0, 0, 5, 7, 7, 4, 10],
    ('mlp', 1): [7, 2, 2, 5, 5, 11, 9, 7, 12, 9, 9, 7, 11, 4, 6, 5, 2, 0, 6, 2, 1, 0, 10, 4],
    ('mlp', 2): [7, 4, 1, 1, 1, 2, 7, 7, 7, 12, 5, 2, 9, 5, 1, 11, 1, 1, 7, 4, 11, 1, 1, 1],
    ('mlp', 3): [1, 2, 1, 5, 12, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ('mlp', 4): [1, 2, 1, 5, 12, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ('mlp', 5): [12, 2, 0, 1, 5, 12, 9, 5, 4, 8, 6, 2, 4, 5, 2, 9, 7, 4, 5, 1, 4, 11, 2, 11],
    ('mlp', 6): [8, 2, 0, 8, 4, 12, 5, 1, 10, 12, 9, 0, 3, 1, 9, 12, 11, 1, 6, 2, 1, 11, 10, 11],
    ('mlp', 7): [5, 11, 4, 5, 5, 12, 6, 0, 7, 12, 7, 1, 0, 5, 2, 9, 7, 4, 1, 5, 7, 9, 7, 11],
    ('lstm', 0): [12, 3, 2, 5, 5, 1, 5, 9, 9, 3, 5, 5, 4, 5, 0, 12, 10, 0, 0, 5, 7, 7, 8, 10],
    ('lstm', 1): [5, 2, 2, 4, 5, 3, 9, 7, 12, 9, 9, 7, 0, 12, 6, 5, 2, 0, 6, 2, 1, 0, 10, 6],
    ('lstm', 2): [5, 5, 9, 9, 1, 6, 6, 5, 9, 1, 5, 10, 6, 5, 1, 5, 1, 1, 0, 5, 5, 1, 9, 10],
    ('lstm', 3): [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ('lstm', 4): [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ('lstm', 5): [10, 6, 0, 1, 5, 6, 9, 5, 1, 1, 6, 6, 0, 5, 6, 9, 1, 10, 5, 10, 5, 5, 5, 10],
    ('lstm', 6): [8, 9, 0, 8, 0, 5, 5, 1, 10, 8, 9, 0, 3, 1, 9, 3, 11, 6, 6, 2, 6, 11, 10, 3],
    ('lstm', 7): [5, 9, 10, 5, 5, 6, 6, 0, 10, 9, 5, 1, 0, 0, 0, 9, 9, 9, 1, 5, 10, 6, 10, 1],
    ('rnn', 0): [12, 3, 2, 5, 12, 11, 5, 9, 9, 3, 12, 5, 4, 5, 9, 12, 10, 0, 0, 5, 7, 7, 8, 10],
    ('rnn', 1): [6, 2, 2, 4, 5, 11, 9, 7, 12, 9, 9, 7, 10, 12, 6, 5, 2, 0, 6, 2, 4, 0, 10, 6],
    ('rnn', 2): [3, 6, 9, 12, 3, 9, 6, 12, 9, 12, 11, 6, 6, 10, 9, 11, 3, 3, 12, 2, 3, 6, 9, 3],
    ('rnn', 3): [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6],
    ('rnn', 4): [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6],
    ('rnn', 5): [12, 6, 10, 12, 2, 3],
    ('rnn', 6): [8, 2, 0, 8, 0, 12, 9, 1, 10, 8, 9, 0, 3, 9, 9, 3, 11, 6, 6, 2, 6, 11, 10, 11],
    ('rnn', 7): [3, 11, 4, 2, 5, 12, 6, 3, 11, 12, 5, 11, 8, 9, 2, 9, 9, 9, 12, 5, 10, 6, 6, 11],
    ('torch-lstm', 0): [12, 3, 2, 5, 5, 1, 5, 9, 9, 3, 5, 5, 4, 5, 0, 12, 10, 0, 0, 5, 7, 7, 8, 10],
    ('torch-lstm', 1): [5, 2, 2, 4, 5, 3, 9, 7, 12, 9, 9, 7, 0, 12, 6, 5, 2, 0, 6, 2, 1, 0, 10, 6],
    ('torch-lstm', 2): [5, 5, 9, 9, 1, 6, 6, 5, 9, 1, 5, 10, 6, 5, 1, 5, 1, 1, 0, 5, 5, 1, 9, 10],
    ('torch-lstm', 3): [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ('torch-lstm', 4): [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ('torch-lstm', 5): [10, 6, 0, 1, 5, 6, 9, 5, 1, 1, 6, 6, 0, 5, 6, 9, 1, 10, 5, 10, 5, 5, 5, 10],
    ('torch-lstm', 6): [8, 9, 0, 8, 0, 5, 5, 1, 10, 8, 9, 0, 3, 1, 9, 3, 11, 6, 6, 2, 6, 11, 10, 3],
    ('torch-lstm', 7): [5, 9, 10, 5, 5, 6, 6, 0, 10, 9, 5, 1, 0, 0, 0, 9, 9, 9, 1, 5, 10, 6, 10, 1],
    ('transformer', 0): [12, 7, 2, 7, 8, 1, 5, 9, 9, 3, 12, 5, 4, 5, 0, 12, 10, 0, 0, 11, 7, 7, 8, 10],
    ('transformer', 1): [5, 2, 2, 4, 5, 11, 9, 7, 12, 9, 9, 7, 11, 12, 6, 5, 2, 0, 6, 2, 1, 0, 10, 6],
    ('transformer', 2): [5, 5, 0, 0, 10, 3, 3, 2, 11, 11, 11, 2, 3, 3, 1, 11, 1, 3, 3, 2, 3, 1, 3, 1],
    ('transformer', 3): [12] * 24,
    ('transformer', 4): [12] * 24,
    ('transformer', 5): [12, 12, 10, 10, 5, 11, 2, 4, 3],
    ('transformer', 6): [8, 2, 0, 8, 0, 12, 9, 1, 10, 8, 9, 0, 3, 1, 9, 4, 11, 2, 6, 2, 6, 11, 10, 3],
    ('transformer', 7): [8, 11, 1, 4, 5, 4, 5, 11, 7, 4, 7, 11, 2, 2, 2, 1, 3, 4, 1, 7, 7, 4, 7, 11],
}


def make_pinned(kind: str) -> nn.Module:
    torch.manual_seed(2024)
    if kind == "bigram":
        model = BigramLM(PIN_V)
        with torch.no_grad():
            model.table.weight.normal_(0.0, 1.5)
        return model
    if kind == "mlp":
        return MLPLM(PIN_V, context=3, embed_dim=4, hidden=8)
    if kind == "transformer":
        from lmcourse.transformer import TransformerConfig, TransformerLM

        return TransformerLM(TransformerConfig(vocab_size=PIN_V, block_size=8, n_layer=1, n_head=2, n_embd=8))
    return RecurrentLM(PIN_V, embed_dim=4, hidden=6, num_layers=2, cell=kind)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "lstm", "rnn", "torch-lstm", "transformer"])
def test_generate_gives_the_tokens_it_always_gave(kind: str) -> None:
    model = make_pinned(kind)
    for i, kwargs in enumerate(PIN_COMBOS):
        got = generate(model, [1, 2, 5], 24, generator=torch.Generator().manual_seed(10 + i), **kwargs)
        assert got == PINNED[(kind, i)], (kind, kwargs)
