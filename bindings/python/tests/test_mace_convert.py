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
from equipot.convert.torch_zip import CheckpointError, Stub, Tensor, _stub_class
from equipot.convert import torch_zip

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / 'tests' / 'fixtures' / 'mace' / 'models'
NAMES = ('mp0_l1', 'off_l1', 'mp0_l0_3int', 'mp0_l1_f32', 'off_l0_f32', 'mpa_zbl', 'mpa_zbl_f32', 'mpa_agnesi', 'mp0_soft',
         'mpa_density', 'density_l0_f32', 'mh_residual', 'mh_density_f32')


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def stored(fx, key):
    """A number of the generator's configuration as the model stores it (float32-saved models
    hold their buffers rounded to float32)."""
    value = fx['hyperparameters'][key]
    if fx['hyperparameters'].get('dtype') == 'float32':
        return [float(np.float32(v)) for v in value] if isinstance(value, list) else float(np.float32(value))
    return value


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
    # one scale and shift per head (multi-head models), else one
    assert tensors['scale_shift.scale'].tolist() == np.atleast_1d(stored(fx, 'scale')).tolist()
    assert tensors['scale_shift.shift'].tolist() == np.atleast_1d(stored(fx, 'shift')).tolist()
    heads = fx['hyperparameters'].get('heads')
    assert meta['modals'] == (heads or [])
    assert meta['default_modal'] == ('Default' if heads and 'Default' in heads else None)
    assert tensors['atomic_energies_fn.atomic_energies'].shape == ((len(heads), 4) if heads else (4,))
    # density blocks: their density_fn weights, and only there
    for t, kind in enumerate(meta['hyperparameters']['interactions']):
        assert (f'interactions.{t}.density_fn.layer0.weight' in tensors) == kind.startswith('density')
    r_max = stored(fx, 'r_max')
    assert tensors['radial_embedding.cutoff_fn.r_max'][0] == r_max == meta['cutoff']
    # the stored prefactor, not sqrt(2 / r_max) (which differs from it in a float32 model)
    assert tensors['radial_embedding.bessel_fn.prefactor'][0] == state['radial_embedding.bessel_fn.prefactor']
    for name in mace.STORED_F64:
        if name in state:
            assert tensors[name].dtype == np.float64, name
    # ZBL: the buffers exactly as mace holds them, and only for the models that have the flag
    assert ('pair_repulsion_fn.c' in tensors) == bool(fx['hyperparameters'].get('pair_repulsion'))
    assert (meta['hyperparameters']['pair_repulsion'] is not None) == bool(fx['hyperparameters'].get('pair_repulsion'))
    # Agnesi: likewise, only for the models built with it
    transform = fx['hyperparameters'].get('distance_transform')
    assert ('radial_embedding.distance_transform.covalent_radii' in tensors) == (transform is not None)
    assert meta['hyperparameters']['distance_transform'] == (transform and {'name': transform.lower()})


def test_refuses_what_it_does_not_describe(model):
    _, path, _ = model
    root, _ = mace.read_model(path)
    heads = root.state.get('heads', ['Default'])
    root.state['heads'] = heads + ['extra']  # one head more than E0 rows
    with pytest.raises(mace.ConversionError, match=f'{len(heads) + 1} head'):
        mace.describe(root)
    root.state['heads'] = heads
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


def test_format_1_1_file_still_reads():
    """Files of format 1.1 hold no prefactor or cutoff r_max tensors: both follow from r_max."""
    meta, tensors = model_file.read(MODELS / 'format_1_1' / 'mp0_l0_3int.eqp.safetensors', expect_architecture='mace')
    assert meta['format_version'] == '1.1' and meta['hyperparameters']['radial_basis']['prefactor'] == 'sqrt(2/r_max)'
    mace_file.check_tensors(meta, tensors, 'x')
    assert 'radial_embedding.bessel_fn.prefactor' not in mace_file.expected_tensors(meta)


def test_refuses_other_pickles(tmp_path):
    with pytest.raises(CheckpointError):
        mace.convert(MODELS / 'mp0_l1.json', tmp_path / 'x.eqp.safetensors')


# --- refusals, on stub trees altered the way other mace models differ ------------------------

class _Storage(torch_zip._Storage):
    """An in-memory storage for a crafted Tensor (the reader checks views against it)."""

    def __init__(self, array):
        super().__init__(None, 'crafted', array.dtype, array.size)
        self._array = array


def tensor(value, dtype=np.float64):
    if isinstance(dtype, Stub):  # a tree: its float dtype
        dtype = dtype.state['_buffers']['r_max'].numpy().dtype
    a = np.asarray(value, dtype=dtype)
    return Tensor(_Storage(a.reshape(-1)), 0, a.shape, [int(np.prod(a.shape[k + 1:])) for k in range(a.ndim)])


def stub(qualname, **buffers):
    module, name = qualname.rsplit('.', 1)
    obj = _stub_class(module, name)()
    obj.state = {'_parameters': {}, '_buffers': {k: tensor(v) for k, v in buffers.items()}, '_modules': {}}
    return obj


def agnesi(root, **buffers):
    """An AgnesiTransform stub whose buffers have the tree's float dtype."""
    module = stub('mace.modules.radial.AgnesiTransform')
    module.state['_buffers'] = {k: tensor(v, root) for k, v in buffers.items()}
    return module


def retype(root, path, qualname):
    module, name = qualname.rsplit('.', 1)
    mace.child(root, path).__class__ = _stub_class(module, name)


def add(root, path, kind, name, value):
    """Adds a parameter, buffer or submodule `name` to the module at `path` ('' = the root)."""
    module = mace.child(root, path) if path else root
    module.state[kind][name] = value


def other_dtype(root, path):
    """Turns one buffer of a float32 model into float64, or of a float64 one into float32."""
    module, name = path.rsplit('.', 1)
    buffers = mace.child(root, module).state['_buffers']
    value = buffers[name].numpy()
    buffers[name] = tensor(value, np.float64 if value.dtype == np.float32 else np.float32)


REFUSALS = {
    'heads without per-head values': (lambda r: r.state.__setitem__('heads', ['a', 'b']),
                                      r'atomic_energies_fn.atomic_energies has shape \[4\]; 2 head\(s\)'),
    'heads twice': (lambda r: r.state.__setitem__('heads', ['a', 'a']), 'lists a head twice'),
    'heads not names': (lambda r: r.state.__setitem__('heads', 'ab'), 'must be a list of names'),
    'per-head E0': (lambda r: add(r, 'atomic_energies_fn', '_buffers', 'atomic_energies', tensor(np.zeros((2, 4)), r)),
                    r'atomic_energies_fn.atomic_energies has shape \[2, 4\]'),
    'per-head scale': (lambda r: add(r, 'scale_shift', '_buffers', 'scale', tensor([1.0, 2.0], r)), 'scale_shift.scale has shape'),
    'ZBL': (lambda r: add(r, '', '_modules', 'pair_repulsion_fn', stub('mace.modules.radial.ZBLBasis')),
            'pair_repulsion_fn without the attribute pair_repulsion'),
    'ZBL flag only': (lambda r: r.state.__setitem__('pair_repulsion', True), 'pair_repulsion_fn without the attribute'),
    'Agnesi without buffers': (lambda r: add(r, 'radial_embedding', '_modules', 'distance_transform',
                                             stub('mace.modules.radial.AgnesiTransform')),
                               'radial_embedding.distance_transform: lacks the tensor q'),
    'Agnesi without radii': (lambda r: add(r, 'radial_embedding', '_modules', 'distance_transform',
                                           agnesi(r, q=0.9, p=4.6, a=1.1, covalent_radii=np.zeros(119))),
                             'distance_transform.covalent_radii must hold a positive radius per species'),
    'Agnesi extra buffer': (lambda r: add(r, 'radial_embedding', '_modules', 'distance_transform',
                                          agnesi(r, q=0.9, p=4.6, a=1.1, r0=1.0, covalent_radii=np.ones(119))),
                            'unexpected buffer r0 on mace.modules.radial.AgnesiTransform'),
    'Soft without buffers': (lambda r: add(r, 'radial_embedding', '_modules', 'distance_transform',
                                           stub('mace.modules.radial.SoftTransform')),
                             'radial_embedding.distance_transform: lacks the tensor alpha'),
    'density without density_fn': (lambda r: retype(r, 'interactions.1', 'mace.modules.blocks.RealAgnosticDensityResidualInteractionBlock'),
                                   'the model has no module interactions.1.density_fn'),
    'non-linear': (lambda r: retype(r, 'interactions.1', 'mace.modules.blocks.RealAgnosticResidualNonLinearInteractionBlock'),
                   'non-linear interaction'),
    'Gaussian': (lambda r: retype(r, 'radial_embedding.bessel_fn', 'mace.modules.radial.GaussianBasis'), 'Gaussian radial basis'),
    'Chebyshev': (lambda r: retype(r, 'radial_embedding.bessel_fn', 'mace.modules.radial.ChebychevBasis'), 'Chebyshev radial basis'),
    'unknown cutoff': (lambda r: retype(r, 'radial_embedding.cutoff_fn', 'mace.modules.radial.CosineCutoff'),
                       'radial_embedding.cutoff_fn: unknown class mace.modules.radial.CosineCutoff'),
    'unknown interaction': (lambda r: retype(r, 'interactions.1', 'mace.modules.blocks.MyInteractionBlock'),
                            'interactions.1: unknown class mace.modules.blocks.MyInteractionBlock'),
    'unknown readout': (lambda r: retype(r, 'readouts.0', 'mace.modules.blocks.MyReadoutBlock'),
                        'readouts.0: unknown class'),
    'bias readout': (lambda r: retype(r, 'readouts.1', 'mace.modules.blocks.NonLinearBiasReadoutBlock'), 'readout with biases'),
    'MACE class': (lambda r: setattr(r, '__class__', _stub_class('mace.modules.models', 'MACE')), 'only mace.modules.models.ScaleShiftMACE'),
    'extra buffer': (lambda r: add(r, 'radial_embedding.bessel_fn', '_buffers', 'offset', tensor(0.1, r)),
                     'radial_embedding.bessel_fn: unexpected buffer offset on mace.modules.radial.BesselBasis'),
    'extra submodule': (lambda r: add(r, 'interactions.1', '_modules', 'density_fn', stub('e3nn.nn._fc.FullyConnectedNet')),
                        'interactions.1: unexpected submodule density_fn'),
    'extra parameter': (lambda r: add(r, 'scale_shift', '_parameters', 'extra', tensor([1.0], r)),
                        'scale_shift: unexpected parameter extra'),
    'dtype mixture': (lambda r: other_dtype(r, 'radial_embedding.bessel_fn.prefactor'),
                      r'mixes floating-point dtypes \(r_max is float(32|64), radial_embedding.bessel_fn.prefactor is'),
    'cutoff r_max': (lambda r: add(r, 'radial_embedding.cutoff_fn', '_buffers', 'r_max', tensor(3.0, r)),
                     'radial_embedding.cutoff_fn.r_max 3.0 differs from the model r_max'),
    'apply_cutoff': (lambda r: mace.child(r, 'radial_embedding').state.__setitem__('apply_cutoff', False), 'apply_cutoff=False'),
    'one readout': (lambda r: mace.child(r, 'readouts').state['_modules'].pop('0'),
                    'readouts: 1 modules for num_interactions = 2'),
    'avg_num_neighbors': (lambda r: mace.child(r, 'interactions.0').state.__setitem__('avg_num_neighbors', 'x'),
                          'interactions.0.avg_num_neighbors .* must be a positive number'),
}


@pytest.fixture(params=['mp0_l1', 'off_l0_f32'])
def tree(request, tmp_path):
    """(path of a pickled fixture model, a fresh stub tree of it)."""
    path = tmp_path / f'{request.param}.model'
    with lzma.open(MODELS / f'{request.param}.model.xz') as src, open(path, 'wb') as dst:
        shutil.copyfileobj(src, dst)
    return path, mace.read_model(path)[0]


@pytest.mark.parametrize('case', REFUSALS)
def test_refuses(case, tree, tmp_path, monkeypatch):
    path, root = tree
    alter, message = REFUSALS[case]
    alter(root)
    with pytest.raises(mace.ConversionError, match=message):
        mace.model_for_file(root)
    # and convert writes nothing
    monkeypatch.setattr(mace, 'read_model', lambda _: (root, None))
    out = tmp_path / 'out.eqp.safetensors'
    with pytest.raises(mace.ConversionError):
        mace.convert(path, out)
    assert not out.exists()


def test_float16_is_refused(tree):
    _, root = tree
    for _, module in mace._tree(root):
        for kind in ('_parameters', '_buffers'):
            for name, t in module.state.get(kind, {}).items() if isinstance(module.state, dict) else ():
                if t is not None and t.numpy().dtype.kind == 'f':
                    module.state[kind][name] = tensor(t.numpy(), np.float16)
    with pytest.raises(mace.ConversionError, match='dtype float16 is not supported'):
        mace.model_for_file(root)


def test_stored_values_are_kept(tree):
    """What mace reads from its buffers is stored as it is, never recomputed."""
    _, root = tree
    add(root, 'radial_embedding.bessel_fn', '_buffers', 'prefactor', tensor(0.7, root))
    mace.child(root, 'interactions.0').state['avg_num_neighbors'] = tensor(5.5)
    meta, tensors = mace.model_for_file(root)
    prefactor = mace.state_dict(root)['radial_embedding.bessel_fn.prefactor']
    assert prefactor == np.float32(0.7) if prefactor.dtype == np.float32 else prefactor == 0.7
    assert tensors['radial_embedding.bessel_fn.prefactor'].tolist() == [float(prefactor)]
    assert meta['hyperparameters']['avg_num_neighbors'][0] == 5.5


@pytest.fixture(params=['mpa_density', 'mh_residual'])
def newer(request, tmp_path):
    """A fresh stub tree of a density or multi-head fixture model."""
    path = tmp_path / f'{request.param}.model'
    with lzma.open(MODELS / f'{request.param}.model.xz') as src, open(path, 'wb') as dst:
        shutil.copyfileobj(src, dst)
    return request.param, mace.read_model(path)[0]


def test_refuses_density_and_head_variants_it_does_not_evaluate(newer):
    """A density_fn with a hidden layer or an activation, and a readout whose heads do not
    match the model's, are refused, naming the module."""
    name, root = newer
    if name == 'mpa_density':
        net = mace.child(root, 'interactions.0.density_fn')
        net.state['hs'] = [8, 4, 1]
        with pytest.raises(mace.ConversionError, match=r'interactions.0.density_fn: widths \[8, 4, 1\]'):
            mace.model_for_file(root)
        net.state['hs'] = [8, 1]
        mace.child(net, 'layer0').state['_modules']['act'] = stub('e3nn.math._normalize_activation.normalize2mom')
        with pytest.raises(mace.ConversionError, match='interactions.0.density_fn.layer0: an activation'):
            mace.model_for_file(root)
    else:
        mace.child(root, 'readouts.1').state['num_heads'] = 1
        with pytest.raises(mace.ConversionError, match=r'readouts.1: hidden irreps 12x0e cannot be split into 3 heads'):
            mace.model_for_file(root)
