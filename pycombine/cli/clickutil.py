"""click glue that makes option parsing behave like Combine's Boost.Program_options."""

from __future__ import annotations

import struct

import click


def float32(x: float) -> float:
    """Round to IEEE single precision (Combine stores -m, --cl, --rMin, ... as C floats)."""
    return struct.unpack("f", struct.pack("f", float(x)))[0]


class BoolValue(click.ParamType):
    """Boost bool option value: 1/0, true/false, yes/no, on/off."""

    name = "bool"

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        self.fail(f"{value!r} is not a boolean (use 1/0 or true/false)", param, ctx)


class Float32(click.ParamType):
    name = "float"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, float):
            return value if value is None else float32(value)
        try:
            return float32(float(value))
        except ValueError:
            self.fail(f"{value!r} is not a number", param, ctx)


def expand_prefixes(args: list[str], long_names: list[str]) -> list[str]:
    """Replace unambiguous prefixes of long options by the full name (``--saveWithUnc``)."""
    names = set(long_names)
    out = []
    passthrough = False
    for a in args:
        if passthrough or not a.startswith("--") or a == "--":
            passthrough = passthrough or a == "--"
            out.append(a)
            continue
        name, eq, value = a.partition("=")
        if name not in names:
            matches = [n for n in long_names if n.startswith(name)]
            if len(matches) == 1:
                name = matches[0]
            elif len(matches) > 1:
                raise click.UsageError(f"option {name} is ambiguous: it may be {', '.join(sorted(matches))}")
        out.append(name + eq + value)
    return out


class CombineCommand(click.Command):
    """A click command accepting unambiguous prefixes of long options, like Boost does."""

    def parse_args(self, ctx, args):
        long_names = [o for p in self.params for o in getattr(p, "opts", []) if o.startswith("--")]
        long_names += [o for p in self.params for o in getattr(p, "secondary_opts", []) if o.startswith("--")]
        return super().parse_args(ctx, expand_prefixes(list(args), long_names))
