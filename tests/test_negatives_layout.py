"""The negatives package layout: bottom-layer types, one seed function, the type registry, old paths deprecated."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ahnpl_lightning.data.negatives import registry
from ahnpl_lightning.seeding import stable_seed
from ahnpl_lightning.types import ALL_TYPES, NEGATIVE_TYPES

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules_loaded_by(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in sys.modules if m.startswith('ahnpl_lightning')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    return sorted(out.stdout.split())


def test_types_is_the_bottom_layer() -> None:
    assert _modules_loaded_by("import ahnpl_lightning.types") == ["ahnpl_lightning", "ahnpl_lightning.types"]
    assert _modules_loaded_by("import ahnpl_lightning.seeding") == ["ahnpl_lightning", "ahnpl_lightning.seeding"]


def test_negative_types_stay_importable_and_cheap_from_the_package() -> None:
    loaded = _modules_loaded_by("from ahnpl_lightning.data.negatives import NEGATIVE_TYPES")
    assert "ahnpl_lightning.data.negatives.generator" not in loaded
    from ahnpl_lightning.data import negatives

    assert negatives.NEGATIVE_TYPES is NEGATIVE_TYPES and negatives.ALL_TYPES is ALL_TYPES


def test_every_type_has_exactly_one_registered_generator() -> None:
    assert set(registry.registered_types()) == set(ALL_TYPES)
    for kind in ALL_TYPES:
        assert registry.negative_kind(kind).description  # a one-line docstring says what it does
    with pytest.raises(KeyError, match="no generator registered for negative type 'colour'"):
        registry.negative_kind("colour")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_negative_type("noun")(lambda gen, parsed, rng: None)


def test_a_new_type_is_one_registered_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a type: a name on the K axis and one generator function; the generator picks it up."""
    import ahnpl_lightning.data.negatives.generator as genmod
    from ahnpl_lightning.data.negatives.generator import NegativeGenerator

    monkeypatch.setattr(genmod, "ALL_TYPES", (*ALL_TYPES, "shout"))
    monkeypatch.setitem(registry._REGISTRY, "shout", registry.NegativeKind(
        "shout", lambda gen, parsed, rng: parsed.text.upper(), "upper-case the caption"))
    out = NegativeGenerator(seed=0, tagger="builtin").generate("A dog on a bed.")
    assert out["shout"] == "A DOG ON A BED." and set(out) == {*ALL_TYPES, "shout"}


def test_stable_seed_is_the_worlds_definition() -> None:
    import hashlib

    from ahnpl_lightning.data.world import core

    parts = ("v", 3, "noun", "A dog.")
    expected = int.from_bytes(hashlib.blake2b(b"v\x1f3\x1fnoun\x1fA dog.", digest_size=8).digest(), "little")
    assert stable_seed(*parts) == expected == core.stable_seed(*parts)


@pytest.mark.parametrize(("old", "name", "new"), [
    ("ahnpl_lightning.data.tagger", "BuiltinTagger", "ahnpl_lightning.data.negatives.tagger"),
    ("ahnpl_lightning.data.tagger", "get_lexicon", "ahnpl_lightning.data.negatives.lexicon.words"),
    ("ahnpl_lightning.data.wordnet", "ensure_wordnet", "ahnpl_lightning.data.negatives.lexicon.wordnet"),
    ("ahnpl_lightning.data.wordnet_index", "WordNetIndex", "ahnpl_lightning.data.negatives.lexicon.wordnet_index"),
])
def test_old_module_paths_warn_and_still_work(old: str, name: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_moved_names_of_the_negatives_module_warn() -> None:
    from ahnpl_lightning.data import negatives
    from ahnpl_lightning.tools import negatives as tool

    with pytest.warns(DeprecationWarning, match="tools.negatives"):
        assert negatives.main is tool.main
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # names that stay in the package do not warn
        assert negatives.NegativeGenerator.__name__ == "NegativeGenerator"
        assert negatives.build_negatives_cache.__name__ == "build_negatives_cache"
    with pytest.raises(AttributeError):
        negatives.no_such_name  # noqa: B018


def test_cli_routes_negatives_to_the_tools_layer() -> None:
    from ahnpl_lightning.cli import TOOLS

    assert TOOLS["negatives"] == "ahnpl_lightning.tools.negatives"


def test_no_negatives_module_over_500_lines() -> None:
    package = SRC / "ahnpl_lightning" / "data" / "negatives"
    sizes = {str(p.relative_to(package)): len(p.read_text().splitlines()) for p in package.rglob("*.py")}
    assert max(sizes.values()) <= 500, sizes
