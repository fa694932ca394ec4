#!/usr/bin/env bash
# Knowledge distillation on one GPU: wider teachers, then the shippable 128/384/384 student.
#
#   benchmarks/distil_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# TRAIN_DATA: a labelled folder or .zip with a train/ split (e.g. CIFAR-10's train images).
# 1. Three 192/512/512 teachers (seeds 1-3), each holding out the same 5,000 training images
#    (--val-seed 0).
# 2. In parallel: students at distillation weights 0.5 and 0.9 on the same split (their
#    validation accuracy is read against the plain recipe's, w384-e60-cutout: 0.9218,
#    docs/benchmarks.md), and their twins on all 50,000 images (--val-images 0), one of which
#    is the checkpoint to ship when validation says distillation helps.
# Each run writes OUT/NAME (a model folder) and OUT/NAME.log. EPOCHS_PERCENT scales the epochs
# (a smoke test: EPOCHS_PERCENT=2 ... --max-train 600, with VAL=100).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
EPOCHS_PERCENT=${EPOCHS_PERCENT:-100}; LIMIT_S=${LIMIT_S:-330}; VAL=${VAL:-5000}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-3} OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"
python3 -c "from cbir.datasets import load_dataset; load_dataset('$DATA', split='train')"  # decode once
EXTRA=("$@")
EPOCHS=$(( 60 * EPOCHS_PERCENT / 100 > 0 ? 60 * EPOCHS_PERCENT / 100 : 1 ))

train() {  # NAME ARGS...
  local name=$1; shift
  timeout "$LIMIT_S" python3 -m cbir.cli train --dataset "$DATA" --split train --out "$OUT/$name" \
    --epochs "$EPOCHS" --translate 4 --cutout 12 "$@" "${EXTRA[@]}" >"$OUT/$name.log" 2>&1 \
    || echo "$name: exit $?" >>"$OUT/$name.log"
}

for seed in 1 2 3; do train "teacher-w512-s$seed" --widths 192 512 512 --seed "$seed" --val-images "$VAL" & done
wait
TEACHERS=()
for seed in 1 2 3; do
  [ -f "$OUT/teacher-w512-s$seed/model_card.json" ] && TEACHERS+=(--teacher "$OUT/teacher-w512-s$seed")
done
[ ${#TEACHERS[@]} -gt 0 ] || { echo "no teacher finished"; exit 1; }
for weight in 0.5 0.9; do
  train "student-w384-d$weight" --widths 128 384 384 "${TEACHERS[@]}" --distill "$weight" --val-images "$VAL" &
  train "student-w384-d$weight-all" --widths 128 384 384 "${TEACHERS[@]}" --distill "$weight" --val-images 0 &
done
wait
for card in "$OUT"/*/model_card.json; do
  python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(sys.argv[1], c['validation_accuracy_tta'], c['minutes'])" "$card"
done
