#!/usr/bin/env bash
# Deeper blocks (3 convolutions each) at the shipped network's size, on one GPU.
#
#   benchmarks/experiments/depth_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# Two depth-3 networks that still ship (<= 10 MB in fp16, <= 340 M MACs per view, so the 60,000
# images embed in a minute in int8), each holding out 5,000 training images (--val-seed 0) and
# each with its twin on all 50,000 images (--val-images 0), all side by side; plus the shipped
# depth-2 recipe with another seed, to read the validation noise. The recipe is the shipped one
# (60 epochs, translate 4, cutout 12). EPOCHS_PERCENT scales the epochs (a smoke test:
# EPOCHS_PERCENT=2 VAL=100 ... --max-train 600).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
VAL=${VAL:-5000}
source "$(dirname "$0")/gpu_common.sh"
EXTRA=(--epochs "$(e 60)" --translate 4 --cutout 12 "$@")

for split in "$VAL" 0; do
  suffix=$([ "$split" = 0 ] && echo -all)
  train "d3-w288$suffix" --depth 3 --widths 128 288 288 --val-images "$split" &
  train "d3-w160-256-320$suffix" --depth 3 --widths 160 256 320 --val-images "$split" &
done
train d2-w384-s1 --widths 128 384 384 --seed 1 --val-images "$VAL" &
wait
summary
