"""Check a `--ckpt-path` / `--ckpt_path` before Lightning or torch loads it, so a wrong file gets a message that
names it and says what to pass, never torch's advice to retry an untrusted pickle with `weights_only=False`.

Used by `ahnpl fit|validate|test|predict` (`cli.AHNPLCLI`) and `ahnpl eval`.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

HINT = "pass the .ckpt file written by `lightning fit` (e.g. runs/ahnpl/version_0/checkpoints/last.ckpt)"
#: `ckpt_path` values Lightning resolves itself (`Trainer.fit(ckpt_path=...)`): not files to check here.
LIGHTNING_NAMES = ("best", "last", "hpc")


class CheckpointError(ValueError):
    """A checkpoint argument that is not a readable Lightning checkpoint (the message names the file)."""


def check_checkpoint(path: str | Path) -> Path:
    """`path` if it is a Lightning checkpoint file, else a `CheckpointError` saying what the file is instead.

    The file is opened with `weights_only=True` and memory-mapped, so the check executes no code from it and reads
    little. Lightning's own names (`last`, `best`, `hpc`, `registry:...`) and URLs are left to Lightning.
    """
    text = str(path)
    if text in LIGHTNING_NAMES or text.startswith("registry") or "://" in text:
        return Path(text)
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: not found; {HINT}")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path}: is a directory; {HINT}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {path}: not a PyTorch checkpoint, or a truncated one (not a whole zip "
                              f"archive as `torch.save` writes; {path.stat().st_size} bytes); {HINT}")
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        # torch's message here recommends weights_only=False, i.e. running the file's code: not repeated
        raise CheckpointError(f"checkpoint {path}: cannot be read as a checkpoint ({type(exc).__name__}: a damaged "
                              f"or truncated file, or one holding Python objects other than tensors and plain "
                              f"values); {HINT}") from None
    if not isinstance(state, dict) or "state_dict" not in state or "pytorch-lightning_version" not in state:
        what = "a plain state dict" if isinstance(state, dict) else f"a {type(state).__name__}"
        raise CheckpointError(f"checkpoint {path}: a PyTorch file but not a Lightning checkpoint ({what}; weights "
                              f"written by `ahnpl export` are a model's `pretrained` file instead); {HINT}")
    return path
