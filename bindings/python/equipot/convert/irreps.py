"""Irreps bookkeeping in e3nn's conventions (strings like "128x0e+64x1e"), no torch.

An irrep is (l, p) with p = +1 (e) or -1 (o); irreps are lists of (mul, (l, p)).
e3nn orders irreps as tuples, so (l, -1) sorts before (l, +1).
"""


def parse(text):
    out = []
    for term in str(text).replace(' ', '').split('+'):
        if not term:
            continue
        mul, ir = term.split('x') if 'x' in term else ('1', term)
        l, p = int(ir[:-1]), {'e': 1, 'o': -1}[ir[-1]]
        out.append((int(mul), (l, p)))
    return out


def to_str(irreps):
    return '+'.join(f'{mul}x{l}{"e" if p == 1 else "o"}' for mul, (l, p) in irreps)


def product(ir1, ir2):
    """Irreps in ir1 x ir2, in e3nn's order (l = |l1-l2| .. l1+l2)."""
    (l1, p1), (l2, p2) = ir1, ir2
    return [(l, p1 * p2) for l in range(abs(l1 - l2), l1 + l2 + 1)]


def spherical_harmonics(lmax, parity):
    return [(1, (l, parity**l)) for l in range(lmax + 1)]


def sort_with_permutation(irreps):
    """Stable sort by irrep; returns (sorted irreps, p) with p[old index] = new index."""
    order = sorted(range(len(irreps)), key=lambda i: (irreps[i][1], i))
    p = [0] * len(irreps)
    for new, old in enumerate(order):
        p[old] = new
    return [irreps[i] for i in order], p


def simplify(irreps):
    out = []
    for mul, ir in irreps:
        if out and out[-1][1] == ir:
            out[-1] = (out[-1][0] + mul, ir)
        elif mul > 0:
            out.append((mul, ir))
    return out


def lmax(irreps):
    return max(l for _, (l, _) in irreps)


def infer_irreps_out(irreps_x, irreps_filter, drop_l, parity_mode, fix_multiplicity):
    """sevenn.util.infer_irreps_out: the full tensor product, sorted and simplified, then filtered."""
    full = [
        (mul1 * mul2, ir)
        for mul1, ir1 in irreps_x
        for mul2, ir2 in irreps_filter
        for ir in product(ir1, ir2)
    ]
    full, _ = sort_with_permutation(full)
    out = []
    for mul, (l, p) in simplify(full):
        if drop_l is not False and l > drop_l:
            continue
        if parity_mode == 'even' and p == -1:
            continue
        if parity_mode == 'sph' and p != (-1) ** l:
            continue
        out.append((fix_multiplicity if fix_multiplicity else mul, (l, p)))
    return out


def convolution_instructions(irreps_x, irreps_filter, irreps_out_tp):
    """sevenn's IrrepsConvolution paths: (i_x, i_filter, ir_out, mul) in creation order,
    with the index of each path's output slot after e3nn sorts the output irreps."""
    wanted = {ir for _, ir in irreps_out_tp}
    created = []
    for i, (mul, ir_x) in enumerate(irreps_x):
        for j, (_, ir_f) in enumerate(irreps_filter):
            for ir_out in product(ir_x, ir_f):
                if ir_out in wanted:
                    created.append((i, j, ir_out, mul))
    _, p = sort_with_permutation([(mul, ir) for _, _, ir, mul in created])
    return [(i, j, ir, mul, p[k]) for k, (i, j, ir, mul) in enumerate(created)]
