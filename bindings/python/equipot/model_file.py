"""equipot model files: safetensors whose metadata key "equipot" holds a JSON description.

The rules are those of docs/model-format.md; the Rust reader applies the same ones.
"""

import json

from . import safetensors

FORMAT_VERSION = '1.0'
ARCHITECTURES = ('nequip', 'mace')


class ModelFileError(ValueError):
    """A model file that equipot cannot use, with the reason."""


def write(path, meta, tensors):
    safetensors.save(path, tensors, {'equipot': json.dumps(meta, sort_keys=True)})


def read(path, expect_architecture=None):
    """Returns (meta, tensors). Raises ModelFileError with a clear message."""
    try:
        tensors, metadata = safetensors.load(path)
    except safetensors.SafetensorsError as e:
        raise ModelFileError(str(e)) from None
    except OSError as e:
        raise ModelFileError(f'{path}: cannot read: {e}') from None
    if 'equipot' not in metadata:
        raise ModelFileError(f'{path}: not an equipot model file (no "equipot" metadata)')
    try:
        meta = json.loads(metadata['equipot'])
    except json.JSONDecodeError as e:
        raise ModelFileError(f'{path}: "equipot" metadata is not valid JSON ({e})') from None
    if not isinstance(meta, dict):
        raise ModelFileError(f'{path}: "equipot" metadata is not a JSON object')
    version = str(meta.get('format_version', ''))
    try:
        major, minor = (int(x) for x in version.split('.'))
    except ValueError:
        raise ModelFileError(f'{path}: unreadable format_version {version!r}') from None
    supported = int(FORMAT_VERSION.split('.')[0])
    if major > supported:
        raise ModelFileError(
            f'{path}: format version {version} is newer than this reader ({FORMAT_VERSION}); '
            'upgrade equipot to read it'
        )
    if major < 1:
        raise ModelFileError(f'{path}: format version {version} is not supported')
    arch = meta.get('architecture')
    if arch not in ARCHITECTURES:
        raise ModelFileError(f'{path}: unknown architecture {arch!r} (known: {", ".join(ARCHITECTURES)})')
    if expect_architecture is not None and arch != expect_architecture:
        raise ModelFileError(f'{path}: architecture {arch!r}, expected {expect_architecture!r}')
    for key in ('species', 'cutoff', 'hyperparameters'):
        if key not in meta:
            raise ModelFileError(f'{path}: metadata lacks "{key}"')
    if arch in ('nequip', 'mace'):
        if arch == 'nequip':
            from . import nequip as checker
        else:
            from . import mace as checker

        try:
            checker.check_tensors(meta, tensors, path)
        except (KeyError, TypeError) as e:
            raise ModelFileError(f'{path}: incomplete hyperparameters ({e!r})') from None
        except ValueError as e:
            raise ModelFileError(str(e)) from None
    return meta, tensors
