"""The synthetic compositional world: seeded scenes of coloured shapes, an exact caption grammar and oracle,
world-exact hard negatives and counterfactual images, torch datasets, and benchmark export in the real formats.
"""

from ahnpl_lightning.data.negatives import NEGATIVE_TYPES

from .core import (
    DEFAULT_HELDOUT_PAIRS,
    DEFAULT_HELDOUT_RELATIONS,
    SPLITS,
    World,
    stable_seed,
)
from .dataset import WorldDataset, WorldIterableDataset, make_item
from .export import export_benchmarks, read_manifest
from .grammar import NP, Statement, evaluate, parse, realise, verify
from .render import blank_image, render_scene
from .scene import (
    BACKGROUND,
    COLOURS,
    MATERIALS,
    RELATIONS,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
)

__all__ = [
    "BACKGROUND",
    "COLOURS",
    "DEFAULT_HELDOUT_PAIRS",
    "DEFAULT_HELDOUT_RELATIONS",
    "MATERIALS",
    "NEGATIVE_TYPES",
    "NP",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "Scene",
    "SceneObject",
    "Statement",
    "World",
    "WorldDataset",
    "WorldIterableDataset",
    "blank_image",
    "evaluate",
    "export_benchmarks",
    "make_item",
    "parse",
    "read_manifest",
    "realise",
    "render_scene",
    "stable_seed",
    "verify",
]
