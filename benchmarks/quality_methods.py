"""The quality study's methods: a registry of named recipes, each built from the YAML configs users run.

A method is `configs/ahnpl.yaml` with more configs stacked on it, parsed by the same LightningCLI that `lightning fit
-c configs/ahnpl.yaml -c configs/baselines/negclip.yaml` runs (so stacking, validation and defaults are exactly the
users'), plus, for ablations, a few loss arguments changed on top. From the parsed config the study takes the model
section (module class, model name, pretrained tag, loss class and arguments, optimiser settings) and the trainer's
gradient clipping; the study's budget sets the steps, warm-up, batch size and data (and the learning rate when
`--lrs` sweeps it). Register more with `register_method(Method(...))`.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = "configs/ahnpl.yaml"


@dataclass(frozen=True)
class Method:
    """One fine-tuning recipe of the study."""

    name: str
    configs: tuple[str, ...] = ()  # stacked on BASE_CONFIG, paths relative to the repository root
    loss: Mapping[str, Any] = field(default_factory=dict)  # loss init_args changed on top (ablations)
    image_negatives: bool = False  # train on the world's rendered counterfactual images as image negatives
    note: str = ""


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add `method` to the registry (a name already there is replaced)."""
    METHODS[method.name] = method
    return method


for _method in (
    Method("CLIP fine-tune", ("configs/baselines/clip_finetune.yaml",), note="contrastive loss, no hard negatives"),
    Method("NegCLIP", ("configs/baselines/negclip.yaml",), note="text hard negatives as extra i2t columns"),
    Method("CE-CLIP", ("configs/baselines/ceclip.yaml",), note="hard negatives + intra/cross-modal ranking"),
    Method("AHNPL (released)", ("configs/baselines/ahnpl_released.yaml",), note="the authors' computation"),
    Method("AHNPL (ours)", note="configs/ahnpl.yaml as shipped"),
    Method("AHNPL - image negatives", loss={"perturbation": False}, note="no perturbed image negatives"),
    Method("AHNPL - multimodal loss", loss={"mhn_weight": 0.0}),
    Method("AHNPL - dynamic margin", loss={"margin_weight": 0.0}),
    Method("AHNPL - positive margin", loss={"positive_weight": 0.0}),
    Method("AHNPL + real image negatives", image_negatives=True,
           note="the world's counterfactual renders replace the embedding perturbation"),
):
    register_method(_method)


def parse_configs(paths: list[Path]) -> Any:
    """The configuration LightningCLI builds from `-c path ...` (jsonargparse: stacked, validated, defaults filled),
    parsed only: no trainer, data or model is instantiated, nothing is written."""
    from lightning.pytorch import LightningDataModule, LightningModule

    from ahnpl_lightning.cli import AHNPLCLI

    class ParseOnly(AHNPLCLI):
        def instantiate_classes(self) -> None:
            pass

    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"config {path} not found (quality-study method configs are relative to {ROOT})")
    args = [arg for path in paths for arg in ("-c", str(path))]
    argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when the process has arguments of its own
    try:
        cli = ParseOnly(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                        run=False, args=args)
    finally:
        sys.argv = argv
    return cli.config


def _plain(value: Any) -> Any:
    """A jsonargparse Namespace (nested) as plain dicts."""
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return value


@dataclass
class RunSpec:
    """What one method trains: the module's class and arguments, the loss, and the trainer's clipping."""

    method: str
    module_class: str
    module_args: dict[str, Any]
    loss_class: str
    loss_args: dict[str, Any]
    gradient_clip_val: float | None
    gradient_clip_algorithm: str | None
    image_negatives: bool
    configs: list[str]


def resolve(method: Method | str, root: Path = ROOT) -> RunSpec:
    """The run specification of a registered method (or a Method) from its stacked configs."""
    if isinstance(method, str):
        if method not in METHODS:
            raise KeyError(f"unknown method {method!r}; registered: {list(METHODS)}")
        method = METHODS[method]
    paths = [root / BASE_CONFIG, *(root / c for c in method.configs)]
    config = _plain(parse_configs(paths))
    model = config["model"]
    module_args = copy.deepcopy(model.get("init_args") or {})
    loss = module_args.pop("loss", None) or {}
    unknown = set(method.loss) - set(loss.get("init_args") or {})
    if unknown:
        raise ValueError(f"method {method.name!r} changes loss arguments the loss does not have: {sorted(unknown)}")
    trainer = config.get("trainer") or {}
    return RunSpec(
        method=method.name,
        module_class=model["class_path"],
        module_args=module_args,
        loss_class=loss.get("class_path", "ahnpl_lightning.losses.AHNPLLoss"),
        loss_args={**(loss.get("init_args") or {}), **method.loss},
        gradient_clip_val=trainer.get("gradient_clip_val"),
        gradient_clip_algorithm=trainer.get("gradient_clip_algorithm"),
        image_negatives=method.image_negatives,
        configs=[str(p.relative_to(root)) for p in paths],
    )


def import_class(path: str) -> type:
    """The class named by a config's `class_path`."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def build_module(spec: RunSpec, **overrides: Any) -> Any:
    """The LightningModule of `spec`, with the study's settings (`lr`, `warmup_steps`, ...) overriding the config's."""
    loss = import_class(spec.loss_class)(**spec.loss_args)
    args = {**spec.module_args, **overrides, "loss": loss}
    args.pop("use_image_negatives", None)  # deprecated: the data source switches image negatives (quality._data)
    return import_class(spec.module_class)(**args)
