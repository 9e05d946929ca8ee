"""The Python package checks the library's C ABI version when it loads it,
and exposes the workspace's memory limit."""

import pytest

from equipot import _capi


def test_abi_version_matches():
    assert _capi.lib.eqp_abi_version() == _capi.ABI_VERSION
    _capi._check_abi_version()


def test_abi_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(_capi, "ABI_VERSION", 999)
    found = _capi.lib.eqp_abi_version()
    with pytest.raises(ImportError, match=f"C ABI version {found} .* expects ABI version 999"):
        _capi._check_abi_version()


def test_workspace_memory_limit():
    ws = _capi.Workspace(1, memory_limit=123456789)
    assert ws.memory_limit == 123456789
    ws.memory_limit = 2**30
    assert ws.memory_limit == 2**30
    assert _capi.Workspace(1).memory_limit > 0
    with pytest.raises(ValueError, match="memory_limit"):
        _capi.Workspace(1, memory_limit=-1)


# A CUDA device goes through the library's discovery: on a machine without a
# driver or a GPU the message names what is missing; where a device is found,
# CUDA evaluation is not implemented yet. Either way EQP_ERROR_UNSUPPORTED (7).
CUDA_REFUSALS = ("no CUDA driver (libcuda.so.1 not found", "no CUDA device", "but only",
                 "CUDA evaluation is not implemented yet in this build", "this build has no CUDA backend")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_device_is_refused_with_the_reason(device):
    with pytest.raises(_capi.EquipotError) as info:
        _capi.Workspace(1, device=device)
    assert info.value.status == 7, str(info.value)
    assert "eqp_workspace_new_with_options" in str(info.value)
    assert any(reason in str(info.value) for reason in CUDA_REFUSALS), str(info.value)


def test_device_names_and_the_cpu():
    assert _capi.Workspace(1, device="cpu").memory_limit > 0
    for bad in ["gpu", "CUDA", "cuda:", "cuda:-1", "cuda:1x", "cuda:٣", "cuda:99999999999"]:
        with pytest.raises(ValueError, match="device must be cpu, cuda or cuda:N"):
            _capi.Workspace(1, device=bad)
    with pytest.raises(TypeError, match="device must be a string"):
        _capi.Workspace(1, device=0)
