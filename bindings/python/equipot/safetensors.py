"""A small, strict safetensors reader and writer (pure Python + numpy).

Layout: 8-byte little-endian header length N, N bytes of JSON header
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
then the raw little-endian tensor bytes; offsets are relative to the end of the header.
"""

import json
import math
import struct

import numpy as np

DTYPES = {
    'F64': np.dtype('<f8'),
    'F32': np.dtype('<f4'),
    'F16': np.dtype('<f2'),
    'I64': np.dtype('<i8'),
    'I32': np.dtype('<i4'),
    'I16': np.dtype('<i2'),
    'I8': np.dtype('i1'),
    'U8': np.dtype('u1'),
    'BOOL': np.dtype('?'),
}
_NAMES = {dt: name for name, dt in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not valid safetensors (truncated, garbage, inconsistent)."""


def _dtype_name(arr):
    dt = arr.dtype.newbyteorder('<') if arr.dtype.byteorder == '>' else arr.dtype
    for name, known in DTYPES.items():
        if known == dt:
            return name
    raise SafetensorsError(f'unsupported dtype {arr.dtype}')


def save(path, tensors, metadata=None):
    """Write tensors (name -> numpy array) in name order, 8-byte aligned header."""
    header = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError('metadata must map str to str')
        header['__metadata__'] = dict(metadata)
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dtype = _dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=DTYPES[dtype]).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(',', ':')).encode('utf-8')
    raw += b' ' * (-len(raw) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for data in blobs:
            f.write(data)


def load(path):
    """Read a whole file: returns (tensors: name -> numpy array, metadata: dict)."""
    with open(path, 'rb') as f:
        blob = f.read()
    return loads(blob, source=str(path))


def loads(blob, source='<bytes>'):
    if len(blob) < 8:
        raise SafetensorsError(f'{source}: truncated file ({len(blob)} bytes, no header length)')
    (n,) = struct.unpack('<Q', blob[:8])
    if n > MAX_HEADER:
        raise SafetensorsError(f'{source}: header length {n} is implausible (not a safetensors file?)')
    if 8 + n > len(blob):
        raise SafetensorsError(f'{source}: truncated file: header length {n} runs past the end ({len(blob)} bytes)')
    try:
        header = json.loads(blob[8:8 + n].decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f'{source}: header is not valid JSON ({e})') from None
    if not isinstance(header, dict):
        raise SafetensorsError(f'{source}: header is not a JSON object')
    metadata = header.pop('__metadata__', {}) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise SafetensorsError(f'{source}: __metadata__ must map strings to strings')
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, info in header.items():
        try:
            dtype = DTYPES[info['dtype']]
            shape = tuple(info['shape'])
            begin, end = info['data_offsets']
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f'{source}: tensor {name!r}: malformed header entry {info!r}') from None
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in shape + (begin, end)):
            raise SafetensorsError(f'{source}: tensor {name!r}: shape and data_offsets must be integers, got {info!r}')
        if any(s < 0 for s in shape) or not 0 <= begin <= end:
            raise SafetensorsError(f'{source}: tensor {name!r}: bad shape or offsets')
        if end > len(data):
            raise SafetensorsError(
                f'{source}: truncated file: tensor {name!r} ends at byte {end} of the data section, '
                f'which has only {len(data)} bytes'
            )
        nbytes = math.prod(shape) * dtype.itemsize  # exact: no int64 wrap-around
        if end - begin != nbytes:
            raise SafetensorsError(
                f'{source}: tensor {name!r}: {end - begin} bytes for shape {list(shape)} of {info["dtype"]}'
            )
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
    return tensors, metadata
