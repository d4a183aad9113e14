# sealtun — build, test, demo and benchmark.
# `make test` and `make demo` install what they need on a fresh machine.

NODE_MODULES := node_modules/.package-lock.json
SOURCES := $(shell find src test bench -name '*.ts' 2>/dev/null)

.PHONY: all build test demo bench bench-quick bench-peers bench-crypto bench-routing deps clean install uninstall

all: build

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES)

# Built afresh each time: a moved or deleted source must not leave its old
# .js behind for mocha's dist/test/**/*.test.js to pick up.
dist/.built: $(NODE_MODULES) tsconfig.json $(SOURCES)
	rm -rf dist
	npx tsc -p tsconfig.json
	@touch $@

build: dist/.built

test: build
	bash scripts/install-deps.sh
	npx mocha

demo:
	bash scripts/install-deps.sh
	$(MAKE) build
	bash scripts/demo.sh

bench: build
	bash bench/install-deps.sh
	node dist/bench/run.js
	node dist/bench/peers.js

bench-quick: build
	bash bench/install-deps.sh
	node dist/bench/run.js --quick

# Many peers on one server: memory, status/reload times, a handshake storm,
# several clients at once; PEERS_N="1 100" for a quick run (bench/peers.ts).
bench-peers: build
	bash bench/install-deps.sh
	node dist/bench/peers.js

bench-crypto: build
	node dist/bench/crypto.js

bench-routing: build
	node dist/bench/routing-table.js

clean:
	rm -rf dist

# `make install PREFIX=/usr/local DESTDIR=`: the package as `npm install -g`
# installs it (PREFIX/lib/node_modules/sealtun with its production
# dependencies, PREFIX/bin/sealtun), the systemd unit where systemd looks
# for PREFIX's units, and the docs its Documentation= line names. koffi's
# install script is not run: it only checks that its prebuilt binary loads
# (docs/operations.md, "Install").
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/sealtun

install: build
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	npm pack --silent --pack-destination "$$tmp" >/dev/null && \
	npm install --global --prefix "$(DESTDIR)$(PREFIX)" --ignore-scripts --prefer-offline --no-audit --no-fund "$$tmp"/sealtun-*.tgz
	install -d "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DOCDIR)"
	sed -e 's|/usr/local/bin/sealtun|$(PREFIX)/bin/sealtun|g' -e 's|file:/usr/local/share/doc/sealtun/|file:$(DOCDIR)/|' \
	  contrib/systemd/sealtun@.service > "$(DESTDIR)$(UNITDIR)/sealtun@.service"
	chmod 644 "$(DESTDIR)$(UNITDIR)/sealtun@.service"
	install -m 644 docs/*.md "$(DESTDIR)$(DOCDIR)/"

uninstall:
	npm uninstall --global --prefix "$(DESTDIR)$(PREFIX)" --no-audit --no-fund sealtun
	rm -f "$(DESTDIR)$(UNITDIR)/sealtun@.service"
	rm -rf "$(DESTDIR)$(DOCDIR)"
