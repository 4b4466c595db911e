"""`notebooks/margin_dynamics.ipynb` runs headless with nbclient on synthetic runs and writes every figure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from _analysis_helpers import write_run, write_two_runs
from nbclient import NotebookClient

from ahnpl_lightning.analysis import FIGURES

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "margin_dynamics.ipynb"
KERNEL = "ahnpl-test-python"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running this interpreter's ipykernel (whatever `python` on PATH is), found via JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for name in ("AHNPL_RUNS", "AHNPL_FIGURES", "AHNPL_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return KERNEL


def execute(kernel: str) -> nbformat.NotebookNode:
    """Run the notebook from its own folder (as Jupyter would); raises CellExecutionError on any cell error."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    resources = {"metadata": {"path": str(NOTEBOOK.parent)}}
    NotebookClient(nb, timeout=120, kernel_name=kernel, resources=resources).execute()
    return nb


def stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def errors(nb: nbformat.NotebookNode) -> list[str]:
    return [o.ename for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def check_pngs(folder: Path, names: list[str], printed: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        data = (folder / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, name
        assert str(folder / name) in printed, name  # the notebook lists every file it wrote


def test_notebook_parameters_cell() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and "RUNS: list[str] = []" in cells[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored without outputs


def test_notebook_two_runs_from_env(kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_two_runs(tmp_path / "runs")
    monkeypatch.setenv("AHNPL_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("AHNPL_FIGURES", str(tmp_path / "figures"))
    nb = execute(kernel)
    assert errors(nb) == []
    printed = stdout(nb)
    names = [f"{run}_{n}.png" for run in ("ahnpl-version_0", "negclip-version_0") for n in FIGURES]
    names += [f"compare_{n}.png" for n in FIGURES] + ["compare_final_accuracy.png"]
    check_pngs(tmp_path / "figures", names, printed)
    assert f"wrote {len(names)} figures" in printed
    assert "runs: ahnpl/version_0, negclip/version_0" in printed
    assert "negative types: relation, adj_swap, adj, noun, verb" in printed
    assert "blanked per-type points" in printed  # the synthetic AHNPL run has steps without a valid verb negative


def test_notebook_default_demo_run(kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No RUNS, no AHNPL_RUNS: an existing `<root>/runs/ahnpl` is read (no training), figures default under root."""
    write_run(tmp_path / "runs" / "ahnpl" / "version_0", eval_tags=False)
    monkeypatch.setenv("AHNPL_ROOT", str(tmp_path))
    nb = execute(kernel)
    assert errors(nb) == []
    printed = stdout(nb)
    assert "training a short one" not in printed
    assert "one run only" in printed
    check_pngs(tmp_path / "notebooks" / "figures", [f"ahnpl-version_0_{n}.png" for n in FIGURES], printed)


def test_readme_command_runs_with_relative_paths_and_smoothing(kernel: str, tmp_path: Path) -> None:
    """`AHNPL_RUNS=runs/ahnpl,runs/negclip AHNPL_SMOOTHING=0.6 jupyter nbconvert --execute ...` from the repository
    root: nbconvert is installed with the dev extras, and relative run paths are the root's, not `notebooks/`'."""
    import os
    import subprocess

    write_two_runs(tmp_path / "runs")
    env = {**os.environ, "AHNPL_ROOT": str(tmp_path), "AHNPL_RUNS": "runs/ahnpl,runs/negclip",
           "AHNPL_SMOOTHING": "0.6", "AHNPL_FIGURES": "figures"}
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK),
               "--output-dir", str(tmp_path / "out"), "--output", "margin_dynamics.out.ipynb",
               f"--ExecutePreprocessor.kernel_name={kernel}", "--ExecutePreprocessor.timeout=300"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    nb = nbformat.read(tmp_path / "out" / "margin_dynamics.out.ipynb", as_version=4)
    assert errors(nb) == []
    printed = stdout(nb)
    assert f"{tmp_path / 'runs' / 'ahnpl'}" in printed and "smoothing: 0.6" in printed
    assert len(list((tmp_path / "figures").glob("*.png"))) == 2 * len(FIGURES) + len(FIGURES) + 1
