# bin/mr and every app plugin must be built by the same toolchain with the
# same flags, or Go refuses to load the plugins. GOBUILDFLAGS applies to both.
GO ?= go
GOBUILDFLAGS ?= -trimpath
export CGO_ENABLED := 1

# User apps, the ones to copy, are in apps/; test-only apps are in
# testdata/apps/. Both build into bin/apps/NAME.so. Go's ./... skips
# directories named testdata, so vet and unit name the test apps explicitly.
# APPS="wc wclab" builds only those, as make bench does.
ALL_APP_DIRS := $(patsubst %/,%,$(wildcard apps/*/ testdata/apps/*/))
APPS ?= $(notdir $(ALL_APP_DIRS))
APP_DIRS := $(foreach a,$(APPS),$(filter %/$(a),$(ALL_APP_DIRS)))
TEST_APPS := ./testdata/apps/...

.PHONY: all build apps test vet unit versitygw harness s3 status columnar netns slurm k8s demo bench bench-s3 straggler chaos chaos-quick sim clean

all: build apps

build:
	$(GO) build $(GOBUILDFLAGS) -o bin/mr ./cmd/mr

apps:
	@mkdir -p bin/apps
	@for d in $(APP_DIRS); do \
		a=$${d##*/}; \
		echo "$(GO) build $(GOBUILDFLAGS) -buildmode=plugin -o bin/apps/$$a.so ./$$d"; \
		$(GO) build $(GOBUILDFLAGS) -buildmode=plugin -o bin/apps/$$a.so ./$$d || exit 1; \
	done

vet:
	$(GO) vet ./... $(TEST_APPS)

# The store's tests run against versitygw, a real S3 server, which this
# builds once from the Go module proxy into ~/.cache/gomr-versitygw; if it
# cannot, those tests skip and say why.
unit: versitygw
	$(GO) test -race ./... $(TEST_APPS)

versitygw:
	@bash -c 'NAME=make; source scripts/lib/s3.sh; vgw_build || echo "make: versitygw cannot be built ($$VGW_WHY); the S3 tests will skip"'

harness: build apps
	scripts/test-mr.sh

# Jobs from and to a real S3 server, versitygw, built once from the Go
# module proxy into ~/.cache/gomr-versitygw; it skips, saying why, only
# when that build fails.
s3: build apps
	scripts/test-s3.sh

# The status page, its API and metrics, on a real job: in headless
# Chromium, and checked by promtool, when they are installed.
status: build apps
	scripts/test-status.sh

# Parquet output read back by DuckDB (npm's @duckdb/node-api, installed once
# into ~/.cache/gomr-duckdb), when npm can fetch it.
columnar: build apps
	scripts/test-columnar.sh

# A four-host cluster in network namespaces; as root with ip and unshare,
# else it says why it skips.
netns: build apps
	scripts/netns-cluster.sh

# scripts/slurm-job.sh on a three-node Slurm cluster in network namespaces;
# as root with Debian's slurm-wlm and munge, else it says why it skips.
slurm: build apps
	scripts/test-slurm.sh

# The Kubernetes manifests in deploy/k8s, checked offline by kubectl;
# without kubectl it says why it skips.
k8s:
	scripts/test-k8s.sh

test: vet unit harness s3 status columnar netns slurm k8s chaos-quick

demo: build apps
	@rm -rf bin/demo && mkdir -p bin/demo
	bin/mr run --out bin/demo bin/apps/wc.so testdata/*.txt
	@echo "Top 10 words:"
	@sort -k2,2nr -k1,1 bin/demo/mr-out-* | head -10

# The engine against baselines; SIZE=64MiB make bench for a quick run.
bench:
	scripts/bench.sh

# Word count over 512 MiB read from a local S3 store (versitygw) against
# the same files on disk, interleaved; SIZE=64MiB for a quick run.
bench-s3: build apps
	scripts/bench-s3.sh

# Word count and the indexer under random faults (killed, stopped and
# throttled workers, a killed master, flipped bytes, a full disk), each
# round checked against mr seq. ROUNDS=50 make chaos for a long run;
# make test runs 3 rounds.
ROUNDS ?= 10
chaos: build apps
	scripts/chaos.sh --rounds $(ROUNDS)

chaos-quick: build apps
	scripts/chaos.sh --rounds 3

# Word count with one worker throttled to a tenth of a CPU, with and
# without backup tasks, against a clean run; as root (it needs a cgroup).
straggler: build apps
	scripts/straggler.sh

# The master at the paper's scale: a real master over loopback with
# simulated workers, 200,000 map and 5,000 reduce tasks on 2,000 workers,
# then 1,000,000 and 10,000 on 500 (master/sim_test.go). SIM=... picks
# shapes by name, such as SIM=M=200000.
SIM ?= .
sim:
	$(GO) test -run '^$$' -bench 'Simulate/$(SIM)' -benchtime 1x -timeout 60m ./master

clean:
	rm -rf bin
