"""open_clip model creation: the shipped tiny configs; `pretrained` as none, a local file or a tag (offline-safe)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple
from collections.abc import Callable, Iterator

import open_clip
import torch
from torch import nn

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
TINY_MODEL = "AHNPL-Tiny-64"
_HUB_HOSTS = (("huggingface.co", 443), ("openaipublic.azureedge.net", 443))


class PretrainedUnavailableError(RuntimeError):
    """A pretrained tag needs a download and this machine cannot reach the hub."""


class ModelBundle(NamedTuple):
    """What training and evaluation need from an open_clip model."""

    model: nn.Module
    preprocess_train: Callable[[Any], torch.Tensor]
    preprocess_val: Callable[[Any], torch.Tensor]
    tokenizer: Callable[..., torch.Tensor]


def register_model_configs() -> None:
    """Make the JSON architectures shipped in `model_configs/` known to open_clip (idempotent)."""
    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(MODEL_CONFIG_DIR)


@contextmanager
def hub_offline() -> Iterator[None]:
    """Make huggingface_hub use its local cache only (it reads HF_HUB_OFFLINE once, at import)."""
    import huggingface_hub.constants as hub_constants

    previous = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = previous


def _hub_reachable(timeout: float = 3.0) -> bool:
    for host, port in _HUB_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def resolve_pretrained(model_name: str, pretrained: str | None) -> str | None:
    """Check `pretrained` before open_clip sees it: None/''/'none' -> random init, a file must exist, a tag must be
    cached or downloadable; offline, fail at once (open_clip would retry for about 45 s) naming the tag."""
    if pretrained in (None, "", "none", "None"):
        return None
    if model_name.startswith(("local-dir:", "hf-hub:")):
        return None  # open_clip ignores `pretrained` with a schema; the folder/hub holds the weights
    if os.path.isfile(pretrained):
        return pretrained
    name = model_name.replace("/", "-")
    if open_clip.get_pretrained_cfg(name, pretrained):
        if _hub_reachable():
            return pretrained
        try:
            with hub_offline():
                open_clip.download_pretrained(open_clip.get_pretrained_cfg(name, pretrained))
            return pretrained
        except Exception as exc:  # noqa: BLE001 - any failure here means "not in the local cache"
            raise PretrainedUnavailableError(
                f"pretrained tag '{pretrained}' for model '{model_name}' needs a download, and the hub is not "
                f"reachable from this machine ({type(exc).__name__}). Download the weights where you have internet "
                f"(open_clip.create_model('{model_name}', pretrained='{pretrained}') caches them), then pass the "
                f"local file instead: --model.pretrained=/path/to/open_clip_pytorch_model.bin"
            ) from exc
    if Path(pretrained).suffix or os.sep in pretrained:
        raise FileNotFoundError(f"pretrained weights file not found: {pretrained}")
    tags = open_clip.list_pretrained_tags_by_model(name)
    raise ValueError(
        f"unknown pretrained tag '{pretrained}' for model '{model_name}'; known tags: {tags or 'none'}; "
        "or pass a path to a local weights file"
    )


def create_model_and_transforms(
    model_name: str = TINY_MODEL, pretrained: str | None = None, **kwargs: Any
) -> ModelBundle:
    """Create any open_clip model (built-in name, shipped tiny config, `local-dir:` or `hf-hub:`) with its train and
    val preprocessing and tokenizer."""
    register_model_configs()
    checked = resolve_pretrained(model_name, pretrained)
    offline = checked is not None and not os.path.isfile(checked) and not _hub_reachable()
    with hub_offline() if offline else nullcontext():
        model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
            model_name, pretrained=checked, **kwargs
        )
    tokenizer = open_clip.get_tokenizer(model_name)
    return ModelBundle(model, preprocess_train, preprocess_val, tokenizer)
