# Two commands do all the set-up on a fresh machine:
#   make run    install, build the default CIFAR-10 engine if missing, evaluate it
#   make test   install, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_CIFAR10 := $(wildcard ../shared/data/cifar10-jpeg.zip)
export CBIR_CIFAR10 ?= $(SHARED_CIFAR10)
export OMP_WAIT_POLICY ?= PASSIVE
FEATURES ?= hog-gch
ENGINE ?= engines/cifar10-$(FEATURES)
RESULTS ?= results/cifar10-$(FEATURES)

.PHONY: install run test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@test -f $(ENGINE)/CURRENT || $(BIN)/cbir index --dataset cifar10 --features $(FEATURES) --out $(ENGINE)
	$(BIN)/cbir info $(ENGINE)
	$(BIN)/cbir evaluate $(ENGINE) --queries cifar10:test --out $(RESULTS)

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest

clean:
	rm -rf $(VENV) engines results
