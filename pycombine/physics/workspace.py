"""The parts of a RooWorkspace that physics models use, without ROOT.

A physics model talks to ``modelBuilder.out`` (a ``RooWorkspace``) and to RooFit's factory
language (``doVar("r[1,0,20]")``, ``factory_('expr::f("@0*@1", a, b)')``). :class:`Workspace`
keeps what those calls create as plain Python objects: :class:`RealVar` (a ``RooRealVar``:
value, range, constant flag, attributes), :class:`Function` (a formula of other objects:
``expr::``/``cexpr::``, ``sum::``, ``prod::``) and named sets (``defineSet``). What a model
builds is later read back as a :class:`~.setup.PhysicsSetup`.

Anything RooFit-only (pdfs, categories, splines, imports from files, ...) raises
:class:`Unsupported` with a message naming the construct; a factory statement RooFit itself
would reject raises :class:`FactoryError` (Combine raises ``RuntimeError`` there too).
"""

from __future__ import annotations

import re

#: RooFit's "infinity": ranges at or beyond it are open
INFINITY = 1e30

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VAR_DECL = re.compile(rf"^({_NAME})\s*\[(.*)\]$", re.S)
_OBJECT = re.compile(rf"^({_NAME})\s*::\s*({_NAME})\s*\((.*)\)$", re.S)
_NAME_ONLY = re.compile(rf"^{_NAME}$")
_INDEX = re.compile(r"@(\d+)")

#: factory types that create a function of other parameters, and the formula they stand for
_FUNCTION_TYPES = ("expr", "cexpr", "sum", "prod")


class Unsupported(Exception):
    """A RooFit construct or Combine feature pycombine does not emulate (the message says which)."""


class FactoryError(RuntimeError):
    """A factory statement that RooFit would reject too (unknown argument, bad syntax, ...)."""


def _is_infinite(x: float) -> bool:
    return abs(x) >= INFINITY


class RealVar:
    """A ``RooRealVar``: value, range (``±1e30`` = open), constant flag and attributes."""

    def __init__(self, name: str, value: float, lo: float = -INFINITY, hi: float = INFINITY,
                 constant: bool = False, tag: tuple = ()):
        self._name = name
        self._lo, self._hi = float(lo), float(hi)
        self._value = self._clip(float(value))
        self._constant = bool(constant)
        self.attributes: dict[str, bool] = {}
        self.string_attributes: dict[str, str] = {}
        self.tag = tag  # the factory arguments it was made from (RooFit recycles identical ones)

    def _clip(self, v: float) -> float:
        return min(max(v, self._lo), self._hi)

    # names
    def GetName(self) -> str:
        return self._name

    GetTitle = GetName

    # value
    def getVal(self, *_) -> float:
        return self._value

    def setVal(self, value: float) -> None:
        self._value = self._clip(float(value))

    # range
    def getMin(self, name=None) -> float:
        return self._lo

    def getMax(self, name=None) -> float:
        return self._hi

    def hasMin(self, name=None) -> bool:
        return not _is_infinite(self._lo)

    def hasMax(self, name=None) -> bool:
        return not _is_infinite(self._hi)

    def setRange(self, *args) -> None:
        if len(args) == 3:
            raise Unsupported(f"named ranges (setRange on '{self._name}' with a range name) are RooFit-only "
                              "and not supported")
        if len(args) != 2:
            raise TypeError("setRange(min, max) takes two numbers")
        lo, hi = float(args[0]), float(args[1])
        if lo > hi:
            raise ValueError(f"{self._name}.setRange({args[0]}, {args[1]}): the minimum is above the maximum")
        self._lo, self._hi = lo, hi
        self._value = self._clip(self._value)

    def setMin(self, value: float) -> None:
        self.setRange(min(float(value), self._hi), self._hi)

    def setMax(self, value: float) -> None:
        self.setRange(self._lo, max(float(value), self._lo))

    def removeMin(self) -> None:
        self._lo = -INFINITY

    def removeMax(self) -> None:
        self._hi = INFINITY

    def removeRange(self) -> None:
        self._lo, self._hi = -INFINITY, INFINITY

    # flags
    def setConstant(self, value: bool = True) -> None:
        self._constant = bool(value)

    def isConstant(self) -> bool:
        return self._constant

    def setAttribute(self, name: str, value: bool = True) -> None:
        self.attributes[name] = bool(value)

    def getAttribute(self, name: str) -> bool:
        return self.attributes.get(name, False)

    def setStringAttribute(self, name: str, value: str) -> None:
        self.string_attributes[name] = value

    def getStringAttribute(self, name: str):
        return self.string_attributes.get(name)

    # cosmetics RooFit offers and models call
    def setError(self, value: float) -> None:
        pass

    def setBins(self, *args) -> None:
        pass

    def Print(self, *args) -> None:
        print(repr(self))

    def bounds(self) -> tuple[float | None, float | None]:
        """(lo, hi) with None for an open side."""
        return (None if _is_infinite(self._lo) else self._lo, None if _is_infinite(self._hi) else self._hi)

    def __repr__(self) -> str:
        const = " C" if self._constant else ""
        return f"RooRealVar::{self._name} = {self._value:g}{const}  L({self._lo:g} - {self._hi:g})"


class Function:
    """A function of other workspace objects (RooFormulaVar / RooAddition / RooProduct)."""

    def __init__(self, name: str, formula: str, args: tuple[str, ...], kind: str, tag: tuple = ()):
        self._name = name
        self.formula = formula
        self.args = args
        self.kind = kind
        self.tag = tag
        self.attributes: dict[str, bool] = {}

    def GetName(self) -> str:
        return self._name

    GetTitle = GetName

    def setAttribute(self, name: str, value: bool = True) -> None:
        self.attributes[name] = bool(value)

    def getAttribute(self, name: str) -> bool:
        return self.attributes.get(name, False)

    def isConstant(self) -> bool:
        return False

    def getVal(self, *_):
        raise Unsupported(f"evaluating the function '{self._name}' inside a physics model is not supported")

    def __repr__(self) -> str:
        return f"{self.kind}::{self._name}[ formula=\"{self.formula}\" args=({','.join(self.args)}) ]"


class ArgSet:
    """A named set of workspace objects (``RooArgSet``), iterable in insertion order."""

    def __init__(self, items):
        self._items = list(items)

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, obj) -> bool:
        name = obj if isinstance(obj, str) else obj.GetName()
        return any(i.GetName() == name for i in self._items)

    def getSize(self) -> int:
        return len(self._items)

    def find(self, name: str):
        return next((i for i in self._items if i.GetName() == name), None)

    def names(self) -> list[str]:
        return [i.GetName() for i in self._items]

    def contentsString(self) -> str:
        return ",".join(self.names())

    def first(self):
        return self._items[0] if self._items else None

    def Print(self, *args) -> None:
        print("(" + self.contentsString() + ")")


def split_args(text: str) -> list[str]:
    """Split on the commas outside quotes and brackets; strips each piece."""
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    if quote or depth:
        raise FactoryError(f"unbalanced quotes or brackets in {text!r}")
    last = text[start:].strip()
    if last or out:
        out.append(last)
    return out


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FactoryError(f"{what}: {text!r} is not a number") from None


def check_formula(name: str, formula: str, args: tuple[str, ...]) -> None:
    """The checks a formula can get without evaluating it: balanced, and @i within the arguments."""
    depth = 0
    for ch in formula:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            break
    if depth != 0:
        raise FactoryError(f"expression '{name}': unbalanced parentheses in \"{formula}\"")
    for m in _INDEX.finditer(formula):
        if int(m.group(1)) >= len(args):
            raise FactoryError(f"expression '{name}': \"{formula}\" uses @{m.group(1)} "
                               f"but only {len(args)} argument(s) are given")
    if not formula.strip():
        raise FactoryError(f"expression '{name}': the formula is empty")


class Workspace:
    """What a physics model creates, in creation order, with RooWorkspace's lookup methods."""

    def __init__(self):
        self.objects: dict[str, RealVar | Function] = {}
        self.sets: dict[str, ArgSet] = {}
        self.set_errors: dict[str, str] = {}  # a named set whose last definition failed -> why
        self.dont_delete: list = []  # Combine keeps factory results here; harmless to fill

    # ------------------------------------------------------------------ lookups (RooWorkspace API)
    def var(self, name: str) -> RealVar | None:
        obj = self.objects.get(name)
        return obj if isinstance(obj, RealVar) else None

    def function(self, name: str):
        return self.objects.get(name)

    def arg(self, name: str):
        return self.objects.get(name)

    obj = arg

    def pdf(self, name: str):
        return None

    def data(self, name: str):
        return None

    def cat(self, name: str):
        return None

    def set(self, name: str) -> ArgSet | None:
        return self.sets.get(name)

    def allVars(self) -> ArgSet:
        return ArgSet(o for o in self.objects.values() if isinstance(o, RealVar))

    def allFunctions(self) -> ArgSet:
        return ArgSet(o for o in self.objects.values() if isinstance(o, Function))

    def GetName(self) -> str:
        return "w"

    def Print(self, *args) -> None:
        for o in self.objects.values():
            print(repr(o))

    def defineSet(self, name: str, contents) -> bool:
        """Define (or replace) a named set; like RooFit, a missing member leaves the set as it was
        and returns True (the error is remembered and reported if the set is needed)."""
        names = split_args(contents) if isinstance(contents, str) else [
            c if isinstance(c, str) else c.GetName() for c in contents]
        names = [n for n in names if n]
        missing = [n for n in names if n not in self.objects]
        if missing:
            verb = "was" if len(missing) == 1 else "were"
            listed = ", ".join(repr(m) for m in missing)
            self.set_errors[name] = f"doSet('{name}', '{','.join(names)}') names {listed}, which {verb} never created"
            return True
        self.sets[name] = ArgSet(self.objects[n] for n in names)
        self.set_errors.pop(name, None)
        return False

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "factory_":
            raise AttributeError(name)
        raise Unsupported(f"the workspace method out.{name}() is RooFit-only and not supported")

    def safe_import(self, *args):
        raise Unsupported("importing RooFit objects into the workspace (out.safe_import) is not supported")

    # ------------------------------------------------------------------ the factory language
    def factory(self, spec: str):
        """Run one RooFit factory statement; returns the object made (or found)."""
        if not isinstance(spec, str):
            raise TypeError("the factory takes a string")
        text = spec.strip()
        m = _VAR_DECL.match(text)
        if m:
            return self._declare_var(m.group(1), m.group(2), text)
        m = _OBJECT.match(text)
        if m:
            return self._make_object(m.group(1), m.group(2), m.group(3), text)
        if _NAME_ONLY.match(text):
            obj = self.objects.get(text)
            if obj is None:
                raise FactoryError(f"'{text}' does not exist (declare it as {text}[value,min,max])")
            return obj
        raise Unsupported(f"the factory statement '{text}' is not supported (pycombine understands name[value], "
                          "name[value,min,max], name[min,max], expr::, cexpr::, sum:: and prod::)")

    def _declare_var(self, name: str, inside: str, text: str) -> RealVar:
        fields = split_args(inside)
        if not fields or len(fields) > 3:
            raise FactoryError(f"'{text}': expected name[value], name[min,max] or name[value,min,max]")
        if any(f and not (f[0].isdigit() or f[0] in ".+-") for f in fields):
            raise Unsupported(f"'{text}' declares a RooFit category (non-numeric values), which is not supported")
        nums = tuple(_number(f, f"'{text}'") for f in fields)
        existing = self.objects.get(name)
        if existing is not None:
            if isinstance(existing, RealVar) and existing.tag == nums:
                return existing  # RooFit recycles an identical declaration
            raise FactoryError(f"'{text}': an object named '{name}' already exists with another definition")
        if len(nums) == 1:
            var = RealVar(name, nums[0], constant=True, tag=nums)
        else:
            if len(nums) == 2:
                lo, hi = nums
                value = (lo + hi) / 2 if not (_is_infinite(lo) or _is_infinite(hi)) else (
                    0.0 if _is_infinite(lo) and _is_infinite(hi) else (hi if _is_infinite(lo) else lo))
            else:
                value, lo, hi = nums
            if lo > hi:
                raise FactoryError(f"'{text}': the minimum {lo:g} is above the maximum {hi:g}")
            var = RealVar(name, value, lo, hi, tag=nums)
        self.objects[name] = var
        return var

    def _argument(self, text: str, where: str) -> str:
        """One argument of a function: an existing name, an inline declaration or nested object."""
        if _NAME_ONLY.match(text):
            if text not in self.objects:
                raise FactoryError(f"{where}: the argument '{text}' does not exist (create it first)")
            return text
        if _VAR_DECL.match(text) or _OBJECT.match(text):
            return self.factory(text).GetName()
        if text and (text[0].isdigit() or text[0] in ".+-"):
            raise Unsupported(f"{where}: a numeric argument ('{text}') is not supported (declare a constant, "
                              f"e.g. c[{text}], and pass its name)")
        raise Unsupported(f"{where}: the argument '{text}' is not supported")

    def _arguments(self, fields: list[str], where: str) -> tuple[str, ...]:
        out: list[str] = []
        for f in fields:
            if f.startswith("{") and f.endswith("}"):
                out.extend(self._argument(g, where) for g in split_args(f[1:-1]))
            else:
                out.append(self._argument(f, where))
        return tuple(out)

    def _make_object(self, kind: str, name: str, inside: str, text: str) -> Function:
        short = text if len(text) <= 80 else text[:77] + "..."
        if kind not in _FUNCTION_TYPES:
            raise Unsupported(f"'{short}' uses {kind}::, a RooFit construct pycombine does not emulate (it emulates "
                              "expr::, cexpr::, sum:: and prod::)")
        fields = split_args(inside)
        where = f"'{short}'"
        if kind in ("expr", "cexpr"):
            if not fields or len(fields[0]) < 2 or fields[0][0] not in "\"'" or fields[0][-1] != fields[0][0]:
                raise FactoryError(f"{where}: expected {kind}::{name}(\"formula\", arg1, arg2, ...)")
            formula = fields[0][1:-1]
            args = self._arguments(fields[1:], where)
            check_formula(name, formula, args)
        else:
            for f in fields:
                if "*" in f or "+" in f:
                    raise Unsupported(f"{where}: {kind}:: of the term '{f}' is not supported (give plain names)")
            args = self._arguments(fields, where)
            if not args:
                raise FactoryError(f"{where}: {kind}:: needs at least one argument")
            op = "+" if kind == "sum" else "*"
            formula = op.join(f"@{i}" for i in range(len(args)))
        tag = (kind, formula, args)
        existing = self.objects.get(name)
        if existing is not None:
            if isinstance(existing, Function) and existing.tag == tag:
                return existing
            raise FactoryError(f"{where}: an object named '{name}' already exists")
        fn = Function(name, formula, args, kind, tag)
        self.objects[name] = fn
        return fn
