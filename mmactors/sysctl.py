"""Kernel knobs a scenario can set: ``[sysctl]``, ``[kconfig]`` and ``[constants]``.

Each subsystem registers the knobs it models, with the kernel's name, type,
default and a line of doc, so that an unknown knob is an error naming it and
``machine.sysctl["vm.swappiness"]`` always has a value.  Names are the
kernel's: sysctl names as in /proc/sys (``vm.percpu_pagelist_high_fraction``),
Kconfig symbols with their ``CONFIG_`` prefix, compile-time constants as
spelled in the source (``PAGEVEC_SIZE``).
"""
from __future__ import annotations

from .scenario import Field, register_section

__all__ = ["register_sysctl", "register_kconfig", "register_constant", "SYSCTL", "KCONFIG",
           "CONSTANTS"]

SYSCTL: dict[str, Field] = {}
KCONFIG: dict[str, Field] = {}
CONSTANTS: dict[str, Field] = {}


def register_sysctl(name, type, default, check=None, doc=""):
    SYSCTL[name] = Field(name, type, default, check=check, doc=doc)


def register_kconfig(name, type, default, check=None, doc=""):
    KCONFIG[name] = Field(name, type, default, check=check, doc=doc)


def register_constant(name, type, default, check=None, doc=""):
    CONSTANTS[name] = Field(name, type, default, check=check, doc=doc)


def _section(title, registry):
    from .scenario import check_table

    def validate(ctx, table, machine):
        if not isinstance(table, dict):
            raise ctx.error((), title, "must be a table")
        for k in table:
            if k not in registry:
                known = ", ".join(sorted(registry)) or "none modelled yet"
                raise ctx.error((title,), k, f"unknown {title} knob (known: {known})")
        return check_table(ctx, (title,), table, list(registry.values()))

    def default():
        return {k: f.default for k, f in registry.items()}
    return validate, default


for _title, _reg in (("sysctl", SYSCTL), ("kconfig", KCONFIG), ("constants", CONSTANTS)):
    register_section(_title, *_section(_title, _reg))
