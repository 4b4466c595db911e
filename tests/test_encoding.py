"""Text encoding with trimmed padding equals the full-context pass; one text pass covers captions + negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ahnpl_lightning.encoding import encode_batch, encode_text, trim_padding
from ahnpl_lightning.model import create_model_and_transforms

CAPTIONS = [
    "a man with a red helmet on a small moped on a dirt road",
    "two dogs",
    "a large blue square above a small green circle next to a yellow star",
]


def test_trim_padding_keeps_longest_sequence() -> None:
    tokens = torch.tensor([[5, 6, 9, 0, 0, 0], [5, 9, 0, 0, 0, 0]])
    assert trim_padding(tokens).tolist() == [[5, 6, 9], [5, 9, 0]]


def test_dynamic_length_equals_full_context() -> None:
    torch.manual_seed(0)
    for name in ("AHNPL-Tiny-64", "ViT-B-32"):
        bundle = create_model_and_transforms(name)
        bundle.model.eval()
        tokens = bundle.tokenizer(CAPTIONS)
        assert trim_padding(tokens).shape[1] < tokens.shape[1]
        with torch.no_grad():
            full = F.normalize(bundle.model.encode_text(tokens), dim=-1)
            trimmed = encode_text(bundle.model, tokens, dynamic_length=True)
        torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=0)


def test_encode_batch_shapes_and_order() -> None:
    torch.manual_seed(0)
    bundle = create_model_and_transforms("AHNPL-Tiny-64")
    bundle.model.eval()
    images = torch.randn(2, 3, 64, 64)
    captions = bundle.tokenizer(CAPTIONS[:2])
    negatives = bundle.tokenizer(CAPTIONS[1:] + CAPTIONS[:1] + CAPTIONS[1:2]).view(2, 2, -1)
    with torch.no_grad():
        out = encode_batch(bundle.model, images, captions, negatives, image_negatives=images.flip(0).unsqueeze(1))
        expected_neg = encode_text(bundle.model, negatives.flatten(0, 1), dynamic_length=False).view(2, 2, -1)
        expected_img = F.normalize(bundle.model.encode_image(images), dim=-1)
    assert out["negative_features"].shape == (2, 2, 128)
    torch.testing.assert_close(out["negative_features"], expected_neg, atol=1e-5, rtol=0)
    torch.testing.assert_close(out["image_features"], expected_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(out["image_negative_features"][:, 0], expected_img.flip(0), atol=1e-5, rtol=0)
