"""lmcourse.env: scale, device choice, seeding, thread pinning, the set-up line."""

from __future__ import annotations

import re

import pytest
import torch

import lmcourse
from lmcourse import env


def test_scale_defaults_to_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMCOURSE_SCALE", raising=False)
    assert lmcourse.scale() == "ci"
    assert lmcourse.scaled(ci=1, laptop=2, gpu=3) == 1


@pytest.mark.parametrize("value,expected", [("laptop", 2), ("GPU", 3), (" ci ", 1)])
def test_scaled_follows_the_setting(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("LMCOURSE_SCALE", value)
    assert lmcourse.scaled(ci=1, laptop=2, gpu=3) == expected


def test_unknown_scale_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_SCALE", "huge")
    with pytest.raises(ValueError, match=r"'huge' is not a scale; use one of ci, laptop, gpu"):
        lmcourse.scale()


def test_device_auto_is_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert env.pick_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="torch sees no CUDA GPU"):
        env.pick_device("cuda")


def test_device_auto_prefers_cuda_and_never_picks_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert env.pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert env.pick_device("auto").type == "cpu"  # MPS only when asked for by name
    assert env.pick_device("mps").type == "mps"


def test_device_from_environment_and_bad_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert env.pick_device().type == "cpu"
    with pytest.raises(ValueError, match="'tpu' is not one of auto, cpu, cuda, mps"):
        env.pick_device("tpu")


def test_setup_seeds_everything(capsys: pytest.CaptureFixture[str]) -> None:
    import random

    import numpy as np

    draws = []
    for _ in range(2):
        lmcourse.setup(seed=3, quiet=True)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    lmcourse.setup(seed=4, quiet=True)
    assert torch.rand(1).item() != draws[0][2]
    assert capsys.readouterr().out == ""


def test_setup_prints_one_stable_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_DEVICE", "cpu")
    monkeypatch.delenv("LMCOURSE_SCALE", raising=False)
    device = lmcourse.setup(seed=0)
    line = capsys.readouterr().out
    assert device == torch.device("cpu")
    assert re.fullmatch(
        r"lmcourse \d+\.\d+\.\d+ \| python 3\.\d+ \| torch \d+\.\d+\.\d+ \| numpy [\d.]+ \| device cpu \| scale ci \| seed 0\n",
        line,
    ), line


def test_threads_are_pinned_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("LMCOURSE_THREADS", "1")
        lmcourse.setup(quiet=True)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("LMCOURSE_THREADS", "two")
        with pytest.raises(ValueError, match="must be a positive whole number"):
            lmcourse.setup(quiet=True)
    finally:
        torch.set_num_threads(before)


def test_progress_is_silent_under_test(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")
    assert sum(lmcourse.progress(range(5))) == 10
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_device_accepts_torch_devices_and_gpu_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env.pick_device(torch.device("cpu")).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert env.pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(RuntimeError, match=r"sees 2 GPU\(s\), numbered 0\.\.1"):
        env.pick_device("cuda:2")
    with pytest.raises(ValueError, match="or cuda:N"):
        env.pick_device("cpu:0")


@pytest.mark.parametrize("seed", ["0", -1, 1.5, True])
def test_a_bad_seed_is_a_clear_error(seed: object) -> None:
    with pytest.raises(ValueError, match="seed must be a whole number"):
        lmcourse.setup(seed=seed, quiet=True)  # type: ignore[arg-type]
