"""lmcourse.ecosystem: the course's models in torch.nn's built-ins and in transformers' GPT-2 give the same logits;
Hugging Face tokenizers' BPE learns the course BPE's merges; nothing reaches the network."""

from __future__ import annotations

import os

import pytest
import torch

from lmcourse import checkpoints, ecosystem
from lmcourse.models import RecurrentLM
from lmcourse.transformer import TransformerConfig, TransformerLM

ecosystem.offline()


def logits_of(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(idx)
    return out[0] if isinstance(out, tuple) else getattr(out, "logits", out)


def ids(vocab: int, B: int, T: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def test_offline_sets_both_switches() -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE


def test_the_reference_lstm_loads_into_torch_nn_lstm_by_name() -> None:
    ours = checkpoints.reference("lstm_shakespeare").eval()
    twin = RecurrentLM(ours.vocab_size, ours.embed_dim, ours.hidden, cell="torch-lstm").eval()
    twin.load_state_dict(ours.state_dict(), strict=True)
    assert isinstance(twin.recurrent, torch.nn.LSTM)
    idx = ids(ours.vocab_size, 3, 50)
    torch.testing.assert_close(logits_of(twin, idx), logits_of(ours, idx), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs", [
    {},
    {"positions": "sinusoidal"},
    {"tie_weights": False},
    {"bias": False},
    {"dropout": 0.3},   # in eval mode dropout does nothing, in either model
])
def test_torch_transformer_equals_the_course_model(kwargs: dict[str, object]) -> None:
    torch.manual_seed(0)
    ours = TransformerLM(TransformerConfig(vocab_size=23, block_size=12, n_layer=2, n_head=2, n_embd=16,
                                           **kwargs)).eval()
    theirs = ecosystem.TorchTransformerLM.from_course(ours).eval()
    for T in (1, 7, 12):
        idx = ids(23, 3, T, seed=T)
        torch.testing.assert_close(logits_of(theirs, idx), logits_of(ours, idx), rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p in theirs.parameters()) == sum(p.numel() for p in ours.parameters())


def test_torch_transformer_holds_the_reference_checkpoint() -> None:
    ours = checkpoints.reference("transformer_shakespeare").eval()
    theirs = ecosystem.TorchTransformerLM.from_course(ours).eval()
    idx = ids(ours.vocab_size, 2, 64)
    torch.testing.assert_close(logits_of(theirs, idx), logits_of(ours, idx), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="at most block_size=64"):
        theirs(ids(ours.vocab_size, 1, 65))


def test_the_torch_copy_is_causal() -> None:
    ours = checkpoints.reference("transformer_shakespeare").eval()
    theirs = ecosystem.TorchTransformerLM.from_course(ours).eval()
    idx = ids(ours.vocab_size, 1, 20)
    changed = idx.clone()
    changed[0, 10] = (changed[0, 10] + 1) % ours.vocab_size
    a, b = logits_of(theirs, idx), logits_of(theirs, changed)
    assert torch.equal(a[:, :10], b[:, :10]) and not torch.allclose(a[:, 10:], b[:, 10:])


def test_gpt2_gives_the_course_models_logits_to_float32_precision() -> None:
    ours = checkpoints.reference("transformer_shakespeare").eval()
    hf = ecosystem.to_gpt2(ours)
    idx = ids(ours.vocab_size, 3, 64)
    a, b = logits_of(ours, idx), logits_of(hf, idx)
    assert (a - b).abs().max() < 1e-4 * a.abs().max()
    assert hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()  # tied, as ours


def test_every_gpt2_tensor_comes_from_the_course_model() -> None:
    torch.manual_seed(1)
    ours = TransformerLM(TransformerConfig(vocab_size=11, block_size=8, n_layer=3, n_head=2, n_embd=8)).eval()
    weights = ecosystem.gpt2_state_dict(ours)
    hf = ecosystem.to_gpt2(ours)
    assert set(weights) == set(hf.state_dict())
    assert len(weights) == 2 + 12 * 3 + 2 + 1
    for name, value in hf.state_dict().items():
        assert torch.equal(value, weights[name]), name
    block = ours.blocks[2]
    assert torch.equal(weights["transformer.h.2.attn.c_proj.weight"], block.attn.out_proj.weight.T)
    idx = ids(11, 2, 8)
    torch.testing.assert_close(logits_of(hf, idx), logits_of(ours, idx), rtol=1e-5, atol=1e-6)


def test_save_pretrained_reload_and_generate_offline(tmp_path: object) -> None:
    from transformers import GPT2LMHeadModel

    from lmcourse.models import generate

    ours = checkpoints.reference("transformer_shakespeare").eval()
    hf = ecosystem.to_gpt2(ours)
    hf.save_pretrained(tmp_path)
    again = GPT2LMHeadModel.from_pretrained(tmp_path, local_files_only=True).eval()
    idx = ids(ours.vocab_size, 2, 64)
    assert torch.equal(logits_of(again, idx), logits_of(hf, idx))
    prompt = [5, 17, 30]
    out = again.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False)
    assert out[0, 3:].tolist() == generate(ours, prompt, 20, greedy=True)


@pytest.mark.parametrize(("kwargs", "why"), [({"positions": "sinusoidal"}, "learns its position"),
                                             ({"bias": False}, "biases"), ({"tie_weights": False}, "ties")])
def test_gpt2_refuses_what_it_cannot_hold(kwargs: dict[str, object], why: str) -> None:
    model = TransformerLM(TransformerConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8, **kwargs))
    with pytest.raises(ValueError, match=why):
        ecosystem.to_gpt2(model)
    with pytest.raises(TypeError, match="TransformerLM"):
        ecosystem.gpt2_state_dict(RecurrentLM(11, 4, 4))


def test_hf_bpe_learns_the_course_bpes_merges_on_shakespeare() -> None:
    """Both take the most frequent pair; where two pairs tie exactly they may break the tie differently (ours by the
    smaller ids), so the merges agree on a corpus without such ties early on: Shakespeare's training text, as the
    chapter shows."""
    from lmcourse import data
    from lmcourse.tokenize import BPETokenizer

    text = data.splits("shakespeare").train
    ours = BPETokenizer(256).fit(text)
    theirs = ecosystem.hf_bpe(text, 256)
    assert ecosystem.hf_merges(theirs) == [(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges]
    sample = text[:5000] + "naïve café 北京"
    assert theirs.decode(theirs.encode(sample).ids) == sample
    assert len(theirs.encode(sample).ids) == len(ours.encode(sample))
    with pytest.raises(ValueError, match="num_merges"):
        ecosystem.hf_bpe(text, -1)
