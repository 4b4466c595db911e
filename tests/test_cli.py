"""Foundation: CLI parsing, few-step fits on the world, checkpoint reload, reproducibility, tool dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ahnpl_lightning import cli
from conftest import small_ahnpl_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "ahnpl.yaml")


def fit_args(tmp_path: Path, *extra: str, steps: int = 3) -> list[str]:
    """A CPU fit of a few steps on a small world, logging and checkpointing under tmp_path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return [
        "fit",
        "--config", small_ahnpl_config(tmp_path),
        f"--trainer.max_steps={steps}",
        "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--data.init_args.num_workers=0",
        "--data.init_args.batch_size=8",
        "--data.init_args.source.init_args.train_size=64",
        "--data.init_args.source.init_args.val_size=16",
        *extra,
    ]


def test_print_config_shows_the_full_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fit", "--config", CONFIG, "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "class_path: ahnpl_lightning.module.AHNPLModule" in out
    assert "class_path: ahnpl_lightning.losses.AHNPLLoss" in out
    assert "margin_threshold: mean" in out


def test_bad_key_gives_jsonargparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fit", "--config", CONFIG, "--model.init_args.learning_rat=0.1"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "learning_rat" in err


def test_unknown_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_missing_tool_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.TOOLS, "export", "ahnpl_lightning.does_not_exist")
    assert cli.main(["export", "--help"]) == 2
    assert "not available in this installation" in capsys.readouterr().err


def _last_checkpoint(root: Path) -> Path:
    checkpoints = sorted(root.rglob("last.ckpt"))
    assert checkpoints, f"no last.ckpt under {root}"
    return checkpoints[-1]


def test_fit_logs_checkpoints_and_reloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(fit_args(tmp_path))
    out = capsys.readouterr()
    ckpt = _last_checkpoint(tmp_path)
    assert "checkpoint:" in out.out + out.err
    assert list(tmp_path.rglob("events.out.tfevents.*")), "no TensorBoard event file written"
    assert (tmp_path / "world_eval" / "world_manifest.json").exists(), "the eval callback did not export the world"
    assert list(tmp_path.rglob("eval/epoch=*-step=3.json")), "the eval callback did not run at the end of fit"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["global_step"] == 3
    assert any(k.startswith("loss.") for k in state["state_dict"]), "margin state missing from the checkpoint"
    cli.main(["validate", "--config", small_ahnpl_config(tmp_path), "--ckpt_path", str(ckpt),
              "--trainer.accelerator=cpu",
              "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false",
              f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
              "--data.init_args.num_workers=0", "--data.init_args.batch_size=8",
              "--data.init_args.source.init_args.val_size=16"])
    assert "val/loss" in capsys.readouterr().out


def test_same_seed_same_weights(tmp_path: Path) -> None:
    weights = []
    for run in ("a", "b"):
        cli.main(fit_args(tmp_path / run, "--seed_everything=7", steps=2))
        checkpoint = torch.load(_last_checkpoint(tmp_path / run), map_location="cpu", weights_only=False)
        weights.append(checkpoint["state_dict"])
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
    cli.main(fit_args(tmp_path / "c", "--seed_everything=8", steps=2))
    other = torch.load(_last_checkpoint(tmp_path / "c"), map_location="cpu", weights_only=False)["state_dict"]
    assert not torch.equal(other["model.text_projection"], weights[0]["model.text_projection"])


@pytest.mark.parametrize("stack", [
    ["configs/trainer/cpu.yaml"], ["configs/trainer/gpu.yaml"], ["configs/trainer/ddp.yaml"],
    ["configs/trainer/multinode.yaml"], ["configs/trainer/ddp_cpu.yaml"],
    ["configs/data/coco.yaml", "configs/recipes/vitb32_paper.yaml", "configs/trainer/gpu.yaml"],
])
def test_every_config_stacks_on_the_default(stack: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fit", "-c", CONFIG]
    for path in stack:
        args += ["-c", str(ROOT / path)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    if "configs/recipes/vitb32_paper.yaml" in stack:
        assert "model_name: ViT-B-32-quickgelu" in out and "lr: 2.0e-05" in out and "batch_size: 128" in out


def test_last_ckpt_holds_the_latest_state_past_a_non_improving_epoch(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """configs/ahnpl.yaml's checkpointing: with lr 0 the monitored metric never improves after epoch 0, yet
    last.ckpt must hold the final step (Lightning's monitored `save_last` would keep epoch 0's). The tiny ViT has no
    BatchNorm, so with lr 0 nothing at all changes (a BatchNorm tower would still move its running statistics)."""
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "ahnpl.yaml").read_text())
    config["trainer"]["callbacks"] = [c for c in config["trainer"]["callbacks"]
                                      if c["class_path"].endswith("ModelCheckpoint")]
    path = tmp_path / "ckpt.yaml"
    path.write_text(yaml.safe_dump(config))
    args = fit_args(tmp_path, "--model.init_args.lr=0.0", "--trainer.max_steps=-1", "--trainer.max_epochs=3",
                    "--trainer.limit_train_batches=2", "--model.init_args.model_name=AHNPL-Tiny-64",
                    "--model.init_args.pretrained=null")
    args[args.index("--config") + 1] = str(path)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    folder = next(tmp_path.rglob("checkpoints"))
    best = [p for p in folder.iterdir() if p.name != "last.ckpt"]
    assert [p.name for p in best] == ["epoch=0-step=2.ckpt"]  # the metric never improved after epoch 0
    assert torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 6
    assert f"best checkpoint: {best[0]} (val/acc_hard_negative = " in out
    assert f"last checkpoint: {folder / 'last.ckpt'} (step 6)" in out


def test_null_reaches_a_source_argument_from_the_command_line(tmp_path: Path) -> None:
    """jsonargparse turns `null` two subclass levels deep into the string "None"; the CLI keeps it None."""
    for form in (["--data.init_args.source.init_args.val_annotations", "null"],
                 ["--data.init_args.source.init_args.val_annotations=null", "--data.init_args.source.init_args.limit",
                  "null"]):
        run = cli.run_cli(["-c", CONFIG, "-c", str(ROOT / "configs" / "data" / "negclip.yaml"), *form,
                           "--trainer.logger=false", "--trainer.callbacks=[]"], run=False)
        assert run.datamodule.source.val_annotations is None and run.datamodule.source.limit is None
        assert run.datamodule.source.annotations == "data/negclip/train_neg_clip.tsv"  # the rest is kept
