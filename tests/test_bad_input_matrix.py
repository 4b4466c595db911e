"""The bad-input matrix of issue 16, and the check that keeps its index (tests/BAD_INPUTS.md) true.

The per-kind matrices live with their entry points: training data (`ahnpl fit`) in test_bad_inputs_data.py,
benchmarks (`ahnpl eval`) in test_bad_inputs_eval.py, captions (`ahnpl negatives`) in test_bad_inputs_negatives.py,
DDP in test_ddp_bad_input.py. This file adds the kind every entry point shares, a checkpoint argument that is not a
Lightning checkpoint, parametrised over the four commands that take one, and checks that every test named in
tests/BAD_INPUTS.md exists with the case it is cited for.
"""

from __future__ import annotations

import importlib
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ahnpl_lightning import cli

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "tests" / "BAD_INPUTS.md"


# ------------------------------------------------------------------------------------------ checkpoint arguments
def _text(path: Path) -> None:
    path.write_text("not a checkpoint\n")


def _truncated(path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(64, 64)}, "pytorch-lightning_version": "2.6.0"}, path)
    path.write_bytes(path.read_bytes()[:1000])


def _plain_state_dict(path: Path) -> None:
    torch.save({"text_projection": torch.zeros(2, 2)}, path)


def _pickled_object(path: Path) -> None:
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.0", "extra": zipfile.ZipInfo("x")}, path)


CHECKPOINTS: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    # kind: (how to write it (None: nothing there), what the message must say)
    "missing": (None, "not found"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "text_file": (_text, "not a PyTorch checkpoint"),
    "truncated": (_truncated, "truncated"),
    "plain_state_dict": (_plain_state_dict, "not a Lightning checkpoint"),
    "foreign_objects": (_pickled_object, "cannot be read as a checkpoint"),
}


def _run(command: str, ckpt: Path, out: Path) -> int:
    """`ahnpl <command> ... --ckpt_path ckpt` in-process; its exit code."""
    if command in ("fit", "validate"):
        args = [command, "-c", str(ROOT / "configs" / "ahnpl.yaml"), "--trainer.logger=false",
                "--trainer.callbacks=[]", f"--trainer.default_root_dir={out}", "--ckpt_path", str(ckpt)]
    elif command == "eval":
        (out / "data").mkdir(parents=True)
        args = ["eval", "--data-root", str(out / "data"), "--benchmarks", "sugarcrepe", "--ckpt-path", str(ckpt),
                "--output", str(out / "result.json"), "--device", "cpu", "--no-progress"]
    else:
        args = ["export", "--ckpt-path", str(ckpt), "--output", str(out / "weights.pt")]
    try:
        return cli.main(args)
    except SystemExit as exc:  # pragma: no cover - reported below as a wrong exit path
        return 100 + int(exc.code or 0)


@pytest.mark.parametrize("kind", list(CHECKPOINTS))
@pytest.mark.parametrize("command", ["fit", "validate", "eval", "export"])
def test_checkpoint_argument_that_is_not_a_checkpoint(command: str, kind: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Exit code 2 before any work, a message naming the file and what to pass, never torch's `weights_only=False`
    advice or a traceback; nothing is written (count: 0 outputs)."""
    write, says = CHECKPOINTS[kind]
    ckpt = tmp_path / "given.ckpt"
    if write is not None:
        write(ckpt)
    out = tmp_path / "out"
    out.mkdir()
    code = _run(command, ckpt, out)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2, text[-3000:]
    assert says in captured.err, captured.err
    assert str(ckpt) in captured.err and "lightning fit" in captured.err
    assert "weights_only" not in text and "Traceback" not in text
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == []  # no checkpoint, log, result or weights


def test_a_real_checkpoint_passes_the_check(tmp_path: Path) -> None:
    """The check accepts what Lightning writes (and Lightning's own names), so it cannot refuse a good resume."""
    from ahnpl_lightning.tools.checkpoint import check_checkpoint

    path = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "pytorch-lightning_version": "2.6.0", "epoch": 0,
                "hyper_parameters": {"lr": 1e-3, "negative_types": ["noun"]}}, path)
    assert check_checkpoint(path) == path
    for name in ("last", "best", "hpc", "registry:model:latest", "s3://bucket/run.ckpt"):
        assert str(check_checkpoint(name)) == name.replace("s3://", "s3:/")  # Path collapses the double slash


# ------------------------------------------------------------------------------------------ the index is true
ROW = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([^\]]+)\])?`")


def _cases(module: object, function: str) -> set[str]:
    """The parametrised ids of `module.function` (the ids pytest shows in brackets, for each parametrize mark)."""
    ids: set[str] = set()
    for mark in getattr(getattr(module, function), "pytestmark", []):
        if mark.name != "parametrize":
            continue
        values = list(mark.args[1])
        given = mark.kwargs.get("ids")
        for k, value in enumerate(values):
            if given is not None:
                ids.add(str(given[k]))
            elif isinstance(value, (str, int, float, bool)):
                ids.add(str(value))
            else:
                ids.add(f"{mark.args[0]}{k}")
    return ids


def test_every_test_the_index_cites_exists() -> None:
    """tests/BAD_INPUTS.md maps each case of issue 16 to tests; each cited `file::test[case]` must exist, so the
    index cannot drift from the suite (a case id is checked against the test's parametrisation)."""
    cited = ROW.findall(INDEX.read_text())
    assert len(cited) > 40, "the index cites too few tests"
    missing = []
    for file, function, case in cited:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
            continue
        source = path.read_text()
        if not re.search(rf"^\s*(async )?def {function}\(", source, re.M):
            missing.append(f"{file}::{function}")
            continue
        if case:
            module = importlib.import_module(path.stem)
            known = _cases(module, function)
            if case not in known and not all(part in known for part in case.split("-")):
                missing.append(f"{file}::{function}[{case}]")
    assert missing == []
