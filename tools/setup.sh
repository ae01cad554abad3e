#!/usr/bin/env bash
# Idempotent set-up used by both README commands: a project virtual environment in .venv with torch, mmcv 2.1.0
# (compiled ops) and jdbench installed in editable mode. Re-running it only checks and returns.
#
#   JDBENCH_FIND_LINKS=DIR   a pip --find-links cache holding a prebuilt mmcv wheel (CI passes ../shared/wheels);
#                            without one mmcv 2.1.0 is built from source (about 13 minutes on 2 cores).
#   JDBENCH_TORCH=SPEC       the torch requirement installed when .venv has no torch (default torch==2.13.0, the
#                            local CPU wheel). GPU users: create .venv, install their CUDA torch first (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
log() { echo "[setup] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check -q)
FIND_LINKS=()
if [ -n "${JDBENCH_FIND_LINKS:-}" ]; then
  if [ -d "$JDBENCH_FIND_LINKS" ]; then FIND_LINKS=(--find-links "$(cd "$JDBENCH_FIND_LINKS" && pwd)")
  else log "JDBENCH_FIND_LINKS=$JDBENCH_FIND_LINKS is not a folder; ignoring it"; fi
fi

if ! "$VPY" -c "import torch" 2>/dev/null; then
  log "installing ${JDBENCH_TORCH:-torch==2.13.0} (pinned: an unpinned torch would pull a CUDA build)"
  "${PIP[@]}" install "${JDBENCH_TORCH:-torch==2.13.0}"
fi

if ! "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  # mmcv 2.1.0's setup.py imports pkg_resources (setuptools<70) while torch 2.13 declares setuptools>=77:
  # build with the old setuptools, then restore it. --no-build-isolation keeps pip from fetching a new torch.
  log "installing mmcv 2.1.0 with ops ${FIND_LINKS[*]:-(building from source, ~13 min)}"
  "${PIP[@]}" install "setuptools<70" wheel ninja 2>&1 | grep -v "incompatible" || true
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" install --no-build-isolation --no-deps \
    "${FIND_LINKS[@]}" mmcv==2.1.0
  "${PIP[@]}" install "setuptools>=77.0.3"
fi

STAMP="$VENV/.jdbench-installed"
SIG=$(cat setup.cfg setup.py | sha1sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$SIG" ] || ! "$VPY" -c "import jdbench, mmseg.models, mmdet.models" 2>/dev/null; then
  log "installing jdbench (editable) and its dependencies"
  "${PIP[@]}" install "${FIND_LINKS[@]}" -e ".[tests]"
  "$VPY" -c "import jdbench, mmseg.models, mmdet.models"
  echo "$SIG" > "$STAMP"
fi
log "ready: $("$VPY" -c 'import torch, mmcv, mmengine, mmseg, mmdet; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, mmdet {mmdet.__version__}")')"
