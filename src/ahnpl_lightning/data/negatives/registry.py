"""The negative-type registry: one generator function per type, looked up by name.

A generator function takes the ``NegativeGenerator`` (its lexicon, alternatives, slot model), the parsed caption and
a ``random.Random`` seeded per (version, seed, type, caption), and returns the negative text or ``None`` when the
type cannot apply (never a fake). Register one with ``@register_negative_type("name")`` in a module under ``kinds/``;
the type's name must be in ``ahnpl_lightning.types.ALL_TYPES`` (the K axis and the cache columns).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator
    from ahnpl_lightning.data.negatives.parsing import Parsed

__all__ = ["NegativeKind", "NegativeMaker", "register_negative_type", "negative_kind", "registered_types"]

NegativeMaker = Callable[["NegativeGenerator", "Parsed", random.Random], "str | None"]


@dataclass(frozen=True)
class NegativeKind:
    """A registered type: its name, its generator function and a one-line description (from the docstring)."""

    name: str
    make: NegativeMaker
    description: str


_REGISTRY: dict[str, NegativeKind] = {}


def register_negative_type(name: str) -> Callable[[NegativeMaker], NegativeMaker]:
    """Decorator: register ``fn`` as the generator of type ``name`` (one function per type)."""

    def decorate(fn: NegativeMaker) -> NegativeMaker:
        if name in _REGISTRY and _REGISTRY[name].make is not fn:
            raise ValueError(f"negative type {name!r} is already registered by {_REGISTRY[name].make.__qualname__}")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = NegativeKind(name, fn, doc[0] if doc else "")
        return fn

    return decorate


def _load_builtin_kinds() -> None:
    import ahnpl_lightning.data.negatives.kinds  # noqa: F401  (registers the built-in types)


def negative_kind(name: str) -> NegativeKind:
    """The registered type ``name``; a clear error naming the known types otherwise."""
    _load_builtin_kinds()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no generator registered for negative type {name!r}; known: {sorted(_REGISTRY)}") from None


def registered_types() -> tuple[str, ...]:
    """Names of every registered type, in registration order."""
    _load_builtin_kinds()
    return tuple(_REGISTRY)
