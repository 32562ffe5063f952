#!/usr/bin/env bash
# The full-scale experiment on the CPU (chapter 13), for when no GPU is lent: `reproduce full-scale`, the authors'
# Charades-STA configuration (configs/charades_i3d.json: d = 256, 3 + 3 layers, 200 clips, batch 128, lr 4e-4,
# warm-up 400, 50 epochs; bfloat16 autocast) on timeline features of the real annotations, CNM's split, the epoch
# chosen on validation; every epoch also scores Charades-CD's test-iid and test-ood queries on videos the run neither
# trains nor validates on. The recipe fetches the annotation files into the data root and builds the features there.
# A checkpoint after every epoch: run the script again after any interruption and the run continues from its
# last.pt, to the same parameters as a run that never stopped. Everything goes to runs/full_scale/ (log.txt, the
# run folder, the peak memory of each stretch where GNU time is installed); `python tools/collect_full_scale.py` then
# writes the numbers to book/results/full_scale/.
# Usage: bash tools/full_scale_cpu.sh   (CNM_DATA: the data root, default data/; CNM_WORD_VECTORS: a word-vector
#        file holding the vocabulary's words, default GloVe 6B in the data root, fetched when missing)
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
OUT=runs/full_scale/cnm_split
mkdir -p runs/full_scale
exec >> runs/full_scale/log.txt 2>&1
echo "== $(date -u '+%F %T') $([ -f "$OUT/last.pt" ] && echo resume || echo start) at git $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores"
timer=()                   # GNU time, where installed, reports each stretch's peak memory and wall time
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v -o "runs/full_scale/time_$(date -u +%Y%m%dT%H%M%S)_$$.txt")
${timer[@]+"${timer[@]}"} "$PYTHON" -m cnm_minimal reproduce full-scale --out "$OUT"
echo "== $(date -u '+%F %T') the run is complete"
