"""Read a torch.save() zip checkpoint with zipfile + a restricted unpickler + numpy.

No torch import. Only the globals that plain checkpoints use are allowed
(OrderedDict, torch tensor rebuilds and storages, numpy arrays and scalars);
anything else is refused, so a checkpoint cannot run code. A caller that reads
a pickled module (mace saves whole models) names the module prefixes whose
classes and functions become inert `Stub`s: they record the arguments and the
state the pickle gives them and run nothing.
"""

import collections
import io
import math
import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    'DoubleStorage': np.dtype('<f8'),
    'FloatStorage': np.dtype('<f4'),
    'HalfStorage': np.dtype('<f2'),
    'LongStorage': np.dtype('<i8'),
    'IntStorage': np.dtype('<i4'),
    'ShortStorage': np.dtype('<i2'),
    'CharStorage': np.dtype('i1'),
    'ByteStorage': np.dtype('u1'),
    'BoolStorage': np.dtype('?'),
}


class CheckpointError(ValueError):
    """A file that is not a readable torch checkpoint."""


class _StorageType:
    def __init__(self, name):
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """A storage, read from the zip only when a tensor that uses it is materialized."""

    def __init__(self, archive, record, dtype, numel):
        self.archive, self.record, self.dtype, self.numel = archive, record, dtype, numel
        self._array = None

    def array(self):
        if self._array is None:
            try:
                raw = self.archive.read(self.record)
            except KeyError:
                raise CheckpointError(f'checkpoint lacks tensor data record {self.record}') from None
            except (zipfile.BadZipFile, EOFError, OSError) as e:
                raise CheckpointError(f'cannot read tensor data {self.record}: {e}') from None
            if len(raw) < self.numel * self.dtype.itemsize:
                raise CheckpointError(f'tensor data {self.record} is truncated')
            self._array = np.frombuffer(raw, dtype=self.dtype, count=self.numel)
        return self._array


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Tensor:
    """A torch tensor as stored: a strided view of a storage. numpy() gives a copy.

    The view (offset, shape, stride) comes from the pickle as it is; numpy() checks it
    against its storage before it reads a byte."""

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def _check(self, name):
        """Refuse a view that is not non-negative ints, or that reaches past its storage."""
        what = f'tensor {name}' if name else 'a tensor'
        if not isinstance(self.storage, _Storage):
            raise CheckpointError(f'{what} is not backed by a tensor storage ({type(self.storage).__name__})')
        where = f'{what} (storage {self.storage.record}, {self.storage.numel} elements)'
        view = f'offset {self.offset!r}, shape {self.shape!r}, stride {self.stride!r}'
        if not (_is_int(self.offset) and isinstance(self.shape, (tuple, list)) and isinstance(self.stride, (tuple, list))
                and all(map(_is_int, self.shape)) and all(map(_is_int, self.stride))):
            raise CheckpointError(f'{where}: malformed view ({view}): expected integers')
        if len(self.shape) != len(self.stride):
            raise CheckpointError(f'{where}: shape and stride differ in length ({view})')
        if self.offset < 0 or any(n < 0 for n in self.shape) or any(s < 0 for s in self.stride):
            raise CheckpointError(f'{where}: negative offset, size or stride ({view})')
        count = math.prod(self.shape)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if count and last >= self.storage.numel:
            raise CheckpointError(f'{where}: the view ({view}) runs past its storage')
        if count > self.storage.numel:  # only overlapping views (stride 0) could: refused, never multiplied
            raise CheckpointError(f'{where}: the view ({view}) has more elements than its storage')
        return count

    def numpy(self, name=None):
        """The tensor as a numpy array (a copy). `name` names it in errors."""
        count = self._check(name)
        if count == 0:
            return np.zeros(self.shape, dtype=self.storage.dtype)
        base = self.storage.array()
        if not self.shape:
            return base[self.offset].copy()
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=tuple(self.shape), strides=tuple(s * item for s in self.stride)
        )
        return np.array(view)

    def tolist(self):
        return self.numpy().tolist()


class Device(str):
    """torch.device('cpu') kept as its string."""


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


def _encode(text, encoding='latin1'):  # _codecs.encode, as numpy's pickles use it
    return text.encode(encoding)


def _multiarray(name):
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:
        from numpy.core import multiarray
    return getattr(multiarray, name)


_ALLOWED = {
    ('collections', 'OrderedDict'): lambda: collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): lambda: _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): lambda: _rebuild_parameter,
    ('torch', 'device'): lambda: Device,
    ('_codecs', 'encode'): lambda: _encode,
    ('numpy', 'dtype'): lambda: np.dtype,
    ('numpy', 'ndarray'): lambda: np.ndarray,
}
for _module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
    for _name in ('_reconstruct', 'scalar'):
        _ALLOWED[(_module, _name)] = lambda _name=_name: _multiarray(_name)


class Stub:
    """An inert stand-in for a class or function of a pickled module tree.

    `args` are the constructor (or call) arguments the pickle passed, `state`
    what it restored (a torch Module's __dict__); `qualname` is "module.name".
    """

    qualname = ''

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs, obj.state = args, kwargs, {}
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f'<Stub {self.qualname}>'


_STUBS = {}


def _stub_class(module, name):
    key = f'{module}.{name}'
    if key not in _STUBS:
        _STUBS[key] = type(name, (Stub,), {'qualname': key})
    return _STUBS[key]


_BUILTINS = {('builtins', 'set'): set, ('__builtin__', 'set'): set}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix, stubs):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.storages, self.stubs = archive, prefix, {}, tuple(stubs)

    def find_class(self, module, name):
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == 'torch' and name.endswith('Storage'):
            raise CheckpointError(f'tensor storage type torch.{name} is not supported '
                                  f'(known: {", ".join(sorted(_STORAGE_DTYPES))})')
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]()
        if self.stubs and (module, name) in _BUILTINS:
            return _BUILTINS[(module, name)]
        if any(module == p or module.startswith(p + '.') for p in self.stubs):
            return _stub_class(module, name)
        raise CheckpointError(f'checkpoint refers to {module}.{name}, which a plain checkpoint never needs')

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
            raise CheckpointError(f'unexpected persistent id {pid!r}')
        _, kind, key, _location, numel = pid
        if not isinstance(kind, _StorageType):
            raise CheckpointError(f'unexpected storage type {kind!r}')
        if not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise CheckpointError(f'malformed storage id {pid!r}')
        if key not in self.storages:
            self.storages[key] = _Storage(self.archive, f'{self.prefix}data/{key}', kind.dtype, numel)
        storage = self.storages[key]
        if (storage.dtype, storage.numel) != (kind.dtype, numel):
            raise CheckpointError(f'storage {storage.record} is declared both as {storage.numel} x {storage.dtype} '
                                  f'and as {numel} x {kind.dtype}')
        return storage


def load(path, stubs=()):
    """Unpickle a torch zip checkpoint. Tensors come back as `Tensor` (call .numpy()).

    `stubs`: module prefixes (e.g. "mace", "torch.nn") whose globals become `Stub`s."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CheckpointError(f'{path}: not a torch checkpoint (not a zip archive)') from None
    except OSError as e:
        raise CheckpointError(f'{path}: cannot open: {e}') from None
    pickles = [n for n in archive.namelist() if n.endswith('data.pkl') and n.count('/') == 1]
    if len(pickles) != 1:
        raise CheckpointError(f'{path}: not a torch checkpoint (no single <dir>/data.pkl in the zip)')
    prefix = pickles[0][: -len('data.pkl')]
    byteorder = prefix + 'byteorder'
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b'little':
        raise CheckpointError(f'{path}: big-endian checkpoints are not supported')
    try:
        data = archive.read(pickles[0])
        return _Unpickler(data, archive, prefix, stubs).load()
    except CheckpointError as e:
        raise CheckpointError(f'{path}: {e}') from None
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, OSError, ValueError, TypeError) as e:
        raise CheckpointError(f'{path}: corrupt checkpoint ({type(e).__name__}: {e})') from None
