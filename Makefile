# Entry points. `make test` is what CI runs (.ci/run); every target sets the machine up first.
.PHONY: setup test lint demo bench

setup:
	bash scripts/setup.sh

lint:
	bash scripts/setup.sh --venv-only
	.venv/bin/ruff check .

# pytest exits 5 when it collects no tests; like any non-zero status that fails the target.
test: setup
	.venv/bin/ruff check .
	.venv/bin/pytest

# Solve the bundled example issue with the embedded local model (fetched on first use),
# then grade every candidate on hidden tests. Slow on a small CPU: see the README.
demo: setup
	.venv/bin/quorum sandbox smoke
	.venv/bin/quorum demo

bench: setup
	@set -e; found=0; for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; found=1; echo "==> $$f"; .venv/bin/python "$$f"; \
	done; [ "$$found" = 1 ] || echo "no benchmarks yet (benchmarks/*.py)"
