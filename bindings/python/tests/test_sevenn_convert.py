"""The torch-free sevenn converter against the real sevenn's loaded state dicts.

Needs the four checkpoints (scripts/fetch_sevenn_checkpoints.sh DIR) and
EQUIPOT_SEVENN_CHECKPOINTS=DIR. The expected tensors (name, shape, sha256 of the
float32 bytes) were computed by sevenn 0.13 itself, after its
backward-compatibility patches (tests/fixtures/sevenn/generate.py).
"""

import hashlib
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from equipot import model_file, nequip, safetensors
from equipot.convert import irreps as ir
from equipot.convert import sevenn
from equipot.convert.torch_zip import CheckpointError

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / 'tests' / 'fixtures' / 'sevenn'
CHECKPOINTS = {
    'SevenNet_0__11Jul2024': 'SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth',
    'SevenNet_0__22May2024': 'SevenNet_0__22May2024/checkpoint_sevennet_0.pth',
    'SevenNet_l3i5': 'SevenNet_l3i5/checkpoint_l3i5.pth',
    'SevenNet_MF_0': 'SevenNet_MF_0/checkpoint_sevennet_mf_0.pth',
}


def checkpoint(name):
    root = os.environ.get('EQUIPOT_SEVENN_CHECKPOINTS')
    assert root, 'set EQUIPOT_SEVENN_CHECKPOINTS (scripts/fetch_sevenn_checkpoints.sh DIR fetches them)'
    path = Path(root) / CHECKPOINTS[name]
    assert path.is_file(), f'{path} missing: run scripts/fetch_sevenn_checkpoints.sh {root}'
    return path


def fixture(name):
    return json.loads((FIXTURES / 'state_dict' / f'{name}.json').read_text())


@pytest.fixture(scope='module', params=sorted(CHECKPOINTS))
def converted(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name) / f'{name}.eqp.safetensors'
    sevenn.convert(checkpoint(name), out)
    meta, tensors = model_file.read(out)
    return name, out, meta, tensors


def test_every_tensor_matches_sevenn(converted):
    name, _, meta, tensors = converted
    fx = fixture(name)
    assert meta['provenance']['source_sha256'] == fx['checkpoint_sha256']
    expected = {t['name']: t for t in fx['tensors']}
    kept = {n for n, t in expected.items() if sevenn.kept(n, np.zeros(t['shape']))}
    assert set(tensors) == kept
    dropped = set(expected) - kept
    assert all(n.endswith('.output_mask') or '._w3j_' in n or 0 in expected[n]['shape'] for n in dropped)
    for n in sorted(kept):
        arr = tensors[n]
        assert arr.dtype == np.float32, n
        assert list(arr.shape) == expected[n]['shape'], n
        digest = hashlib.sha256(np.ascontiguousarray(arr, dtype='<f4').tobytes()).hexdigest()
        assert digest == expected[n]['sha256'], f'{name}: {n} differs from sevenn'


def test_hyperparameters_match_sevenn_modules(converted):
    name, _, meta, _ = converted
    arch = fixture(name)['architecture']
    hp = meta['hyperparameters']
    assert hp['irreps_spherical_harmonics'] == arch['spherical_harmonics']['irreps']
    assert hp['spherical_harmonics_normalize'] == arch['spherical_harmonics']['normalize']
    assert len(hp['irreps_node']) == len(arch['blocks']) + 1
    n_modal = len(meta['modals'])
    for t, block in enumerate(arch['blocks']):
        x = hp['irreps_node'][t]
        conv = block['convolution']
        assert conv['irreps_in1'] == x
        assert ir.to_str(ir.simplify(ir.parse(conv['irreps_out']))) == hp['irreps_convolution_out'][t]
        assert block['gate']['irreps_out'] == hp['irreps_node'][t + 1]
        # sevenn's instruction order (sorted by output slot) and e3nn's path weights
        paths = ir.convolution_instructions(ir.parse(x), ir.parse(hp['irreps_spherical_harmonics']),
                                            ir.parse(hp['irreps_convolution_out'][t]))
        got = sorted((slot, i, j) for i, j, _, _, slot in paths)
        want = [(k, i1, i2) for i1, i2, k, _, _ in conv['instructions']]
        assert got == want
        for (i1, i2, k, mode, weight), (_, _, ir_out, _, _) in zip(conv['instructions'],
                                                                   sorted(paths, key=lambda p: p[4])):
            assert mode == 'uvu'
            assert abs(weight - np.sqrt(2 * ir_out[0] + 1)) < 1e-12
        si1_in = block['self_interaction_1']['irreps_in']
        assert si1_in == x + (f'+{n_modal}x0e' if hp['modality']['self_interaction_1'] else '')
    assert meta['species'] == sorted(meta['species'], key=lambda z: _symbol(z))


def _symbol(z):
    # sevenn's universal type map orders species by chemical symbol
    symbols = ('X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge '
               'As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm '
               'Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa '
               'U Np Pu').split()
    return symbols[z]


def test_metadata(converted):
    name, _, meta, _ = converted
    assert meta['format_version'] == '1.0'
    assert meta['architecture'] == 'nequip'
    assert len(meta['species']) == 89 and meta['cutoff'] == 5.0
    assert meta['units'] == {'length': 'angstrom', 'energy': 'eV'}
    if name == 'SevenNet_MF_0':
        assert meta['modals'] == ['R2SCAN', 'PBE'] and meta['default_modal'] == 'PBE'
    else:
        assert meta['modals'] == [] and meta['default_modal'] is None
    assert meta['hyperparameters']['spherical_harmonics_normalize'] == (name != 'SevenNet_0__22May2024')


def test_normalize2mom_constants_are_e3nn():
    fx = json.loads((FIXTURES / 'e3nn_constants.json').read_text())['normalize2mom']
    for act, value in sevenn.NORMALIZE2MOM.items():
        assert value == fx[act], act


def test_command_line(tmp_path):
    import subprocess
    import sys

    out = tmp_path / 'm.eqp.safetensors'
    ck = checkpoint('SevenNet_0__11Jul2024')
    run = subprocess.run([sys.executable, '-m', 'equipot.convert', 'sevenn', str(ck), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)['species'] == 89
    bad = subprocess.run([sys.executable, '-m', 'equipot.convert', 'sevenn', str(tmp_path / 'nope.pth'), str(out)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and 'cannot open' in bad.stderr


# ---- bad checkpoints ----------------------------------------------------------------------------

def test_not_a_zip(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(b'this is not a checkpoint' * 10)
    with pytest.raises(CheckpointError, match='not a zip'):
        sevenn.convert(path, tmp_path / 'o')


def test_truncated_checkpoint(tmp_path):
    data = checkpoint('SevenNet_0__11Jul2024').read_bytes()
    path = tmp_path / 'truncated.pth'
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        sevenn.convert(path, tmp_path / 'o')
    assert not (tmp_path / 'o').exists()


def test_zip_of_something_else(tmp_path):
    path = tmp_path / 'other.zip'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('readme.txt', 'hello')
    with pytest.raises(CheckpointError, match='data.pkl'):
        sevenn.convert(path, tmp_path / 'o')


def test_checkpoint_without_sevenn_config(tmp_path):
    path = tmp_path / 'plain.pth'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('archive/data.pkl', pickle.dumps({'weights': [1.0, 2.0]}, protocol=2))
    with pytest.raises(sevenn.ConversionError, match='not a sevenn checkpoint'):
        sevenn.convert(path, tmp_path / 'o')


def test_pickle_cannot_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, ('touch ' + str(tmp_path / 'pwned'),))

    path = tmp_path / 'evil.pth'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('archive/data.pkl', pickle.dumps({'config': Exploit()}, protocol=2))
    with pytest.raises(CheckpointError, match='never needs'):
        sevenn.convert(path, tmp_path / 'o')
    assert not (tmp_path / 'pwned').exists()


# ---- bad model files ----------------------------------------------------------------------------

def test_truncated_model_file(converted, tmp_path):
    _, out, _, _ = converted
    data = out.read_bytes()
    for cut, message in ((4, 'no header length'), (100, 'header length'), (len(data) - 10, 'truncated')):
        path = tmp_path / f'cut{cut}.safetensors'
        path.write_bytes(data[:cut])
        with pytest.raises(model_file.ModelFileError, match=message):
            model_file.read(path)


def test_garbage_model_file(tmp_path):
    path = tmp_path / 'garbage.safetensors'
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(model_file.ModelFileError):
        model_file.read(path)
    path.write_bytes(struct.pack('<Q', 12) + b'{not json!}!')
    with pytest.raises(model_file.ModelFileError, match='not valid JSON'):
        model_file.read(path)


def _rewrite(out, path, meta_change=None, tensor_change=None):
    meta, tensors = model_file.read(out)
    if meta_change:
        meta_change(meta)
    if tensor_change:
        tensor_change(tensors)
    model_file.write(path, meta, tensors)
    return path


def test_newer_major_version_refused(converted, tmp_path):
    _, out, _, _ = converted
    path = _rewrite(out, tmp_path / 'v2.safetensors', lambda m: m.update(format_version='2.0'))
    with pytest.raises(model_file.ModelFileError, match='newer than this reader'):
        model_file.read(path)
    path = _rewrite(out, tmp_path / 'v1.7.safetensors', lambda m: m.update(format_version='1.7'))
    model_file.read(path)  # a newer minor version is readable


def test_wrong_architecture_refused(converted, tmp_path):
    _, out, _, _ = converted
    path = _rewrite(out, tmp_path / 'arch.safetensors', lambda m: m.update(architecture='painn'))
    with pytest.raises(model_file.ModelFileError, match="unknown architecture 'painn'"):
        model_file.read(path)
    with pytest.raises(model_file.ModelFileError, match='expected'):
        model_file.read(out, expect_architecture='allegro')


def test_not_an_equipot_file(tmp_path):
    path = tmp_path / 'plain.safetensors'
    safetensors.save(path, {'w': np.zeros(3, np.float32)}, {'format': 'pt'})
    with pytest.raises(model_file.ModelFileError, match='no "equipot" metadata'):
        model_file.read(path)


def test_missing_and_misshapen_tensors(converted, tmp_path):
    _, out, _, _ = converted
    key = '2_convolution.weight_nn.layer1.weight'
    path = _rewrite(out, tmp_path / 'missing.safetensors', tensor_change=lambda t: t.pop(key))
    with pytest.raises(model_file.ModelFileError, match=f'missing tensor {key}'):
        model_file.read(path)
    path = _rewrite(out, tmp_path / 'shape.safetensors',
                    tensor_change=lambda t: t.update({key: t[key].reshape(-1)}))
    with pytest.raises(model_file.ModelFileError, match=f'tensor {key} has shape'):
        model_file.read(path)


def test_data_offsets_beyond_file(tmp_path):
    header = json.dumps({'w': {'dtype': 'F32', 'shape': [4], 'data_offsets': [0, 16]}}).encode()
    path = tmp_path / 'short.safetensors'
    path.write_bytes(struct.pack('<Q', len(header)) + header + b'\0' * 8)
    with pytest.raises(safetensors.SafetensorsError, match='truncated'):
        safetensors.load(path)


@pytest.mark.parametrize('entry, message', [
    ({'dtype': 'F32', 'shape': [2**62, 4], 'data_offsets': [0, 0]}, '0 bytes for shape'),  # int64 product wraps to 0
    ({'dtype': 'F32', 'shape': [2.5], 'data_offsets': [0, 8]}, 'must be integers'),  # was truncated to 2
    ({'dtype': 'F32', 'shape': [2], 'data_offsets': [0.0, 8]}, 'must be integers'),
    ({'dtype': 'F32', 'shape': [-2], 'data_offsets': [0, 8]}, 'bad shape or offsets'),
    ({'dtype': 'F32', 'shape': [2], 'data_offsets': [8, 0]}, 'bad shape or offsets'),
    ({'dtype': 'C64', 'shape': [1], 'data_offsets': [0, 8]}, 'malformed header entry'),
])
def test_safetensors_header_entries_are_exact(tmp_path, entry, message):
    header = json.dumps({'w': entry}).encode()
    path = tmp_path / 'bad.safetensors'
    path.write_bytes(struct.pack('<Q', len(header)) + header + b'\0' * 8)
    with pytest.raises(safetensors.SafetensorsError, match=message):
        safetensors.load(path)


def test_safetensors_round_trip(tmp_path):
    tensors = {'a': np.arange(6, dtype=np.float32).reshape(2, 3), 'b': np.array([1.5], dtype=np.float64),
               'c': np.arange(4, dtype=np.int64)}
    path = tmp_path / 'rt.safetensors'
    safetensors.save(path, tensors, {'k': 'v'})
    back, meta = safetensors.load(path)
    assert meta == {'k': 'v'}
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
    (n,) = struct.unpack('<Q', path.read_bytes()[:8])
    assert n % 8 == 0


# ---- the newer architectures (7net-mf-ompa, 7net-omat, 7net-omni) ------------------------------
# Random-weight checkpoints that sevenn's own builder made with those configurations
# (tests/fixtures/sevenn/generate_arch.py); committed, so these tests need no download.

ARCH = FIXTURES / 'arch'
ARCHS = ('mf_ompa', 'omat', 'omni')


@pytest.mark.parametrize('name', ARCHS)
def test_new_architectures_convert_as_sevenn_loads_them(name, tmp_path):
    out = tmp_path / f'{name}.eqp.safetensors'
    sevenn.convert(ARCH / 'checkpoints' / f'{name}.pth', out)
    meta, tensors = model_file.read(out)
    fx = json.loads((ARCH / 'state_dict' / f'{name}.json').read_text())
    expected = {t['name']: t for t in fx['tensors'] if sevenn.kept(t['name'], np.zeros(t['shape']))}
    assert set(tensors) == set(expected)
    for n, t in expected.items():
        digest = hashlib.sha256(np.ascontiguousarray(tensors[n], dtype='<f4').tobytes()).hexdigest()
        assert list(tensors[n].shape) == t['shape'] and digest == t['sha256'], f'{name}: {n} differs from sevenn'
    arch = fx['architecture']
    hp = meta['hyperparameters']
    assert hp['irreps_spherical_harmonics'] == arch['spherical_harmonics']['irreps']
    for t, block in enumerate(arch['blocks']):
        assert block['convolution']['irreps_in1'] == hp['irreps_node'][t]
        assert block['gate']['irreps_out'] == hp['irreps_node'][t + 1]
        assert ir.parse(block['gate']['irreps_in']) == nequip.gate_irreps_in(ir.parse(hp['irreps_node'][t + 1]))
    # the committed model file (read by the Rust tests) is this converter's output
    assert out.read_bytes() == (ARCH / 'models' / f'{name}.eqp.safetensors').read_bytes()


def test_new_architectures_metadata():
    meta = {n: model_file.read(ARCH / 'models' / f'{n}.eqp.safetensors')[0] for n in ARCHS}
    assert meta['mf_ompa']['modals'] == ['mpa', 'omat24'] and meta['mf_ompa']['default_modal'] == 'mpa'
    assert len(meta['omni']['modals']) == 13 and meta['omni']['default_modal'] == 'mpa'
    assert meta['omat']['modals'] == [] and meta['omat']['default_modal'] is None
    assert meta['mf_ompa']['hyperparameters']['irreps_spherical_harmonics'] == '1x0e+1x1o+1x2e+1x3o'
    assert meta['omat']['hyperparameters']['irreps_spherical_harmonics'] == '1x0e+1x1e+1x2e+1x3e'
    assert all(m['cutoff'] == 6.0 for m in meta.values())
    assert meta['mf_ompa']['hyperparameters']['self_connection'] == ['nequip'] * 5
    modality = meta['omni']['hyperparameters']['modality']
    assert modality['node_embedding'] and modality['modal_wise_shift'] and modality['modal_wise_scale']


@pytest.mark.parametrize('key, value, message', [
    ('interaction_type', 'allegro', "interaction_type: 'allegro'"),
    ('readout_as_fcn', True, 'readout_as_fcn: True'),
    ('use_bias_in_linear', True, 'use_bias_in_linear: True'),
    ('self_connection_type', 'none', "self_connection_type: 'none'"),
    ('act_radial', 'relu', "act_radial: 'relu'"),
    ('act_scalar', {'e': 'ssp', 'o': 'tanh'}, "act_scalar.e: 'ssp'"),
    ('act_gate', {'e': 'silu', 'o': 'abs'}, "act_gate.o: 'abs'"),
    ('radial_basis', {'radial_basis_name': 'gaussian'}, "radial_basis.radial_basis_name: 'gaussian'"),
    ('cutoff_function', {'cutoff_function_name': 'cosine'}, "cutoff_function.cutoff_function_name: 'cosine'"),
    ('cuequivariance_config', {'use': True}, 'cuequivariance_config.use: True'),
])
def test_unsupported_config_values_are_named(key, value, message):
    config, _ = sevenn.read_checkpoint(ARCH / 'checkpoints' / 'mf_ompa.pth')
    config[key] = value
    with pytest.raises(sevenn.ConversionError, match=message.replace('(', r'\(')):
        sevenn.check_config(config)


def test_irreps_the_gate_would_reorder_are_refused():
    config, _ = sevenn.read_checkpoint(ARCH / 'checkpoints' / 'mf_ompa.pth')
    manual = list(config['irreps_manual'])
    manual[1] = '4x1o+8x0e'
    config['irreps_manual'] = manual
    with pytest.raises(sevenn.ConversionError, match=r'irreps_manual\[1\]'):
        sevenn.check_config(config)
    manual[1] = '8x0o+4x1e'
    with pytest.raises(sevenn.ConversionError, match='odd gates'):
        sevenn.check_config(config)


def test_old_layout_with_parity_is_patched_as_sevenn_does(tmp_path):
    """sevenn 0.11.0.dev0's layout of the mf_ompa weights (generate_arch.py's
    old_layout_checkpoint): radial weights in the paths' creation order, and negated
    Wigner-3j buffers shared by several paths of parity-full irreps, of which sevenn flips
    only the first (it fixes the buffer in place)."""
    name = 'mf_ompa_v0.11.0.dev0'
    out = tmp_path / f'{name}.eqp.safetensors'
    sevenn.convert(ARCH / 'checkpoints' / f'{name}.pth', out)
    _, tensors = model_file.read(out)
    fx = json.loads((ARCH / 'state_dict' / f'{name}.json').read_text())
    expected = {t['name']: t for t in fx['tensors'] if sevenn.kept(t['name'], np.zeros(t['shape']))}
    assert set(tensors) == set(expected)
    for n, t in expected.items():
        digest = hashlib.sha256(np.ascontiguousarray(tensors[n], dtype='<f4').tobytes()).hexdigest()
        assert digest == t['sha256'], f'{n} differs from what sevenn loads'
    # the case it exercises: a (l1, l2, l3) shared by a flipped path and an unflipped one
    config, _ = sevenn.read_checkpoint(ARCH / 'checkpoints' / 'mf_ompa.pth')
    filt, blocks = sevenn.layer_irreps(config)
    x, _, _ = blocks[2]
    triples = [(x[i][1][0], filt[j][1][0], o[0]) for i, j, o, _, _ in
               ir.convolution_instructions(x, filt, blocks[2][1])]
    assert triples.count((1, 1, 1)) > 1
