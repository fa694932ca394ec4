#!/usr/bin/env bash
# Sharpness-aware minimisation (SAM) on the shipped recipe, on one GPU.
#
#   benchmarks/experiments/sam_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# The shipped network and recipe (128/384/384, 60 epochs, translate 4, cutout 12) with
# `--sam RHO` (RHO default 0.05): once holding out 5,000 training images (--val-seed 0; read
# against the labels-only 0.9214-0.9218, docs/results/training.md), and its twin on all 50,000
# images, side by side. EPOCHS_PERCENT scales the epochs (a smoke test: EPOCHS_PERCENT=2
# VAL=100 ... --max-train 600).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
VAL=${VAL:-5000}; RHO=${RHO:-0.05}
source "$(dirname "$0")/gpu_common.sh"
EXTRA=(--epochs "$(e 60)" --translate 4 --cutout 12 --widths 128 384 384 --sam "$RHO" "$@")

train "sam$RHO" --val-images "$VAL" &
train "sam$RHO-all" --val-images 0 &
wait
summary
