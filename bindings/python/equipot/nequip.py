"""The tensors a "nequip" (SevenNet) model file must hold, derived from its metadata.

docs/sevennet-architecture.md explains each tensor; docs/model-format.md the rules.
"""

from .convert import irreps as ir


def _linear_numel(irreps_in, irreps_out):
    """e3nn o3.Linear without biases: one (mul_in, mul_out) block per pair of equal irreps."""
    return sum(m_in * m_out for m_in, ir_in in irreps_in for m_out, ir_out in irreps_out if ir_in == ir_out)


def _fctp_numel(irreps_in1, irreps_in2, irreps_out):
    """e3nn FullyConnectedTensorProduct ('uvw' paths) weight count."""
    return sum(
        m1 * m2 * m3
        for m1, ir1 in irreps_in1
        for m2, ir2 in irreps_in2
        for m3, ir3 in irreps_out
        if ir3 in ir.product(ir1, ir2)
    )


def gate_irreps_in(irreps_out):
    """e3nn Gate input for sevenn's EquivariantGate: scalars, then one gate scalar per gated
    irrep (even if the scalars hold a 0e, else odd), then the gated irreps -- simplified, as
    e3nn does (e.g. 224x0e+64x1e+32x2e), which fixes the weight layout of the linear layers
    that produce it: one (mul_in, 224) block, not (mul_in, 128), (mul_in, 64), (mul_in, 32).
    e3nn's Gate stably sorts the three groups by irrep first (odd scalars before even ones)."""
    scalars = [(m, i) for m, i in irreps_out if i[0] == 0]
    gated = [(m, i) for m, i in irreps_out if i[0] > 0]
    gate_parity = 1 if any(i == (0, 1) for _, i in scalars) else -1
    gates = [(m, (0, gate_parity)) for m, _ in gated]
    return ir.simplify(ir.sort_with_permutation(scalars + gates + gated)[0])


def expected_tensors(meta):
    """name -> shape of every tensor in the file, in sevenn's state-dict names."""
    hp = meta['hyperparameters']
    n_species = len(meta['species'])
    n_modal = len(meta.get('modals') or [])
    modal = hp['modality']
    extra = [(n_modal, (0, 1))] if n_modal > 1 else []
    nodes = [ir.parse(x) for x in hp['irreps_node']]
    filt = ir.parse(hp['irreps_spherical_harmonics'])
    attr = [(n_species, (0, 1))]
    out = {}
    if hp['radial_basis']['trainable']:
        out['edge_embedding.basis_function.coeffs'] = (hp['radial_basis']['num_basis'],)
    emb_in = attr + (extra if modal['node_embedding'] else [])
    out['onehot_to_feature_x.linear.weight'] = (_linear_numel(emb_in, nodes[0]),)
    for t in range(hp['num_interaction_blocks']):
        x, x_next = nodes[t], nodes[t + 1]
        gate_in = gate_irreps_in(x_next)
        out_tp = ir.parse(hp['irreps_convolution_out'][t])
        paths = ir.convolution_instructions(x, filt, out_tp)
        if hp['self_connection'][t] == 'linear':
            out[f'{t}_self_connection_intro.linear.weight'] = (_linear_numel(x, gate_in),)
        else:
            out[f'{t}_self_connection_intro.fc_tensor_product.weight'] = (_fctp_numel(x, attr, gate_in),)
        si1_in = x + (extra if modal['self_interaction_1'] else [])
        out[f'{t}_self_interaction_1.linear.weight'] = (_linear_numel(si1_in, x),)
        out[f'{t}_convolution.denominator'] = (1,)
        hs = [hp['radial_basis']['num_basis']] + list(hp['radial_mlp_hidden']) + [sum(m for *_, m, _ in paths)]
        for k in range(len(hs) - 1):
            out[f'{t}_convolution.weight_nn.layer{k}.weight'] = (hs[k], hs[k + 1])
        si2_in = out_tp + (extra if modal['self_interaction_2'] else [])
        out[f'{t}_self_interaction_2.linear.weight'] = (_linear_numel(si2_in, gate_in),)
    last = nodes[-1]
    hidden = [(sum(m * (2 * i[0] + 1) for m, i in last) // 2, (0, 1))]
    ro_in = last + (extra if modal['output_block'] else [])
    out['reduce_input_to_hidden.linear.weight'] = (_linear_numel(ro_in, hidden),)
    out['reduce_hidden_to_energy.linear.weight'] = (_linear_numel(hidden, [(1, (0, 1))]),)
    out['rescale_atomic_energy.shift'] = (n_modal, n_species) if modal['modal_wise_shift'] else (n_species,)
    out['rescale_atomic_energy.scale'] = (n_modal, n_species) if modal['modal_wise_scale'] else (n_species,)
    return out


def check_tensors(meta, tensors, source):
    """Raise ValueError naming the first missing, unexpected or misshapen tensor."""
    want = expected_tensors(meta)
    for name, shape in want.items():
        if name not in tensors:
            raise ValueError(f'{source}: missing tensor {name} (shape {list(shape)})')
        if tensors[name].dtype.kind != 'f' or tensors[name].dtype.itemsize not in (4, 8):
            raise ValueError(f'{source}: tensor {name} has dtype {tensors[name].dtype}, expected F32 or F64')
        if tuple(tensors[name].shape) != tuple(shape):
            raise ValueError(
                f'{source}: tensor {name} has shape {list(tensors[name].shape)}, expected {list(shape)}'
            )
    unknown = sorted(set(tensors) - set(want))
    if unknown:
        raise ValueError(f'{source}: unexpected tensor {unknown[0]} for this architecture')
