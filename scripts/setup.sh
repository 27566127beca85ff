#!/usr/bin/env bash
# Create .venv and install sharedlatent with its test tools; CPU torch first where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "${pip[@]}" install "torch>=2.1,<3"
  else
    # A bare torch requirement pulls a multi-GB CUDA build; the CPU wheel is what this machine can use.
    "${pip[@]}" install "torch==2.13.0" || "${pip[@]}" install "torch>=2.1,<3" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"${pip[@]}" install -e ".[test${SHAREDLATENT_EXTRAS:+,$SHAREDLATENT_EXTRAS}]"
