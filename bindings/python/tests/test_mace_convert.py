"""The torch-free mace converter against mace-torch's own state dicts.

The fixture models (tests/fixtures/mace/models/*.model.xz) are whole pickled
ScaleShiftMACE modules saved by mace-torch 0.3.16; the expected state dicts
(name, shape, sha256 of every tensor) were computed by mace-torch itself
(tests/fixtures/mace/generate_models.py), which also wrote the committed
equipot files with this converter.
"""

import hashlib
import json
import lzma
import shutil
from pathlib import Path

import numpy as np
import pytest

from equipot import mace as mace_file
from equipot import model_file
from equipot.convert import mace
from equipot.convert.torch_zip import CheckpointError

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / 'tests' / 'fixtures' / 'mace' / 'models'
NAMES = ('mp0_l1', 'off_l1', 'mp0_l0_3int', 'mp0_l1_f32', 'off_l0_f32')


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def stored(fx, key):
    """A number of the generator's configuration as the model stores it (float32-saved models
    hold their buffers rounded to float32)."""
    value = fx['hyperparameters'][key]
    return float(np.float32(value)) if fx['hyperparameters'].get('dtype') == 'float32' else value


@pytest.fixture(scope='module', params=NAMES)
def model(request, tmp_path_factory):
    """(name, path of the pickled model, fixture JSON)."""
    name = request.param
    path = tmp_path_factory.mktemp(name) / f'{name}.model'
    with lzma.open(MODELS / f'{name}.model.xz') as src, open(path, 'wb') as dst:
        shutil.copyfileobj(src, dst)
    fx = json.loads((MODELS / f'{name}.json').read_text())
    assert sha256(path.read_bytes()) == fx['model_sha256']
    return name, path, fx


def test_state_dict_matches_mace(model):
    _, path, fx = model
    _, state = mace.read_model(path)
    # e3nn 0.4.4 rebuilds its Wigner-3j buffers on unpickling: they are not in the file
    expected = {k: v for k, v in fx['state_dict'].items() if '._w3j_' not in k}
    assert sorted(state) == sorted(expected)
    for name, arr in state.items():
        assert list(arr.shape) == expected[name]['shape'], name
        assert sha256(np.ascontiguousarray(arr).tobytes()) == expected[name]['sha256'], name


def test_conversion_reproduces_committed_file(model, tmp_path):
    name, path, fx = model
    out = tmp_path / f'{name}.eqp.safetensors'
    meta = mace.convert(path, out)
    assert out.read_bytes() == (MODELS / f'{name}.eqp.safetensors').read_bytes()
    hp = fx['hyperparameters']
    assert meta['species'] == hp['atomic_numbers']
    assert meta['cutoff'] == stored(fx, 'r_max')
    assert meta['provenance']['source_dtype'] == hp.get('dtype', 'float64')
    assert meta['hyperparameters']['avg_num_neighbors'] == [hp['avg_num_neighbors']] * hp['num_interactions']
    assert meta['hyperparameters']['correlation'] == [hp['correlation']] * hp['num_interactions']
    first = {mace.INTERACTIONS[k]: k for k in mace.INTERACTIONS}
    assert first[meta['hyperparameters']['interactions'][0]].endswith(hp['interaction_first'])
    assert meta['constants']['normalize2mom'] == {'silu': 1.6791767923989418}


def test_file_tensors_are_mace_tensors(model, tmp_path):
    name, path, fx = model
    _, state = mace.read_model(path)
    meta, tensors = model_file.read(MODELS / f'{name}.eqp.safetensors', expect_architecture='mace')
    n_u = 0
    for key in state:
        if '.U_matrix_' in key:
            dense = mace_file.dense_u(tensors, key)
            assert dense.dtype == state[key].dtype and np.array_equal(dense, state[key]), key
            n_u += 1
        elif key in tensors:
            assert np.array_equal(tensors[key].reshape(state[key].shape), state[key]), key
    assert n_u > 0
    assert tensors['scale_shift.scale'][0] == stored(fx, 'scale')
    assert tensors['scale_shift.shift'][0] == stored(fx, 'shift')
    r_max = stored(fx, 'r_max')
    assert tensors['radial_embedding.cutoff_fn.r_max'][0] == r_max == meta['cutoff']
    # the stored prefactor, not sqrt(2 / r_max) (which differs from it in a float32 model)
    assert tensors['radial_embedding.bessel_fn.prefactor'][0] == state['radial_embedding.bessel_fn.prefactor']
    for name in mace.STORED_F64:
        assert tensors[name].dtype == np.float64, name


def test_refuses_what_it_does_not_describe(model):
    _, path, _ = model
    root, _ = mace.read_model(path)
    root.state['heads'] = ['a', 'b']
    with pytest.raises(mace.ConversionError, match='multi-head'):
        mace.describe(root)
    root.state['heads'] = ['Default']
    root.state['apply_cutoff'] = False
    with pytest.raises(mace.ConversionError, match='apply_cutoff'):
        mace.describe(root)
    root.state['apply_cutoff'] = True
    block = mace.child(root, 'interactions.0')
    block.state['avg_num_neighbors'] = 3.0
    mace.describe(root)  # a plain attribute: read, not refused
    act = mace.child(root, 'interactions.0.conv_tp_weights.layer0.act')
    act.state['cst'] = 1.5
    with pytest.raises(mace.ConversionError, match='normalize2mom constant'):
        mace.describe(root)


def test_file_checks(tmp_path):
    meta, tensors = model_file.read(MODELS / 'mp0_l1.eqp.safetensors')
    u = f'{mace_file.contraction_prefix(0, 1)}.U_matrix_2'
    broken = dict(tensors)
    broken[f'{u}.shape'] = tensors[f'{u}.shape'] + 1
    with pytest.raises(ValueError, match='U_matrix_2 has shape'):
        mace_file.check_tensors(meta, broken, 'x')
    broken = dict(tensors)
    del broken['interactions.1.skip_tp.weight']
    with pytest.raises(ValueError, match='missing tensor interactions.1.skip_tp.weight'):
        mace_file.check_tensors(meta, broken, 'x')
    broken = dict(tensors)
    broken['extra.weight'] = np.zeros(3)
    with pytest.raises(ValueError, match='unexpected tensor extra.weight'):
        mace_file.check_tensors(meta, broken, 'x')


def test_refuses_other_pickles(tmp_path):
    with pytest.raises(CheckpointError):
        mace.convert(MODELS / 'mp0_l1.json', tmp_path / 'x.eqp.safetensors')
