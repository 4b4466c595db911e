"""Rasterise a Scene with PIL ImageDraw primitives (no antialiasing: fast and exactly reproducible)."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from .scene import BACKGROUND, COLOURS, Scene, SceneObject


def _regular(n: int, rotation: float = -math.pi / 2) -> list[tuple[float, float]]:
    """Vertices of a regular n-gon inscribed in the unit box [0, 1]^2."""
    return [
        (0.5 + 0.5 * math.cos(rotation + 2 * math.pi * k / n), 0.5 + 0.5 * math.sin(rotation + 2 * math.pi * k / n))
        for k in range(n)
    ]


def _star(points: int = 5, inner: float = 0.42) -> list[tuple[float, float]]:
    """Vertices of a star inscribed in the unit box."""
    out = []
    for k in range(2 * points):
        r = 0.5 if k % 2 == 0 else 0.5 * inner
        a = -math.pi / 2 + math.pi * k / points
        out.append((0.5 + r * math.cos(a), 0.55 + r * math.sin(a)))
    return out


_A, _B = 1 / 3, 2 / 3
# Unit-box outlines of the polygonal shapes (circle uses an ellipse).
UNIT_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
    "triangle": [(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)],
    "diamond": [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)],
    "star": _star(),
    "hexagon": _regular(6, rotation=0.0),
    "cross": [
        (_A, 0),
        (_B, 0),
        (_B, _A),
        (1, _A),
        (1, _B),
        (_B, _B),
        (_B, 1),
        (_A, 1),
        (_A, _B),
        (0, _B),
        (0, _A),
        (_A, _A),
    ],
}


def _polygon(shape: str, bbox: tuple[int, int, int, int]) -> list[tuple[float, float]]:
    """Pixel vertices of `shape` scaled into `bbox` (last pixel row/column inclusive)."""
    x0, y0, x1, y1 = bbox
    w, h = x1 - 1 - x0, y1 - 1 - y0
    return [(x0 + u * w, y0 + v * h) for u, v in UNIT_POLYGONS[shape]]


def draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject) -> None:
    """Draw one object; hollow = outline only, striped = fill crossed by background-coloured rows."""
    colour = COLOURS[obj.colour]
    x0, y0, x1, y1 = obj.bbox
    box = (x0, y0, x1 - 1, y1 - 1)
    if obj.material == "hollow":
        width = max(1, (x1 - x0) // 8)
        if obj.shape == "circle":
            draw.ellipse(box, outline=colour, width=width)
        else:
            draw.polygon(_polygon(obj.shape, obj.bbox), outline=colour, width=width)
        return
    if obj.shape == "circle":
        draw.ellipse(box, fill=colour)
    else:
        draw.polygon(_polygon(obj.shape, obj.bbox), fill=colour)
    if obj.material == "striped":
        # Boxes never overlap (Scene.is_valid), so painting background rows inside the box only touches this object.
        for y in range(y0 + 2, y1 - 1, 3):
            draw.line([(x0, y), (x1 - 1, y)], fill=BACKGROUND)


def render_scene(scene: Scene) -> Image.Image:
    """RGB image of `scene` on the plain background; deterministic (pure function of the scene)."""
    img = Image.new("RGB", (scene.image_size, scene.image_size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        draw_object(draw, obj)
    return img


def blank_image(image_size: int) -> Image.Image:
    """A background-only image: the placeholder for an image negative that does not exist."""
    return Image.new("RGB", (image_size, image_size), BACKGROUND)
