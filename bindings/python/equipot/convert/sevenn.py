"""SevenNet (sevenn) checkpoint -> equipot model file, without torch.

Reproduces what sevenn 0.13 does when it loads a checkpoint
(SevenNetCheckpoint.build_model): default the config, apply
backward_compatibility.patch_old_config, rename old module names
(map_old_model, checkpoints before 0.10.0) and re-sort the convolution paths
and their radial-network weights, flipping the sign of a path's weights where
the checkpoint's Wigner-3j coefficients carry the opposite sign of e3nn 0.6's
(sort_old_convolution, checkpoints before 0.11.0). Then it writes the tensors
under sevenn's state-dict names. See docs/model-format.md and
docs/sevennet-architecture.md.
"""

import hashlib
import json
import os

import numpy as np

from .. import __version__
from .. import model_file
from . import irreps as ir
from .torch_zip import CheckpointError, Tensor, load
from .wigner import wigner_3j

# e3nn.math.normalize2mom(act).cst of e3nn 0.6.0 (a Monte-Carlo second moment with
# torch's generator seeded 0; 1.0 where e3nn treats the scaling as identity).
# Checked against e3nn by tests/fixtures/sevenn/e3nn_constants.json.
NORMALIZE2MOM = {
    'silu': 1.6791767923989418,
    'tanh': 1.5937334472592695,
}

# sevenn 0.13's model defaults (sevenn/_const.py) for the keys the converter reads.
DEFAULTS = {
    'irreps_manual': False,
    'lmax_edge': -1,
    'lmax_node': -1,
    'is_parity': True,
    'act_radial': 'silu',
    'act_scalar': {'e': 'silu', 'o': 'tanh'},
    'act_gate': {'e': 'silu', 'o': 'tanh'},
    'weight_nn_hidden_neurons': [64, 64],
    'use_bias_in_linear': False,
    'readout_as_fcn': False,
    'self_connection_type': 'nequip',
    'interaction_type': 'nequip',
    '_normalize_sph': True,
    'use_modality': False,
    'use_modal_node_embedding': False,
    'use_modal_self_inter_intro': False,
    'use_modal_self_inter_outro': False,
    'use_modal_output_block': False,
    'use_modal_wise_shift': False,
    'use_modal_wise_scale': False,
}

DROPPED_SUFFIXES = ('.output_mask',)


class ConversionError(ValueError):
    """A checkpoint that this converter cannot turn into an equipot model."""


def _version(text):
    parts = str(text).split('.')
    try:
        return tuple(int(x) for x in parts[:3]), (parts[3] if len(parts) > 3 else '')
    except ValueError:
        raise ConversionError(f'unreadable sevenn version {text!r} in the checkpoint') from None


def _plain(value):
    """Checkpoint config values as plain Python (tensors and arrays become lists)."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def patch_old_config(config):
    """sevenn.scripts.backward_compatibility.patch_old_config, then sevenn's defaults."""
    (major, minor, _), _ = _version(config.get('version', ''))
    if major == 0 and minor <= 9:
        if config['cutoff_function']['cutoff_function_name'] == 'XPLOR':
            config['cutoff_function'].pop('poly_cut_p_value', None)
        if 'train_denominator' not in config:
            config['train_denominator'] = config.pop('train_avg_num_neigh', False)
        if config.pop('optimize_by_reduce', None) is False:
            raise ConversionError('checkpoints with optimize_by_reduce: False are not supported (nor by sevenn)')
        config.setdefault('conv_denominator', 0.0)
        config.setdefault('_normalize_sph', False)
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    return config


def _refuse(key, value, why):
    raise ConversionError(f'config {key}: {value!r} is not supported ({why})')


def check_config(config):
    """Refuses, naming the key and its value, every config value the model format cannot express."""
    fixed = {
        'interaction_type': ('nequip', 'the only interaction block equipot implements'),
        'readout_as_fcn': (False, 'only the two-linear readout is implemented'),
        'use_bias_in_linear': (False, 'model format 1.0 has no biases'),
    }
    for key, (want, why) in fixed.items():
        if config[key] != want:
            _refuse(key, config[key], why)
    name = config['radial_basis'].get('radial_basis_name')
    if name != 'bessel':
        _refuse('radial_basis.radial_basis_name', name, 'only bessel')
    name = config['cutoff_function'].get('cutoff_function_name')
    if name not in ('XPLOR', 'poly_cut'):
        _refuse('cutoff_function.cutoff_function_name', name, 'XPLOR or poly_cut')
    sc = config['self_connection_type']
    for value in [sc] if isinstance(sc, str) else sc:
        if value not in ('linear', 'nequip'):
            _refuse('self_connection_type', sc, 'linear or nequip in every block')
    for key in ('act_scalar', 'act_gate'):
        for parity, act in config[key].items():
            if act not in NORMALIZE2MOM:
                _refuse(f'{key}.{parity}', act, f'known activations: {sorted(NORMALIZE2MOM)}')
    if config['act_radial'] not in NORMALIZE2MOM:
        _refuse('act_radial', config['act_radial'], f'known activations: {sorted(NORMALIZE2MOM)}')
    cue = config.get('cuequivariance_config') or {}
    if isinstance(cue, dict) and cue.get('use'):
        _refuse('cuequivariance_config.use', cue['use'], 'the weights would be in cuEquivariance layout')
    if config['use_modality'] and not config.get('_modal_map'):
        _refuse('_modal_map', config.get('_modal_map'), 'use_modality needs the modal names')
    _, blocks = layer_irreps(config)
    for t, (_, _, out) in enumerate(blocks):
        seen_l = False
        for _, (l, _) in out:
            if l > 0:
                seen_l = True
            elif seen_l:
                _refuse(f'irreps_manual[{t + 1}]', ir.to_str(out),
                        'scalars after l > 0 irreps: sevenn\'s gate would reorder them')
        if seen_l and (0, 1) not in [i for _, i in out]:
            _refuse(f'irreps_manual[{t + 1}]', ir.to_str(out), 'gated irreps without a 0e scalar: odd gates')
    return config


def map_old_names(state):
    """sevenn.scripts.backward_compatibility.map_old_model (module names before 0.10)."""
    mapping = {
        'EdgeEmbedding': 'edge_embedding',
        'reducing nn input to hidden': 'reduce_input_to_hidden',
        'reducing nn hidden to energy': 'reduce_hidden_to_energy',
        'rescale atomic energy': 'rescale_atomic_energy',
    }
    for i in range(10):
        mapping[f'{i} self connection intro'] = f'{i}_self_connection_intro'
        mapping[f'{i} convolution'] = f'{i}_convolution'
        mapping[f'{i} self interaction 2'] = f'{i}_self_interaction_2'
        mapping[f'{i} equivariant gate'] = f'{i}_equivariant_gate'
    out = {}
    for key, value in state.items():
        module, _, rest = key.partition('.')
        rest = rest.replace('denumerator', 'denominator')
        out[f'{mapping[module]}.{rest}' if module in mapping else key] = value
    return out


def layer_irreps(config):
    """Per interaction block: (irreps_x, irreps_out_tp, irreps_out), as sevenn's model_build."""
    n_layer = config['num_convolution_layer']
    parity = -1 if config['is_parity'] else 1
    lmax_edge = config['lmax_edge'] if config['lmax_edge'] > 0 else config['lmax']
    lmax_node = config['lmax_node'] if config['lmax_node'] > 0 else config['lmax']
    filt = ir.spherical_harmonics(lmax_edge, parity)
    manual = config['irreps_manual']
    if manual is not False:
        manual = [ir.parse(x) for x in manual]
        if len(manual) != n_layer + 1:
            raise ConversionError('irreps_manual must have num_convolution_layer + 1 entries')
    channel = config['channel']
    x = manual[0] if manual else [(channel, (0, 1))]
    blocks = []
    for t in range(n_layer):
        drop_l, mode = (0, 'even') if t == n_layer - 1 else (lmax_node, 'full')
        out = manual[t + 1] if manual else ir.infer_irreps_out(x, filt, drop_l, mode, channel)
        out_tp = ir.infer_irreps_out(x, filt, ir.lmax(out), mode, False)
        blocks.append((x, out_tp, out))
        x = out
    return filt, blocks


def sort_old_convolutions(state, config):
    """sevenn's sort_old_convolution: path order by output irrep, e3nn 0.6 Wigner-3j signs."""
    filt, blocks = layer_irreps(config)
    n_hidden = len(config['weight_nn_hidden_neurons'])
    for t, (x, out_tp, _) in enumerate(blocks):
        key = f'{t}_convolution.weight_nn.layer{n_hidden}.weight'
        if key not in state:
            raise ConversionError(f'checkpoint lacks {key}')
        w = state[key]
        paths = ir.convolution_instructions(x, filt, out_tp)
        if w.shape[1] != sum(mul for *_, mul, _ in paths):
            raise ConversionError(f'{key}: {w.shape[1]} outputs, the architecture needs '
                                  f'{sum(mul for *_, mul, _ in paths)}')
        # As sevenn: the stored buffer is negated in place when a path flips, so a later
        # path with the same (l1, l2, l3) (parity-full irreps have several) sees it fixed
        # and keeps its sign.
        blocks_old, start = [], 0
        for i, j, ir_out, mul, slot in paths:
            block = w[:, start:start + mul]
            start += mul
            l1, l2, l3 = x[i][1][0], filt[j][1][0], ir_out[0]
            if l1 > 0 and l2 > 0 and l3 > 0:
                w3j_key = f'{t}_convolution.convolution._compiled_main_left_right._w3j_{l1}_{l2}_{l3}'
                if w3j_key not in state:
                    raise ConversionError(f'checkpoint lacks {w3j_key}')
                stored = state[w3j_key].astype(np.float64)
                now = wigner_3j(l1, l2, l3)
                if not np.allclose(stored, now, rtol=1e-5, atol=1e-8):
                    if not np.allclose(stored, -now, rtol=1e-5, atol=1e-8):
                        raise ConversionError(f'{w3j_key} is neither +/- the e3nn Wigner-3j')
                    state[w3j_key] = -state[w3j_key]
                    block = -block
            blocks_old.append((slot, block))
        state[key] = np.concatenate([b for _, b in sorted(blocks_old, key=lambda sb: sb[0])], axis=1)
    return state


def kept(name, array):
    """Tensors of sevenn's state dict that the model file keeps (constants are recomputed)."""
    return array.size > 0 and not name.endswith(DROPPED_SUFFIXES) and '._w3j_' not in name


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def read_checkpoint(path):
    """Returns (config, state dict of numpy arrays) after sevenn's loading patches."""
    ck = load(path)
    if not isinstance(ck, dict) or 'config' not in ck or 'model_state_dict' not in ck:
        raise ConversionError(f'{path}: not a sevenn checkpoint (no config / model_state_dict)')
    config = _plain(ck['config'])
    if not isinstance(config, dict) or 'version' not in config:
        raise ConversionError(f'{path}: not a sevenn checkpoint (config has no version)')
    state = {}
    for name, value in ck['model_state_dict'].items():
        if not isinstance(value, Tensor):
            raise ConversionError(f'{path}: state dict entry {name} is not a tensor')
        state[name] = value.numpy(name)
    config = check_config(patch_old_config(config))
    version, suffix = _version(config['version'])
    if version < (0, 10, 0):
        state = map_old_names(state)
    if version < (0, 11, 0) or (version == (0, 11, 0) and suffix == 'dev0'):
        state = sort_old_convolutions(state, config)
    return config, state


def metadata(config, source_path):
    type_map = {int(z): int(i) for z, i in config['_type_map'].items()}
    species = [z for z, _ in sorted(type_map.items(), key=lambda zi: zi[1])]
    if sorted(type_map.values()) != list(range(len(type_map))):
        raise ConversionError('the checkpoint type map is not a permutation of 0..n-1')
    filt, blocks = layer_irreps(config)
    n_layer = config['num_convolution_layer']
    sc = config['self_connection_type']
    sc = [sc] * n_layer if isinstance(sc, str) else list(sc)
    modal_map = config.get('_modal_map') if config['use_modality'] else None
    modals = [m for m, _ in sorted(modal_map.items(), key=lambda mi: mi[1])] if modal_map else []
    acts = {config['act_radial'], *config['act_scalar'].values(), *config['act_gate'].values()}
    cutoff_fn = dict(config['cutoff_function'])
    cutoff_name = cutoff_fn.pop('cutoff_function_name')
    if cutoff_name == 'poly_cut':
        cutoff_fn.setdefault('poly_cut_p_value', 6)
    radial = dict(config['radial_basis'])
    if radial.pop('radial_basis_name') != 'bessel':
        raise ConversionError('only the Bessel radial basis is supported')
    hyper = {
        'num_species': len(species),
        'num_interaction_blocks': n_layer,
        'irreps_spherical_harmonics': ir.to_str(filt),
        'spherical_harmonics_normalize': bool(config['_normalize_sph']),
        'irreps_node': [ir.to_str(x) for x, _, _ in blocks] + [ir.to_str(blocks[-1][2])],
        'irreps_convolution_out': [ir.to_str(out_tp) for _, out_tp, _ in blocks],
        'radial_basis': {
            'name': 'bessel',
            'num_basis': int(radial.get('bessel_basis_num', 8)),
            'trainable': bool(radial.get('trainable_coeff', True)),
        },
        'cutoff_function': {'name': cutoff_name, **cutoff_fn},
        'radial_mlp_hidden': list(config['weight_nn_hidden_neurons']),
        'activation_radial': config['act_radial'],
        'activation_scalars': dict(config['act_scalar']),
        'activation_gates': dict(config['act_gate']),
        'self_connection': sc,
        'use_bias_in_linear': bool(config['use_bias_in_linear']),
        'readout': 'linear',
        'modality': {
            'use_modality': bool(config['use_modality']),
            'node_embedding': bool(config['use_modal_node_embedding']),
            'self_interaction_1': bool(config['use_modal_self_inter_intro']),
            'self_interaction_2': bool(config['use_modal_self_inter_outro']),
            'output_block': bool(config['use_modal_output_block']),
            'modal_wise_shift': bool(config['use_modal_wise_shift']),
            'modal_wise_scale': bool(config['use_modal_wise_scale']),
        },
    }
    return {
        'format_version': model_file.FORMAT_VERSION,
        'architecture': 'nequip',
        'flavor': 'sevennet',
        'species': species,
        'cutoff': float(config['cutoff']),
        'units': {'length': 'angstrom', 'energy': 'eV'},
        'modals': modals,
        'default_modal': config.get('default_modal') if modals else None,
        'hyperparameters': hyper,
        'constants': {'normalize2mom': {a: NORMALIZE2MOM[a] for a in sorted(acts)}},
        'tensor_names': 'sevenn',
        'provenance': {
            'converter': f'equipot.convert.sevenn {__version__}',
            'source_file': os.path.basename(str(source_path)),
            'source_sha256': _sha256(source_path),
            'source_format': 'sevenn checkpoint',
            'source_version': str(config['version']),
        },
    }


def convert(checkpoint, out):
    """Convert a sevenn checkpoint to an equipot model file. Returns the metadata."""
    config, state = read_checkpoint(checkpoint)
    meta = metadata(config, checkpoint)
    tensors = {name: np.asarray(arr, dtype=np.float32) for name, arr in state.items() if kept(name, arr)}
    model_file.write(out, meta, tensors)
    return meta


def main(args):
    if len(args) != 2:
        raise SystemExit('usage: python -m equipot.convert sevenn CHECKPOINT OUT')
    try:
        meta = convert(args[0], args[1])
    except (ConversionError, CheckpointError, model_file.ModelFileError) as e:
        raise SystemExit(f'error: {e}')
    print(json.dumps({'wrote': args[1], 'species': len(meta['species']), 'modals': meta['modals']}))
