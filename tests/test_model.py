"""Model creation: shipped tiny config, local weights file, offline tags failing fast with a clear message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from ahnpl_lightning import model as model_lib


def test_tiny_model_shapes() -> None:
    bundle = model_lib.create_model_and_transforms(model_lib.TINY_MODEL)
    tokens = bundle.tokenizer(["a small red circle to the left of a blue square"])
    assert tokens.shape == (1, 32)
    from PIL import Image

    image = bundle.preprocess_val(Image.new("RGB", (80, 64), "red")).unsqueeze(0)
    assert image.shape == (1, 3, 64, 64)
    with torch.no_grad():
        assert bundle.model.encode_image(image).shape == (1, 128)
        assert bundle.model.encode_text(tokens).shape == (1, 128)


def test_local_weights_file_is_loaded(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = model_lib.create_model_and_transforms(model_lib.TINY_MODEL).model
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(4)
    loaded = model_lib.create_model_and_transforms(model_lib.TINY_MODEL, pretrained=str(path)).model
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


def test_offline_tag_fails_fast_naming_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_lib, "_hub_reachable", lambda timeout=3.0: False)
    start = time.monotonic()
    with pytest.raises(model_lib.PretrainedUnavailableError) as error:
        model_lib.create_model_and_transforms("ViT-B-32-quickgelu", pretrained="openai")
    assert time.monotonic() - start < 20
    message = str(error.value)
    assert "'openai'" in message and "ViT-B-32-quickgelu" in message and "local file" in message


def test_missing_file_and_unknown_tag_are_clear() -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        model_lib.resolve_pretrained(model_lib.TINY_MODEL, "/nonexistent/weights.pt")
    with pytest.raises(ValueError, match="unknown pretrained tag 'nosuchtag'"):
        model_lib.resolve_pretrained("ViT-B-32", "nosuchtag")
    assert model_lib.resolve_pretrained(model_lib.TINY_MODEL, "none") is None
