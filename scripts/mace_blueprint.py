"""The machine-checkable companion of docs/mace-architecture.md.

Builds mace-torch's `ScaleShiftMACE` with the hyper-parameters of a MACE
foundation model (MACE-MP-0 medium by default) and random, seeded weights,
then prints every state-dict key with its shape, every layer's irreps, e3nn
instructions and normalization constants, and evaluates one small periodic
cell (energy, per-atom energies, forces, stress), checking one force
component against a central finite difference of the energy.

Run with the MACE reference environment (mace-torch 0.3.16, e3nn 0.4.4):

    /work/venv-mace/bin/python scripts/mace_blueprint.py              # Markdown tables
    /work/venv-mace/bin/python scripts/mace_blueprint.py --json       # the same as JSON
    /work/venv-mace/bin/python scripts/mace_blueprint.py --config off-medium

The `w3j` sub-command needs only e3nn and runs under either e3nn version; it
writes e3nn's Wigner-3j symbols and spherical harmonics so that e3nn 0.4.4
(mace's pin) and e3nn 0.6 (sevenn's, and equipot's reference) can be compared:

    /work/venv-mace/bin/python scripts/mace_blueprint.py w3j /tmp/e3nn044.npz
    /work/venv-ref/bin/python  scripts/mace_blueprint.py w3j /tmp/e3nn06.npz
    /work/venv-ref/bin/python  scripts/mace_blueprint.py w3j-compare /tmp/e3nn044.npz /tmp/e3nn06.npz

`check-conv-instructions` compares mace's convolution instructions with
equipot's own construction (bindings/python/equipot/convert/irreps.py).

The hyper-parameters of each configuration come from the foundation models'
published training command lines (ACEsuit/mace-mp `mace_mp_0/*.sh`,
ACEsuit/mace-off `mace_off23/train_scripts/medium.sh`) and mace's argument
defaults; the weights, E0s, scale, shift and average neighbor count are
random or stand-ins (the real checkpoints cannot be downloaded here).
"""

import argparse
import contextlib
import json
import os
import sys

# e3nn 0.4.4 loads its Wigner-3j table with a bare torch.load, which torch >= 2.6
# refuses unless this is set (mace's own __init__ sets it too).
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# The 89 elements of MACE-MP-0 / MPA-0 / OMAT-0: H..Bi and Ac..Pu.
MP_ELEMENTS = list(range(1, 84)) + list(range(89, 95))
OFF_ELEMENTS = [1, 6, 7, 8, 9, 15, 16, 17, 35, 53]

CONFIGS = {
    # ACEsuit/mace-mp mace_mp_0/2023-12-03-mace-128-L1.sh (the "medium" of mace_mp()).
    "mp0-medium": dict(
        zs=MP_ELEMENTS, r_max=6.0, num_bessel=10, num_polynomial_cutoff=5, max_ell=3,
        hidden_irreps="128x0e+128x1o", correlation=3, num_interactions=2,
        MLP_irreps="16x0e", radial_MLP=[64, 64, 64],
        interaction_first="RealAgnosticResidualInteractionBlock",
        interaction="RealAgnosticResidualInteractionBlock",
    ),
    # mace_mp_0/2023-12-10-mace-128-L0_energy.sh (the "small").
    "mp0-small": dict(
        zs=MP_ELEMENTS, r_max=6.0, num_bessel=10, num_polynomial_cutoff=5, max_ell=3,
        hidden_irreps="128x0e", correlation=3, num_interactions=2,
        MLP_irreps="16x0e", radial_MLP=[64, 64, 64],
        interaction_first="RealAgnosticResidualInteractionBlock",
        interaction="RealAgnosticResidualInteractionBlock",
    ),
    # ACEsuit/mace-off mace_off23/train_scripts/medium.sh: --model=MACE, so mace's
    # run_train replaces the first interaction by RealAgnosticInteractionBlock.
    "off-medium": dict(
        zs=OFF_ELEMENTS, r_max=5.0, num_bessel=8, num_polynomial_cutoff=5, max_ell=3,
        hidden_irreps="128x0e+128x1o", correlation=3, num_interactions=2,
        MLP_irreps="16x0e", radial_MLP=[64, 64, 64],
        interaction_first="RealAgnosticInteractionBlock",
        interaction="RealAgnosticResidualInteractionBlock",
    ),
}
# ACEsuit/mace-foundations mace_omat/mace-omat-medium.sh (MPA-0 has the same
# blocks): MP-0 medium with Density blocks, the Agnesi transform, ZBL and 8
# Bessel functions (mace's default; the published config YAML is not available here).
CONFIGS["omat-medium"] = dict(
    CONFIGS["mp0-medium"], num_bessel=8,
    interaction_first="RealAgnosticDensityInteractionBlock",
    interaction="RealAgnosticDensityResidualInteractionBlock",
    distance_transform="Agnesi", pair_repulsion=True,
)


def build_model(name, seed):
    from e3nn import o3
    from mace import modules

    c = CONFIGS[name]
    gen = np.random.default_rng(seed)
    n = len(c["zs"])
    torch.manual_seed(seed)
    model = modules.ScaleShiftMACE(
        r_max=c["r_max"],
        num_bessel=c["num_bessel"],
        num_polynomial_cutoff=c["num_polynomial_cutoff"],
        max_ell=c["max_ell"],
        interaction_cls=modules.interaction_classes[c["interaction"]],
        interaction_cls_first=modules.interaction_classes[c["interaction_first"]],
        num_interactions=c["num_interactions"],
        num_elements=n,
        hidden_irreps=o3.Irreps(c["hidden_irreps"]),
        MLP_irreps=o3.Irreps(c["MLP_irreps"]),
        atomic_energies=gen.uniform(-10.0, -1.0, size=n),  # stand-in E0s
        avg_num_neighbors=40.0,  # stand-in (the real value is a training-set statistic)
        atomic_numbers=c["zs"],
        correlation=c["correlation"],
        gate=modules.gate_dict["silu"],
        radial_MLP=c["radial_MLP"],
        radial_type="bessel",
        distance_transform=c.get("distance_transform", "None"),
        pair_repulsion=c.get("pair_repulsion", False),
        use_reduced_cg=False,  # mace's CLI default; the e3nn-built U matrices
        atomic_inter_scale=0.8,  # stand-in rms force
        atomic_inter_shift=-0.3,  # stand-in mean interaction energy per atom
    )
    return model.eval()


def linear_info(m):
    return {
        "type": "o3.Linear",
        "irreps_in": str(m.irreps_in),
        "irreps_out": str(m.irreps_out),
        "weight_numel": m.weight_numel,
        "bias_numel": m.bias_numel,
        # (i_in, i_out, path_shape, path_weight)
        "instructions": [[i.i_in, i.i_out, list(i.path_shape), i.path_weight] for i in m.instructions],
    }


def tp_info(m, kind):
    return {
        "type": kind,
        "irreps_in1": str(m.irreps_in1),
        "irreps_in2": str(m.irreps_in2),
        "irreps_out": str(m.irreps_out),
        "weight_numel": m.weight_numel,
        "internal_weights": m.internal_weights,
        # (i_in1, i_in2, i_out, mode, has_weight, path_weight, path_shape)
        "instructions": [
            [i.i_in1, i.i_in2, i.i_out, i.connection_mode, i.has_weight, i.path_weight, list(i.path_shape)]
            for i in m.instructions
        ],
    }


def describe(model):
    from e3nn import nn as enn
    from e3nn import o3
    from mace.modules.blocks import ScaleShiftBlock
    from mace.modules.radial import BesselBasis, PolynomialCutoff
    from mace.modules.symmetric_contraction import Contraction

    layers = {}
    for name, m in model.named_modules():
        if isinstance(m, o3.FullyConnectedTensorProduct):
            layers[name] = tp_info(m, "o3.FullyConnectedTensorProduct")
        elif isinstance(m, o3.TensorProduct):
            layers[name] = tp_info(m, "o3.TensorProduct")
        elif isinstance(m, o3.Linear):
            layers[name] = linear_info(m)
        elif isinstance(m, enn.FullyConnectedNet):
            acts = {type(l.act).__name__: getattr(l.act, "cst", None) for l in m if l.act is not None}
            layers[name] = {"type": "nn.FullyConnectedNet", "hs": list(m.hs), "normalize2mom": acts}
        elif isinstance(m, enn.Activation):
            layers[name] = {
                "type": "nn.Activation",
                "irreps_in": str(m.irreps_in),
                "normalize2mom": [getattr(a, "cst", None) for a in m.acts],
                "functions": [getattr(getattr(a, "f", a), "__name__", str(a)) for a in m.acts],
            }
        elif isinstance(m, o3.SphericalHarmonics):
            layers[name] = {
                "type": "o3.SphericalHarmonics",
                "irreps_out": str(m.irreps_out),
                "normalize": m.normalize,
                "normalization": m.normalization,
            }
        elif isinstance(m, BesselBasis):
            layers[name] = {
                "type": "BesselBasis",
                "r_max": float(m.r_max),
                "prefactor": float(m.prefactor),
                "bessel_weights": m.bessel_weights.tolist(),
                "trainable": isinstance(m.bessel_weights, torch.nn.Parameter),
            }
        elif isinstance(m, PolynomialCutoff):
            layers[name] = {"type": "PolynomialCutoff", "r_max": float(m.r_max), "p": int(m.p)}
        elif isinstance(m, Contraction):
            us = {}
            for nu in range(1, m.correlation + 1):
                u = m.U_tensors(nu)
                us[f"U_matrix_{nu}"] = {"shape": list(u.shape), "nonzeros": int(torch.count_nonzero(u))}
            layers[name] = {
                "type": "Contraction",
                "num_features": m.num_features,
                "coupling_irreps": str(m.coupling_irreps),
                "correlation": m.correlation,
                "U": us,
                "weights_max": list(m.weights_max.shape),
                "weights": [list(w.shape) for w in m.weights],
            }
        elif isinstance(m, ScaleShiftBlock):
            layers[name] = {"type": "ScaleShiftBlock", "scale": m.scale.tolist(), "shift": m.shift.tolist()}
        elif name and type(m).__name__.startswith("RealAgnostic"):
            layers[name] = {"type": type(m).__name__, "avg_num_neighbors": m.avg_num_neighbors}

    params = {k for k, _ in model.named_parameters()}
    state = [
        {
            "key": k,
            "shape": list(v.shape),
            "numel": v.numel(),
            "dtype": str(v.dtype).replace("torch.", ""),
            "kind": "parameter" if k in params else "buffer",
        }
        for k, v in model.state_dict().items()
    ]
    return layers, state


def cell_structure(zs_model):
    """A 4-atom triclinic cell of four different elements of the model (Si, C,
    O, Ti for the MP models; C, H, O, N for MACE-OFF)."""
    cell = np.array([[4.1, 0.0, 0.0], [0.3, 3.9, 0.0], [-0.2, 0.4, 4.3]])
    frac = np.array([[0.02, 0.01, 0.0], [0.49, 0.52, 0.03], [0.51, -0.02, 0.48], [0.03, 0.47, 0.55]])
    numbers = [14, 6, 8, 22] if 22 in zs_model else [6, 1, 8, 7]
    return frac @ cell, np.array(numbers), cell


def graph(positions, cell, r_max):
    """mace's get_neighborhood, with ASE's neighbor list in place of matscipy's
    (same 'ijS' convention): edge_index = (sender i, receiver j), shift S·cell,
    edge vector r_j - r_i + S·cell; self-edges without shift removed."""
    from ase.neighborlist import primitive_neighbor_list

    i, j, s = primitive_neighbor_list("ijS", (True, True, True), cell, positions, r_max, self_interaction=False)
    keep = ~((i == j) & np.all(s == 0, axis=1))
    i, j, s = i[keep], j[keep], s[keep]
    return np.stack([i, j]), s.astype(float)


def evaluate(model, config):
    zs_model, r_max = CONFIGS[config]["zs"], CONFIGS[config]["r_max"]
    positions, numbers, cell = cell_structure(zs_model)
    edge_index, unit_shifts = graph(positions, cell, r_max)
    index = [zs_model.index(int(z)) for z in numbers]
    attrs = np.zeros((len(numbers), len(zs_model)))
    attrs[np.arange(len(numbers)), index] = 1.0

    def batch(pos):
        t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
        return {
            "positions": t(pos),
            "node_attrs": t(attrs),
            "edge_index": torch.tensor(edge_index, dtype=torch.int64),
            "shifts": t(unit_shifts @ cell),
            "unit_shifts": t(unit_shifts),
            "cell": t(cell),
            "batch": torch.zeros(len(numbers), dtype=torch.int64),
            "ptr": torch.tensor([0, len(numbers)], dtype=torch.int64),
        }

    out = model(batch(positions), compute_force=True, compute_stress=True)
    energy = out["energy"].item()
    forces = out["forces"].detach().numpy()
    stress = out["stress"][0].detach().numpy()

    h = 1e-5
    plus, minus = positions.copy(), positions.copy()
    plus[1, 2] += h
    minus[1, 2] -= h
    e_plus = model(batch(plus), compute_force=False)["energy"].item()
    e_minus = model(batch(minus), compute_force=False)["energy"].item()

    # Inversion r -> -r (cell -> -cell, same edges, vectors and odd-l harmonics
    # negated): a parity-respecting O(3) model gives the same energy.
    inverted = dict(batch(-positions))
    inverted["shifts"] = -inverted["shifts"]
    inverted["cell"] = -inverted["cell"]
    e_inverted = model(inverted, compute_force=False)["energy"].item()
    e_numpy, e_numpy_interaction = numpy_energy(model, config, positions, numbers, cell, edge_index, unit_shifts)
    return {
        "numbers": numbers.tolist(),
        "positions": positions.tolist(),
        "cell": cell.tolist(),
        "n_edges": int(edge_index.shape[1]),
        "energy": energy,
        "node_energy": out["node_energy"].detach().tolist(),
        "interaction_energy": out["interaction_energy"].item(),
        "forces": forces.tolist(),
        "sum_forces": forces.sum(axis=0).tolist(),
        "stress_3x3": stress.tolist(),
        "force_1z_vs_central_difference": [float(forces[1, 2]), -(e_plus - e_minus) / (2 * h)],
        "energy_inverted_minus_energy": e_inverted - energy,
        "energy_from_the_document_in_numpy": e_numpy,
        "numpy_minus_mace": e_numpy - energy,
        "numpy_minus_mace_interaction_energy": e_numpy_interaction - out["interaction_energy"].item(),
    }


# --- The document's formulas in plain numpy (energy only) -------------------
# An independent reading of docs/mace-architecture.md: built from the state
# dict, the hyper-parameters and e3nn's spherical harmonics and Wigner-3j
# symbols only (no mace module is called), it must give mace's energy.


def _irreps(text):
    from e3nn import o3

    return [(mul, ir.l, ir.p) for mul, ir in o3.Irreps(text)]


def _blocks(x, irreps):
    """Split e3nn-layout rows [n, dim] into [n, mul, 2l+1] blocks."""
    out, start = [], 0
    for mul, l, _ in irreps:
        d = 2 * l + 1
        out.append(x[:, start : start + mul * d].reshape(len(x), mul, d))
        start += mul * d
    return out


def _join(blocks):
    return np.concatenate([b.reshape(len(b), -1) for b in blocks], axis=1)


def _linear(x, irreps_in, irreps_out, weight):
    """e3nn Linear: paths (i_in, i_out) with equal irreps, ordered by i_in then
    i_out, weight blocks [mul_in, mul_out], 1/sqrt(fan-in of the output)."""
    xb = _blocks(x, irreps_in)
    fan = [sum(m for m, l, p in irreps_in if (l, p) == (lo, po)) for _, lo, po in irreps_out]
    out = [np.zeros((len(x), m, 2 * l + 1)) for m, l, _ in irreps_out]
    k = 0
    for i, (mi, li, pi) in enumerate(irreps_in):
        for o, (mo, lo, po) in enumerate(irreps_out):
            if (li, pi) == (lo, po):
                w = weight[k : k + mi * mo].reshape(mi, mo)
                k += mi * mo
                out[o] += np.einsum("nud,uw->nwd", xb[i], w) / np.sqrt(fan[o])
    assert k == weight.size
    return _join(out)


def _skip(x, irreps_in, irreps_out, types, n_el, weight):
    """FullyConnectedTensorProduct(irreps_in x n_el x 0e -> irreps_out) with a
    one-hot second input: an element-dependent linear map, 1/sqrt(sum mul_in * n_el)."""
    xb = _blocks(x, irreps_in)
    fan = [sum(m * n_el for m, l, p in irreps_in if (l, p) == (lo, po)) for _, lo, po in irreps_out]
    out = [np.zeros((len(x), m, 2 * l + 1)) for m, l, _ in irreps_out]
    k = 0
    for i, (mi, li, pi) in enumerate(irreps_in):
        for o, (mo, lo, po) in enumerate(irreps_out):
            if (li, pi) == (lo, po):
                w = weight[k : k + mi * n_el * mo].reshape(mi, n_el, mo)
                k += mi * n_el * mo
                out[o] += np.einsum("nud,unw->nwd", xb[i], w[:, types, :]) / np.sqrt(fan[o])
    assert k == weight.size
    return _join(out)


def _silu_n(x, cst):
    return cst * x / (1.0 + np.exp(-x))


def numpy_energy(model, config, positions, numbers, cell, edge_index, unit_shifts):
    from e3nn import o3

    with contextlib.redirect_stdout(sys.stderr):
        from mace.modules.irreps_tools import tp_out_irreps_with_instructions

    c = CONFIGS[config]
    sd = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    cst = model.interactions[0].conv_tp_weights.layer0.act.cst  # normalize2mom(silu)
    zs, n_el, r_max, p = c["zs"], len(c["zs"]), c["r_max"], c["num_polynomial_cutoff"]
    types = np.array([zs.index(int(z)) for z in numbers])
    n = len(numbers)

    sender, receiver = edge_index
    v = positions[receiver] - positions[sender] + unit_shifts @ cell
    r = np.linalg.norm(v, axis=1)
    u = r / r_max
    f = 1 - (p + 1) * (p + 2) / 2 * u**p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)
    freq = np.arange(1, c["num_bessel"] + 1) * np.pi / r_max
    e = np.sqrt(2 / r_max) * np.sin(freq * r[:, None]) / r[:, None] * f[:, None]
    sh = o3.Irreps.spherical_harmonics(c["max_ell"])
    y = o3.spherical_harmonics(sh, torch.tensor(v), normalize=True, normalization="component").numpy()
    y_blocks = _blocks(y, _irreps(str(sh)))

    hidden = _irreps(c["hidden_irreps"])
    mul = hidden[0][0]
    target = _irreps(str((sh * mul).sort()[0].simplify()))
    h_irreps = [(mul, 0, 1)]
    h = sd["node_embedding.linear.weight"].reshape(n_el, mul)[types] / np.sqrt(n_el)
    energy = np.zeros(n)
    T = c["num_interactions"]
    for t in range(T):
        kind = c["interaction_first"] if t == 0 else c["interaction"]
        out_irreps = hidden if t < T - 1 else [hidden[0]]
        pre = f"interactions.{t}."
        sc = None
        if kind == "RealAgnosticResidualInteractionBlock":
            sc = _skip(h, h_irreps, out_irreps, types, n_el, sd[pre + "skip_tp.weight"])
        hu = _linear(h, h_irreps, h_irreps, sd[pre + "linear_up.weight"])
        # radial MLP
        z = e
        layers = len(c["radial_MLP"]) + 1
        for k in range(layers):
            w = sd[pre + f"conv_tp_weights.layer{k}.weight"]
            z = z @ w / np.sqrt(w.shape[0])
            if k < layers - 1:
                z = _silu_n(z, cst)
        # convolution, summed at the receiver
        mid, instructions = tp_out_irreps_with_instructions(
            o3.Irreps(_irreps_str(h_irreps)), sh, o3.Irreps(_irreps_str(target))
        )
        mid = _irreps(str(mid))
        xb = _blocks(hu[sender], h_irreps)
        msg = [np.zeros((n, m, 2 * l + 1)) for m, l, _ in mid]
        for q, (i1, i2, io, _, _) in enumerate(instructions):
            l1, l2, l3 = h_irreps[i1][1], _irreps(str(sh))[i2][1], mid[io][1]
            cg = o3.wigner_3j(l1, l2, l3).double().numpy()
            wq = z[:, q * mul : (q + 1) * mul]
            m_e = np.sqrt(2 * l3 + 1) * np.einsum("eu,eua,eb,abk->euk", wq, xb[i1], y_blocks[i2][:, 0, :], cg)
            np.add.at(msg[io], receiver, m_e)
        out = _linear(_join(msg), mid, target, sd[pre + "linear.weight"]) / model.interactions[t].avg_num_neighbors
        if kind == "RealAgnosticInteractionBlock":
            out = _skip(out, target, target, types, n_el, sd[pre + "skip_tp.weight"])
        # symmetric contraction on x[n, c, 16]
        x = np.concatenate(_blocks(out, target), axis=2)
        b_blocks = []
        for k, (m_out, l_out, _) in enumerate(out_irreps):
            cp = f"products.{t}.symmetric_contractions.contractions.{k}."
            corr = c["correlation"]
            acc = np.zeros((n, mul, 2 * l_out + 1))
            for nu in range(1, corr + 1):
                U = sd[cp + f"U_matrix_{nu}"]
                if l_out == 0:
                    U = U[None]
                W = sd[cp + "weights_max"] if nu == corr else sd[cp + f"weights.{corr - 1 - nu}"]
                for node in range(n):
                    # contract the feature indices i_nu, ..., i_1 with x[c, :], last first
                    P = np.einsum("...ik,ci->c...k", U, x[node])
                    for _ in range(nu - 1):
                        P = np.einsum("c...ik,ci->c...k", P, x[node])
                    acc[node] += np.einsum("cmk,kc->cm", P, W[types[node]])
            b_blocks.append(acc)
        hn = _linear(_join(b_blocks), out_irreps, out_irreps, sd[f"products.{t}.linear.weight"])
        h = hn + sc if sc is not None else hn
        h_irreps = out_irreps
        # readout
        if t < T - 1:
            energy += _linear(h, h_irreps, [(1, 0, 1)], sd[f"readouts.{t}.linear.weight"])[:, 0]
        else:
            m_mlp = _irreps(c["MLP_irreps"])
            y1 = _silu_n(_linear(h, h_irreps, m_mlp, sd[f"readouts.{t}.linear_1.weight"]), cst)
            energy += _linear(y1, m_mlp, [(1, 0, 1)], sd[f"readouts.{t}.linear_2.weight"])[:, 0]
    e0 = sd["atomic_energies_fn.atomic_energies"][types]
    interaction = sd["scale_shift.scale"] * energy + sd["scale_shift.shift"]
    return float(np.sum(e0 + interaction)), float(np.sum(interaction))


def _irreps_str(irreps):
    return "+".join(f"{m}x{l}{'e' if p == 1 else 'o'}" for m, l, p in irreps)


def strengthen(model, config, seed, radial=10.0, avg_num_neighbors=8.0):
    """Re-draw every parameter from N(0, 1) (seeded), scale the node embedding
    by sqrt(n_elements) and the first radial layer by `radial` (10), and set
    avg_num_neighbors to `avg_num_neighbors` (8): mace's initialization keeps every feature tiny
    (rms ~1e-3 after the first interaction), which would make a comparison
    insensitive; with these weights the interaction energy is O(1) to O(100) eV
    and the forces O(1) eV/A or more (in small cells: in bulk Si or Cu at
    r_max 6 they reach 1e6 (Si) and 5e8 (Cu) eV/A; radial=5, avg_num_neighbors=16, the
    "moderate" weights of --save, give 0.7 and 1.1 eV/A there)."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, param in model.named_parameters():
            param.copy_(torch.randn(param.shape, generator=gen))
        model.node_embedding.linear.weight.mul_(len(CONFIGS[config]["zs"]) ** 0.5)
        for block in model.interactions:
            block.conv_tp_weights.layer0.weight.mul_(radial)
            block.avg_num_neighbors = avg_num_neighbors


def blueprint(config, seed):
    import e3nn
    import mace

    # mace.tools.cg prints a notice about cuequivariance on stdout at import:
    # keep stdout for the blueprint itself.
    with contextlib.redirect_stdout(sys.stderr):
        import mace.modules  # noqa: F401

    torch.set_default_dtype(torch.float64)
    model = build_model(config, seed)
    layers, state = describe(model)
    return {
        "versions": {"mace-torch": mace.__version__, "e3nn": e3nn.__version__, "torch": torch.__version__},
        "config": config,
        "hyperparameters": {k: v for k, v in CONFIGS[config].items() if k != "zs"},
        "atomic_numbers": CONFIGS[config]["zs"],
        "seed": seed,
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "state_dict": state,
        "layers": layers,
        "evaluation_float64": evaluate(model, config),
        "evaluation_float64_strong_weights": (strengthen(model, config, seed), evaluate(model, config))[1],
    }


def fmt(x):
    return f"{x:.17g}" if isinstance(x, float) else str(x)


def markdown(bp):
    lines = [f"# {bp['config']} (mace-torch {bp['versions']['mace-torch']}, e3nn {bp['versions']['e3nn']})", ""]
    lines += ["hyper-parameters: " + json.dumps(bp["hyperparameters"]), ""]
    lines += [f"total parameters: {bp['total_parameters']}", ""]
    lines += ["## state dict", "", "| key | shape | kind |", "|---|---|---|"]
    for s in bp["state_dict"]:
        lines.append(f"| `{s['key']}` | {tuple(s['shape'])} | {s['kind']} |")
    lines += ["", "## layers", ""]
    for name, info in bp["layers"].items():
        lines.append(f"### `{name}` — {info['type']}")
        for k, v in info.items():
            if k in ("type", "instructions"):
                continue
            lines.append(f"- {k}: {json.dumps(v)}")
        if "instructions" in info:
            if info["type"] == "o3.Linear":
                lines += ["", "| i_in | i_out | path_shape | path_weight |", "|---|---|---|---|"]
                for i_in, i_out, shape, w in info["instructions"]:
                    lines.append(f"| {i_in} | {i_out} | {tuple(shape)} | {fmt(w)} |")
            else:
                lines += ["", "| i_in1 | i_in2 | i_out | mode | weight | path_weight | path_shape |", "|---|---|---|---|---|---|---|"]
                for i1, i2, io, mode, hw, w, shape in info["instructions"]:
                    lines.append(f"| {i1} | {i2} | {io} | {mode} | {hw} | {fmt(w)} | {tuple(shape)} |")
        lines.append("")
    keys = (
        "numbers", "n_edges", "energy", "interaction_energy", "node_energy", "forces", "sum_forces",
        "stress_3x3", "force_1z_vs_central_difference", "energy_inverted_minus_energy",
        "energy_from_the_document_in_numpy", "numpy_minus_mace", "numpy_minus_mace_interaction_energy",
    )
    for title, key in (
        ("evaluation (float64, mace's initialization)", "evaluation_float64"),
        ("evaluation (float64, strong weights: see strengthen())", "evaluation_float64_strong_weights"),
    ):
        lines += [f"## {title}", ""]
        lines += [f"- {k}: {json.dumps(bp[key][k])}" for k in keys]
        lines.append("")
    return "\n".join(lines)


def dump_w3j(path):
    import e3nn
    from e3nn import o3

    torch.set_default_dtype(torch.float64)
    arrays = {}
    for l1 in range(6):
        for l2 in range(6):
            for l3 in range(abs(l1 - l2), min(l1 + l2, 5) + 1):
                arrays[f"w3j_{l1}_{l2}_{l3}"] = o3.wigner_3j(l1, l2, l3).numpy()
    vectors = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for normalize in (True, False):
        arrays[f"sh_normalize_{normalize}"] = o3.spherical_harmonics(
            list(range(6)), vectors, normalize=normalize, normalization="component"
        ).numpy()
    np.savez(path, **arrays)
    print(f"e3nn {e3nn.__version__}: wrote {len(arrays)} arrays to {path}")


def compare_w3j(path_a, path_b):
    a, b = np.load(path_a), np.load(path_b)
    same, flipped = [], []
    for k in a.files:
        x, y = a[k], b[k]
        if k.startswith("sh_"):
            print(f"{k}: max |a - b| = {np.abs(x - y).max():.3g} (max |a| = {np.abs(x).max():.3g})")
        elif np.allclose(x, y, rtol=0, atol=1e-12):
            same.append(k[4:])
        elif np.allclose(x, -y, rtol=0, atol=1e-12):
            flipped.append(k[4:])
        else:
            print(f"{k}: differs beyond a sign, max |a - b| = {np.abs(x - y).max():.3g}")
    print(f"wigner_3j, l <= 5: {len(same)} triples equal (to 1e-12), {len(flipped)} of opposite sign:")
    print("  " + " ".join(f"({k.replace('_', ',')})" for k in flipped))


def check_conv_instructions():
    """mace's conv_tp instructions against equipot's sevenn-style construction
    (bindings/python/equipot/convert/irreps.py, the Python twin of
    UvuTensorProduct::sevenn), for the hidden irreps of the foundation models."""
    from e3nn import o3

    with contextlib.redirect_stdout(sys.stderr):
        from mace.modules.irreps_tools import tp_out_irreps_with_instructions
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
    from equipot.convert import irreps as eq

    sh = o3.Irreps.spherical_harmonics(3)
    target = (sh * 128).sort()[0].simplify()
    for hidden in ["128x0e", "128x0e+128x1o", "128x0e+128x1o+128x2e"]:
        mid, instructions = tp_out_irreps_with_instructions(o3.Irreps(hidden), sh, target)
        paths = eq.convolution_instructions(eq.parse(hidden), eq.parse(str(sh)), eq.parse(str(target)))
        ours = sorted(((i, j, slot) for i, j, _, _, slot in paths), key=lambda x: x[2])
        theirs = [(i1, i2, i_out) for i1, i2, i_out, _, _ in instructions]
        print(f"{hidden} x {sh} -> {target}: {len(theirs)} paths, M = {mid}, equal: {ours == theirs}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "check-conv-instructions":
        return check_conv_instructions()
    if len(sys.argv) > 1 and sys.argv[1] == "w3j":
        return dump_w3j(sys.argv[2])
    if len(sys.argv) > 1 and sys.argv[1] == "w3j-compare":
        return compare_w3j(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="mp0-medium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--save", metavar="PATH",
                        help="only write the random model as mace saves models (torch.save of the module), "
                             "e.g. for scripts/bench_sevennet.py --reference mace")
    parser.add_argument("--weights", choices=["init", "strong", "moderate"], default="init",
                        help="with --save: mace's initialization (tiny features: for timing), strengthen()'s "
                             "weights, or moderate ones (strengthen(radial=5, avg_num_neighbors=16): O(1) eV/Å "
                             "forces in bulk Si and Cu; for agreement checks)")
    args = parser.parse_args()
    if args.save:
        with contextlib.redirect_stdout(sys.stderr):
            import mace.modules  # noqa: F401
        torch.set_default_dtype(torch.float64)
        model = build_model(args.config, args.seed)
        if args.weights == "strong":
            strengthen(model, args.config, args.seed)
        elif args.weights == "moderate":
            strengthen(model, args.config, args.seed, radial=5.0, avg_num_neighbors=16.0)
        return torch.save(model, args.save)
    bp = blueprint(args.config, args.seed)
    print(json.dumps(bp, indent=1) if args.json else markdown(bp))


if __name__ == "__main__":
    main()
