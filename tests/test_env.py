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
        r"lmcourse \d+\.\d+\.\d+ \| python 3\.\d+ \| torch \d+\.\d+\.\d+ \| numpy [\d.]+ "
        r"\| device cpu \| scale ci \| seed 0\n",
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


def test_too_many_threads_is_refused_before_torch_sees_them(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setattr(env.os, "cpu_count", lambda: 4)
    monkeypatch.setenv("LMCOURSE_THREADS", "1000000")
    with pytest.raises(ValueError, match=r"'1000000' is more threads than this machine's 4 CPUs .* from 1 to 4"):
        lmcourse.setup(quiet=True)
    assert torch.get_num_threads() == before  # refused before set_num_threads
    monkeypatch.setenv("LMCOURSE_THREADS", "5")
    with pytest.raises(ValueError, match="more threads than this machine's 4 CPUs"):
        env._threads()
    monkeypatch.setenv("LMCOURSE_THREADS", "4")
    assert env._threads() == 4


def test_two_threads_are_allowed_even_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test configuration pins 2 threads: the stored outputs must reproduce on a 1-CPU machine too.
    monkeypatch.setattr(env.os, "cpu_count", lambda: 1)
    monkeypatch.setenv("LMCOURSE_THREADS", "2")
    assert env._threads() == 2
    monkeypatch.setenv("LMCOURSE_THREADS", "3")
    with pytest.raises(ValueError, match="this machine's 1 CPUs"):
        env._threads()


@pytest.mark.parametrize("raw", ["²", "١", "1.5", "0", "-2"])
def test_threads_must_be_plain_ascii_digits(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("LMCOURSE_THREADS", raw)
    with pytest.raises(ValueError, match="must be a positive whole number, e.g. 2"):
        env._threads()


@pytest.mark.parametrize("device,hint", [(0, r"got int 0 \(for GPU number 0, write 'cuda:0'\)"),
                                         (1, "write 'cuda:1'"), (1.0, "got float 1.0"), (False, "got bool False"),
                                         (b"cpu", "got bytes"), (["cpu"], "got list")])
def test_a_device_that_is_not_a_name_is_a_type_error(
        monkeypatch: pytest.MonkeyPatch, device: object, hint: str) -> None:
    monkeypatch.setenv("LMCOURSE_DEVICE", "cpu")  # device=0 used to fall through to this, silently
    with pytest.raises(TypeError, match=r"device must be a name or a torch\.device, e\.g\. 'cpu', 'cuda:0' or 'auto'"):
        env.pick_device(device)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=hint):
        lmcourse.setup(device=device, quiet=True)  # type: ignore[arg-type]


def test_empty_device_name_is_an_error_but_an_empty_variable_means_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for empty in ("", "  "):
        with pytest.raises(ValueError, match=r"is empty; use 'auto' \(or None\) to choose automatically"):
            env.pick_device(empty)
    monkeypatch.setenv("LMCOURSE_DEVICE", "")  # like LMCOURSE_SCALE and LMCOURSE_THREADS: empty is unset
    assert env.pick_device() == torch.device("cpu")
    monkeypatch.setenv("LMCOURSE_DEVICE", "gpu")
    with pytest.raises(ValueError, match=r"LMCOURSE_DEVICE='gpu': device 'gpu' is not one of"):
        env.pick_device()


@pytest.mark.parametrize("device", ["cpu", None, 0])
def test_device_name_needs_a_torch_device(device: object) -> None:
    with pytest.raises(TypeError,
                       match=r"device_name needs a torch\.device, such as the one lmcourse\.setup\(\) returns"):
        lmcourse.device_name(device)  # type: ignore[arg-type]
    assert lmcourse.device_name(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("seed", [2**32, -1, "a", 1.5, None, True])
def test_seed_everything_checks_its_seed(seed: object) -> None:
    with pytest.raises(ValueError,
                       match=r"seed must be a whole number from 0 to 2\*\*32 - 1, e\.g\. seed_everything\(0\)"):
        env.seed_everything(seed)  # type: ignore[arg-type]


def test_a_numpy_integer_seed_is_a_whole_number(capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    lmcourse.setup(seed=np.int64(3), quiet=True)  # type: ignore[arg-type]
    a = torch.rand(1).item()
    lmcourse.setup(seed=3, quiet=True)
    assert torch.rand(1).item() == a
    with pytest.raises(ValueError, match=r"from 0 to 2\*\*32 - 1, e\.g\. setup\(seed=0\), got 4294967296"):
        lmcourse.setup(seed=2**32, quiet=True)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("quiet", ["no", 1, None])
def test_quiet_must_be_a_bool(quiet: object) -> None:
    with pytest.raises(TypeError, match="quiet must be True or False"):
        lmcourse.setup(quiet=quiet)  # type: ignore[arg-type]


def test_progress_rejects_what_it_cannot_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")
    with pytest.raises(TypeError, match=r"progress needs something to loop over, e\.g\. progress\(range\(5\)\)"):
        lmcourse.progress(5)  # type: ignore[arg-type]
    for total in (-1, "3", 2.5, True):
        with pytest.raises(ValueError, match="total must be a whole number of steps >= 0"):
            lmcourse.progress(range(3), total=total)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="desc is the bar's label, a str"):
        lmcourse.progress(range(3), desc=None)  # type: ignore[arg-type]
    assert list(lmcourse.progress(range(3), total=3, desc="steps")) == [0, 1, 2]


def test_a_misspelt_scale_fails_at_setup_even_when_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_SCALE", "large")
    with pytest.raises(ValueError, match="LMCOURSE_SCALE='large' is not a scale"):
        lmcourse.setup(quiet=True)
