"""open_clip model creation: the shipped configs; `pretrained` as none, a local file, a packaged tag (`world`) or an
open_clip tag (from the cache, else a download with bounded timeouts)."""

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

from ahnpl_lightning.pretrained import find_local_tag, list_local_tags

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
TINY_MODEL = "AHNPL-Tiny-64"
HUB_TIMEOUT = 10.0  # seconds: the longest a pretrained-tag download may wait for the network at any one point


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


@contextmanager
def bounded_downloads(timeout: float) -> Iterator[None]:
    """Bound every wait of a download: huggingface_hub's metadata (ETag) and download timeouts, which it reads at
    call time, and the socket default that `urllib` (open_clip's plain-URL downloads) falls back on."""
    import huggingface_hub.constants as hub_constants

    previous = (hub_constants.HF_HUB_ETAG_TIMEOUT, hub_constants.HF_HUB_DOWNLOAD_TIMEOUT, socket.getdefaulttimeout())
    hub_constants.HF_HUB_ETAG_TIMEOUT = hub_constants.HF_HUB_DOWNLOAD_TIMEOUT = timeout
    socket.setdefaulttimeout(timeout)
    try:
        yield
    finally:
        hub_constants.HF_HUB_ETAG_TIMEOUT, hub_constants.HF_HUB_DOWNLOAD_TIMEOUT, default = previous
        socket.setdefaulttimeout(default)


def _hub_answers(cfg: dict[str, Any], timeout: float) -> None:
    """One metadata request for the tag's hub file, through huggingface_hub's own client, endpoint and ETag timeout
    and without its retries: raises on a network failure (offline), returns when the hub answers at all (even 404).
    Without this, a download attempt from an offline machine spends about 45 s in the hub's retry back-off."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    model_id, filename = os.path.split(cfg["hf_hub"])
    try:
        get_hf_file_metadata(hf_hub_url(model_id, filename or "open_clip_pytorch_model.bin"), timeout=timeout)
    except HfHubHTTPError:
        return  # the hub answered (a missing file name is open_clip's business: it tries several)


def fetch_pretrained(cfg: dict[str, Any], timeout: float = HUB_TIMEOUT) -> str:
    """The local weights file of an open_clip pretrained config: the cache first with the hub offline (no socket is
    opened), else the real download with every wait bounded by `timeout` seconds; raises when neither works."""
    try:
        with hub_offline():
            cached = open_clip.download_pretrained(cfg)
        if cached:
            return str(cached)
    except Exception:  # noqa: BLE001 - any failure here means "not in the local cache"
        pass
    with bounded_downloads(timeout):
        if cfg.get("hf_hub") and open_clip.pretrained.has_hf_hub():
            _hub_answers(cfg, timeout)
        downloaded = open_clip.download_pretrained(cfg)
    if not downloaded:
        raise FileNotFoundError("open_clip's pretrained config names no file, URL or hub entry")
    return str(downloaded)


def resolve_pretrained(model_name: str, pretrained: str | None) -> str | None:
    """Check `pretrained` before open_clip sees it: None/''/'none' -> random init; a file must exist; a local tag
    (`pretrained.LOCAL_TAGS`, e.g. `world`) -> its packaged file; an open_clip tag must be in the local cache or
    downloadable within bounded timeouts, else fail at once naming the tag (open_clip would retry for about 45 s)."""
    if pretrained in (None, "", "none", "None"):
        return None
    if model_name.startswith(("local-dir:", "hf-hub:")):
        return None  # open_clip ignores `pretrained` with a schema; the folder/hub holds the weights
    if os.path.isfile(pretrained):
        return pretrained
    local = find_local_tag(model_name, pretrained)
    if local is not None:
        return str(local.check())
    name = model_name.replace("/", "-")
    cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if cfg:
        try:
            fetch_pretrained(cfg)
            return pretrained
        except Exception as exc:  # noqa: BLE001 - not cached, and the download failed (offline, timeout, 404)
            raise PretrainedUnavailableError(
                f"pretrained tag '{pretrained}' for model '{model_name}' needs a download, and the hub is not "
                f"reachable from this machine ({type(exc).__name__}). Download the weights where you have internet "
                f"(open_clip.create_model('{model_name}', pretrained='{pretrained}') caches them), then pass the "
                f"local file instead (training: --model.init_args.pretrained FILE; `ahnpl eval`: --pretrained FILE)"
            ) from exc
    if Path(pretrained).suffix or os.sep in pretrained:
        raise FileNotFoundError(f"pretrained weights file not found: {pretrained}")
    tags = list_local_tags(model_name) + open_clip.list_pretrained_tags_by_model(name)
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
    # A tag that resolve_pretrained accepted is in the local cache now: open_clip loads it without the network.
    offline = checked is not None and not os.path.isfile(checked)
    with hub_offline() if offline else nullcontext():
        model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
            model_name, pretrained=checked, **kwargs
        )
    tokenizer = open_clip.get_tokenizer(model_name)
    return ModelBundle(model, preprocess_train, preprocess_val, tokenizer)
