"""The tools layer: `ahnpl eval` / `ahnpl world` live in `ahnpl_lightning.tools`, speak `--kebab-case` (old spellings
kept as hidden aliases), and the scoring core imports no Lightning."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ahnpl_lightning import cli
from ahnpl_lightning.tools import eval as eval_tool
from ahnpl_lightning.tools import world as world_tool

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.mark.parametrize(("new", "old", "value"), [
    ("--ckpt-path", "--ckpt_path", "m.ckpt"),
    ("--data-root", "--data_root", "d2"),
    ("--output", "--out", "r2.json"),
    ("--batch-size", "--batch_size", "3"),
    ("--num-workers", "--num_workers", "2"),
    ("--no-progress", "--no_progress", None),
    ("--keep-items", "--keep_items", None),
])
def test_eval_flags_and_their_old_spellings_parse_alike(new, old, value):
    def parse(flag: str) -> dict:
        required = {"--data-root": "d", "--output": "r.json", "--model": "m"}
        required.pop("--model" if new == "--ckpt-path" else new, None)
        args = [x for pair in required.items() for x in pair] + [flag] + ([value] if value else [])
        return vars(eval_tool.build_parser().parse_args(args))

    parsed = parse(new)
    assert parsed == parse(old)
    assert str(parsed[new[2:].replace("-", "_")]) == str(True if value is None else value)


def test_help_shows_only_the_kebab_case_spelling():
    text = eval_tool.build_parser().format_help()
    assert "--ckpt-path" in text and "--ckpt_path" not in text and "--out " not in text
    assert "--data_root" not in text and "--data-root" in text
    assert "--output" in world_tool.build_parser().format_help()


def test_required_flags_accept_any_spelling(capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_tool.build_parser().parse_args(["--data-root", "d", "--model", "m"])
    assert exit_info.value.code == 2 and "--output" in capsys.readouterr().err
    args = eval_tool.build_parser().parse_args(["--data_root", "d", "--model", "m", "--out", "r.json"])
    assert (args.data_root, args.output) == ("d", "r.json")
    with pytest.raises(SystemExit):  # still mutually exclusive under the old spelling
        eval_tool.build_parser().parse_args(["--data-root", "d", "--output", "r", "--model", "m", "--ckpt_path", "c"])


def test_world_tool_output_and_out(tmp_path, capsys):
    assert cli.main(["world", "--output", str(tmp_path / "a"), "--size", "1", "--quiet"]) == 0
    assert world_tool.main(["--out", str(tmp_path / "b"), "--size", "1", "--quiet", "--world_seed", "0"]) == 0
    assert (tmp_path / "a" / "world_manifest.json").is_file() and (tmp_path / "b" / "world_manifest.json").is_file()


def test_tools_table_points_at_the_tools_layer():
    assert cli.TOOLS["eval"] == "ahnpl_lightning.tools.eval" and cli.TOOLS["world"] == "ahnpl_lightning.tools.world"


def test_old_entry_points_forward_with_a_warning():
    from ahnpl_lightning.data.world import cli as old_world
    from ahnpl_lightning.evaluation import run

    with pytest.warns(DeprecationWarning, match="tools.eval"):
        assert run.main is eval_tool.main
    with pytest.warns(DeprecationWarning, match="tools.world"):
        assert old_world.main is world_tool.main


def test_scoring_core_imports_no_lightning_and_the_callback_stays_importable():
    code = textwrap.dedent("""
        import sys
        import ahnpl_lightning.evaluation.scoring
        import ahnpl_lightning.evaluation.benchmarks
        import ahnpl_lightning.evaluation
        import ahnpl_lightning.tools.eval
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning"))
        assert not leaked, leaked
        from ahnpl_lightning.evaluation import CompositionalEvalCallback
        from ahnpl_lightning.evaluation.callback import CompositionalEvalCallback as direct
        assert CompositionalEvalCallback is direct and "lightning" in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
