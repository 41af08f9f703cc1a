"""The Transformer of chapter 08: its parameter count, causality, key-value cache, sampling, checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from lmcourse import checkpoints
from lmcourse.attention import MultiHeadAttention
from lmcourse.models import generate, top_k_logits
from lmcourse.train import cosine_schedule, train
from lmcourse.transformer import Block, TransformerConfig, TransformerLM, sinusoidal_positions

SMALL = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8)


def model(seed: int = 0, **changes: object) -> TransformerLM:
    torch.manual_seed(seed)
    return TransformerLM(TransformerConfig(**{**SMALL, **changes})).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize("changes", [{}, {"bias": False}, {"tie_weights": False}, {"positions": "sinusoidal"},
                                     {"n_layer": 0}, {"n_layer": 3, "n_head": 4, "n_embd": 16, "block_size": 5},
                                     {"bias": False, "tie_weights": False, "positions": "sinusoidal"}])
def test_the_parameter_count_formula_is_the_real_count(changes: dict[str, object]) -> None:
    m = model(**changes)
    assert m.config.n_params() == sum(p.numel() for p in m.parameters())


def test_the_formula_of_the_docstring_with_numbers() -> None:
    # V E + block E + L (12 E^2 + 13 E) + 2 E, for the nanoGPT CPU recipe's sizes and 65 characters; nanoGPT
    # reports "0.80M": 801,664, the count without the position embeddings (64 x 128)
    cfg = TransformerConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    assert cfg.n_params() == 65 * 128 + 64 * 128 + 4 * (12 * 128**2 + 13 * 128) + 2 * 128 == 809_856
    assert cfg.n_params() - 64 * 128 == 801_664


def test_weight_tying_shares_one_tensor() -> None:
    m = model()
    assert m.head is None
    idx = torch.randint(0, 11, (2, 6))
    logits, _ = m(idx)
    manual = m.ln_f(m.blocks[1](m.blocks[0](m.tok_emb(idx) + m.pos_emb[:6]))) @ m.tok_emb.weight.T
    torch.testing.assert_close(logits, manual)
    untied = model(tie_weights=False)
    assert untied.head is not None and untied.head.weight.data_ptr() != untied.tok_emb.weight.data_ptr()


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_no_position_sees_the_future(positions: str) -> None:
    m = model(positions=positions)
    idx = torch.randint(0, 11, (3, 12))
    before, _ = m(idx)
    for t in (0, 5, 10):
        changed = idx.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1 + torch.randint(0, 9, changed[:, t + 1:].shape)) % 11
        after, _ = m(changed)
        torch.testing.assert_close(after[:, :t + 1], before[:, :t + 1], rtol=0, atol=1e-6)
        assert not torch.allclose(after[:, t + 1:], before[:, t + 1:])


def test_the_gradient_at_a_position_comes_only_from_the_past() -> None:
    m = model()
    x = m.tok_emb(torch.randint(0, 11, (1, 10))).detach().requires_grad_(True)
    out = m.blocks[0](x)
    out[0, 4].sum().backward()
    assert x.grad is not None
    assert torch.all(x.grad[0, 5:] == 0) and torch.all(x.grad[0, :5].abs().sum(-1) > 0)


def test_the_block_is_pre_norm_with_two_residuals() -> None:
    torch.manual_seed(1)
    block = Block(TransformerConfig(**SMALL)).eval()  # type: ignore[arg-type]
    x = torch.randn(2, 7, 8)
    h = x + block.attn(block.ln1(x), is_causal=True)[0]
    torch.testing.assert_close(block(x), h + block.mlp(block.ln2(h)))


@pytest.mark.parametrize("pieces", [[9], [1] * 9, [4, 1, 1, 3], [2, 7]])
def test_running_in_pieces_with_the_cache_gives_the_logits_of_one_pass(pieces: list[int]) -> None:
    m = model()
    idx = torch.randint(0, 11, (2, sum(pieces)))
    whole, _ = m(idx)
    parts, cache, start = [], None, 0
    for n in pieces:
        logits, cache = m.run(idx[:, start:start + n], cache)
        parts.append(logits)
        start += n
    assert cache is not None and cache.length == idx.shape[1]
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-5)


def test_the_cache_rereads_the_last_block_when_it_is_full() -> None:
    m = model(block_size=6)
    idx = torch.randint(0, 11, (1, 9))
    logits, cache = m.run(idx[:, :6])
    logits, cache = m.run(idx[:, 6:7], cache)  # 7 positions: the last 6 are read again from scratch
    expected, _ = m(idx[:, 1:7])
    torch.testing.assert_close(logits, expected[:, -1:], rtol=1e-5, atol=1e-5)
    assert cache.length == 6


def test_multi_head_attention_in_pieces_equals_one_causal_pass() -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(3, 7, 8)
    whole, weights = attn(x, is_causal=True)
    first, w1, kv = attn.forward_cached(x[:, :4])
    rest, w2, kv = attn.forward_cached(x[:, 4:], kv)
    torch.testing.assert_close(torch.cat((first, rest), 1), whole)
    torch.testing.assert_close(w2, weights[:, :, 4:, :])
    assert kv[0].shape == (3, 2, 7, 4)


@pytest.mark.parametrize("top_k", [None, 3])
@pytest.mark.parametrize("block_size", [16, 8])  # 8: generation runs past the block, and the cache is re-read
def test_generation_with_the_cache_gives_exactly_the_tokens_without_it(top_k: int | None, block_size: int) -> None:
    m = model(block_size=block_size)
    runs = [generate(m, [1, 2, 3], 12, generator=torch.Generator().manual_seed(5), top_k=top_k, cache=cache)
            for cache in (True, False, True)]
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) == 12


def test_generation_depends_on_the_seed_only() -> None:
    m = model()
    a = generate(m, [0], 20, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # the global state plays no part
    b = generate(m, [0], 20, generator=torch.Generator().manual_seed(0))
    c = generate(m, [0], 20, generator=torch.Generator().manual_seed(1))
    assert a == b and a != c


def test_a_prompt_longer_than_the_block_is_cut_to_its_last_block() -> None:
    m = model(block_size=6)
    long = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    for cache in (True, False):
        assert (generate(m, long, 5, generator=torch.Generator().manual_seed(0), cache=cache)
                == generate(m, long[-6:], 5, generator=torch.Generator().manual_seed(0), cache=cache))


def test_top_k_keeps_the_k_largest_and_their_ties() -> None:
    z = torch.tensor([[1.0, 5.0, 3.0, 3.0, -2.0], [0.0, 0.25, 0.5, 0.75, 1.0]])
    out = top_k_logits(z, 2)
    assert out[0].tolist() == [-math.inf, 5.0, 3.0, 3.0, -math.inf]  # the tie at the 2nd value stays
    assert out[1].tolist() == [-math.inf, -math.inf, -math.inf, 0.75, 1.0]
    m = model()
    tokens = generate(m, [0], 200, generator=torch.Generator().manual_seed(0), top_k=1)
    greedy = generate(m, [0], 200, generator=torch.Generator().manual_seed(3), temperature=1e-9)
    assert tokens == greedy


def test_sinusoidal_positions_follow_the_paper() -> None:
    pe = sinusoidal_positions(50, 16)
    p, i = 7, 3
    assert pe.shape == (50, 16) and pe.dtype == torch.float32
    assert pe[p, 2 * i].item() == pytest.approx(math.sin(p / 10000 ** (2 * i / 16)), abs=1e-6)
    assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(p / 10000 ** (2 * i / 16)), abs=1e-6)


def test_a_checkpoint_round_trips_through_safetensors(tmp_path: object) -> None:
    m = model(seed=3, dropout=0.1, positions="sinusoidal")
    path = checkpoints.save(m, tmp_path / "t.safetensors", info={"note": "test"})  # type: ignore[operator]
    back = checkpoints.load(path)
    assert isinstance(back, TransformerLM) and back.config == m.config
    idx = torch.randint(0, 11, (2, 9))
    torch.testing.assert_close(back(idx)[0], m(idx)[0], rtol=0, atol=0)
    fresh = checkpoints.load_into(model(seed=9, dropout=0.1, positions="sinusoidal"), path)
    torch.testing.assert_close(fresh(idx)[0], m(idx)[0], rtol=0, atol=0)


def test_a_checkpoint_of_another_configuration_is_refused_naming_the_difference(tmp_path: object) -> None:
    path = checkpoints.save(model(), tmp_path / "t.safetensors")  # type: ignore[operator]
    other = model(seed=1, n_layer=3)
    before = [p.clone() for p in other.parameters()]
    with pytest.raises(checkpoints.CheckpointError, match=r"n_layer: 2 in the file, 3 in the model"):
        checkpoints.load_into(other, path)
    assert all(torch.equal(a, b) for a, b in zip(before, other.parameters()))
    with pytest.raises(checkpoints.CheckpointError, match=r"holds a TransformerLM, not a"):
        checkpoints.load_into(nn.Linear(2, 2), path)
    with pytest.raises(ValueError, match=r"not the TransformerLM's own configuration"):
        checkpoints.save(model(), tmp_path / "u.safetensors", {"vocab_size": 3})  # type: ignore[operator]


def test_bad_input_gets_a_clear_error() -> None:
    m = model()
    with pytest.raises(ValueError, match=r"at most block_size=16 positions.*idx\[:, -16:\]"):
        m(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token id 11 .* outside the vocabulary of size 11"):
        generate(m, [1, 11], 3, generator=torch.Generator())
    for bad in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match=r"temperature must be a finite number > 0"):
            generate(m, [1], 3, generator=torch.Generator(), temperature=bad)
    with pytest.raises(ValueError, match=r"top_k must be >= 1 .*top_k=None to draw from every token"):
        generate(m, [1], 3, generator=torch.Generator(), top_k=0)
    with pytest.raises(ValueError, match=r"top_k=12 is larger than the vocabulary \(11 tokens\)"):
        generate(m, [1], 3, generator=torch.Generator(), top_k=12)
    with pytest.raises(ValueError, match=r"n_embd must be divisible by n_head .*one of \[1, 2, 5, 10\].*e\.g\. 12"):
        TransformerConfig(vocab_size=5, n_embd=10, n_head=4)
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
        TransformerConfig(vocab_size=5, dropout=1.0)
    with pytest.raises(ValueError, match=r"positions must be one of 'learned', 'sinusoidal'"):
        TransformerConfig(vocab_size=5, positions="rotary")
    with pytest.raises(TypeError, match=r"needs a TransformerConfig"):
        TransformerLM(dataclasses.asdict(TransformerConfig(vocab_size=5)))  # type: ignore[arg-type]


def test_cosine_schedule_warms_up_then_decays_to_the_floor() -> None:
    f = cosine_schedule(110, warmup=10, floor=0.1)
    assert [f(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(10) == pytest.approx(1.0) and f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"warmup must be a whole number of steps from 0 to steps - 1 = 9"):
        cosine_schedule(10, warmup=10)


def test_train_follows_the_schedule_and_puts_the_rate_back() -> None:
    m = model()
    x = torch.randint(0, 11, (64, 8))
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    seen: list[float] = []

    def factor(step: int) -> float:
        seen.append(step)
        return 0.0  # no update at all

    before = [p.clone() for p in m.parameters()]
    train(m, x, x, steps=3, batch_size=4, optimizer=opt, schedule=factor, seed=0)
    assert seen == [0, 1, 2] and opt.param_groups[0]["lr"] == 0.5
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    with pytest.raises(TypeError, match=r"schedule must be a function of the step"):
        train(m, x, x, steps=3, batch_size=4, lr=0.1, schedule=0.5, seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", ["ci", "laptop", "gpu"])
def test_each_scales_recipe_trains_as_chapter_08_calls_it(scale: str) -> None:
    """Every recipe, the ``gpu`` one included (run nowhere else on a CPU), builds its model and makes updates with
    exactly the keywords chapter 08 passes to ``train``, here for 3 steps on random ids."""
    from lmcourse.transformer import RECIPES

    arch, fit = RECIPES[scale]
    assert set(fit) <= {"steps", "batch_size", "lr", "warmup", "floor", "weight_decay", "clip"}
    assert 0 <= fit["warmup"] < fit["steps"]
    config = TransformerConfig(vocab_size=70, **arch)
    torch.manual_seed(0)
    model = TransformerLM(config)
    assert config.n_params() == sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, 70, (4, config.block_size + 1), generator=torch.Generator().manual_seed(0))
    history = train(model, ids[:, :-1], ids[:, 1:], steps=3, batch_size=2, lr=fit["lr"],
                    weight_decay=fit.get("weight_decay", 0.0), clip=fit["clip"],
                    schedule=cosine_schedule(3, warmup=min(fit["warmup"], 2), floor=fit.get("floor", 0.1)), seed=0)
    assert len(history.train_loss) == 3 and all(math.isfinite(v) for v in history.train_loss)
