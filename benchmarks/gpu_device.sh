#!/usr/bin/env bash
# `make gpu-check` on a fresh GPU machine of this workplace's device tool, in one command (README: "GPU check"):
#   bash benchmarks/gpu_device.sh [gpu_check arguments]        (the tool's run: carry [".whl"], timeout_s 600)
# Installs the wheels that `make gpu-wheels` put in .whl/ (the image lacks open_clip and jsonargparse) into
# /tmp/site, puts them and this tree's src/ first on the path, and runs `python3 -m benchmarks.gpu_check` under the
# image's own python3, torch and lightning; the results go to $OUT (which comes back), else benchmarks/out.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu-check: installing the carried wheels failed" >&2; exit 3; }
    export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
    echo "gpu-check: no .whl/*.whl here (run 'make gpu-wheels' before the device call and carry .whl)" >&2
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
OUT_DIR=${OUT:-benchmarks/out}
"$PYTHON" - <<'EOF' || { echo "gpu-check: a package is missing (above); see make gpu-wheels" >&2; exit 4; }
import importlib
for name in ("torch", "lightning", "open_clip", "jsonargparse", "ahnpl_lightning"):
    module = importlib.import_module(name)
    print(f"gpu-check: {name} {getattr(module, '__version__', '?')} from {module.__file__}")
EOF
exec "$PYTHON" -m benchmarks.gpu_check --out-dir "$OUT_DIR" "$@"
