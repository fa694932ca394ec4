# Shared by the GPU candidate scripts (sourced once DATA and OUT are set): decodes the training
# images once; `e N` is N epochs scaled by EPOCHS_PERCENT (at least 1); `train NAME ARGS...` runs
# `cbir train` with ARGS and the EXTRA array into OUT/NAME (log: OUT/NAME.log) under a time limit
# of LIMIT_S seconds (LIMIT=... for one run), with alternating flips (the recorded runs of these scripts
# before 2026-11-28 mirrored a random half at each step, an option removed in 0.3.0) and
# --whiten-bias-epochs WHITEN_BIAS_EPOCHS (default all: the bias trained throughout, as in those runs,
# before 2026-11-28 made 3 the default) and the optimiser settings OPTIMISER (default: those before 2026-12-04
# made the fast-training recipes' the default, as in those runs, less their random start of the block convolutions,
# no longer an option since 0.4.0; OPTIMISER= takes today's); `summary` prints
# each finished model's validation accuracy with flip TTA, then single-view (the last epoch's, EMA
# weights), and its minutes.
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-3} OMP_WAIT_POLICY=PASSIVE
LIMIT_S=${LIMIT_S:-330}; EPOCHS_PERCENT=${EPOCHS_PERCENT:-100}
WHITEN_BIAS_EPOCHS=${WHITEN_BIAS_EPOCHS:-all}
OPTIMISER=${OPTIMISER-"--lr 0.2 --momentum 0.9 --weight-decay 5e-4 --norm-scales --norm-bias-lr 1"}
mkdir -p "$OUT"
python3 -c "from cbir.datasets import load_dataset; load_dataset('$DATA', split='train')"

e() { local n=$(( $1 * EPOCHS_PERCENT / 100 )); echo $(( n > 0 ? n : 1 )); }

train() {
  local name=$1; shift
  timeout "${LIMIT:-$LIMIT_S}" python3 -m cbir.cli train --dataset "$DATA" --split train --out "$OUT/$name" \
    --whiten-bias-epochs "$WHITEN_BIAS_EPOCHS" $OPTIMISER "$@" "${EXTRA[@]}" >"$OUT/$name.log" 2>&1 \
    || echo "$name: exit $?" >>"$OUT/$name.log"
}

summary() {
  for card in "$OUT"/*/model_card.json; do
    python3 -c "import json, sys; c = json.load(open(sys.argv[1]))
print(sys.argv[1], c['validation_accuracy_tta'], c['history'][-1]['val_accuracy'], c['minutes'])" "$card"
  done
}
