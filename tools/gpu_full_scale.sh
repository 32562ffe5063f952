#!/usr/bin/env bash
# The full-scale experiment on one GPU, as one short script (chapter 13). Writes everything under $OUT:
#   environment.txt, train_step_cuda.json (the train-step benchmark on CUDA), full_scale/results.json (the
#   50-epoch run: per-epoch validation and test metrics, prior-hard and time-reversed metrics, peak memory,
#   provenance),
#   full_scale/predictions_test.jsonl, and log.txt. Copy them to book/results/full_scale/ and re-execute chapter 13.
# Usage: OUT=runs/gpu CNM_DATA=path/to/data bash tools/gpu_full_scale.sh   (PYTHON=... the interpreter, torch with
#        CUDA; without the Charades files in the data root, the full-size simulated benchmark)
set -euo pipefail
OUT=${OUT:-runs/gpu}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT/full_scale"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

echo "== environment"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
  git rev-parse HEAD 2>/dev/null || true; } | tee "$OUT/environment.txt"
"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
"$PYTHON" -c "import h5py, numpy, tqdm" || "$PYTHON" -m pip install -q h5py tqdm

export CNM_DATA=${CNM_DATA:-data}   # the data root: charades-sta/ and charades-cd/ as `download get` leaves them
if [ -f "$CNM_DATA/charades-sta/Charades_v1_train.csv" ]; then
  echo "== the real annotations: reproduce full-scale (timeline features built in the data root)"
  FULL=("$PYTHON" -m cnm_minimal reproduce full-scale --out "$OUT/full_scale")
else
  echo "== the full-size simulated benchmark (Charades-STA sizes, 1024-d features)"
  [ -f data/charades-sta-sim-full/features.hdf5 ] || "$PYTHON" -m cnm_minimal simulate full --out data/charades-sta-sim-full
  FULL=("$PYTHON" -m cnm_minimal train --config configs/charades_sim_full.json --out "$OUT/full_scale" --amp true)
fi

echo "== train-step benchmark on CUDA"
"$PYTHON" benchmarks/train_step.py --device cuda --batches 128 32 --json "$OUT/train_step_cuda.json"

echo "== 50 epochs at the authors' configuration, bfloat16 autocast, selection on validation"
start=$(date +%s)
"${FULL[@]}"
echo "wall time $(( $(date +%s) - start )) s"
