"""`ahnpl export`: a training checkpoint -> a plain open_clip state dict (+ an open_clip config for `local-dir:`)."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

WEIGHTS_NAME = "open_clip_pytorch_model.bin"
CONFIG_NAME = "open_clip_config.json"


def export_checkpoint(ckpt_path: str | Path, output: str | Path) -> Path:
    """Write the checkpoint's open_clip weights. `output` ending in .pt/.bin/.pth is a file (use it as
    `pretrained=`); anything else is a folder with weights + config (use it as `local-dir:FOLDER`)."""
    from ahnpl_lightning.module import AHNPLModule

    module = AHNPLModule.load_from_checkpoint(str(ckpt_path), map_location="cpu")
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


def _atomic_save(state: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ahnpl export", description=export_checkpoint.__doc__)
    parser.add_argument("--ckpt_path", required=True, help="Lightning checkpoint written by `lightning fit`")
    parser.add_argument("--output", required=True, help="a .pt/.bin file, or a folder for local-dir: loading")
    args = parser.parse_args(argv)
    if not Path(args.ckpt_path).is_file():
        parser.error(f"checkpoint not found: {args.ckpt_path}")
    path = export_checkpoint(args.ckpt_path, args.output)
    print(f"open_clip weights written to {path}")
    return 0
