# The two commands of the README:
#   make book   set up everything, render the data the notebooks need, execute them, write HTML
#   make test   set up everything and run the whole test suite in the same environment
# `make book` renders the data the chapters need (one process per core), executes the
# notebooks in parallel (one per core) into the execution cache, then builds the HTML from it.
# Both are idempotent: a second run reuses the environment, the data cache and the execution
# cache.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mirlab-installed
export MIRLAB_CACHE ?= $(CURDIR)/data/cache

.PHONY: book test env student-labs bench clean-book

# A static build: widgets are not created (each has a static figure beside it) and progress
# bars stay out of the pages.
book: export MIRLAB_STATIC := 1
book: export TQDM_DISABLE := 1
book: env _build/.mirlab-sources
	$(PY) -m mirlab.datasets prepare
	$(PY) .ci/execute-notebooks _build/.jupyter_cache _toc.yml 600
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Book written to $(CURDIR)/_build/html/index.html"

test: env
	$(PY) -m ruff check mirlab tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup --max-worker-restart 0 --durations=30

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	bash .ci/setup-env "$(VENV)"
	touch $(STAMP)

# Executed notebooks are cached by their code; when mirlab (or a shipped checkpoint) changes,
# they must run again.
_build/.mirlab-sources: $(shell find mirlab -name '*.py' -o -name '*.pt' -o -name '*.json') pyproject.toml
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

student-labs: env
	$(VENV)/bin/mirlab-lab student labs --out _build/student-labs

bench: env
	$(PY) -m benchmarks

clean-book:
	rm -rf _build/html _build/.doctrees _build/.jupyter_cache
