#!/usr/bin/env bash
# Train candidate CNN recipes side by side on one GPU, then the metric-learning stage on the best.
#
#   benchmarks/train_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# TRAIN_DATA: a labelled folder or .zip with a train/ split (e.g. CIFAR-10's train images).
# Each recipe writes OUT/NAME (a model folder) and OUT/NAME.log. The best recipe BY HELD-OUT
# VALIDATION ACCURACY (never the test split) is fine-tuned twice for STAGE_EPOCHS: with the
# supervised contrastive loss (NAME-supcon) and, as the control, with cross-entropy only
# (NAME-ce), so that the metric-learning stage is judged against the same extra training.
# EXTRA_TRAIN_ARGS go to every run; EPOCHS_PERCENT scales the recipes' epochs (a smoke test:
# EPOCHS_PERCENT=1 STAGE_EPOCHS=1 ... --max-train 600 --val-images 100).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
EPOCHS_PERCENT=${EPOCHS_PERCENT:-100}; STAGE_EPOCHS=${STAGE_EPOCHS:-10}; LIMIT_S=${LIMIT_S:-330}; STAGE_LIMIT_S=${STAGE_LIMIT_S:-$LIMIT_S}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-3} OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"
python3 -c "from cbir.datasets import load_dataset; load_dataset('$DATA', split='train')"  # decode once

train() {  # NAME LIMIT ARGS...
  local name=$1 limit=$2; shift 2
  timeout "$limit" python3 -m cbir.cli train --dataset "$DATA" --split train --out "$OUT/$name" "$@" "${EXTRA[@]}" >"$OUT/$name.log" 2>&1 || echo "$name: exit $?" >>"$OUT/$name.log"
}
EXTRA=("$@")
e() { local n=$(( $1 * EPOCHS_PERCENT / 100 )); echo $(( n > 0 ? n : 1 )); }  # epochs, scaled

train w384-e40 "$LIMIT_S" --widths 128 384 384 --epochs "$(e 40)" &
train w384-e60-cutout "$LIMIT_S" --widths 128 384 384 --epochs "$(e 60)" --translate 4 --cutout 12 &
train w384-e100-cutout "$LIMIT_S" --widths 128 384 384 --epochs "$(e 100)" --translate 4 --cutout 12 &
train w256-e60-cutout "$LIMIT_S" --widths 96 256 384 --epochs "$(e 60)" --translate 4 --cutout 12 &
wait

best=$(python3 - "$OUT" <<'EOF'
import json, pathlib, sys
cards = [(json.loads(p.read_text())["validation_accuracy_tta"], p.parent.name)
         for p in pathlib.Path(sys.argv[1]).glob("*/model_card.json")]
print(max(cards)[1] if cards else "")
EOF
)
[ -n "$best" ] || { echo "no recipe finished"; exit 1; }
echo "best by validation: $best"
train "$best-supcon" "$STAGE_LIMIT_S" --init "$OUT/$best" --epochs "$STAGE_EPOCHS" --lr 0.02 --supcon-weight 1 \
  --translate 4 --cutout 12 &
train "$best-ce" "$STAGE_LIMIT_S" --init "$OUT/$best" --epochs "$STAGE_EPOCHS" --lr 0.02 --translate 4 --cutout 12 &
wait
for card in "$OUT"/*/model_card.json; do
  python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(sys.argv[1], c['validation_accuracy_tta'], c['minutes'])" "$card"
done
