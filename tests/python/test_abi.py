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
