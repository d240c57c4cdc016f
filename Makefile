# Thin wrapper: the two README commands, plus install-check, docs, bench and fuzz.
.PHONY: run test install-check docs bench fuzz mutants deps format clean

deps:
	bash scripts/setup-deps.sh
	bash scripts/drop-make-builds.sh

run: deps
	cmake --preset debug >/dev/null
	cmake --build --preset debug --target ringo-demo echo_server
	./build/debug/examples/ringo-demo
	RINGO_BACKEND=aio ./build/debug/examples/ringo-demo
	./build/debug/examples/echo_server --self-test --addr 127.0.0.1:0
	RINGO_BACKEND=aio ./build/debug/examples/echo_server --self-test --addr 127.0.0.1:0
	RINGO_BACKEND=sim ./build/debug/examples/echo_server --self-test --addr 127.0.0.1:0

test: deps
	bash scripts/test.sh

# Install the libraries into a scratch prefix and as the .deb, build and run the consumers
# of tests/install against each (docs/install.md); part of make test.
install-check: deps
	bash scripts/test-install.sh

# The API reference: Doxygen over the public headers, HTML in build/docs/html; any
# warning fails (build/docs/warnings.log lists them).
docs: deps
	cmake -S . -B build/docs -DRINGO_BUILD_TESTS=OFF -DRINGO_BUILD_TOOLS=OFF -DRINGO_DOCS_OUTPUT=$(CURDIR)/build/docs >/dev/null
	cmake --build build/docs --target docs
	@echo "API reference: build/docs/html/index.html"

bench: deps
	bash bench/compare.sh
	bash bench/echo_compare.sh
	bash bench/balance_compare.sh
	bash bench/aio_compare.sh

# Planted bugs (tools/mutants/catalogue.txt) against the suite; about a minute each.
mutants: deps
	python3 scripts/mutants.py $(MUTANTS_ARGS)

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	find core sim uring aio api tests proptests fuzz bench tools examples -name '*.[ch]pp' | xargs clang-format -i

clean:
	rm -rf build
