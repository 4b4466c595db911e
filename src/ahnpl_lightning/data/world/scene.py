"""Vocabulary, objects and scenes of the synthetic compositional world (pure data, no rendering)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")
PLURALS: dict[str, str] = {s: (s + "es" if s.endswith(("s", "x")) else s + "s") for s in SHAPES}
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 190),
    "orange": (245, 140, 30),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
}
SIZES: tuple[str, ...] = ("small", "large")
MATERIALS: tuple[str, ...] = ("solid", "hollow", "striped")
BACKGROUND: tuple[int, int, int] = (128, 128, 128)
# Spatial relations, canonical phrase -> converse phrase.
RELATIONS: dict[str, str] = {
    "to the left of": "to the right of",
    "to the right of": "to the left of",
    "above": "below",
    "below": "above",
}
# Attributes in the adjective order used by captions ("a small red hollow circle").
ATTRIBUTES: tuple[str, ...] = ("size", "colour", "material")
SIZE_FRACTION: dict[str, float] = {"small": 0.19, "large": 0.32}

Box = tuple[int, int, int, int]


def side_for(size: str, image_size: int) -> int:
    """Side in pixels of a `size` object's square bounding box."""
    return max(3, round(SIZE_FRACTION[size] * image_size))


@dataclass(frozen=True)
class SceneObject:
    """One shape; `bbox` is (x0, y0, x1, y1) in pixels with x1, y1 exclusive."""

    shape: str
    colour: str
    size: str
    material: str
    bbox: Box

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the bounding box in pixels."""
        x0, y0, x1, y1 = self.bbox
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    def attribute(self, name: str) -> str:
        """The value of attribute `name` in {"shape", "size", "colour", "material"}."""
        return str(getattr(self, name))

    def resized(self, size: str, image_size: int) -> SceneObject:
        """The same object with a new size, kept centred and clamped inside the image."""
        side = side_for(size, image_size)
        cx, cy = self.center
        return replace(self, size=size, bbox=box_at(cx, cy, side, image_size))


def box_at(cx: float, cy: float, side: int, image_size: int) -> Box:
    """A side x side box centred near (cx, cy), shifted to lie at least 1 px inside the image."""
    x0 = round(cx - side / 2.0)
    y0 = round(cy - side / 2.0)
    x0 = min(max(x0, 1), image_size - 1 - side)
    y0 = min(max(y0, 1), image_size - 1 - side)
    return (x0, y0, x0 + side, y0 + side)


def relation_holds(a: SceneObject, rel: str, b: SceneObject) -> bool:
    """Whether `a rel b` holds: bounding boxes fully separated along the relation's axis."""
    if rel == "to the left of":
        return a.bbox[2] <= b.bbox[0]
    if rel == "to the right of":
        return b.bbox[2] <= a.bbox[0]
    if rel == "above":
        return a.bbox[3] <= b.bbox[1]
    if rel == "below":
        return b.bbox[3] <= a.bbox[1]
    raise ValueError(f"unknown relation {rel!r}; expected one of {sorted(RELATIONS)}")


def boxes_apart(a: Box, b: Box, gap: int = 2) -> bool:
    """Whether two boxes are separated by at least `gap` pixels along some axis."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


@dataclass(frozen=True)
class Scene:
    """An image's content: objects on a plain background; relations are derived from positions."""

    image_size: int
    objects: tuple[SceneObject, ...] = field(default_factory=tuple)

    def relations(self) -> list[tuple[int, str, int]]:
        """All (i, relation, j) with `objects[i] relation objects[j]`, i != j, in a fixed order."""
        out = []
        for i, a in enumerate(self.objects):
            for j, b in enumerate(self.objects):
                if i != j:
                    out.extend((i, rel, j) for rel in RELATIONS if relation_holds(a, rel, b))
        return out

    def is_valid(self, gap: int = 2) -> bool:
        """Whether all boxes lie inside the image and no two boxes are closer than `gap` pixels."""
        for k, o in enumerate(self.objects):
            x0, y0, x1, y1 = o.bbox
            if x0 < 0 or y0 < 0 or x1 > self.image_size or y1 > self.image_size:
                return False
            if any(not boxes_apart(o.bbox, p.bbox, gap) for p in self.objects[:k]):
                return False
        return True

    def with_object(self, index: int, obj: SceneObject) -> Scene:
        """A copy with object `index` replaced."""
        objs = list(self.objects)
        objs[index] = obj
        return replace(self, objects=tuple(objs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (objects and derived relations)."""
        return {
            "image_size": self.image_size,
            "objects": [
                {"shape": o.shape, "colour": o.colour, "size": o.size, "material": o.material, "bbox": list(o.bbox)}
                for o in self.objects
            ],
            "relations": [[i, rel, j] for i, rel, j in self.relations()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Inverse of `to_dict` (derived relations are ignored)."""
        objs = tuple(
            SceneObject(o["shape"], o["colour"], o["size"], o["material"], tuple(int(v) for v in o["bbox"]))  # type: ignore[arg-type]
            for o in data["objects"]
        )
        return cls(int(data["image_size"]), objs)
