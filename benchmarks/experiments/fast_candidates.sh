#!/usr/bin/env bash
# The fast-training settings of 2026-11-28 on `res448` with SAM at 60 epochs, on one GPU.
#
#   LIMIT_S=470 benchmarks/experiments/fast_candidates.sh TRAIN_DATA OUT [EXTRA_TRAIN_ARGS...]
#
# 2026-11-28's second call. The first (residual_candidates.sh) left res448-sam (alternating flip,
# whitening bias frozen after 3 epochs) at 0.9278 with flip TTA on the 5,000 held-out images: equal
# to, not above, the shipped checkpoint's hold-out twin, so nothing shipped. Recipe R1 is that one;
# R2 adds --lr 0.37 --momentum 0.92 --weight-decay 1.5e-3 --dirac --no-norm-scales --norm-bias-lr 64
# (0.56 validation points over the defaults in 14-epoch CPU runs). Four runs side by side: R1 seed 1,
# R2 seeds 0 and 1 holding out the same 5,000 images (--val-seed 0), and R2 seed 0 on all 50,000.
# Rule, fixed before the run: the recipe with the higher mean validation over its two seeds (R1's
# seed 0 from the first call); its seed-0 all-images twin ships if that mean is above 0.9278.
# (Since 0.4.0 every compact network starts as the identity, the --dirac of R2, no longer an option.)
# EPOCHS_PERCENT scales the epochs (a smoke test: EPOCHS_PERCENT=2 VAL=100 ... --max-train 600).
set -u
DATA=${1:?labelled training images}; OUT=${2:?output folder}; shift 2
VAL=${VAL:-5000}; WHITEN_BIAS_EPOCHS=${WHITEN_BIAS_EPOCHS:-3}
source "$(dirname "$0")/gpu_common.sh"
EXTRA=(--epochs "$(e 60)" --translate 4 --cutout 12 --depth 3 --residual --int8-weights --widths 128 384 448
       --sam 0.05 "$@")
FAST=(--lr 0.37 --momentum 0.92 --weight-decay 1.5e-3 --no-norm-scales --norm-bias-lr 64)

train res448-sam-s1 --val-images "$VAL" --seed 1 &
train res448-fast --val-images "$VAL" "${FAST[@]}" &
train res448-fast-s1 --val-images "$VAL" --seed 1 "${FAST[@]}" &
train res448-fast-all --val-images 0 "${FAST[@]}" &
wait
summary
