"""mace-torch model (a whole pickled ScaleShiftMACE) -> equipot model file, without torch.

mace saves models with `torch.save(model)`: the pickle references mace's, e3nn's
and torch.nn's classes. The restricted unpickler of torch_zip turns each of
them into an inert stub holding the module's __dict__ (its `_parameters`,
`_buffers`, `_modules` and plain attributes), so nothing from the file runs.
From that tree this module rebuilds mace's state dict, reads the
hyper-parameters mace keeps as attributes (irreps, avg_num_neighbors,
correlation, the normalize2mom constants, ...), refuses everything
docs/mace-architecture.md does not describe (every module must be of a class
in LAYOUT, with the children mace gives it), and writes the format-1.2 "mace"
file (docs/model-format.md) with the U matrices stored sparse. Models saved in
float32 convert exactly: what mace's forward reads from buffers (Bessel
prefactor and frequencies, the cutoff's r_max, E0, scale, shift) is stored as
it is, never recomputed.
"""

import hashlib
import json
import math
import os
import re

import numpy as np

from .. import __version__
from .. import mace as mace_file
from .. import model_file
from . import irreps as ir
from .torch_zip import CheckpointError, Stub, Tensor, load

# A file says the oldest version that describes it: 1.3 only for density blocks or several heads.
FORMAT_VERSION = '1.2'
FORMAT_VERSION_NEWER_VARIANTS = '1.3'
STUB_MODULES = ('mace', 'e3nn', 'torch.nn', 'torch.fx')
INTERACTIONS = {
    'mace.modules.blocks.RealAgnosticInteractionBlock': 'plain',
    'mace.modules.blocks.RealAgnosticResidualInteractionBlock': 'residual',
    'mace.modules.blocks.RealAgnosticDensityInteractionBlock': 'density',
    'mace.modules.blocks.RealAgnosticDensityResidualInteractionBlock': 'density_residual',
}
# The interaction kinds whose skip_tp acts on the block input and is added after the product.
RESIDUAL_KINDS = ('residual', 'density_residual')
READOUTS = {
    'mace.modules.blocks.LinearReadoutBlock': 'linear',
    'mace.modules.blocks.NonLinearReadoutBlock': 'nonlinear',
}
SILU = 'torch.nn.functional.silu'
TOP_MODULES = {'node_embedding', 'radial_embedding', 'spherical_harmonics', 'atomic_energies_fn',
               'interactions', 'products', 'readouts', 'scale_shift', 'pair_repulsion_fn'}
# The buffers mace's forward reads as they are stored (a float32 model holds them rounded to
# float32): the file keeps them, exactly, as F64 tensors.
STORED_F64 = ('radial_embedding.bessel_fn.bessel_weights', 'radial_embedding.bessel_fn.prefactor',
              'radial_embedding.cutoff_fn.r_max', 'atomic_energies_fn.atomic_energies',
              'scale_shift.scale', 'scale_shift.shift',
              'pair_repulsion_fn.c', 'pair_repulsion_fn.covalent_radii', 'pair_repulsion_fn.a_exp',
              'pair_repulsion_fn.a_prefactor',
              'radial_embedding.distance_transform.q', 'radial_embedding.distance_transform.p',
              'radial_embedding.distance_transform.a', 'radial_embedding.distance_transform.covalent_radii',
              'radial_embedding.distance_transform.alpha')

# Classes of mace 0.3.16 this converter knows it cannot evaluate, and what they are.
UNSUPPORTED = {
    'mace.modules.radial.GaussianBasis': 'a Gaussian radial basis',
    'mace.modules.radial.ChebychevBasis': 'a Chebyshev radial basis',
    'mace.modules.blocks.RealAgnosticAttResidualInteractionBlock': 'an attention interaction',
    'mace.modules.blocks.RealAgnosticResidualNonLinearInteractionBlock': 'a non-linear interaction',
    'mace.modules.radial.RadialMLP': 'a non-linear interaction\'s radial MLP',
    'mace.modules.blocks.NonLinearBiasReadoutBlock': 'a readout with biases',
    'mace.modules.blocks.GeneralNonLinearBiasReadoutBlock': 'a readout with biases',
}
_INTERACTION_CHILDREN = 'conv_tp|conv_tp_weights|linear|linear_up|reshape|skip_tp'
_CODEGEN = r'_compiled_main\w*'  # e3nn's generated code (and its Wigner-3j buffers), not read
# Every class the converter reads: the names its parameters, buffers and submodules may have
# (regular expressions). Anything else in the tree is refused: it would compute something this
# converter does not know about.
LAYOUT = {
    'mace.modules.models.ScaleShiftMACE': ('', 'atomic_numbers|num_interactions|r_max', '|'.join(sorted(TOP_MODULES))),
    'mace.modules.blocks.LinearNodeEmbeddingBlock': ('', '', 'linear'),
    'mace.modules.blocks.RadialEmbeddingBlock': ('', '', 'bessel_fn|cutoff_fn|distance_transform'),
    'mace.modules.radial.AgnesiTransform': ('a|p|q', 'a|p|q|covalent_radii', ''),
    'mace.modules.radial.SoftTransform': ('alpha', 'alpha|covalent_radii', ''),
    'mace.modules.radial.BesselBasis': ('bessel_weights', 'bessel_weights|prefactor|r_max', ''),
    'mace.modules.radial.PolynomialCutoff': ('', 'p|r_max', ''),
    'mace.modules.radial.ZBLBasis': ('a_exp|a_prefactor', 'a_exp|a_prefactor|c|covalent_radii|p', ''),
    'mace.modules.blocks.AtomicEnergiesBlock': ('', 'atomic_energies', ''),
    'mace.modules.blocks.RealAgnosticInteractionBlock': ('', '', _INTERACTION_CHILDREN),
    'mace.modules.blocks.RealAgnosticResidualInteractionBlock': ('', '', _INTERACTION_CHILDREN),
    'mace.modules.blocks.RealAgnosticDensityInteractionBlock': ('', '', _INTERACTION_CHILDREN + '|density_fn'),
    'mace.modules.blocks.RealAgnosticDensityResidualInteractionBlock': ('', '', _INTERACTION_CHILDREN + '|density_fn'),
    'mace.modules.irreps_tools.reshape_irreps': ('', '', ''),
    'mace.modules.blocks.EquivariantProductBasisBlock': ('', '', 'linear|symmetric_contractions'),
    'mace.modules.symmetric_contraction.SymmetricContraction': ('', '', 'contractions'),
    'mace.modules.symmetric_contraction.Contraction': (
        'weights_max', r'U_matrix_\d+|weights_(\d+|max)_zeroed',
        'contractions_features|contractions_weighting|graph_opt_main|weights'),
    'mace.modules.blocks.LinearReadoutBlock': ('', '', 'linear'),
    'mace.modules.blocks.NonLinearReadoutBlock': ('', '', 'linear_1|linear_2|non_linearity'),
    'mace.modules.blocks.ScaleShiftBlock': ('', 'scale|shift', ''),
    'e3nn.o3._linear.Linear': ('weight', 'bias|output_mask', _CODEGEN),
    'e3nn.o3._spherical_harmonics.SphericalHarmonics': ('', '', ''),
    'e3nn.o3._tensor_product._sub.FullyConnectedTensorProduct': ('weight', 'output_mask', _CODEGEN),
    'e3nn.o3._tensor_product._tensor_product.TensorProduct': ('', 'output_mask|weight', _CODEGEN),
    'e3nn.nn._fc.FullyConnectedNet': ('', '', r'layer\d+'),
    'e3nn.nn._fc._Layer': ('weight', '', 'act'),
    'e3nn.nn._activation.Activation': ('', '', 'acts'),
    'e3nn.math._normalize_activation.normalize2mom': ('', '', ''),
    'torch.nn.modules.container.ModuleList': ('', '', r'\d+'),
    'torch.nn.modules.container.ParameterList': (r'\d+', '', ''),
    # mace's traced contraction code: the converter evaluates the contraction from its tensors
    'torch.fx.graph_module.reduce_graph_module': ('', '', '.*'),
}


class ConversionError(ValueError):
    """A model that this converter cannot turn into an equipot model."""


# --- the stub tree ----------------------------------------------------------------------------

def _state(module):
    """A stub module's __dict__; an fx GraphModule pickles as reduce_graph_module(body, ...)."""
    if module.qualname == 'torch.fx.graph_module.reduce_graph_module':
        return module.args[0]
    return module.state


def _kind(module):
    return module.qualname if isinstance(module, Stub) else type(module).__name__


def child(module, path):
    """The submodule at a dotted path, or a ConversionError naming it."""
    for part in path.split('.'):
        children = _state(module).get('_modules', {})
        if part not in children or children[part] is None:
            raise ConversionError(f'the model has no module {path}')
        module = children[part]
    return module


def attr(module, name, default=KeyError):
    st = _state(module)
    if name in st:
        return st[name]
    if default is KeyError:
        raise ConversionError(f'{_kind(module)} lacks the attribute {name}')
    return default


def state_dict(module, prefix=''):
    """torch.nn.Module.state_dict() of the stub tree: name -> numpy array."""
    st = _state(module)
    out = {}
    for name, p in st.get('_parameters', {}).items():
        if p is not None:
            out[prefix + name] = p.numpy(prefix + name)
    skip = st.get('_non_persistent_buffers_set', set())
    for name, b in st.get('_buffers', {}).items():
        if b is not None and name not in skip:
            out[prefix + name] = b.numpy(prefix + name)
    for name, m in st.get('_modules', {}).items():
        if m is not None:
            out.update(state_dict(m, f'{prefix}{name}.'))
    return out


def irreps(value):
    """e3nn Irreps (a stub of tuples of _MulIr(mul, Irrep((l, p)))) or a string -> [(mul, (l, p))]."""
    if isinstance(value, str):
        return ir.parse(value)
    if not isinstance(value, Stub) or not value.qualname.endswith('Irreps'):
        raise ConversionError(f'expected irreps, found {value!r}')
    out = []
    for mul_ir in value.args[0]:
        mul, irrep = mul_ir.args[0]
        l, p = irrep.args[0]
        out.append((int(mul), (int(l), int(p))))
    return out


def _instructions(module):
    """e3nn Instruction namedtuples (stubs) -> tuples of their fields."""
    return [tuple(i.args) for i in attr(module, 'instructions')]


# --- checks and hyper-parameters ---------------------------------------------------------------

def _tree(module, path=''):
    """(path, module) of every module, depth first; generated code (fx graphs, e3nn's
    `_compiled_main*`) is not entered."""
    yield path, module
    if _kind(module) == 'torch.fx.graph_module.reduce_graph_module':
        return
    for name, sub in _state(module).get('_modules', {}).items():
        if sub is not None and not re.fullmatch(_CODEGEN, name):
            yield from _tree(sub, f'{path}.{name}' if path else name)


def check_layout(root):
    """Refuse a class the converter cannot evaluate, an unknown class, or a known class with a
    parameter, buffer or submodule mace 0.3.16 does not give it."""
    tree = list(_tree(root))
    for path, module in tree:
        if _kind(module) in UNSUPPORTED:
            raise ConversionError(f'{path or "the model"}: {_kind(module)} ({UNSUPPORTED[_kind(module)]}) '
                                  'is not supported')
    for path, module in tree:
        where = path or 'the model'
        if _kind(module) not in LAYOUT:
            raise ConversionError(f'{where}: unknown class {_kind(module)} is not supported')
        st = _state(module)
        for what, key, pattern in zip(('parameter', 'buffer', 'submodule'), ('_parameters', '_buffers', '_modules'),
                                      LAYOUT[_kind(module)]):
            for name, value in st.get(key, {}).items():
                if value is not None and not re.fullmatch(pattern, name):
                    raise ConversionError(f'{where}: unexpected {what} {name} on {_kind(module)}')


def check_dtypes(state):
    """The floating-point dtype shared by every tensor: a model mixing float32 and float64 (which
    mace's own forward either refuses or evaluates with type promotion) is refused."""
    dtypes = {}
    for name, arr in state.items():
        if arr.dtype.kind == 'f':
            dtypes.setdefault(arr.dtype, name)
    if len(dtypes) > 1:
        parts = ', '.join(f'{name} is {dt}' for dt, name in dtypes.items())
        raise ConversionError(f'the model mixes floating-point dtypes ({parts}): not supported')
    dtype = next(iter(dtypes), np.dtype(np.float64))
    if dtype not in (np.float32, np.float64):
        raise ConversionError(f'{dtypes[dtype]}: dtype {dtype} is not supported (only float32 or float64)')
    return str(dtype)


def _normalize2mom(module, constants, where):
    """The silu of a normalize2mom module: record its constant (must agree everywhere)."""
    if _kind(module) != 'e3nn.math._normalize_activation.normalize2mom':
        raise ConversionError(f'{where}: activation {_kind(module)} is not supported (only normalize2mom silu)')
    f = attr(module, 'f')
    if getattr(f, 'qualname', None) != SILU:
        raise ConversionError(f'{where}: activation {getattr(f, "qualname", f)} is not supported (only silu)')
    cst = float(attr(module, 'cst'))
    if attr(module, '_is_id', False):  # e3nn then skips the constant
        raise ConversionError(f'{where}: normalize2mom marked as identity (cst {cst}) is not supported')
    if constants.setdefault('silu', cst) != cst:
        raise ConversionError(f'{where}: normalize2mom constant {cst} differs from {constants["silu"]}')


def _radial_mlp(net, constants, where):
    """FullyConnectedNet([n_basis, h..., W], silu) without biases: returns the hidden widths."""
    hs = [int(h) for h in attr(net, 'hs')]
    for k in range(len(hs) - 1):
        layer = child(net, f'layer{k}')
        if attr(layer, 'var_in') != 1 or attr(layer, 'var_out') != 1:
            raise ConversionError(f'{where}.layer{k}: var_in / var_out other than 1 are not supported')
        act = _state(layer).get('_modules', {}).get('act', attr(layer, 'act', None))
        if (act is None) != (k == len(hs) - 2):
            raise ConversionError(f'{where}.layer{k}: activation only between layers is supported')
        if act is not None:
            _normalize2mom(act, constants, f'{where}.layer{k}')
    return hs[1:-1]


def _no_bias(module, where):
    if attr(module, 'bias_numel', 0):
        raise ConversionError(f'{where}: linear layers with biases are not supported')


def describe(root):
    """(hyperparameters, constants, species, cutoff, dtype) of a ScaleShiftMACE stub tree."""
    if _kind(root) != 'mace.modules.models.ScaleShiftMACE':
        raise ConversionError(f'{_kind(root)} is not supported (only mace.modules.models.ScaleShiftMACE)')
    check_layout(root)
    heads = _heads(root)
    for flag in ('use_so3', 'use_agnostic_product', 'use_last_readout_only', 'use_edge_irreps_first'):
        if attr(root, flag, False):
            raise ConversionError(f'{flag}=True is not supported')
    if not attr(root, 'apply_cutoff', True):
        raise ConversionError('apply_cutoff=False is not supported')
    if attr(root, 'edge_irreps', None) is not None:
        raise ConversionError('edge_irreps is not supported')
    state = state_dict(root)
    dtype = check_dtypes(state)
    species = [int(z) for z in state['atomic_numbers']]
    if species != sorted(set(species)):
        raise ConversionError('atomic_numbers must be increasing')
    cutoff = float(state['r_max'])
    constants = {}
    n_heads = len(heads)
    for name, want in (('atomic_energies_fn.atomic_energies', (len(species),)), ('scale_shift.scale', ()),
                       ('scale_shift.shift', ())):
        # one value per head (mace: a 1-d E0 and 0-d scale/shift for a single head)
        allowed = ((n_heads,) + want,) if n_heads > 1 else (want, (1,) + want)
        if np.shape(state[name]) not in allowed:
            raise ConversionError(f'{name} has shape {list(np.shape(state[name]))}; {n_heads} head(s) and '
                                  f'{len(species)} species need {list(allowed[0])}')

    # Bessel basis and polynomial cutoff: mace evaluates them with their stored buffers (the
    # prefactor sqrt(2/r_max) and the frequencies n pi / r_max as rounded in the model's dtype),
    # which the file keeps (STORED_F64); the Bessel r_max enters nothing but their construction.
    radial = child(root, 'radial_embedding')
    if not attr(radial, 'apply_cutoff', True):
        raise ConversionError('radial_embedding: apply_cutoff=False is not supported')
    for name in ('radial_embedding.bessel_fn.prefactor', 'radial_embedding.cutoff_fn.r_max'):
        value = np.asarray(state[name])
        if value.shape != () or not np.isfinite(value) or value <= 0:
            raise ConversionError(f'{name} = {value} must be a positive number')
    if float(state['radial_embedding.cutoff_fn.r_max']) != cutoff:
        raise ConversionError(f'radial_embedding.cutoff_fn.r_max {float(state["radial_embedding.cutoff_fn.r_max"])} '
                              f'differs from the model r_max {cutoff}')
    p = state['radial_embedding.cutoff_fn.p']
    if p.shape != () or p.dtype.kind not in 'iu' or p < 1:
        raise ConversionError(f'radial_embedding.cutoff_fn.p = {p} must be a positive integer')

    pair_repulsion = _pair_repulsion(root, state, species)
    distance_transform = _distance_transform(radial, state, species)

    sh = child(root, 'spherical_harmonics')
    if attr(sh, 'normalize') is not True or attr(sh, 'normalization') != 'component':
        raise ConversionError('spherical harmonics must be normalize=True, normalization="component"')
    sh_irreps = irreps(attr(sh, 'irreps_out'))
    if any(p != (-1) ** l for _, (l, p) in sh_irreps):
        raise ConversionError('spherical harmonics without parity (use_so3) are not supported')
    _no_bias(child(root, 'node_embedding.linear'), 'node_embedding.linear')

    n_int = int(state['num_interactions'])
    interactions, products, readouts = (child(root, n) for n in ('interactions', 'products', 'readouts'))
    for name, modules in (('interactions', interactions), ('products', products), ('readouts', readouts)):
        # mace's forward runs the modules it has, whatever num_interactions says
        if len([m for m in attr(modules, '_modules').values() if m is not None]) != n_int:
            raise ConversionError(f'{name}: {len(attr(modules, "_modules"))} modules for num_interactions = {n_int} '
                                  '(use_last_readout_only?): not supported')
    hp_nodes, hp_edge, hp_target, kinds, avg, corr, residual, ro, mlp = [], [], [], [], [], [], [], [], []
    for t in range(n_int):
        block, product, readout = (child(m, str(t)) for m in (interactions, products, readouts))
        kind = INTERACTIONS.get(_kind(block))
        if kind is None:
            raise ConversionError(f'interactions.{t}: {_kind(block)} is not supported')
        kinds.append(kind)
        h_in = irreps(attr(block, 'node_feats_irreps'))
        # blocks pickled by older mace versions may lack edge_irreps: linear_up then keeps the node irreps
        edge = irreps(attr(block, 'edge_irreps', None) or attr(block, 'node_feats_irreps'))
        target = irreps(attr(block, 'target_irreps'))
        if edge != h_in:
            raise ConversionError(f'interactions.{t}: edge irreps {ir.to_str(edge)} differ from the node irreps')
        paths = ir.convolution_instructions(edge, sh_irreps, target)
        mace_paths = _instructions(child(block, 'conv_tp'))
        ours = [(i, j, slot) for i, j, _, _, slot in paths]
        theirs = sorted(((i1, i2, io) for i1, i2, io, *_ in mace_paths), key=lambda x: x[2])
        if sorted(ours, key=lambda x: x[2]) != theirs or any(m[3] != 'uvu' for m in mace_paths):
            raise ConversionError(f'interactions.{t}.conv_tp: instructions differ from equipot\'s construction')
        for i, j, (l3, _), _, _ in paths:
            if (edge[i][1][0] + sh_irreps[j][1][0] + l3) % 2:
                raise ConversionError(f'interactions.{t}.conv_tp: odd l1+l2+l3 path (e3nn 0.4.4 sign differs)')
        for name in ('linear_up', 'linear'):
            _no_bias(child(block, name), f'interactions.{t}.{name}')
        mlp.append(_radial_mlp(child(block, 'conv_tp_weights'), constants, f'interactions.{t}.conv_tp_weights'))
        avg.append(_number(attr(block, 'avg_num_neighbors'), f'interactions.{t}.avg_num_neighbors'))
        sc = child(product, 'symmetric_contractions')
        h_out = irreps(attr(sc, 'irreps_out'))
        if irreps(attr(sc, 'irreps_in')) != target:
            raise ConversionError(f'products.{t}: contraction input differs from the target irreps')
        contractions = [child(sc, f'contractions.{k}') for k in range(len(h_out))]
        c = {int(attr(x, 'correlation')) for x in contractions}
        if len(c) != 1:
            raise ConversionError(f'products.{t}: contractions of different correlation orders')
        corr.append(c.pop())
        if attr(product, 'use_agnostic_product', False):
            raise ConversionError(f'products.{t}: use_agnostic_product is not supported')
        residual.append(bool(attr(product, 'use_sc')))
        if residual[-1] and kind not in RESIDUAL_KINDS:
            raise ConversionError(f'products.{t}: use_sc after a non-residual interaction')
        _no_bias(child(product, 'linear'), f'products.{t}.linear')
        skip = child(block, 'skip_tp')
        want_skip = (h_in, h_out) if kind in RESIDUAL_KINDS else (target, target)
        if kind.startswith('density'):
            _density_fn(child(root, f'interactions.{t}.density_fn'), state, f'interactions.{t}.density_fn')
        if (irreps(attr(skip, 'irreps_in1')), irreps(attr(skip, 'irreps_out'))) != want_skip:
            raise ConversionError(f'interactions.{t}.skip_tp: irreps differ from mace\'s construction')
        rk = READOUTS.get(_kind(readout))
        if rk is None or (rk == 'nonlinear') != (t == n_int - 1):
            raise ConversionError(f'readouts.{t}: {_kind(readout)} is not supported here')
        _readout_heads(readout, n_heads, f'readouts.{t}')
        if rk == 'linear':
            _no_bias(child(readout, 'linear'), f'readouts.{t}.linear')
            ro.append({'kind': 'linear'})
        else:
            acts = [child(readout, f'non_linearity.acts.{k}') for k in range(len(attr(child(readout, 'non_linearity.acts'), '_modules')))]
            if len(acts) != 1:
                raise ConversionError(f'readouts.{t}: only one activation (silu on scalars) is supported')
            _normalize2mom(acts[0], constants, f'readouts.{t}.non_linearity')
            for name in ('linear_1', 'linear_2'):
                _no_bias(child(readout, name), f'readouts.{t}.{name}')
            ro.append({'kind': 'nonlinear', 'irreps_hidden': ir.to_str(irreps(attr(readout, 'hidden_irreps'))),
                       'activation': 'silu'})
        hp_nodes.append(ir.to_str(h_in))
        hp_edge.append(ir.to_str(edge))
        hp_target.append(ir.to_str(target))
        if t == n_int - 1:
            hp_nodes.append(ir.to_str(h_out))
    if len({tuple(m) for m in mlp}) != 1:
        raise ConversionError('radial MLPs of different widths per interaction are not supported')
    hyper = {
        'num_species': len(species),
        'num_interactions': n_int,
        'irreps_spherical_harmonics': ir.to_str(sh_irreps),
        'irreps_node': hp_nodes,
        'irreps_edge': hp_edge,
        'irreps_target': hp_target,
        'interactions': kinds,
        'avg_num_neighbors': avg,
        'correlation': corr,
        'product_residual': residual,
        'radial_basis': {'name': 'bessel', 'num_basis': int(state['radial_embedding.bessel_fn.bessel_weights'].size),
                         'prefactor': 'stored'},
        'cutoff_function': {'name': 'polynomial', 'p': int(p), 'r_max': 'stored'},
        'apply_cutoff': True,
        'distance_transform': distance_transform,
        'pair_repulsion': pair_repulsion,
        'radial_mlp_hidden': mlp[0],
        'activation_radial': 'silu',
        'readouts': ro,
        'use_bias_in_linear': False,
    }
    return hyper, {'normalize2mom': constants}, species, cutoff, dtype, heads


def _heads(root):
    """mace's `heads`: distinct non-empty names (one, 'Default', for a single-head model)."""
    heads = attr(root, 'heads', ['Default'])
    if not isinstance(heads, (list, tuple)) or not heads or not all(isinstance(h, str) and h for h in heads):
        raise ConversionError(f'heads = {heads!r} must be a list of names')
    if len(set(heads)) != len(heads):
        raise ConversionError(f'heads = {heads!r} lists a head twice')
    return list(heads)


def _readout_heads(readout, n_heads, where):
    """A readout emits one energy per head; the non-linear one masks its hidden layer per head
    (mace's mask_head: head h keeps hidden channels h*k .. h*k+k-1)."""
    linears = ('linear',) if _kind(readout).endswith('.LinearReadoutBlock') else ('linear_1', 'linear_2')
    out = irreps(attr(child(readout, linears[-1]), 'irreps_out'))
    if out != [(n_heads, (0, 1))]:
        raise ConversionError(f'{where}: output irreps {ir.to_str(out)} for {n_heads} head(s)')
    if len(linears) == 2:
        hidden = irreps(attr(readout, 'hidden_irreps'))
        if int(attr(readout, 'num_heads', 1)) != n_heads or len(hidden) != 1 or hidden[0][1] != (0, 1) \
                or hidden[0][0] % n_heads:
            raise ConversionError(f'{where}: hidden irreps {ir.to_str(hidden)} cannot be split into '
                                  f'{n_heads} heads (num_heads {attr(readout, "num_heads", 1)})')


def _density_fn(net, state, where):
    """A density block's FullyConnectedNet([n_basis, 1]): one layer, no activation, no bias."""
    hs = [int(h) for h in attr(net, 'hs')]
    if len(hs) != 2 or hs[1] != 1:
        raise ConversionError(f'{where}: widths {hs}; only [num_basis, 1] is supported')
    layer = child(net, 'layer0')
    if attr(layer, 'var_in') != 1 or attr(layer, 'var_out') != 1:
        raise ConversionError(f'{where}.layer0: var_in / var_out other than 1 are not supported')
    if _state(layer).get('_modules', {}).get('act', attr(layer, 'act', None)) is not None:
        raise ConversionError(f'{where}.layer0: an activation on the density is not supported')
    _stored(state, f'{where}.layer0.weight')


def _pair_repulsion(root, state, species):
    """mace adds ZBLBasis's pair energy when the model has the attribute `pair_repulsion` (its
    forward tests hasattr): {"name": "zbl", "p": p} with its buffers stored (STORED_F64), or None."""
    has_fn = _state(root).get('_modules', {}).get('pair_repulsion_fn') is not None
    if ('pair_repulsion' in _state(root)) != has_fn:
        raise ConversionError('pair_repulsion_fn without the attribute pair_repulsion (mace would not call it) '
                              'or the reverse: not supported')
    if not has_fn:
        return None
    if _kind(child(root, 'pair_repulsion_fn')) != 'mace.modules.radial.ZBLBasis':
        raise ConversionError(f'pair_repulsion_fn: {_kind(child(root, "pair_repulsion_fn"))} is not supported')
    for name, shape in (('c', (4,)), ('a_exp', ()), ('a_prefactor', ())):
        value = _stored(state, f'pair_repulsion_fn.{name}')
        if np.shape(value) != shape or not np.all(np.isfinite(value)):
            raise ConversionError(f'pair_repulsion_fn.{name} must be finite of shape {list(shape)}')
    _radii(state, 'pair_repulsion_fn.covalent_radii', species)
    p = _stored(state, 'pair_repulsion_fn.p')
    if p.shape != () or p.dtype.kind not in 'iu' or p < 1:
        raise ConversionError(f'pair_repulsion_fn.p = {p} must be a positive integer')
    return {'name': 'zbl', 'p': int(p)}


def _distance_transform(radial, state, species):
    """mace's AgnesiTransform or SoftTransform of r before the Bessel basis: {"name": "agnesi"}
    or {"name": "soft"} with its buffers stored (STORED_F64), or None."""
    module = _state(radial).get('_modules', {}).get('distance_transform')
    if module is None:
        return None
    kind = {'mace.modules.radial.AgnesiTransform': 'agnesi', 'mace.modules.radial.SoftTransform': 'soft'}[_kind(module)]
    where = 'radial_embedding.distance_transform'
    for name in ('q', 'p', 'a') if kind == 'agnesi' else ('alpha',):
        value = _stored(state, f'{where}.{name}')
        if np.shape(value) != () or not np.isfinite(value):
            raise ConversionError(f'{where}.{name} must be a finite number')
    _radii(state, f'{where}.covalent_radii', species)
    return {'name': kind}


def _stored(state, name):
    """A tensor the module needs, or a ConversionError naming it."""
    if name not in state:
        raise ConversionError(f'{name.rsplit(".", 1)[0]}: lacks the tensor {name.rsplit(".", 1)[1]}')
    return state[name]


def _radii(state, name, species):
    """A covalent-radius table (indexed by Z) with a positive, finite radius per species."""
    radii = _stored(state, name)
    if radii.ndim != 1 or radii.size <= max(species) or not np.all(np.isfinite(radii[species])) \
            or np.any(radii[species] <= 0):
        raise ConversionError(f'{name} must hold a positive radius per species')


def _number(value, where):
    """A plain float attribute (or a 0-d tensor holding one) as a Python float."""
    if isinstance(value, Tensor):
        value = value.numpy()
    try:
        number = float(value) if np.shape(value) == () else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not number > 0 or not math.isfinite(number):
        raise ConversionError(f'{where} = {value!r} must be a positive number')
    return number


# --- tensors ------------------------------------------------------------------------------------

def sparse(u):
    """(shape, flat increasing indices, values) of the nonzeros of u."""
    flat = np.ascontiguousarray(u).reshape(-1)
    idx = np.flatnonzero(flat)
    return np.asarray(u.shape, dtype=np.int64), idx.astype(np.int64), flat[idx].copy()


def tensors_for_file(state, hyper):
    """The model file's tensors from mace's state dict; every dropped tensor is checked."""
    out = {}
    nodes = [ir.parse(x) for x in hyper['irreps_node']]
    for name, arr in state.items():
        if name in ('atomic_numbers', 'r_max', 'num_interactions', 'radial_embedding.bessel_fn.r_max',
                    'radial_embedding.cutoff_fn.p', 'pair_repulsion_fn.p'):
            continue  # moved to the metadata, or unused by mace's forward (checked in describe)
        if name.endswith(('.output_mask', '.bias', 'conv_tp.weight')) or '._w3j_' in name:
            if name.endswith(('.bias', 'conv_tp.weight')) and arr.size:
                raise ConversionError(f'{name}: a non-empty tensor mace should not have here')
            continue  # derived from the irreps, or empty
        if name.endswith('_zeroed'):
            if bool(arr):
                raise ConversionError(f'{name} is true (a zero U matrix): not supported')
            continue
        if '.U_matrix_' in name:
            shape, idx, values = sparse(arr)
            out[f'{name}.shape'], out[f'{name}.indices'], out[f'{name}.values'] = shape, idx, values
            continue
        if name in STORED_F64:
            # exact: float32 -> float64; a multi-head model's E0 keeps its (heads, species) shape
            arr = np.asarray(arr, dtype=np.float64)
            arr = arr.reshape(-1) if arr.ndim < 2 or arr.shape[0] == 1 else arr
        out[name] = np.ascontiguousarray(arr)
    for t in range(hyper['num_interactions']):
        for k in range(len(nodes[t + 1])):
            for nu in range(1, hyper['correlation'][t] + 1):
                u = f'{mace_file.contraction_prefix(t, k)}.U_matrix_{nu}'
                if not np.array_equal(mace_file.dense_u(out, u), state[u]):
                    raise ConversionError(f'{u}: the sparse round trip is not exact')
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def read_model(path):
    """(root stub, state dict) of a pickled mace model file."""
    root = load(path, stubs=STUB_MODULES)
    if not isinstance(root, Stub):
        raise ConversionError(f'{path}: not a pickled mace model (a {type(root).__name__}; '
                              'state-dict checkpoints are not supported)')
    return root, state_dict(root)


def model_for_file(root, source='the model', provenance=None):
    """(metadata, tensors) of the equipot file for a ScaleShiftMACE stub tree, every check done."""
    hyper, constants, species, cutoff, dtype, heads = describe(root)
    multi = len(heads) > 1
    # a multi-head model's heads are its modals; mace's calculator defaults to the head named
    # 'default' (any case) and otherwise needs one named
    default = next((h for h in heads if h.lower() == 'default'), None) if multi else None
    meta = {
        'format_version': FORMAT_VERSION_NEWER_VARIANTS if multi or any(
            k.startswith('density') for k in hyper['interactions']) else FORMAT_VERSION,
        'architecture': 'mace',
        'flavor': 'mace-torch',
        'species': species,
        'cutoff': cutoff,
        'units': {'length': 'angstrom', 'energy': 'eV'},
        'modals': heads if multi else [],
        'default_modal': default,
        'hyperparameters': hyper,
        'constants': constants,
        'tensor_names': 'mace',
        'provenance': {
            'converter': f'equipot.convert.mace {__version__}',
            **(provenance or {}),
            'source_format': 'pickled torch.nn.Module (mace-torch)',
            'source_version': 'mace-torch 0.3.x, e3nn 0.4.4',
            'source_dtype': dtype,
        },
    }
    tensors = tensors_for_file(state_dict(root), hyper)
    try:
        mace_file.check_tensors(meta, tensors, source)
    except ValueError as e:
        raise ConversionError(str(e)) from None
    return meta, tensors


def convert(model_path, out):
    """Convert a pickled mace-torch ScaleShiftMACE to an equipot model file. Returns the metadata.
    Nothing is written unless every check passes."""
    root, _ = read_model(model_path)
    name = os.path.basename(str(model_path))
    meta, tensors = model_for_file(root, name, {'source_file': name, 'source_sha256': _sha256(model_path)})
    model_file.write(out, meta, tensors)
    return meta


def main(args):
    if len(args) != 2:
        raise SystemExit('usage: python -m equipot.convert mace MODEL OUT')
    try:
        meta = convert(args[0], args[1])
    except (ConversionError, CheckpointError, model_file.ModelFileError) as e:
        raise SystemExit(f'error: {e}')
    print(json.dumps({'wrote': args[1], 'species': len(meta['species']),
                      'interactions': meta['hyperparameters']['interactions']}))


__all__ = ['convert', 'main', 'ConversionError', 'Tensor']
