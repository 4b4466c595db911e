"""Command line: `lightning fit|validate|test|predict` and `ahnpl` (the same, plus tool subcommands).

Both are a LightningCLI in subclass mode, so a config names `model.class_path`, `data.class_path` and
`trainer.callbacks` freely. `main(args)` takes an argv list, so tests run everything in-process.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from ahnpl_lightning.data.errors import DataError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
# `ahnpl <tool> ...` -> `main(argv)` of these modules (docs/ARCHITECTURE.md).
TOOLS: dict[str, str] = {
    "world": "ahnpl_lightning.tools.world",
    "negatives": "ahnpl_lightning.tools.negatives",
    "eval": "ahnpl_lightning.tools.eval",
    "export": "ahnpl_lightning.tools.export",
}


# `--a.init_args.b.init_args.c null`: jsonargparse (4.5x) re-parses a value nested two subclass levels deep from its
# string form, so `null` arrives as the string "None" (or fails for an `int | None`). Such an option is given to the
# parser as `--a.init_args.b={"init_args": {"c": null}}` instead, which it merges with the class chosen before.
_DEEP_OPTION = re.compile(
    r"^--(?P<outer>[^=\s]+\.init_args\.[^=\s]+)\.init_args\.(?P<key>[^=\s.]+)(?:=(?P<value>.*))?$")
_NULLS = ("null", "Null", "NULL", "~")  # YAML's nulls; "none" is a string (e.g. `negatives: none`)


def honour_deep_nulls(argv: list[str]) -> list[str]:
    """`argv` with every option that sets a value two subclass levels deep to null rewritten so the null survives."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        match = _DEEP_OPTION.match(argv[i])
        value, step = (match["value"], 1) if match else (None, 1)
        if match and value is None and i + 1 < len(argv):
            value, step = argv[i + 1], 2
        if match and value in _NULLS:
            out.append(f"--{match['outer']}=" + json.dumps({"init_args": {match["key"]: None}}))
        else:
            out.extend(argv[i:i + step])
        i += step
    return out


class AHNPLCLI(LightningCLI):
    """LightningCLI with our defaults; after `fit`, reports the best and the last checkpoint and the logs."""

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse as LightningCLI does, with `null` honoured for options nested two subclass levels deep; a
        `--ckpt_path` that is not a Lightning checkpoint fails here, naming the file, before LightningCLI reads its
        hyperparameters with torch's own error (tools/checkpoint.py)."""
        if isinstance(args, (dict, Namespace)):
            super().parse_arguments(parser, args)
        else:
            self.config = parser.parse_args(honour_deep_nulls(list(sys.argv[1:] if args is None else args)))
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path is not None:
            from ahnpl_lightning.tools.checkpoint import check_checkpoint

            check_checkpoint(path)

    def after_fit(self) -> None:
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        best, last = checkpoint_paths(trainer)
        print(f"best checkpoint: {best or 'none saved'}")
        print(f"last checkpoint: {last or 'none saved'}")
        if trainer.logger is not None and trainer.logger.log_dir:
            print(f"TensorBoard logs: {trainer.logger.log_dir}  (view: tensorboard --logdir {trainer.logger.log_dir})")


def checkpoint_paths(trainer: Trainer) -> tuple[str, str]:
    """(best, last) checkpoint paths of a fit: the best of a monitored `ModelCheckpoint` (with its score), and the
    newest state (`last_model_path`, or the file of an unmonitored one, e.g. `last.ckpt` in configs/ahnpl.yaml)."""
    best = last = ""
    newest_step = -1
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint):
            continue
        if callback.monitor is not None and callback.best_model_path and not best:
            score = callback.best_model_score
            best = callback.best_model_path + (f" ({callback.monitor} = {float(score):.4g})" if score is not None
                                               else "")
        candidates = [callback.last_model_path] + ([callback.best_model_path] if callback.monitor is None else [])
        for path in candidates:
            if path and Path(path).is_file():
                step = _stored_step(path)
                if step > newest_step:
                    newest_step, last = step, f"{path} (step {step})"
    return best, last


def _stored_step(path: str) -> int:
    """The global step saved in a checkpoint file."""
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=False).get("global_step", -1))


def run_cli(args: list[str] | None = None, run: bool = True) -> AHNPLCLI:
    """Build the LightningCLI over any LightningModule / LightningDataModule subclass."""
    return AHNPLCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def lightning_main(args: list[str] | None = None) -> int:
    """`lightning fit|validate|test|predict --config FILE` (Lightning 2.6 ships no `lightning` command).

    Bad training data (a `DataError`) ends the run with its message on stderr and exit code 1, no traceback; a
    `--ckpt_path` that is not a checkpoint, with exit code 2 (a bad argument).
    """
    from ahnpl_lightning.tools.checkpoint import CheckpointError

    try:
        run_cli(None if args is None else list(args))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(args: list[str] | None = None) -> int:
    """`ahnpl <fit|validate|test|predict|world|negatives|eval|export> ...`."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv and argv[0] in TOOLS:
        return run_tool(argv[0], argv[1:])
    if argv and not argv[0].startswith("-") and argv[0] not in LIGHTNING_SUBCOMMANDS:
        known = ", ".join((*LIGHTNING_SUBCOMMANDS, *TOOLS))
        print(f"ahnpl: unknown command '{argv[0]}'; expected one of: {known}", file=sys.stderr)
        return 2
    return lightning_main(None if args is None else argv)


def run_tool(name: str, argv: list[str]) -> int:
    """Import a tool subcommand lazily; say clearly when this installation lacks it."""
    try:
        module = importlib.import_module(TOOLS[name])
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("ahnpl_lightning"):
            raise
        print(f"ahnpl {name}: this tool is not available in this installation ({exc.name} is missing)", file=sys.stderr)
        return 2
    result: Any = module.main(argv)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
