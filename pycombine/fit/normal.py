"""The standard normal distribution as ROOT::Math computes it (normal_cdf, normal_quantile, ...).

The quantile is Wichura's algorithm AS 241 (PPND16, Applied Statistics 37 (1988) 477), the one
behind ROOT::Math::normal_quantile: rational approximations in three regions of p, accurate to
about 1e-16. It lives here, in plain ``math``, because the methods need it in every command and
the standard library's ``statistics`` module costs ~5 ms of start-up (it imports fractions,
decimal and random).
"""

from __future__ import annotations

import math

__all__ = ["norm_cdf", "norm_cdf_c", "norm_quantile", "norm_quantile_c"]

_SQRT2 = math.sqrt(2.0)

# |p - 1/2| <= 0.425: x = q A(r) / B(r) with r = 0.180625 - q^2
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
      4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3)
# tails, r = sqrt(-ln min(p, 1 - p)) <= 5: x = C(r - 1.6) / D(r - 1.6)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9)
# far tails, r > 5: x = E(r - 5) / F(r - 5)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15)


def _ratio(num: tuple[float, ...], den: tuple[float, ...], r: float) -> float:
    """num(r) / den(r) for polynomials given lowest order first (Horner)."""
    n = d = 0.0
    for a, b in zip(reversed(num), reversed(den)):
        n = n * r + a
        d = d * r + b
    return n / d


def norm_cdf(x: float) -> float:
    """Phi(x) (ROOT::Math::normal_cdf)."""
    if math.isnan(x):
        return math.nan
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_cdf_c(x: float) -> float:
    """1 - Phi(x) computed without cancellation (ROOT::Math::normal_cdf_c)."""
    if math.isnan(x):
        return math.nan
    return 0.5 * math.erfc(x / _SQRT2)


def norm_quantile(p: float) -> float:
    """Phi^-1(p) (ROOT::Math::normal_quantile); +-inf at the end points, nan outside [0, 1]."""
    if math.isnan(p) or p < 0.0 or p > 1.0:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    q = p - 0.5
    if abs(q) <= 0.425:
        return q * _ratio(_A, _B, 0.180625 - q * q)
    r = math.sqrt(-math.log(min(p, 1.0 - p)))
    x = _ratio(_C, _D, r - 1.6) if r <= 5.0 else _ratio(_E, _F, r - 5.0)
    return -x if q < 0 else x


def norm_quantile_c(p: float) -> float:
    """Phi^-1(1 - p) (ROOT::Math::normal_quantile_c), accurate for small p."""
    return -norm_quantile(p)
