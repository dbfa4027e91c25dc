"""``ipaclip.distributed.check_device``: only devices this machine has (issue #17, point 10).

A ``device`` of ``toaster`` or ``meta``, ``cuda`` without a GPU or ``cuda:7`` with one GPU was
accepted and failed late (or, for ``meta``, produced a model that could not run). These tests
fake the machine's GPUs with monkeypatched ``torch.cuda`` so that they hold on any machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipaclip import PronunciationEncoder
from ipaclip._validation import InvalidParameterError
from ipaclip.distributed import available_devices, check_device


def _gpus(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def _no_mps(monkeypatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_accepts_the_devices_of_a_machine_without_a_gpu(monkeypatch):
    _gpus(monkeypatch, 0)
    _no_mps(monkeypatch)
    assert available_devices() == ["auto", "cpu"]
    assert check_device("auto") == torch.device("cpu")
    assert check_device("cpu") == torch.device("cpu")
    assert check_device("cpu:0") == torch.device("cpu", 0)


@pytest.mark.parametrize("device", ["toaster", "meta", "cuda", "cuda:0", "mps", "", " cpu"])
def test_refuses_what_a_machine_without_a_gpu_lacks(device, monkeypatch):
    _gpus(monkeypatch, 0)
    _no_mps(monkeypatch)
    message = (
        r"device must be one of the devices this machine has \('auto', 'cpu'\); "
        f"got {device!r}. Pass 'auto'"
    )
    with pytest.raises(InvalidParameterError, match=message):
        check_device(device)


def test_with_one_gpu_cuda_0_exists_and_cuda_7_does_not(monkeypatch):
    _gpus(monkeypatch, 1)
    _no_mps(monkeypatch)
    assert available_devices() == ["auto", "cpu", "cuda", "cuda:0"]
    assert check_device("auto") == torch.device("cuda")
    assert check_device("cuda") == torch.device("cuda")
    assert check_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(InvalidParameterError, match=r"has \('auto', 'cpu', 'cuda', 'cuda:0'\)"):
        check_device("cuda:7")


def test_fit_refuses_a_device_before_any_work(monkeypatch):
    _gpus(monkeypatch, 0)

    def forbidden(*args, **kwargs):
        raise AssertionError("featurising started before the device was checked")

    monkeypatch.setattr(PronunciationEncoder, "_fit_embedder", forbidden)
    X, y = ["pa", "ta", "ka"], np.eye(3, dtype=np.float32)
    for device in ("toaster", "meta", "cuda"):
        encoder = PronunciationEncoder(device=device, width=16, heads=2, layers=1)
        with pytest.raises(InvalidParameterError, match=f"device .*; got {device!r}"):
            encoder.fit(X, y)
        with pytest.raises(InvalidParameterError, match="device"):
            encoder.check_params()


def test_transform_refuses_a_device_set_after_fitting(monkeypatch):
    X, y = ["pa", "ta", "ka", "ma"], np.eye(4, dtype=np.float32)
    params = {"width": 16, "heads": 2, "layers": 1, "epochs": 1, "batch_size": 2}
    encoder = PronunciationEncoder(device="cpu", random_state=0, verbose=0, **params).fit(X, y)
    expected = encoder.transform(X)
    _gpus(monkeypatch, 0)
    for device in ("meta", "cuda:1"):
        with pytest.raises(InvalidParameterError, match=f"got {device!r}"):
            encoder.set_params(device=device).transform(X)
    np.testing.assert_array_equal(encoder.set_params(device="auto").transform(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_a_gpu_machine_every_visible_gpu_and_no_other():
    count = torch.cuda.device_count()
    for i in range(count):
        assert check_device(f"cuda:{i}") == torch.device("cuda", i)
    with pytest.raises(InvalidParameterError, match=f"got 'cuda:{count}'"):
        check_device(f"cuda:{count}")
