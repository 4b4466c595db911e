"""Command line: `lightning fit|validate|test|predict` and `ahnpl` (the same, plus tool subcommands).

Both are a LightningCLI in subclass mode, so a config names `model.class_path`, `data.class_path` and
`trainer.callbacks` freely. `main(args)` takes an argv list, so tests run everything in-process.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
# `ahnpl <tool> ...` -> `main(argv)` of these modules (docs/ARCHITECTURE.md).
TOOLS: dict[str, str] = {
    "world": "ahnpl_lightning.tools.world",
    "negatives": "ahnpl_lightning.data.negatives",
    "eval": "ahnpl_lightning.tools.eval",
    "export": "ahnpl_lightning.export",
}


class AHNPLCLI(LightningCLI):
    """LightningCLI with our defaults; reports where the checkpoint and logs went after `fit`."""

    def after_fit(self) -> None:
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or ""
        print(f"checkpoint: {best or last or 'none saved'}")
        if trainer.logger is not None and trainer.logger.log_dir:
            print(f"TensorBoard logs: {trainer.logger.log_dir}  (view: tensorboard --logdir {trainer.logger.log_dir})")


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
    """`lightning fit|validate|test|predict --config FILE` (Lightning 2.6 ships no `lightning` command)."""
    run_cli(None if args is None else list(args))
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
    run_cli(None if args is None else argv)
    return 0


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
