#!/usr/bin/env bash
# Residual 3-convolution blocks (the shape of the larger fast-training nets), on one GPU.
#
#   LIMIT_S=540 benchmarks/residual_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# The shipped recipe (60 epochs, translate 4, cutout 12, --sam 0.05) with --depth 3 --residual
# and int8-stored weights, in two sizes, each once holding out 5,000 training images (--val-seed 0,
# read against the shipped recipe's 0.9254 with flip TTA) and once on all 50,000, four runs side
# by side:
#   res448  128/384/448, 431 M MACs per view, 8.9 MB: fits the 60 s embedding budget only
#           single-view (~38 s here), so read summary's single-view column against 93%;
#   res306  96/320/448, 306 M MACs per view, 7.5 MB: the shipped arithmetic, flip TTA included.
# EPOCHS_PERCENT scales the epochs (a smoke test: EPOCHS_PERCENT=2 VAL=100 ... --max-train 600).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
VAL=${VAL:-5000}
source "$(dirname "$0")/gpu_common.sh"
EXTRA=(--epochs "$(e 60)" --translate 4 --cutout 12 --depth 3 --residual --int8-weights --sam 0.05 "$@")

pair() {
  local name=$1; shift
  train "$name" --val-images "$VAL" "$@" &
  train "$name-all" --val-images 0 "$@" &
}
pair res448 --widths 128 384 448
pair res306 --widths 96 320 448
wait
summary
