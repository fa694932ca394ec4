# Two commands do all the set-up on a fresh machine:
#   make run    install, build the default CIFAR-10 engine if missing, serve it at http://127.0.0.1:5000/
#   make test   install (with Debian's chromium for the browser test), run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_CIFAR10 := $(wildcard ../shared/data/cifar10-jpeg.zip)
export CBIR_CIFAR10 ?= $(SHARED_CIFAR10)
export OMP_WAIT_POLICY ?= PASSIVE
FEATURES ?= cnn
ENGINE ?= engines/cifar10-$(FEATURES)
RESULTS ?= results/cifar10-$(FEATURES)
EVALUATE_ARGS ?=
# --copies: every search puts the indexed copies of its query first (docs/duplicates.md); COPIES= leaves it out
COPIES ?= --copies
INDEX = $(BIN)/cbir index --dataset cifar10 --features $(FEATURES) $(COPIES) --out $(ENGINE)
SHIPPED_WEIGHTS := src/cbir/features/cnn/checkpoints/cifar10/weights.pt

HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install browser engine run evaluate test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[bovw,cnn,tune,milvus,elasticsearch,ray,faces,ocr,test]'
	touch $(STAMP)

install: $(STAMP)

# the real-browser test needs Debian's chromium; without root it is skipped, with the reason
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "could not install chromium: the browser test will be skipped"

# built when missing; a CNN engine also when the shipped network is newer than it (e.g. after a pull)
engine: $(STAMP)
	@if [ ! -f $(ENGINE)/CURRENT ]; then $(INDEX); \
	elif case "$(FEATURES)" in cnn*) [ $(SHIPPED_WEIGHTS) -nt $(ENGINE)/CURRENT ];; *) false;; esac; then \
		echo "the shipped CNN is newer than $(ENGINE): re-indexing"; $(INDEX); fi
	$(BIN)/cbir info $(ENGINE)

run: engine
	$(BIN)/cbir serve $(ENGINE) --host $(HOST) --port $(PORT)

evaluate: engine
	$(BIN)/cbir evaluate $(ENGINE) --queries cifar10:test --out $(RESULTS) $(EVALUATE_ARGS)

test: $(STAMP) browser
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest

clean:
	rm -rf $(VENV) engines results
