"""RooFormulaVar-style expressions (``rateParam`` formulas such as ``(@0*@1/@2) a,b,c``).

An expression is translated once into a restricted Python expression over a vector ``p`` of
argument values (``@i`` -> ``p[i]``; argument names are also accepted), validated with
:mod:`ast` (numbers, arithmetic, comparisons and a whitelist of math functions only) and
compiled. Derivatives use complex-step differentiation, exact to machine precision for the
analytic functions allowed here, so the minimiser still gets analytic-quality gradients.
"""

from __future__ import annotations

import ast
import cmath
import math
import re
from dataclasses import dataclass, field

import numpy as np


def _cpow(a, b):
    return a**b


_FUNCTIONS = {
    "exp": cmath.exp,
    "log": cmath.log,
    "log10": cmath.log10,
    "sqrt": cmath.sqrt,
    "pow": _cpow,
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "atan": cmath.atan,
    "asin": cmath.asin,
    "acos": cmath.acos,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    # abs/min/max act on the real part (their derivative is piecewise)
    "abs": lambda x: x if x.real >= 0 else -x,
    "min": lambda a, b: a if a.real <= b.real else b,
    "max": lambda a, b: a if a.real >= b.real else b,
}
_ALIASES = {
    "TMath::Exp": "exp",
    "TMath::Log": "log",
    "TMath::Log10": "log10",
    "TMath::Sqrt": "sqrt",
    "TMath::Power": "pow",
    "TMath::Abs": "abs",
    "TMath::Min": "min",
    "TMath::Max": "max",
    "TMath::Sin": "sin",
    "TMath::Cos": "cos",
    "TMath::Tan": "tan",
    "TMath::ATan": "atan",
    "std::exp": "exp",
    "std::log": "log",
    "std::sqrt": "sqrt",
    "std::pow": "pow",
    "fabs": "abs",
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
)


class FormulaError(ValueError):
    pass


@dataclass
class Formula:
    """A compiled expression of named arguments."""

    name: str
    expression: str
    args: list[str]
    line: int | None = None
    _code: object = field(default=None, repr=False)

    def __post_init__(self):
        self._code = _compile(self.expression, self.args)

    def value(self, values) -> float:
        """Evaluate with ``values[i]`` the value of ``args[i]``; NaN where the expression is undefined
        (division by zero, log of 0, overflow), as RooFormulaVar gives inf/NaN there: the
        likelihood then treats the point as invalid (:data:`pycombine.model.likelihood.BAD_NLL`)."""
        return self.evaluate(values)[0]

    def evaluate(self, values) -> tuple[float, str]:
        """(value, why it is undefined or ''): :meth:`value` with the reason of a NaN."""
        try:
            z = complex(eval(self._code, {"__builtins__": {}, **_FUNCTIONS}, {"p": [complex(v) for v in values]}))
        except (ArithmeticError, ValueError) as exc:
            return math.nan, str(exc) or type(exc).__name__
        if z.imag != 0.0:  # real arguments, complex value: log or sqrt of a negative number, ...
            return math.nan, "outside its domain (log, sqrt or power of a negative number)"
        return float(z.real), ""

    def values(self, columns) -> np.ndarray:
        """Evaluate for many points at once: ``columns[i]`` is an array of values of ``args[i]``."""
        cols = [np.asarray(c, dtype=float) for c in columns]
        with np.errstate(all="ignore"):
            z = eval(self._code, {"__builtins__": {}, **_NUMPY_FUNCTIONS}, {"p": cols})
        shape = cols[0].shape if cols else ()
        return np.broadcast_to(np.asarray(z, dtype=float), shape).copy()

    def gradient(self, values) -> np.ndarray:
        """d value / d args, by complex-step differentiation."""
        h = 1e-30
        base = [complex(v) for v in values]
        out = np.empty(len(base))
        for i in range(len(base)):
            p = list(base)
            p[i] = complex(p[i].real, h)
            try:
                z = eval(self._code, {"__builtins__": {}, **_FUNCTIONS}, {"p": p})
                out[i] = complex(z).imag / h
            except (ArithmeticError, ValueError):
                out[i] = math.nan
        return out


#: the same functions on numpy arrays (column-wise evaluation of many points, no derivatives)
_NUMPY_FUNCTIONS = {
    "exp": np.exp, "log": np.log, "log10": np.log10, "sqrt": np.sqrt, "pow": np.power,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "atan": np.arctan, "asin": np.arcsin, "acos": np.arccos,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "abs": np.abs, "min": np.minimum, "max": np.maximum,
}


def _compile(expression: str, args: list[str]):
    text = expression.strip()
    for alias, target in _ALIASES.items():
        text = text.replace(alias, target)
    # names of the arguments -> @i first (longest first so that 'ab' is not hit by 'a'), then
    # every @i -> p[i]: the other order would rewrite an argument called 'p' inside 'p[i]'
    for i, name in sorted(enumerate(args), key=lambda x: -len(x[1])):
        text = re.sub(rf"(?<![\w@]){re.escape(name)}(?!\w)", f"@{i}", text)
    text = re.sub(r"@(\d+)", r"p[\1]", text)
    text = text.replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse formula {expression!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise FormulaError(f"formula {expression!r} uses an unsupported construct ({type(node).__name__})")
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS and node.id != "p":
            raise FormulaError(f"formula {expression!r} refers to unknown name {node.id!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise FormulaError(f"formula {expression!r} calls an unsupported function")
        if isinstance(node, ast.Subscript):
            idx = node.slice
            if not (isinstance(node.value, ast.Name) and node.value.id == "p" and isinstance(idx, ast.Constant)):
                raise FormulaError(f"formula {expression!r}: only @0, @1, ... may be indexed")
            if not 0 <= idx.value < len(args):
                raise FormulaError(f"formula {expression!r} uses @{idx.value} but only {len(args)} arguments are given")
    return compile(tree, f"<formula {expression}>", "eval")
