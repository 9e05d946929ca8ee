"""The tensors a "mace" model file must hold, derived from its metadata.

docs/mace-architecture.md explains each tensor; docs/model-format.md the rules.
The symmetric contraction's U matrices are stored sparse, three tensors per
`U_matrix_{nu}` (`.shape`, `.indices`, `.values`); their last dimension K must
match the contraction weights of the same order.
"""

import numpy as np

from .convert import irreps as ir
from .nequip import _fctp_numel, _linear_numel

U_PARTS = ('shape', 'indices', 'values')


def contraction_prefix(t, k):
    return f'products.{t}.symmetric_contractions.contractions.{k}'


def weight_name(prefix, nu, correlation):
    """mace stores weights_max for nu = correlation and weights.{i} for nu = correlation - 1 - i."""
    return f'{prefix}.weights_max' if nu == correlation else f'{prefix}.weights.{correlation - 1 - nu}'


def expected_tensors(meta):
    """name -> shape of every dense tensor in the file (U matrices excluded, see check_tensors)."""
    hp = meta['hyperparameters']
    n = len(meta['species'])
    attr = [(n, (0, 1))]
    nodes = [ir.parse(x) for x in hp['irreps_node']]
    sh = ir.parse(hp['irreps_spherical_harmonics'])
    # a multi-head model (format 1.3): one E0 row, scale, shift and readout output per head
    heads = len(meta.get('modals') or []) or 1
    energies = [(heads, (0, 1))]
    out = {
        'node_embedding.linear.weight': (_linear_numel(attr, nodes[0]),),
        'atomic_energies_fn.atomic_energies': (heads, n) if heads > 1 else (n,),
        'radial_embedding.bessel_fn.bessel_weights': (hp['radial_basis']['num_basis'],),
        'scale_shift.scale': (heads,),
        'scale_shift.shift': (heads,),
    }
    # format 1.2: the Bessel prefactor and the cutoff's r_max as the model stores them
    if hp['radial_basis'].get('prefactor') == 'stored':
        out['radial_embedding.bessel_fn.prefactor'] = (1,)
    if hp['cutoff_function'].get('r_max') == 'stored':
        out['radial_embedding.cutoff_fn.r_max'] = (1,)
    if hp.get('pair_repulsion') is not None:
        if hp['pair_repulsion'].get('name') != 'zbl':
            raise ValueError(f'pair repulsion {hp["pair_repulsion"]!r} is not supported')
        out.update({'pair_repulsion_fn.c': (4,), 'pair_repulsion_fn.covalent_radii': (None,),
                    'pair_repulsion_fn.a_exp': (1,), 'pair_repulsion_fn.a_prefactor': (1,)})
    if hp.get('distance_transform') is not None:
        kind = hp['distance_transform'].get('name')
        if kind not in ('agnesi', 'soft'):
            raise ValueError(f'distance transform {hp["distance_transform"]!r} is not supported')
        scalars = ('q', 'p', 'a') if kind == 'agnesi' else ('alpha',)
        out.update({f'radial_embedding.distance_transform.{k}': (1,) for k in scalars})
        out['radial_embedding.distance_transform.covalent_radii'] = (None,)
    n_int = hp['num_interactions']
    for t in range(n_int):
        h_in, h_out = nodes[t], nodes[t + 1]
        edge = ir.parse(hp['irreps_edge'][t])
        target = ir.parse(hp['irreps_target'][t])
        paths = ir.convolution_instructions(edge, sh, target)
        message = [(mul, i) for _, _, i, mul, _ in sorted(paths, key=lambda p: p[4])]
        b = f'interactions.{t}'
        out[f'{b}.linear_up.weight'] = (_linear_numel(h_in, edge),)
        hs = [hp['radial_basis']['num_basis']] + list(hp['radial_mlp_hidden']) + [sum(m for *_, m, _ in paths)]
        for k in range(len(hs) - 1):
            out[f'{b}.conv_tp_weights.layer{k}.weight'] = (hs[k], hs[k + 1])
        out[f'{b}.linear.weight'] = (_linear_numel(message, target),)
        kind = hp['interactions'][t]
        if kind in ('residual', 'density_residual'):
            out[f'{b}.skip_tp.weight'] = (_fctp_numel(h_in, attr, h_out),)
        elif kind in ('plain', 'density'):
            out[f'{b}.skip_tp.weight'] = (_fctp_numel(target, attr, target),)
        else:
            raise ValueError(f'interaction kind {kind!r} is not supported')
        if kind.startswith('density'):
            out[f'{b}.density_fn.layer0.weight'] = (hp['radial_basis']['num_basis'], 1)
        out[f'products.{t}.linear.weight'] = (_linear_numel(h_out, h_out),)
        mul = target[0][0]
        for k, (_, irrep) in enumerate(h_out):
            p = contraction_prefix(t, k)
            for nu in range(1, hp['correlation'][t] + 1):
                out[weight_name(p, nu, hp['correlation'][t])] = (n, None, mul)  # K_nu from the file
        readout = hp['readouts'][t]
        if readout['kind'] == 'linear':
            out[f'readouts.{t}.linear.weight'] = (_linear_numel(h_out, energies),)
        else:
            hidden = ir.parse(readout['irreps_hidden'])
            out[f'readouts.{t}.linear_1.weight'] = (_linear_numel(h_out, hidden),)
            out[f'readouts.{t}.linear_2.weight'] = (_linear_numel(hidden, energies),)
    return out


def dense_u(tensors, name):
    """Rebuild the dense U matrix `name` from its sparse triple."""
    shape = tuple(int(x) for x in tensors[f'{name}.shape'])
    dense = np.zeros(int(np.prod(shape)), dtype=tensors[f'{name}.values'].dtype)
    dense[tensors[f'{name}.indices']] = tensors[f'{name}.values']
    return dense.reshape(shape)


def check_tensors(meta, tensors, source):
    """Raise ValueError naming the first missing, unexpected or misshapen tensor."""
    hp = meta['hyperparameters']
    want = expected_tensors(meta)
    seen = set()
    for name, shape in want.items():
        if name not in tensors:
            raise ValueError(f'{source}: missing tensor {name} (shape {list(shape)})')
        arr = tensors[name]
        if arr.dtype.kind != 'f' or arr.dtype.itemsize not in (4, 8):
            raise ValueError(f'{source}: tensor {name} has dtype {arr.dtype}, expected F32 or F64')
        if len(arr.shape) != len(shape) or any(w is not None and w != s for w, s in zip(shape, arr.shape)):
            raise ValueError(f'{source}: tensor {name} has shape {list(arr.shape)}, expected {list(shape)}')
        seen.add(name)
    nodes = [ir.parse(x) for x in hp['irreps_node']]
    dim = sum(2 * l + 1 for _, (l, _) in ir.parse(hp['irreps_spherical_harmonics']))
    for t in range(hp['num_interactions']):
        corr = hp['correlation'][t]
        for k, (_, (l, _)) in enumerate(nodes[t + 1]):
            p = contraction_prefix(t, k)
            for nu in range(1, corr + 1):
                u = f'{p}.U_matrix_{nu}'
                for part in U_PARTS:
                    if f'{u}.{part}' not in tensors:
                        raise ValueError(f'{source}: missing tensor {u}.{part}')
                    seen.add(f'{u}.{part}')
                shape = [int(x) for x in tensors[f'{u}.shape']]
                k_nu = tensors[weight_name(p, nu, corr)].shape[1]
                expect = ([2 * l + 1] if l > 0 else []) + [dim] * nu + [k_nu]
                if shape != expect:
                    raise ValueError(f'{source}: {u} has shape {shape}, expected {expect}')
                idx = tensors[f'{u}.indices']
                if tensors[f'{u}.values'].shape != idx.shape or idx.ndim != 1:
                    raise ValueError(f'{source}: {u}.indices and .values differ in shape')
                if idx.size and (idx[0] < 0 or idx[-1] >= np.prod(shape) or np.any(np.diff(idx) <= 0)):
                    raise ValueError(f'{source}: {u}.indices are not increasing flat indices into {shape}')
    unknown = sorted(set(tensors) - seen)
    if unknown:
        raise ValueError(f'{source}: unexpected tensor {unknown[0]} for this architecture')
