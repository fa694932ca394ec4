#!/usr/bin/env bash
# Knowledge distillation on one GPU: wider teachers, then the shippable 128/384/384 student.
#
#   benchmarks/experiments/distil_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# TRAIN_DATA: a labelled folder or .zip with a train/ split (e.g. CIFAR-10's train images).
# 1. 192/512/512 teachers (one per seed in SEEDS, default 1 2 3), each holding out the same
#    5,000 training images (--val-seed 0).
# 2. In parallel: a student at each distillation weight in WEIGHTS (default 0.5 0.9) on the same
#    split (their validation accuracy is read against the plain recipe's, w384-e60-cutout:
#    0.9218, docs/results/training.md), and the twin of the SHIP weight's student (default 0.9) on all
#    50,000 images (--val-images 0): the checkpoint to ship when validation says distillation helps.
# Each run writes OUT/NAME (a model folder) and OUT/NAME.log. EPOCHS_PERCENT scales the epochs
# (a smoke test: EPOCHS_PERCENT=2 VAL=100 ... --max-train 600).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
VAL=${VAL:-5000}
SEEDS=${SEEDS:-1 2 3}; WEIGHTS=${WEIGHTS:-0.5 0.9}; SHIP=${SHIP:-0.9}
source "$(dirname "$0")/gpu_common.sh"
EXTRA=(--epochs "$(e 60)" --translate 4 --cutout 12 "$@")

for seed in $SEEDS; do train "teacher-w512-s$seed" --widths 192 512 512 --seed "$seed" --val-images "$VAL" & done
wait
TEACHERS=()
for seed in $SEEDS; do
  [ -f "$OUT/teacher-w512-s$seed/model_card.json" ] && TEACHERS+=(--teacher "$OUT/teacher-w512-s$seed")
done
[ ${#TEACHERS[@]} -gt 0 ] || { echo "no teacher finished"; exit 1; }
for weight in $WEIGHTS; do
  train "student-w384-d$weight" --widths 128 384 384 "${TEACHERS[@]}" --distill "$weight" --val-images "$VAL" &
done
train "student-w384-d$SHIP-all" --widths 128 384 384 "${TEACHERS[@]}" --distill "$SHIP" --val-images 0 &
wait
summary
