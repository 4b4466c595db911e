"""`make gpu-wheels`: download, here, the wheels the GPU machine's image lacks, into `.whl/` (git-ignored).

The device image (Python 3.12, its own torch, torchvision, lightning, pandas, timm, huggingface_hub...) cannot reach a
package registry, and lacks open_clip and LightningCLI's jsonargparse. This fetches them (pure-Python or abi3 wheels,
`--no-deps`) at the versions installed in this environment, the ones the suite ran with; `benchmarks/gpu_device.sh`
installs them there with `pip install --no-index --target`. Pass `--dest` and `--python-version` to change the target.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not on the device image (its package list: /work/.library/device/KINDS.md), with their own missing requirements.
DEVICE_MISSING = (
    "open_clip_torch",  # + ftfy -> wcwidth
    "ftfy",
    "wcwidth",
    "jsonargparse",  # LightningCLI, with its [signatures] extra: docstring_parser, typeshed_client
    "docstring_parser",
    "typeshed_client",
    "nltk",  # optional tagger; + defusedxml
    "defusedxml",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")


def pinned(names: tuple[str, ...] = DEVICE_MISSING) -> list[str]:
    """`name==version` for each package as installed here (the versions the tests ran with)."""
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_wheels", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".whl")
    parser.add_argument("--python-version", default="3.12", help="the device's Python (KINDS.md: 3.12)")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
           args.python_version, "--implementation", "cp", "-d", str(args.dest)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    status = subprocess.call(cmd + pinned())
    if status == 0:
        wheels = sorted(p.name for p in args.dest.glob("*.whl"))
        size = sum(p.stat().st_size for p in args.dest.glob("*.whl")) / 2**20
        print(f"{len(wheels)} wheels, {size:.1f} MiB in {args.dest}: name it in the device run's carry: [\".whl\"]")
    return status


if __name__ == "__main__":
    sys.exit(main())
