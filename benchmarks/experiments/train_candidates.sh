#!/usr/bin/env bash
# Train candidate CNN recipes side by side on one GPU, then the metric-learning stage on the best.
#
#   benchmarks/experiments/train_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
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
STAGE_EPOCHS=${STAGE_EPOCHS:-10}; STAGE_LIMIT_S=${STAGE_LIMIT_S:-${LIMIT_S:-330}}
EXTRA=("$@")
source "$(dirname "$0")/gpu_common.sh"

train w384-e40 --widths 128 384 384 --epochs "$(e 40)" &
train w384-e60-cutout --widths 128 384 384 --epochs "$(e 60)" --translate 4 --cutout 12 &
train w384-e100-cutout --widths 128 384 384 --epochs "$(e 100)" --translate 4 --cutout 12 &
train w256-e60-cutout --widths 96 256 384 --epochs "$(e 60)" --translate 4 --cutout 12 &
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
LIMIT=$STAGE_LIMIT_S train "$best-supcon" --init "$OUT/$best" --epochs "$STAGE_EPOCHS" --lr 0.02 --supcon-weight 1 \
  --translate 4 --cutout 12 &
LIMIT=$STAGE_LIMIT_S train "$best-ce" --init "$OUT/$best" --epochs "$STAGE_EPOCHS" --lr 0.02 --translate 4 --cutout 12 &
wait
summary
