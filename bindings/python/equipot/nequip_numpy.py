"""A slow, plain numpy evaluation of a "nequip" (SevenNet) model file: energies only.

It is docs/sevennet-architecture.md written as code, so that the description can
be checked against sevenn's own numbers (bindings/python/tests/test_nequip_numpy.py)
and the Rust implementation has a readable reference. float64 throughout; no
forces (the Rust model has the analytic backward). Not for production use.
"""

from math import sqrt

import numpy as np

from .convert import irreps as ir
from .convert.wigner import wigner_3j
from .nequip import gate_irreps_in


def neighbor_edges(positions, cell, pbc, cutoff):
    """All (i, j, r_ij) with 0 < |r_ij| < cutoff, r_ij = pos[j] - pos[i] + n . cell (brute force)."""
    pos = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    reps = [0, 0, 0]
    if any(pbc):
        recip = np.linalg.inv(cell).T  # rows: reciprocal vectors / 2 pi; 1/|b_k| = plane spacing
        reps = [int(np.ceil(cutoff * np.linalg.norm(recip[k]))) if pbc[k] else 0 for k in range(3)]
    src, dst, vec = [], [], []
    for n0 in range(-reps[0], reps[0] + 1):
        for n1 in range(-reps[1], reps[1] + 1):
            for n2 in range(-reps[2], reps[2] + 1):
                shift = np.array([n0, n1, n2], float) @ cell if any(pbc) else np.zeros(3)
                d = pos[None, :, :] - pos[:, None, :] + shift  # d[i, j] = pos[j] - pos[i] + shift
                r = np.linalg.norm(d, axis=-1)
                i, j = np.nonzero((r > 0) & (r < cutoff))
                src.append(i)
                dst.append(j)
                vec.append(d[i, j])
    return np.concatenate(src), np.concatenate(dst), np.concatenate(vec).reshape(-1, 3)


def spherical_harmonics(vec, lmax, normalize):
    """e3nn's real spherical harmonics, 'component' normalization, as a list over l."""
    r = np.linalg.norm(vec, axis=-1, keepdims=True)
    u = vec / r
    ys = [np.ones((len(vec), 1)), sqrt(3) * u]
    for l in range(2, lmax + 1):
        y = np.einsum('ei,ej,ijk->ek', ys[1], ys[l - 1], wigner_3j(1, l - 1, l))
        y *= sqrt(2 * l + 1) / np.linalg.norm(y, axis=-1, keepdims=True)
        ys.append(y)
    ys = ys[: lmax + 1]
    if not normalize:
        ys = [y * r**l for l, y in enumerate(ys)]
    return ys


def split(x, irreps):
    """(N, dim) -> list of (N, mul, 2l+1) blocks."""
    out, start = [], 0
    for mul, (l, _) in irreps:
        d = mul * (2 * l + 1)
        out.append(x[:, start:start + d].reshape(len(x), mul, 2 * l + 1))
        start += d
    return out


def join(blocks):
    return np.concatenate([b.reshape(len(b), -1) for b in blocks], axis=1)


def linear(x, irreps_in, irreps_out, weight):
    """e3nn o3.Linear, path_normalization 'element', no bias."""
    xs = split(x, irreps_in)
    paths = [(i, o) for i, (_, a) in enumerate(irreps_in) for o, (_, b) in enumerate(irreps_out) if a == b]
    fan_in = {o: sum(irreps_in[i][0] for i, oo in paths if oo == o) for _, o in paths}
    out = [np.zeros((len(x), mul, 2 * l + 1)) for mul, (l, _) in irreps_out]
    start = 0
    for i, o in paths:
        m_in, m_out = irreps_in[i][0], irreps_out[o][0]
        w = weight[start:start + m_in * m_out].reshape(m_in, m_out)
        start += m_in * m_out
        out[o] += np.einsum('nui,uw->nwi', xs[i], w) / sqrt(fan_in[o])
    assert start == weight.size
    return join(out)


def silu(x):
    return x / (1 + np.exp(-x))


def evaluate(meta, tensors, numbers, positions, cell, pbc, modal=None, trace=None):
    """Returns (total energy, per-atom energies) in eV. trace: a dict that receives each
    stage's node features under sevenn's module names."""
    trace = {} if trace is None else trace
    hp = meta['hyperparameters']
    T = {k: np.asarray(v, np.float64) for k, v in tensors.items()}
    c_silu = meta['constants']['normalize2mom']['silu']
    assert hp['activation_radial'] == 'silu' and hp['activation_scalars']['e'] == 'silu'
    assert hp['activation_gates']['e'] == 'silu'
    act = lambda v: c_silu * silu(v)  # noqa: E731
    species = meta['species']
    types = np.array([species.index(int(z)) for z in numbers])
    n_species, n = len(species), len(numbers)
    modals = meta.get('modals') or []
    onehot_modal = None
    if len(modals) > 1:
        modal = modal or meta['default_modal']
        onehot_modal = np.zeros((n, len(modals)))
        onehot_modal[:, modals.index(modal)] = 1.0
    mflags = hp['modality']

    def with_modal(x, irreps, flag):
        if onehot_modal is None or not flag:
            return x, irreps
        return np.concatenate([x, onehot_modal], axis=1), irreps + [(len(modals), (0, 1))]

    # edges and their embeddings
    cutoff = meta['cutoff']
    src, dst, vec = neighbor_edges(positions, cell, pbc, cutoff)
    r = np.linalg.norm(vec, axis=-1)
    coeffs = T['edge_embedding.basis_function.coeffs']
    basis = (2.0 / cutoff) * np.sin(coeffs[None, :] * r[:, None]) / r[:, None]
    cf = hp['cutoff_function']
    if cf['name'] == 'XPLOR':
        ron2, rc2, r2 = cf['cutoff_on'] ** 2, cutoff**2, r * r
        env = np.where(r < cf['cutoff_on'], 1.0, (rc2 - r2) ** 2 * (rc2 + 2 * r2 - 3 * ron2) / (rc2 - ron2) ** 3)
    else:
        p, u = cf['poly_cut_p_value'], r / cutoff
        env = 1 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)
    emb = basis * env[:, None]
    sh_irreps = ir.parse(hp['irreps_spherical_harmonics'])
    ys = spherical_harmonics(vec, ir.lmax(sh_irreps), hp['spherical_harmonics_normalize'])

    # node embedding
    attr = np.eye(n_species)[types]
    nodes = [ir.parse(s) for s in hp['irreps_node']]
    x0_in, x0_irreps = with_modal(attr, [(n_species, (0, 1))], mflags['node_embedding'])
    x = linear(x0_in, x0_irreps, nodes[0], T['onehot_to_feature_x.linear.weight'])
    trace['onehot_to_feature_x'] = x

    for t in range(hp['num_interaction_blocks']):
        X, Xn = nodes[t], nodes[t + 1]
        G = gate_irreps_in(Xn)
        out_tp = ir.parse(hp['irreps_convolution_out'][t])
        sc = linear(x, X, G, T[f'{t}_self_connection_intro.linear.weight'])
        trace[f'{t}_self_connection_intro'] = sc
        h, h_irreps = with_modal(x, X, mflags['self_interaction_1'])
        x = linear(h, h_irreps, X, T[f'{t}_self_interaction_1.linear.weight'])
        trace[f'{t}_self_interaction_1'] = x

        # radial MLP -> per-edge path weights
        hs = [emb]
        k = 0
        while f'{t}_convolution.weight_nn.layer{k}.weight' in T:
            W = T[f'{t}_convolution.weight_nn.layer{k}.weight']
            z = hs[-1] @ W / sqrt(W.shape[0])
            last = f'{t}_convolution.weight_nn.layer{k + 1}.weight' not in T
            hs.append(z if last else act(z))
            k += 1
        w_edge = hs[-1]

        # uvu tensor product, paths in sorted-slot order, scatter to the center
        xs = split(x, X)
        paths = sorted(ir.convolution_instructions(X, sh_irreps, out_tp), key=lambda p: p[4])
        slots, col = [], 0
        for i, j, ir_out, mul, _ in paths:
            l1, l2, l3 = X[i][1][0], sh_irreps[j][1][0], ir_out[0]
            w = w_edge[:, col:col + mul]
            col += mul
            msg = np.einsum('eua,eb,abk->euk', xs[i][dst], ys[l2], wigner_3j(l1, l2, l3))
            msg *= sqrt(2 * l3 + 1) * w[:, :, None]
            agg = np.zeros((n, mul, 2 * l3 + 1))
            np.add.at(agg, src, msg)
            slots.append(agg)
        assert col == w_edge.shape[1]
        x = join(slots) / T[f'{t}_convolution.denominator'][0]

        h, h_irreps = with_modal(x, out_tp, mflags['self_interaction_2'])
        x = linear(h, h_irreps, G, T[f'{t}_self_interaction_2.linear.weight'])
        trace[f'{t}_self_interaction_2'] = x
        x = x + sc

        # gate: [scalars | gates | gated] -> [act(scalars) | gated * act(gates)]
        n_scalars = sum(m for m, (l, _) in Xn if l == 0)
        gated_irreps = [(m, i) for m, i in Xn if i[0] > 0]
        n_gates = sum(m for m, _ in gated_irreps)
        out = [act(x[:, :n_scalars])]
        gates = act(x[:, n_scalars:n_scalars + n_gates])
        for (m, (l, _)), g, gate in zip(gated_irreps, split(x[:, n_scalars + n_gates:], gated_irreps),
                                         np.split(gates, np.cumsum([m for m, _ in gated_irreps])[:-1], axis=1)):
            out.append((g * gate[:, :, None]).reshape(n, -1))
        x = np.concatenate(out, axis=1)
        trace[f'{t}_equivariant_gate'] = x

    h, h_irreps = with_modal(x, nodes[-1], mflags['output_block'])
    hidden = [(sum(m * (2 * l + 1) for m, (l, _) in nodes[-1]) // 2, (0, 1))]
    e = linear(h, h_irreps, hidden, T['reduce_input_to_hidden.linear.weight'])
    e = linear(e, hidden, [(1, (0, 1))], T['reduce_hidden_to_energy.linear.weight'])[:, 0]
    shift, scale = T['rescale_atomic_energy.shift'], T['rescale_atomic_energy.scale']
    m = modals.index(modal) if onehot_modal is not None else None
    shift = shift[m] if shift.ndim == 2 else shift
    scale = scale[m] if scale.ndim == 2 else scale
    atom_e = scale[types] * e + shift[types]
    return float(atom_e.sum()), atom_e
