"""The restricted unpickler never reads past a tensor's storage.

Each checkpoint here is crafted byte by byte with the opcodes torch.save()
writes (protocol 2: GLOBAL torch._utils._rebuild_tensor_v2, a BINPERSID
('storage', torch.<Type>Storage, key, 'cpu', numel), offset, size and stride
tuples), so no torch is needed. Before these checks, a negative offset or
stride, or a storage shorter than the view, went to numpy's as_strided as it
was and read memory outside the storage."""

import pickle
import pickletools
import struct
import zipfile

import numpy as np
import pytest

from equipot.convert import sevenn
from equipot.convert.torch_zip import CheckpointError, load


def _value(value):
    """The opcodes of a plain value, without PROTO and STOP (and without memo puts)."""
    return pickletools.optimize(pickle.dumps(value, protocol=2))[2:-1]


def _global(module, name):
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def tensor(key, offset, shape, stride, storage='DoubleStorage', numel=6):
    """torch._utils._rebuild_tensor_v2(<storage key>, offset, shape, stride, False, OrderedDict())."""
    persistent_id = (b'(' + _value('storage') + _global('torch', storage) + _value(key) + _value('cpu')
                     + _value(numel) + b't' + b'Q')
    return (_global('torch._utils', '_rebuild_tensor_v2') + b'(' + persistent_id + _value(offset)
            + _value(shape) + _value(stride) + _value(False)
            + _global('collections', 'OrderedDict') + b')R' + b'tR')


def _dict(items):
    """A dict of (key, opcodes) pairs."""
    return b'}(' + b''.join(_value(k) + v for k, v in items) + b'u'


def checkpoint(path, tensors, data=None):
    """A sevenn-like checkpoint: {'config': {'version': ...}, 'model_state_dict': tensors}, whose
    storage '0' holds `data` (default: the doubles 0..5)."""
    data = struct.pack('<6d', *range(6)) if data is None else data
    pkl = (b'\x80\x02' + _dict([('config', _value({'version': '0.9.5'})),
                                ('model_state_dict', _dict(tensors.items()))]) + b'.')
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('archive/data.pkl', pkl)
        z.writestr('archive/data/0', data)
    return path


def read(path, name='w'):
    return load(path)['model_state_dict'][name].numpy(name)


def test_crafted_views_read_what_torch_would(tmp_path):
    """The crafting is right: valid views (transposed, offset, scalar, empty, broadcast) read correctly."""
    base = np.arange(6.0)
    cases = {
        'matrix': (tensor('0', 0, (2, 3), (3, 1)), base.reshape(2, 3)),
        'transposed': (tensor('0', 0, (3, 2), (1, 3)), base.reshape(2, 3).T),
        'offset': (tensor('0', 2, (2, 2), (2, 1)), np.array([[2.0, 3.0], [4.0, 5.0]])),
        'last': (tensor('0', 5, (1,), (1,)), np.array([5.0])),
        'scalar': (tensor('0', 4, (), ()), np.array(4.0)),
        'empty': (tensor('0', 0, (0, 3), (3, 1)), np.zeros((0, 3))),
        'repeated_row': (tensor('0', 0, (2, 3), (0, 1)), np.array([[0.0, 1.0, 2.0]] * 2)),
    }
    path = checkpoint(tmp_path / 'ok.pth', {k: v for k, (v, _) in cases.items()})
    state = load(path)['model_state_dict']
    for name, (_, expected) in cases.items():
        got = state[name].numpy(name)
        assert got.shape == expected.shape and got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize('view, message', [
    ((-1, (2,), (1,)), 'negative offset, size or stride'),
    ((-6, (6,), (1,)), 'negative offset'),
    ((5, (3,), (-1,)), 'negative offset, size or stride'),
    ((0, (2, -3), (3, 1)), 'negative offset, size or stride'),
    ((0, (2, 3), (3, -1)), 'negative offset, size or stride'),
    ((0, (7,), (1,)), 'runs past its storage'),
    ((4, (3,), (1,)), 'runs past its storage'),
    ((0, (2, 3), (4, 1)), 'runs past its storage'),
    ((6, (), ()), 'runs past its storage'),
    ((0, (1000000,), (10**12,)), 'runs past its storage'),
    ((0, (4, 3), (0, 1)), 'has more elements than its storage'),
    ((0, (2, 3), (3,)), 'shape and stride differ in length'),
    ((0.5, (2,), (1,)), 'malformed view .* expected integers'),
    ((0, (2.0, 3), (3, 1)), 'malformed view'),
    ((0, (2, 3), (3, True)), 'malformed view'),
    ((0, 6, 1), 'malformed view'),
])
def test_views_outside_the_storage_are_refused(tmp_path, view, message):
    path = checkpoint(tmp_path / 'bad.pth', {'interaction.weight': tensor('0', *view)})
    with pytest.raises(CheckpointError, match=r'tensor interaction\.weight \(storage archive/data/0, 6 elements\): .*'
                                              + message):
        read(path, 'interaction.weight')


def test_storage_shorter_than_declared(tmp_path):
    path = checkpoint(tmp_path / 'short.pth', {'w': tensor('0', 0, (6,), (1,))}, data=struct.pack('<5d', *range(5)))
    with pytest.raises(CheckpointError, match='tensor data archive/data/0 is truncated'):
        read(path)


def test_storage_declared_too_large_for_its_data(tmp_path):
    """numel claims 600 doubles, the record holds 6: the view fits the claim, the data does not."""
    path = checkpoint(tmp_path / 'claim.pth', {'w': tensor('0', 500, (10,), (1,), numel=600)})
    with pytest.raises(CheckpointError, match='truncated'):
        read(path)


def test_storage_declared_twice_differently(tmp_path):
    path = checkpoint(tmp_path / 'twice.pth', {'a': tensor('0', 0, (6,), (1,)),
                                               'b': tensor('0', 0, (12,), (1,), storage='FloatStorage', numel=12)})
    with pytest.raises(CheckpointError, match='storage archive/data/0 is declared both as 6 x float64 and as 12 x float32'):
        load(path)


@pytest.mark.parametrize('numel', [-1, 2.5, '6'])
def test_malformed_storage_size(tmp_path, numel):
    path = checkpoint(tmp_path / 'numel.pth', {'w': tensor('0', 0, (1,), (1,), numel=numel)})
    with pytest.raises(CheckpointError, match='malformed storage id'):
        load(path)


@pytest.mark.parametrize('storage', ['BFloat16Storage', 'ComplexDoubleStorage', 'QInt8Storage'])
def test_unknown_dtype(tmp_path, storage):
    path = checkpoint(tmp_path / 'dtype.pth', {'w': tensor('0', 0, (1,), (1,), storage=storage)})
    with pytest.raises(CheckpointError, match=f'tensor storage type torch.{storage} is not supported'):
        load(path)


def test_tensor_without_a_storage(tmp_path):
    entry = (_global('torch._utils', '_rebuild_tensor_v2') + b'(' + _value([1.0, 2.0]) + _value(0)
             + _value((2,)) + _value((1,)) + _value(False) + b'tR')
    path = checkpoint(tmp_path / 'nostorage.pth', {'w': entry})
    with pytest.raises(CheckpointError, match='tensor w is not backed by a tensor storage'):
        read(path)


def test_the_converter_names_the_tensor(tmp_path):
    path = checkpoint(tmp_path / 'sevenn.pth', {'edge_embedding.basis_function.coeffs': tensor('0', -3, (8,), (1,))})
    with pytest.raises(CheckpointError, match=r'tensor edge_embedding\.basis_function\.coeffs .*negative offset'):
        sevenn.read_checkpoint(path)
