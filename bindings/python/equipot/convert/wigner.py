"""Real Wigner-3j symbols in e3nn's basis and sign convention, with numpy only.

e3nn builds them from the complex (Condon-Shortley) Clebsch-Gordan coefficients,
changed to its real spherical-harmonics basis (the matrix Q below, with the extra
(-i)^l factor that makes the result real), then scaled to unit Frobenius norm.
The converter needs them only to tell which sign an old checkpoint's stored
coefficients carry.
"""

from fractions import Fraction
from functools import lru_cache
from math import factorial, sqrt

import numpy as np


def _clebsch_gordan(j1, m1, j2, m2, j3, m3):
    """<j1 m1 j2 m2 | j3 m3> by Racah's formula (integer j)."""
    if m1 + m2 != m3 or not abs(j1 - j2) <= j3 <= j1 + j2:
        return 0.0
    if abs(m1) > j1 or abs(m2) > j2 or abs(m3) > j3:
        return 0.0
    f = factorial
    pre = Fraction((2 * j3 + 1) * f(j3 + j1 - j2) * f(j3 - j1 + j2) * f(j1 + j2 - j3), f(j1 + j2 + j3 + 1))
    pre *= f(j3 + m3) * f(j3 - m3) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)
    total = Fraction(0)
    for k in range(0, j1 + j2 + 1):
        dens = (k, j1 + j2 - j3 - k, j1 - m1 - k, j2 + m2 - k, j3 - j2 + m1 + k, j3 - j1 - m2 + k)
        if min(dens) < 0:
            continue
        d = 1
        for x in dens:
            d *= f(x)
        total += Fraction((-1) ** k, d)
    return float(total) * sqrt(pre)


def _real_to_complex(l):
    """e3nn's change of basis: rows complex m = -l..l, columns real m = -l..l."""
    q = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    s = 1 / sqrt(2)
    for m in range(-l, 0):
        q[l + m, l - m] = s
        q[l + m, l + m] = -1j * s
    q[l, l] = 1
    for m in range(1, l + 1):
        q[l + m, l + m] = (-1) ** m * s
        q[l + m, l - m] = 1j * (-1) ** m * s
    return (-1j) ** l * q


@lru_cache(maxsize=None)
def wigner_3j(l1, l2, l3):
    """Array (2l1+1, 2l2+1, 2l3+1), equal to e3nn.o3.wigner_3j(l1, l2, l3) of e3nn 0.6."""
    cg = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            m3 = m1 + m2
            if abs(m3) <= l3:
                cg[l1 + m1, l2 + m2, l3 + m3] = _clebsch_gordan(l1, m1, l2, m2, l3, m3)
    q1, q2, q3 = _real_to_complex(l1), _real_to_complex(l2), _real_to_complex(l3)
    c = np.einsum('ij,kl,nm,ikn->jlm', q1, q2, np.conj(q3), cg)
    if np.abs(c.imag).max() > 1e-10:
        raise AssertionError('Wigner-3j change of basis left an imaginary part')
    c = c.real
    return c / np.linalg.norm(c)
