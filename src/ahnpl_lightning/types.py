"""The bottom layer: names every other module may import (it imports nothing from the package).

``NEGATIVE_TYPES`` is the K axis of every negative tensor, mask and per-type metric, in this order
(docs/METHOD.md §1). Adding a type: append it here, register its generator in ``data/negatives/registry.py``
(one function, see ``data/negatives/kinds``), teach the world's grammar to make it, and test it. Nothing else
hard-codes K.
"""

from __future__ import annotations

__all__ = ["NEGATIVE_TYPES", "EXTRA_NEGATIVE_TYPES", "ALL_TYPES"]

#: The text hard-negative types on the K axis (the paper's five, docs/METHOD.md §1).
NEGATIVE_TYPES: tuple[str, ...] = ("relation", "adj_swap", "adj", "noun", "verb")
#: Generated and cached too, but not on the K axis: SugarCrepe's replace-rel style (a preposition changed).
EXTRA_NEGATIVE_TYPES: tuple[str, ...] = ("relation_replace",)
#: Every type the generator makes: the columns of a negatives cache, in this order.
ALL_TYPES: tuple[str, ...] = NEGATIVE_TYPES + EXTRA_NEGATIVE_TYPES
