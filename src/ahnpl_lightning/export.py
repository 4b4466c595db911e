"""Checkpoint -> plain open_clip state dict (+ an open_clip config for `local-dir:`); `ahnpl export` wraps it.

The command line lives in `ahnpl_lightning.tools.export`; `ahnpl_lightning.export.main` still works for one release
(deprecated).
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

WEIGHTS_NAME = "open_clip_pytorch_model.bin"
CONFIG_NAME = "open_clip_config.json"


def export_checkpoint(ckpt_path: str | Path, output: str | Path) -> Path:
    """Write the checkpoint's open_clip weights. `output` ending in .pt/.bin/.pth is a file (use it as
    `pretrained=`); anything else is a folder with weights + config (use it as `local-dir:FOLDER`).

    Raises `FileNotFoundError` for a missing file and `ValueError` naming the file for one that is not a Lightning
    checkpoint of `AHNPLModule`.
    """
    module = load_module(ckpt_path)
    state = module.open_clip_state_dict()
    output = Path(output)
    if output.suffix in (".pt", ".bin", ".pth"):
        output.parent.mkdir(parents=True, exist_ok=True)
        _atomic_save(state, output)
        return output
    import open_clip
    from open_clip.transform import PreprocessCfg

    output.mkdir(parents=True, exist_ok=True)
    _atomic_save(state, output / WEIGHTS_NAME)
    name = module.hparams.model_name
    preprocess = asdict(PreprocessCfg())
    preprocess.update(getattr(module.model.visual, "preprocess_cfg", {}) or {})
    config = {"model_cfg": open_clip.get_model_config(name), "preprocess_cfg": preprocess, "source_model": name}
    (output / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    return output


def load_module(ckpt_path: str | Path) -> Any:
    """`AHNPLModule.load_from_checkpoint` on the CPU, with an error that says what the file is and what to pass."""
    from ahnpl_lightning.module import AHNPLModule

    path = Path(ckpt_path)
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not found"
        raise FileNotFoundError(f"checkpoint {path}: {kind}; pass the .ckpt file written by `lightning fit`")
    hint = "pass the .ckpt file written by `lightning fit` (e.g. runs/ahnpl/version_0/checkpoints/last.ckpt)"
    try:
        return AHNPLModule.load_from_checkpoint(str(path), map_location="cpu")
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__}); {hint}") from exc
    except KeyError as exc:
        what = "a PyTorch file but not a Lightning checkpoint (a plain state dict?)"
        if exc.args and exc.args[0] not in ("pytorch-lightning_version", "state_dict", "hyper_parameters"):
            what = "not a PyTorch checkpoint"
        raise ValueError(f"{path}: {what}; {hint}") from exc


def _atomic_save(state: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def __getattr__(name: str) -> Any:
    if name == "main":
        warnings.warn(
            "ahnpl_lightning.export.main moved to ahnpl_lightning.tools.export.main", DeprecationWarning, stacklevel=2
        )
        from ahnpl_lightning.tools.export import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
