"""The checkers of chapter 08 (the Transformer) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.checks import ch08 as ch08_checks
from lmcourse.models import top_k_logits
from lmcourse.transformer import TransformerConfig, TransformerLM, sinusoidal_positions


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch08_param_count", "ch08_sinusoidal", "ch08_block_forward", "ch08_top_k"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 08.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


# --- 08.1 param_count ---------------------------------------------------------------------------------------------


def count_by_parts(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    E = n_embd
    attention = 4 * E * E + 4 * E  # q, k, v and the output projection, with biases
    mlp = E * 4 * E + 4 * E + 4 * E * E + E
    norms = 2 * (2 * E)
    return vocab_size * E + block_size * E + n_layer * (attention + mlp + norms) + 2 * E


def count_by_building(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """The real model's count: right, if slow for GPT-2's size (so only the small ones are built here)."""
    if n_embd > 200:
        return TransformerConfig(vocab_size, block_size, n_layer, 4, n_embd).n_params()
    model = TransformerLM(TransformerConfig(vocab_size, block_size, n_layer, 4, n_embd))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("right", [
    count_by_parts, count_by_building,
    lambda V, T, L, E: V * E + T * E + L * (12 * E ** 2 + 13 * E) + 2 * E,
    lambda V, T, L, E: np.int64(V * E + T * E + L * (12 * E ** 2 + 13 * E) + 2 * E),
    lambda V, T, L, E: torch.tensor(V * E + T * E + L * (12 * E ** 2 + 13 * E) + 2 * E),
])
def test_param_count_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch08_param_count(right)
    assert out_of(capsys).startswith("✓ exercise 08.1 (n_params) passed: V E + block_size E + n_layer")


def counting(biases: int = 9, norm: int = 2, blocks_norms: int = 2, final: bool = True, tied: bool = True,
             positions: bool = True, attention: int = 4, hidden: int = 4) -> Any:
    """A wrong n_params as a learner writes it: ``biases`` per block (times E), each LayerNorm ``norm`` E,
    ``blocks_norms`` per block, ``final`` LayerNorm, ``tied`` output, ``positions``, ``attention`` E x E matrices,
    an MLP of ``hidden`` E."""

    def n_params(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
        E = n_embd
        block = attention * E * E + 2 * hidden * E * E + biases * E + blocks_norms * norm * E
        return (vocab_size * E + (block_size * E if positions else 0) + n_layer * block + (norm * E if final else 0)
                + (0 if tied else vocab_size * E))

    return n_params


@pytest.mark.parametrize(
    "wrong,why",
    [
        (counting(biases=0), r"count the biases of the linear layers too"),
        (counting(biases=0, norm=1), r"count the biases: 9E per block(.|\n)*a\s+LayerNorm has a bias"),
        (counting(blocks_norms=0, final=False), r"count the LayerNorms"),
        (counting(norm=1), r"a LayerNorm has two vectors of E"),
        (counting(tied=False), r"tied to the token embedding(.|\n)*Leave out the extra V \* E"),
        (counting(final=False), r"count the final LayerNorm too"),
        (counting(positions=False), r"count the learned position embeddings too"),
        (counting(hidden=1, biases=6), r"the MLP's hidden layer is 4E wide"),
        (counting(attention=1, biases=6), r"attention has four E x E matrices"),
        (counting(attention=3, biases=8), r"AND the output\s+projection"),
        (counting(tied=False, final=False), r"two things: the output layer is tied"),
        (lambda V, T, L, E: float(count_by_parts(V, T, L, E)), r"should be an int(.|\n)*a float"),
        (lambda V, T, L, E: count_by_parts(V, T, L, E) + 1, r"off by \+1\. Count the parts one by one"),
        (lambda V, T, L, E: str(count_by_parts(V, T, L, E)), r"should be one number"),
        (count_by_parts, None),  # right: a control
    ],
)
def test_param_count_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch08_param_count, wrong, why)


def test_param_count_checks_a_real_model_and_gpt2_small() -> None:
    V, T, L, E, H = ch08_checks._param_cases()[0]
    real = sum(p.numel() for p in TransformerLM(TransformerConfig(V, T, L, H, E)).parameters())
    assert real == count_by_parts(V, T, L, E) == ch08_checks._count(V, T, L, E)
    assert count_by_parts(50257, 1024, 12, 768) == 124_439_808
    for case in ch08_checks._param_cases():
        assert TransformerConfig(*case[:3], case[4], case[3]).n_params() == ch08_checks._count(*case[:4])
    with pytest.raises(checks.CheckFailed, match=r"n_embd=32\) \(a real TransformerLM of these sizes, with 4 heads, "
                                                 r"has 29,600 parameters\)\n  expected: 29600\n  got:      29601"):
        checks.ch08_param_count(lambda *a: count_by_parts(*a) + 1)


# --- 08.2 sinusoidal ----------------------------------------------------------------------------------------------


def pe_torch(T: int, E: int) -> torch.Tensor:
    pos = torch.arange(T).unsqueeze(1)
    div = torch.exp(torch.arange(0, E, 2) * (-math.log(10000.0) / E))  # the Annotated Transformer's way
    pe = torch.zeros(T, E)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def pe_numpy_loops(T: int, E: int) -> list[list[float]]:
    table = []
    for p in range(T):
        row = []
        for i in range(E // 2):
            angle = p / 10000 ** (2 * i / E)
            row += [math.sin(angle), math.cos(angle)]
        table.append(row)
    return table


def pe_concatenated(T: int, E: int) -> np.ndarray:
    p = np.arange(T)[:, None]
    w = 1.0 / 10000 ** (np.arange(E // 2) * 2 / E)
    return np.concatenate([np.sin(p * w), np.cos(p * w)], axis=1)


@pytest.mark.parametrize("right", [pe_torch, pe_numpy_loops, sinusoidal_positions,
                                   lambda T, E: sinusoidal_positions(T, E).double().numpy()])
def test_sinusoidal_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch08_sinusoidal(right)
    shown = out_of(capsys)
    assert shown.startswith("✓ exercise 08.2 (sinusoidal) passed: PE[p, 2i] = sin(p / 10000^(2i/E))")
    assert "[sin | cos]" not in shown


def test_sinusoidal_accepts_the_concatenated_layout_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch08_sinusoidal(pe_concatenated)
    shown = out_of(capsys)
    assert shown.startswith("✓ exercise 08.2 (sinusoidal) passed")
    assert "(yours is [sin | cos], the sines in the first E/2 columns: a right variant" in shown
    assert "interleaves" in shown


def pe_wrong(swap: bool = False, exponent: str = "2i/E", start: int = 0, base: float = 10000.0,
             concatenated: bool = False) -> Any:
    """A wrong sinusoidal as a learner writes it, in torch."""

    def sinusoidal(T: int, E: int) -> torch.Tensor:
        p = torch.arange(start, start + T, dtype=torch.float64)[:, None]
        if exponent == "own":  # each column j at its own exponent j/E
            j = torch.arange(E, dtype=torch.float64)
            angles = p / base ** (j / E)
            pe = torch.where(j % 2 == 0, torch.sin(angles), torch.cos(angles))
            return pe
        two_i = torch.arange(0, E, 2, dtype=torch.float64) if exponent == "2i/E" else torch.arange(E // 2)
        angles = p / base ** (two_i / E)
        first, second = (torch.cos(angles), torch.sin(angles)) if swap else (torch.sin(angles), torch.cos(angles))
        if concatenated:
            return torch.cat([first, second], dim=1)
        pe = torch.empty(T, E, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = first, second
        return pe

    return sinusoidal


@pytest.mark.parametrize(
    "wrong,why",
    [
        (pe_wrong(swap=True), r"position 0, columns 0:4(.|\n)*expected: \[0.0, 1.0, 0.0, 1.0\](.|\n)*sin and cos are "
                              r"swapped"),
        (pe_wrong(swap=True, concatenated=True), r"sin and cos are swapped"),
        (pe_wrong(exponent="i/E"), r"the exponent is 2i/E, with i the index of the PAIR"),
        (pe_wrong(exponent="i/E", concatenated=True), r"the exponent is 2i/E"),
        (pe_wrong(exponent="own"), r"both columns of a pair share one frequency"),
        (pe_wrong(start=1), r"positions count from 0"),
        (pe_wrong(base=1000.0), r"the base is 10000"),
        (pe_wrong(base=1000.0, concatenated=True), r"the base is 10000"),
        (lambda T, E: pe_torch(T, E).T, r"wrong shape(.|\n)*\(24, 16\) = \(T, E\)(.|\n)*\(16, 24\)(.|\n)*Yours is "
                                        r"\(E, T\)"),
        (lambda T, E: pe_torch(T, E)[None], r"without a batch dimension"),
        (lambda T, E: pe_torch(T, E) + 1e-3, r"PE\[p, 2i\] = sin\(p / 10000\^\(2i/E\)\)"),
        (lambda T, E: "table", r"should return an array of numbers"),
        (pe_torch, None),  # right: a control
    ],
)
def test_sinusoidal_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch08_sinusoidal, wrong, why)


# --- 08.3 block_forward -------------------------------------------------------------------------------------------


def block_forward(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.drop(block.attn(block.ln1(x), is_causal=True)[0])
    return x + block.drop(block.mlp(block.ln2(x)))


def block_forward_by_hand(block: Any, x: torch.Tensor) -> torch.Tensor:
    """Every layer by its parameters, with F.layer_norm, F.linear and F.gelu, and the package's causal attention."""
    from lmcourse.attention import scaled_dot_product_attention

    E = x.shape[-1]
    H = block.attn.num_heads
    h = F.layer_norm(x, (E,), block.ln1.weight, block.ln1.bias)
    q, k, v = F.linear(h, block.attn.in_proj_weight, block.attn.in_proj_bias).chunk(3, dim=-1)
    B, T, _ = x.shape
    q, k, v = (t.view(B, T, H, E // H).transpose(1, 2) for t in (q, k, v))
    heads = scaled_dot_product_attention(q, k, v, is_causal=True)[0].transpose(1, 2).reshape(B, T, E)
    x = x + block.attn.out_proj(heads)
    h = F.layer_norm(x, (E,), block.ln2.weight, block.ln2.bias)
    return x + F.linear(F.gelu(F.linear(h, block.mlp[0].weight, block.mlp[0].bias)), block.mlp[2].weight,
                        block.mlp[2].bias)


@pytest.mark.parametrize("right", [
    block_forward, block_forward_by_hand,
    lambda block, x: block_forward(block, x).detach().numpy(),
])
def test_block_forward_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch08_block_forward(right)
    assert out_of(capsys).startswith("✓ exercise 08.3 (block_forward) passed: x + attn(ln1(x), causal)")


def post_norm(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = block.ln1(x + block.attn(x, is_causal=True)[0])
    return block.ln2(x + block.mlp(x))


def no_attention_residual(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln2(x))


def no_mlp_residual(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return block.mlp(block.ln2(x))


def not_causal(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x))[0]
    return x + block.mlp(block.ln2(x))


def ln1_twice(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln1(x))


def parallel(block: Any, x: torch.Tensor) -> torch.Tensor:
    return x + block.attn(block.ln1(x), is_causal=True)[0] + block.mlp(block.ln2(x))


def no_norms(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(x, is_causal=True)[0]
    return x + block.mlp(x)


def mlp_reads_input(block: Any, x: torch.Tensor) -> torch.Tensor:
    h = x + block.attn(block.ln1(x), is_causal=True)[0]
    return h + block.mlp(block.ln2(x))


def tanh_gelu(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp[2](F.gelu(block.mlp[0](block.ln2(x)), approximate="tanh"))


def weights_not_unpacked(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x), is_causal=True)
    return x + block.mlp(block.ln2(x))


def is_causal_positional(block: Any, x: torch.Tensor) -> torch.Tensor:
    x = x + block.attn(block.ln1(x), True)[0]
    return x + block.mlp(block.ln2(x))


def sees_one_ahead(block: Any, x: torch.Tensor) -> torch.Tensor:
    """Causal but shifted: position t also reads t + 1 (a leak no named mistake explains)."""
    from lmcourse.attention import scaled_dot_product_attention

    E, H = x.shape[-1], block.attn.num_heads
    B, T, _ = x.shape
    q, k, v = F.linear(block.ln1(x), block.attn.in_proj_weight, block.attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.view(B, T, H, E // H).transpose(1, 2) for t in (q, k, v))
    mask = torch.ones(T, T, dtype=torch.bool).tril(1)
    heads = scaled_dot_product_attention(q, k, v, mask=mask)[0].transpose(1, 2).reshape(B, T, E)
    x = x + block.attn.out_proj(heads)
    return x + block.mlp(block.ln2(x))


def in_place(block: Any, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x += block.attn(block.ln1(x), is_causal=True)[0]
        x += block.mlp(block.ln2(x))
    return x


def trains(block: Any, x: torch.Tensor) -> torch.Tensor:
    block.train()  # dropout on: random outputs, and the caller's block left in training mode
    return block_forward(block, x)


def changes_a_weight(block: Any, x: torch.Tensor) -> torch.Tensor:
    out = block_forward(block, x)
    with torch.no_grad():
        block.ln1.weight.fill_(1.0)
    return out


@pytest.mark.parametrize(
    "wrong,why",
    [
        (post_norm, r"the post-norm block of the original Transformer"),
        (no_attention_residual, r"add the attention's output to x \(the residual connection\)"),
        (no_mlp_residual, r"add the MLP's output to x \(the residual connection\)"),
        (not_causal, r"the attention must be causal, block.attn\(h, is_causal=True\)"),
        (ln1_twice, r"each sublayer has its own LayerNorm"),
        (parallel, r"Yours feeds the MLP the block's input x(.|\n)*GPT-J's\s+parallel block"),
        (no_norms, r"yours skips ln1 and ln2"),
        (mlp_reads_input, r"Yours feeds the MLP the block's input x"),
        (tanh_gelu, r"not the tanh\s+approximation"),
        (weights_not_unpacked, r"raised TypeError(.|\n)*returns a pair \(out, weights\)"),
        (is_causal_positional, r"raised TypeError(.|\n)*is_causal is a keyword argument"),
        (sees_one_ahead, r"position 0(.|\n)*the future leaks: changing x at the positions after 0 changes your output "
                         r"at position 0"),
        (in_place, r"changed x(.|\n)*don't modify them"),
        (trains, r"switched the block to training mode"),
        (changes_a_weight, r"changed the block's parameters \(ln1.weight\)"),
        (lambda block, x: block_forward(block, x)[:, -1], r"wrong shape"),
        (lambda block, x: block_forward(block, x) + 1e-3, r"pre-norm, with the block's own parts"),
        (block_forward, None),  # right: a control
    ],
)
def test_block_forward_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch08_block_forward, wrong, why)


def test_block_cases_are_in_eval_mode_with_parameters_off_their_initial_values() -> None:
    """A LayerNorm that is the identity, or zero biases, would let ln1-for-ln2 (or a forgotten bias) pass."""
    for _, (block, x) in ch08_checks._block_cases():
        assert not block.training and block.drop.p > 0
        assert not torch.allclose(block.ln1.weight, torch.ones_like(block.ln1.weight))
        assert not torch.allclose(block.ln1.weight, block.ln2.weight)
        assert block.attn.in_proj_bias.abs().min() > 0
        assert x.dtype == block.ln1.weight.dtype


# --- 08.4 top_k ---------------------------------------------------------------------------------------------------


def top_k_masked_fill(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_k_scatter(logits: torch.Tensor, k: int) -> torch.Tensor:
    values, indices = torch.topk(logits, k, dim=-1)
    return torch.full_like(logits, float("-inf")).scatter(-1, indices, values)


def top_k_numpy(logits: Any, k: int) -> np.ndarray:
    a = np.array(logits)
    kth = np.sort(a, axis=-1)[..., -k][..., None]
    a[a < kth] = -np.inf  # on its own copy
    return a


def top_k_clone_then_in_place(logits: torch.Tensor, k: int) -> torch.Tensor:
    out = logits.clone()
    out[out < torch.topk(out, k).values[..., [-1]]] = -math.inf
    return out


@pytest.mark.parametrize("right", [top_k_masked_fill, top_k_scatter, top_k_numpy, top_k_clone_then_in_place,
                                   top_k_logits, lambda logits, k: top_k_masked_fill(logits, k).tolist()])
def test_top_k_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch08_top_k(right)
    assert out_of(capsys).startswith("✓ exercise 08.4 (top_k) passed: the k largest logits of each row kept")


def top_k_in_place(logits: torch.Tensor, k: int) -> torch.Tensor:
    logits[logits < torch.topk(logits, k).values[..., -1:]] = float("-inf")
    return logits


def keep(k_shift: int = 0, fill: float = float("-inf"), smallest: bool = False) -> Any:
    """A wrong top_k as a learner writes it: keeps k + ``k_shift``, fills the others with ``fill``, or keeps the
    smallest."""

    def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
        kk = k + k_shift
        if smallest:
            kth = torch.topk(logits, k, largest=False).values[..., -1:]
            return logits.masked_fill(logits > kth, fill)
        if kk == 0:
            return torch.full_like(logits, fill)
        kth = torch.sort(logits, descending=True).values[..., kk - 1:kk]
        return torch.where(logits >= kth, logits, torch.full_like(logits, fill))

    return top_k


def one_threshold(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits.flatten(), k).values[-1]
    return logits.masked_fill(logits < kth, float("-inf"))


def last_row_threshold(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, k).values[-1]  # 1-D thinking: on a 2-D batch, the last row's k values
    return logits.masked_fill(logits < kth, float("-inf"))


@pytest.mark.parametrize(
    "wrong,why",
    [
        (keep(fill=0.0), r"the row(.|\n)*set the others to -inf \(float\('-inf'\)\), not 0"),
        (keep(smallest=True), r"keep the k LARGEST logits"),
        (keep(k_shift=-1), r"you keep k - 1 logits per row"),
        (keep(k_shift=1), r"you keep k \+ 1 logits per row"),
        (lambda logits, k: torch.softmax(top_k_masked_fill(logits, k), dim=-1), r"not probabilities"),
        (lambda logits, k: torch.topk(logits, k).values, r"wrong shape(.|\n)*\(10,\)(.|\n)*\(3,\)(.|\n)*in "
                                                          r"vocabulary order"),
        (lambda logits, k: torch.topk(logits, k).indices, r"not the\s+indices of the k largest"),
        (one_threshold, r"row 0(.|\n)*keep the k largest of EACH ROW"),
        (last_row_threshold, r"raised RuntimeError(.|\n)*values\[..., -1:\]"),
        (keep(fill=-1e9), r"use -inf \(float\('-inf'\)\), not a large negative number \(-1e\+09\)"),
        (top_k_in_place, r"changed logits(.|\n)*work on a copy"),
        (lambda logits, k: "logits", r"should return an array of numbers"),
        (top_k_masked_fill, None),  # right: a control
    ],
)
def test_top_k_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch08_top_k, wrong, why)


def test_top_k_cases_have_no_ties() -> None:
    for _, (logits, k) in ch08_checks._top_cases():
        rows = logits.reshape(-1, logits.shape[-1])
        assert all(len(set(row.tolist())) == len(row) for row in rows) and 1 <= k <= logits.shape[-1]


# --- all four -----------------------------------------------------------------------------------------------------


def test_the_checkers_are_fast() -> None:
    import time

    for check, right in ((checks.ch08_param_count, count_by_parts), (checks.ch08_sinusoidal, pe_torch),
                         (checks.ch08_block_forward, block_forward), (checks.ch08_top_k, top_k_masked_fill)):
        start = time.perf_counter()
        check(right)
        assert time.perf_counter() - start < 1.0
    for check, wrong in ((checks.ch08_block_forward, sees_one_ahead), (checks.ch08_sinusoidal, pe_wrong(base=1e3))):
        start = time.perf_counter()
        with pytest.raises(checks.CheckFailed):
            check(wrong)
        assert time.perf_counter() - start < 1.0


def test_calling_the_block_itself_is_refused() -> None:
    with pytest.raises(checks.CheckFailed, match=r"called block\(x\) itself(.|\n)*don't call block\(x\)"):
        checks.ch08_block_forward(lambda block, x: block(x))


def test_an_unrecognised_parameter_count_says_by_how_much_without_the_formula() -> None:
    def three_extra(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
        cfg = TransformerConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_embd=n_embd,
                                n_head=1)
        return cfg.n_params() + 3

    with pytest.raises(checks.CheckFailed, match=r"off by \+3\. Count the parts one by one") as err:
        checks.ch08_param_count(three_extra)
    assert "12 E^2" not in str(err.value)
