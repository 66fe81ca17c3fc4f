# fwdiag: two commands on a fresh machine: `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/fwdiag
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build demo test test-short vet fmt-check lint tools lab fixloop golden bench fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fwdiag

## demo: analyze the lab capture built into the binary
demo: build
	./$(BIN) demo

## tools: what the tests cross-check against (tshark, tcpdump) and the live
## tests need (nftables, iproute2, tmux), and iptables and nfct for the fix snippets; installed
## when missing and root.
tools:
	@missing=""; for t in tshark tcpdump nft iptables nfct ip tmux editcap; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark tcpdump nftables iptables nfct iproute2 tmux tcpreplay conntrack ethtool >/dev/null; \
	  else echo "missing:$$missing (tests that need them will skip and say so)"; fi; \
	fi

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## lint: staticcheck, the version go.mod pins as a tool (go get -tool)
lint:
	$(GO) tool staticcheck ./...

## test: vet, gofmt, staticcheck, and every test (cross-checks with tshark,
## golden reports over the lab captures, the TUI, and the live tests when
## root); then the packages that run goroutines over shared state (the
## reader beside the flow engine; a report's tables and TTL view beside its
## findings) again under the race detector, which no other test would fail
## for. go test prints a line per package; none runs for more than about
## half a minute (2 cores, tools installed, root).
test: tools vet fmt-check lint
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -race -count=1 -timeout 10m ./flows ./pipeline ./diagnose

test-short: vet fmt-check
	$(GO) test -short ./...

## lab: rebuild every lab capture (root: network namespaces + nftables)
lab:
	bash pcaps/lab/run.sh
	bash pcaps/synth/regen.sh

## fixloop: issue 17's closed loop on every lab scenario whose fault is a
## firewall setting: fwdiag's own nftables fix loaded into the lab firewall
## must remove the finding (root; ~6 min, one lab at a time machine-wide).
## make test runs a subset of three.
fixloop:
	FWDIAG_FIXLOOP=all $(GO) test ./pcaps -run '^TestFixLoop$$' -count=1 -v -timeout 30m

## golden: refresh the expected reports after a reviewed change
golden:
	$(GO) test ./pcaps/ -run TestGolden -update
	$(GO) test ./tui/... -update || true

bench:
	bash scripts/bench.sh

## fuzz: each fuzz target for FUZZTIME (default 60s); the seeds run in make test.
## Minimising a new input is capped at 10 s (Go's default of 60 s stalls short runs).
fuzz:
	$(GO) test ./dissect -run '^$$' -fuzz FuzzOpen -fuzztime $${FUZZTIME:-60s} -fuzzminimizetime 10s
	$(GO) test ./dissect -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-60s} -fuzzminimizetime 10s
	$(GO) test ./flows -run '^$$' -fuzz FuzzFlows -fuzztime $${FUZZTIME:-60s} -fuzzminimizetime 10s
	$(GO) test ./pipeline -run '^$$' -fuzz FuzzAnalyze -fuzztime $${FUZZTIME:-60s} -fuzzminimizetime 10s

clean:
	rm -rf bin
