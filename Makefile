# Two commands on a fresh clone: `make repro` (set up + run the pipeline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install repro test test-all lint bench image image-tools image-wheels system-deps

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# the image/text extras (Pillow, the offline MiniLM) so the test suite covers every modality
$(VENV)/.installed-extras: $(VENV)/.installed
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,image,text]'
	@touch $@

install: $(VENV)/.installed ## Create .venv and install traincycle with its dev tools

repro: install ## Set up, then run the whole pipeline on the built-in data (dvc repro)
	dvc repro

# Debian packages the tests run for real: the PostgreSQL server (shared tune studies) and curl
# (the docs tests run every command of README.md and docs/); as root, non-interactive, skipped
# when already there
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@command -v curl >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl; }

# test files run in parallel on TEST_WORKERS processes (pytest-xdist); a file stays on one worker,
# so its module fixtures (a reproduced project, a server) are built once; TEST_WORKERS=0: serial
TEST_WORKERS ?= 2
test: system-deps $(VENV)/.installed-extras ## Set up (with the image/text extras), then run the fast test suite
	python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-all: system-deps $(VENV)/.installed-extras ## Run every test, the slow end-to-end ones too
	python -m pytest -q -m '' -n $(TEST_WORKERS) --dist loadfile

lint: install ## ruff check
	ruff check src stages tests benchmarks

.PHONY: report
report: install ## Markdown review comment vs main (BASE=rev to change): metric/param/fairness deltas
	traincycle report --rev $(or $(BASE),main) -o .traincycle/report.md
	@echo "review comment: .traincycle/report.md"

bench: install ## Benchmarks: one table per measure with ratios (QUICK=1: a few minutes; README=1: rewrite the tables of docs/performance.md)
	cd benchmarks && python run.py $(if $(QUICK),--quick) $(if $(README),--readme)

IMAGE ?= traincycle-serve
BASE_IMAGE ?= localhost/traincycle-base:bookworm

image-tools: ## Install podman, runc and debootstrap (Debian packages) when missing
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap; }

# The wheels the image installs, made here with this machine's pip (its index, proxy and
# certificates), so `podman build` itself reaches no network: what serving imports at the
# versions constraints.txt pins, and traincycle's own wheel (fixed timestamps: the same sources
# make the same bytes, so an unchanged project reuses every cached layer).
# docker/requirements.py adds what the model's inputs need (Pillow for images, the tokenizer
# for a fine-tuned text model) from models/optimized/manifest.json.
image-wheels: ## Wheels for the image build (docker/wheels): what serving this model imports, and traincycle
	rm -rf docker/wheels build
	python docker/requirements.py models/optimized/manifest.json docker/wheels
	python -m pip download -q -c constraints.txt -r docker/wheels/requirements.txt --only-binary=:all: -d docker/wheels
	test ! -s docker/wheels/no-deps.txt || python -m pip download -q --no-deps -c constraints.txt \
		-r docker/wheels/no-deps.txt --only-binary=:all: -d docker/wheels
	SOURCE_DATE_EPOCH=315532800 python -m pip wheel -q --no-deps --no-build-isolation -w docker/wheels .
	rm -rf build

image: image-tools image-wheels ## Service image (Dockerfile) with podman, from a local Debian base: nothing pulled from a registry
	bash docker/base.sh $(BASE_IMAGE)
	podman build --isolation=chroot --format docker --build-arg BASE=$(BASE_IMAGE) -t $(IMAGE) .
	@podman image inspect $(IMAGE) --format 'image $(IMAGE): {{.Size}} bytes'
