#!/usr/bin/env bash
# The full-scale experiment on the CPU (chapter 13), for when no GPU is lent: the authors' Charades-STA configuration
# (configs/charades_i3d.json: d = 256, 3 + 3 layers, 200 clips, batch 128, lr 4e-4, warm-up 400, 50 epochs, float32)
# on timeline features of the real annotations, CNM's split, the epoch chosen on validation; every epoch also scores
# Charades-CD's test-iid and test-ood queries on videos the run neither trains nor validates on (--cd-splits).
# A checkpoint after every epoch: run the script again after any interruption and the run continues from its
# last.pt, to the same parameters as a run that never stopped. Everything goes to runs/full_scale/ (log.txt, the
# run folder, the peak memory of each stretch where GNU time is installed); `python tools/collect_full_scale.py` then writes the numbers to
# book/results/full_scale/.
# Usage: bash tools/full_scale_cpu.sh   (SHARED=folder with charades-sta/ and charades-cd/; AMP=true for bfloat16,
#        only on a CPU where benchmarks/train_step.py measured it faster)
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
SHARED=${SHARED:-../shared/data}
FEATURES=${FEATURES:-data/charades-timelines/features.hdf5}     # relative to the repository root
AMP=${AMP:-false}
OUT=runs/full_scale/cnm_split
mkdir -p runs/full_scale
exec >> runs/full_scale/log.txt 2>&1
[ -f "$FEATURES" ] || "$PYTHON" -m cnm_minimal simulate timelines --charades "$SHARED/charades-sta" \
    --out "$(dirname "$FEATURES")"
resume=()
[ -f "$OUT/last.pt" ] && resume=(--resume)
echo "== $(date -u '+%F %T') ${resume[*]:-start} at git $(git rev-parse --short HEAD), $(nproc) cores, amp $AMP"
timer=()                   # GNU time, where installed, reports each stretch's peak memory and wall time
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v -o "runs/full_scale/time_$(date -u +%Y%m%dT%H%M%S)_$$.txt")
${timer[@]+"${timer[@]}"} "$PYTHON" -m cnm_minimal train --config configs/charades_i3d.json --data "$SHARED/charades-sta" \
    --feature-file "$PWD/$FEATURES" --word-vectors "$SHARED/charades-sta/charades_glove_vocab.300d.txt" \
    --cd-splits "$SHARED/charades-cd" --out "$OUT" --device cpu --amp "$AMP" "${resume[@]}"
echo "== $(date -u '+%F %T') the run is complete"
