"""Text hard negatives: a registry of one generator per type, its lexicon, tagger and Parquet cache.

``NegativeGenerator(seed).generate(caption)`` returns one negative per type in ``ALL_TYPES`` (``None`` where a type
cannot apply). Layout: ``registry.py`` + ``kinds/`` (one function per type), ``generator.py`` (parse once, seed,
dispatch), ``lexicon/`` (WordNet, word lists, inflection), ``tagger.py``, ``alternatives.py``, ``vocabulary.py``,
``cache.py``; the ``ahnpl negatives`` tool lives in ``ahnpl_lightning.tools.negatives``.
Names are imported lazily, so ``from ahnpl_lightning.data.negatives import NEGATIVE_TYPES`` stays cheap.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ahnpl_lightning.types import ALL_TYPES, EXTRA_NEGATIVE_TYPES, NEGATIVE_TYPES

_PKG = "ahnpl_lightning.data.negatives"
#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("GENERATOR_VERSION", "NegativeGenerator", "negative_mask"), f"{_PKG}.generator"),
    **dict.fromkeys(("build_negatives_cache", "load_negatives_cache", "ensure_negatives_cache", "cache_is_current"),
                    f"{_PKG}.cache"),
    "SlotModel": f"{_PKG}.slots",
    **dict.fromkeys(("register_negative_type", "negative_kind", "registered_types", "NegativeKind"),
                    f"{_PKG}.registry"),
    **dict.fromkeys(("pluralize", "inflect_verb", "article_for"), f"{_PKG}.lexicon.inflection"),
    "WordNetAlternatives": f"{_PKG}.alternatives",
    **dict.fromkeys(("ADJ_FAMILIES", "NOUN_FAMILIES", "VERB_FAMILIES", "SPATIAL_GROUPS", "NON_CONTENT_NOUNS",
                     "NON_CONTENT_ADJS", "AUX_VERBS"), f"{_PKG}.vocabulary"),
}
#: old name -> (module, new name): importable for one more release, with a DeprecationWarning
_DEPRECATED: dict[str, tuple[str, str]] = {
    "main": ("ahnpl_lightning.tools.negatives", "main"),
    "_stable_seed": ("ahnpl_lightning.seeding", "stable_seed"),
    **{name: ("ahnpl_lightning.evaluation.perturbations", name)
       for name in ("ORDER_PERTURBATIONS", "aro_pre_caption", "order_perturbations")},
}

__all__ = ["NEGATIVE_TYPES", "EXTRA_NEGATIVE_TYPES", "ALL_TYPES", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _DEPRECATED:
        module, new = _DEPRECATED[name]
        warnings.warn(f"ahnpl_lightning.data.negatives.{name} moved to {module}.{new}; the old path will be removed "
                      "in the next release", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
