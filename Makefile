# uma-preload — build, test, install. `make demo` and `make test` install the
# Debian packages they need first (tools/install-deps; as root it runs apt-get).

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
# The system-wide policy file: /etc for PREFIX=/usr, PREFIX/etc otherwise.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
MANDIR  ?= $(PREFIX)/share/man
# Where the preload goes: a module for LD_PRELOAD, not a library to link
# against, so a distribution puts it in a directory of its own
# (debian/rules: /usr/lib/TRIPLET/uma-preload).
PRELOADDIR ?= $(LIBDIR)
VERSION := $(shell cat VERSION)
# Man pages carry a date: the packager's SOURCE_DATE_EPOCH, else the last
# commit's, so two builds of one tree give the same pages.
MAN_DATE := $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)} +%Y-%m-%d)
PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

BUILD   := build
# What is compiled into objects from the command line (where the system
# policy file lives, the version) is written to a stamp that changes only
# when they do; what uses them depends on it, so `make install PREFIX=/usr`
# after a build for /usr/local rebuilds them instead of installing a library
# that reads /usr/local/etc.
PATHS_STAMP := $(BUILD)/paths.stamp
# (not the man pages' date: it moves with every commit, and would rebuild
# the policy loader and the tools each time; a package build starts clean)
PATHS_TEXT := SYSCONFDIR=$(SYSCONFDIR) VERSION=$(VERSION) LIBDIR=$(LIBDIR) PRELOADDIR=$(PRELOADDIR)
$(shell mkdir -p $(BUILD) && echo '$(PATHS_TEXT)' | cmp -s - $(PATHS_STAMP) || echo '$(PATHS_TEXT)' > $(PATHS_STAMP))
# -fno-builtin: the compiler must not turn our memset+malloc into a call to
# calloc (which is us) or assume malloc's semantics inside malloc itself.
# -ffunction-sections/-fdata-sections with --gc-sections: the preload drops
# what only the tools use (uma-conf's explain, the keys' help text); its
# pages are resident in every process it is loaded into.
UMA_CFLAGS := -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fPIC -fvisibility=hidden \
              -ffunction-sections -fdata-sections -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
              -fno-builtin-calloc -fno-builtin-realloc -fno-semantic-interposition \
              -Iinclude -pthread -DUMA_SYSCONFDIR='"$(SYSCONFDIR)"' -DUMA_VERSION='"$(VERSION)"' $(CPPFLAGS) $(CFLAGS)

CORE_SRC      := $(wildcard core/*.c cuda/*.c policy/*.c)
INTERPOSE_SRC := $(wildcard interpose/*.c)
CORE_OBJ      := $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/policy/embedded_conf.o
INTERPOSE_OBJ := $(INTERPOSE_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC      := $(wildcard tests/unit/*.c tests/unit/*.h)
PRELOAD_PROGS := $(patsubst tests/preload/%.c,$(BUILD)/tests/%,$(wildcard tests/preload/*.c)) \
                 $(patsubst tests/preload/%.cc,$(BUILD)/tests/%,$(wildcard tests/preload/*.cc))
BENCH_WORKLOADS := larson xmalloc mstress cache_scratch alloc_test glibc_simple malloc_large realloc_grow frag frag_medium latency loop cow_copy layers kv_server \
                   nbody large_churn interp
BENCH_PROGS   := $(BENCH_WORKLOADS:%=$(BUILD)/bench/%) $(BUILD)/bench/conf_startup

.PHONY: test-gpu bench-gpu test-numa man deb uninstall test-install depgraph
.PHONY: test-alloc-fuzz fuzz-alloc
.PHONY: all demo test test-unit test-preload test-fuzz fuzz test-python-full deps-build deps-test deps-bench deps-deb install bench bench-full bench-quick bench-loop bench-cow clean

all: $(BUILD)/libumapreload.so $(BUILD)/libumacore.a $(BUILD)/uma-conf $(BUILD)/uma-report $(BUILD)/uma-top man $(BUILD)/uma-preload.pc

# -MMD -MP: each object lists the headers it read (build/**/*.d), so a
# header's change rebuilds exactly the objects that include it.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(UMA_CFLAGS) $(UMA_OPT) $(UMA_SAN) -MMD -MP -c $< -o $@
-include $(CORE_OBJ:.o=.d) $(INTERPOSE_OBJ:.o=.d)

# Code that runs once per process (reading the policy, writing the reports)
# is compiled for size: every page of the preload is resident in every
# process. --sort-section=alignment (the link below) packs the small variables of
# .bss together instead of between the large tables, so fewer of its pages
# are touched.
COLD_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard policy/*.c) core/report.c core/report_json.c \
              core/json.c core/fmt.c core/frag.c core/numa.c core/numa_report.c core/numa_topology.c)
$(COLD_OBJ): UMA_OPT := -Os

# The built-in defaults are the shipped file itself.
$(BUILD)/policy/embedded_conf.c: uma-preload.conf tools/embed-conf
	@mkdir -p $(dir $@)
	tools/embed-conf $< > $@
$(BUILD)/policy/embedded_conf.o: $(BUILD)/policy/embedded_conf.c
	$(CC) $(UMA_CFLAGS) -c $< -o $@

$(BUILD)/policy/load.o: $(PATHS_STAMP)

$(BUILD)/uma-conf: tools/uma-conf.c tools/conf_manpage.c tools/conf_manpage.h $(BUILD)/libumacore.a $(PATHS_STAMP)
	$(CC) $(UMA_CFLAGS) -DUMA_MAN_DATE='"$(MAN_DATE)"' tools/uma-conf.c tools/conf_manpage.c $(BUILD)/libumacore.a $(LDFLAGS) -ldl -o $@

# ---- man pages: uma-preload.conf(5) from the key table, the others from man/
MAN_PAGES := $(BUILD)/man/uma-preload.7 $(BUILD)/man/uma-preload.conf.5 $(BUILD)/man/uma-run.1 \
             $(BUILD)/man/uma-conf.1 $(BUILD)/man/uma-report.1 $(BUILD)/man/uma-top.1
man: $(MAN_PAGES)
$(BUILD)/man/uma-preload.conf.5: $(BUILD)/uma-conf
	@mkdir -p $(dir $@)
	$(BUILD)/uma-conf man > $@
$(BUILD)/man/%: man/%.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@DATE@|$(MAN_DATE)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@PRELOADDIR@|$(PRELOADDIR)|g' $< > $@

# pkg-config for the static core and its header (uma.h).
$(BUILD)/uma-preload.pc: tools/uma-preload.pc.in $(PATHS_STAMP)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# Reads the JSON reports (jansson: Debian's libjansson-dev).
$(BUILD)/uma-report: tools/uma-report.c tools/report_sites.c tools/report_advice.c tools/uma-report.h core/plan.h $(BUILD)/libumacore.a $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Iinclude -DUMA_VERSION='"$(VERSION)"' tools/uma-report.c tools/report_sites.c tools/report_advice.c \
	  $(BUILD)/libumacore.a $(LDFLAGS) -ljansson -lm -pthread -ldl -o $@

# The live view: reads the pages processes publish (core/live_page.h).
$(BUILD)/uma-top: tools/uma-top.c core/live_page.h $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -DUMA_VERSION='"$(VERSION)"' tools/uma-top.c -o $@

$(BUILD)/libumacore.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libumapreload.so: $(CORE_OBJ) $(INTERPOSE_OBJ)
	$(CC) -shared -pthread -Wl,-z,now -Wl,--no-undefined -Wl,--gc-sections \
	  -Wl,--sort-section=alignment $(LDFLAGS) -o $@ $^

# ---- the main job: a real Python workload under the preload --------------
demo: deps-build
	@echo "== building libumapreload.so and the tools into $(BUILD)/ (log: $(BUILD)/demo-build.log)"
	@$(MAKE) --no-print-directory all > $(BUILD)/demo-build.log 2>&1 || { tail -30 $(BUILD)/demo-build.log; exit 1; }
	@echo "== running a Python workload (dicts, lists, strings, growing buffers, threads) with"
	@echo "   PYTHONMALLOC=malloc UMA_REPORT=stderr LD_PRELOAD=$(BUILD)/libumapreload.so $(PYTHON) tests/preload/workload.py"
	@echo "   its own output comes first; the summary after it is uma-preload's (README: First five minutes)"
	@PYTHONMALLOC=malloc UMA_REPORT=stderr LD_PRELOAD=$(CURDIR)/$(BUILD)/libumapreload.so \
	  $(PYTHON) tests/preload/workload.py

# ---- tests ---------------------------------------------------------------
test: deps-test
	@$(MAKE) --no-print-directory all test-unit test-sanitizers test-fuzz test-alloc-fuzz test-fault test-preload test-numa test-install

$(BUILD)/tests/unit: $(UNIT_SRC) $(BUILD)/libumacore.a
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Iinclude -Icore -Icuda -pthread $(SAN) $(filter %.c,$(UNIT_SRC)) $(BUILD)/libumacore.a -lcriterion -o $@

# Death tests (a double free, a foreign pointer, a write after free) make
# the core abort with its diagnosis, as it must; those lines are labelled
# so that a passing run does not look like a failing one.
test-unit: $(BUILD)/tests/unit
	@echo "$(BUILD)/tests/unit --jobs 2"
	@{ $(BUILD)/tests/unit --jobs 2 2>&1; echo $$? > $(BUILD)/unit.rc; } | \
	  sed 's/^uma-preload: .*aborting.*/  (expected, from a death test) &/'; exit $$(cat $(BUILD)/unit.rc)

$(BUILD)/tests/%: tests/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -pthread $< -o $@ -ldl

$(BUILD)/tests/%: tests/preload/%.cc
	@mkdir -p $(dir $@)
	g++ -std=c++17 -O1 -g -Wall -pthread $< -o $@

$(BUILD)/tests/lib%.so: tests/preload/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -shared -fPIC $< -o $@

# The fake GPU (tests/fakegpu): a libcudart.so.13 of host memory with
# CUDA's rules where the preload depends on them, and programs linked to it.
FAKEGPU_PROGS := $(patsubst tests/fakegpu/%.c,$(BUILD)/fakegpu/%,$(filter-out tests/fakegpu/fake_cuda.c,$(wildcard tests/fakegpu/*.c)))
$(BUILD)/fakegpu/libcudart.so.13: tests/fakegpu/fake_cuda.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -shared -fPIC -fvisibility=hidden -Wl,-soname,libcudart.so.13 $< -o $@

$(BUILD)/fakegpu/libcuda.so.1: tests/fakegpu/fake_cuda.c   # the same, as the driver (routes.c dlopens it)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -shared -fPIC -fvisibility=hidden -Wl,-soname,libcuda.so.1 $< -o $@

$(BUILD)/fakegpu/%: tests/fakegpu/%.c tests/fakegpu/cuda_fake.h $(BUILD)/fakegpu/libcudart.so.13 $(BUILD)/fakegpu/libcuda.so.1
	$(CC) -std=gnu11 -O1 -g -Wall $< -o $@ -L$(BUILD)/fakegpu -l:libcudart.so.13 -Wl,-rpath,'$$ORIGIN' -ldl

test-preload: $(BUILD)/libumapreload.so $(PRELOAD_PROGS) $(FAKEGPU_PROGS) $(BUILD)/tests/libdeepbind_lib.so $(BUILD)/bench/kv_server
	PYTHON=$(PYTHON) tests/preload/run-all $(CURDIR)/$(BUILD)

# NUMA placement, page by page, in QEMU guests with emulated nodes (about
# 30 s; the first run also downloads two Debian kernels, about 180 MB).
$(BUILD)/tests/numa_check: tests/numa/numa_check.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -pthread $< -o $@ -lnuma

test-numa: $(BUILD)/libumapreload.so $(BUILD)/tests/numa_check
	tests/numa/run $(CURDIR)/$(BUILD)

# Installing as users do: make install/uninstall, pkg-config, the man pages,
# and the Debian packages in a fresh Debian 12 root (about 3 minutes; the
# root's base is made once under build/).
test-install: all
	tests/install/run $(CURDIR)/$(BUILD)

# The core and its unit tests built again with checks (each in its own
# directory under build/): `debug` turns on the written invariants
# (UMA_ASSERT, -DUMA_DEBUG), `asan` and `ubsan` add AddressSanitizer and
# UndefinedBehaviorSanitizer to that, `tsan` ThreadSanitizer (the threaded
# tests are what it is for). `make test` runs all four.
SANITIZERS := debug asan ubsan tsan
SAN_debug := -DUMA_DEBUG
SAN_asan  := -DUMA_DEBUG -fsanitize=address -fno-omit-frame-pointer
SAN_ubsan := -DUMA_DEBUG -fsanitize=undefined -fno-sanitize-recover=all
SAN_tsan  := -fsanitize=thread -Wno-tsan   # atomic_thread_fence: TSan does not model fences (frag.c pairs one with seq_cst operations)
.PHONY: $(SANITIZERS) test-sanitizers
$(SANITIZERS):
	@echo "== $@: building the core and its tests into $(BUILD)/$@"; $(MAKE) -s --no-print-directory BUILD=$(BUILD)/$@ CFLAGS="-O1 -g" UMA_SAN="$(SAN_$@)" SAN="$(SAN_$@)" \
	  $(BUILD)/$@/tests/unit $(BUILD)/$@/tests/alloc_fuzz_core \
	  $(if $(filter debug,$@),$(BUILD)/$@/libumapreload.so $(BUILD)/$@/tests/alloc_fuzz)
	tests/unit/run-checked $@ $(BUILD)/$@

# The shadow-model fuzzer against the core in-process (for the checked builds).
$(BUILD)/tests/alloc_fuzz_core: tests/fuzz/alloc_fuzz.c $(BUILD)/libumacore.a
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -pthread -Iinclude -DUMA_CORE_DIRECT $(SAN) $< $(BUILD)/libumacore.a -o $@
test-sanitizers: $(SANITIZERS)

# libFuzzer on the policy parser (clang, with AddressSanitizer and UBSan):
# `make test` runs it for FUZZ_SECONDS, `make fuzz` for as long as you like.
FUZZ_SECONDS ?= 30
$(BUILD)/tests/conf_fuzz: tests/fuzz/conf_fuzz.c $(CORE_SRC) $(BUILD)/policy/embedded_conf.c $(wildcard core/*.h cuda/*.h policy/*.h)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude \
	  -DUMA_SYSCONFDIR='"$(SYSCONFDIR)"' -DUMA_VERSION='"$(VERSION)"' $< $(CORE_SRC) $(BUILD)/policy/embedded_conf.c -pthread -o $@

test-fuzz: $(BUILD)/tests/conf_fuzz
	@rm -rf $(BUILD)/fuzz-corpus && mkdir -p $(BUILD)/fuzz-corpus
	@cp tests/policy/*.conf uma-preload.conf $(BUILD)/fuzz-corpus/
	@echo "fuzzing the policy parser for $(FUZZ_SECONDS)s (log: $(BUILD)/fuzz.log)"
	@$(BUILD)/tests/conf_fuzz -max_total_time=$(FUZZ_SECONDS) -seed=1 -dict=tests/fuzz/conf.dict \
	  -print_final_stats=1 $(BUILD)/fuzz-corpus > $(BUILD)/fuzz.log 2>&1 \
	  || { tail -40 $(BUILD)/fuzz.log; echo "conf_fuzz: FAILED (the crashing input is in the log above)"; exit 1; }
	@grep -E 'stat::number_of_executed_units|stat::new_units_added' $(BUILD)/fuzz.log
	@echo "conf_fuzz: OK, no crash"

fuzz: FUZZ_SECONDS = 600
fuzz: test-fuzz

# The shadow-model fuzzer of the allocator itself, under the preload, once
# per setting that changes behaviour (tests/fuzz/alloc-fuzz lists them):
# `make test` runs a short pass, `make fuzz-alloc` a long one.
ALLOC_FUZZ_OPS ?= 3000
ALLOC_FUZZ_SEEDS ?= 1
$(BUILD)/tests/alloc_fuzz: tests/fuzz/alloc_fuzz.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -pthread $< -o $@ -ldl

test-alloc-fuzz: $(BUILD)/libumapreload.so $(BUILD)/tests/alloc_fuzz
	tests/fuzz/alloc-fuzz $(BUILD) $(ALLOC_FUZZ_OPS) $(ALLOC_FUZZ_SEEDS) 3

# Fault injection: the allocator built to fail every n-th mmap/madvise/mbind
# (-DUMA_FAULT_INJECT, in build/fault), and the normal one under RLIMIT_AS,
# both under the shadow-model fuzzer (tests/fuzz/fault-inject).
.PHONY: fault test-fault
fault:
	@echo "== fault: building the preload with fault injection into $(BUILD)/fault"; $(MAKE) -s --no-print-directory BUILD=$(BUILD)/fault CFLAGS="-O1 -g" UMA_SAN=-DUMA_FAULT_INJECT $(BUILD)/fault/libumapreload.so
test-fault: fault $(BUILD)/libumapreload.so $(BUILD)/tests/alloc_fuzz
	tests/fuzz/fault-inject $(BUILD)/fault $(BUILD)

fuzz-alloc: ALLOC_FUZZ_OPS = 40000
fuzz-alloc: ALLOC_FUZZ_SEEDS = 5
fuzz-alloc: test-alloc-fuzz

# A longer campaign than make test (about 14 minutes here): CPython's whole
# regression suite with every object through uma-preload. Excluded: the tests
# that fail or hang on these machines without the preload too (checked
# 2026-11-28: a VSOCK socket test that waits forever, ensurepip without wheels,
# C++ extension builds without setuptools, IDLE, two environment-dependent
# command-line/compileall checks).
PY_FULL_EXCLUDE := test_socket test_cmd_line test_compileall test_cppext test_ensurepip test_idle
test-python-full: deps-test all
	cd /tmp && PYTHONMALLOC=malloc LD_PRELOAD=$(CURDIR)/$(BUILD)/libumapreload.so \
	  $(PYTHON) -m test -j2 -u-network,-largefile,-audio,-gui --timeout 300 -x $(PY_FULL_EXCLUDE)

# GPU tests and benchmarks (need an NVIDIA GPU, nvcc, PyTorch/CuPy: they say
# SKIP where none is); not part of make test, which runs where no GPU is.
test-gpu: $(BUILD)/libumapreload.so
	tests/gpu/run-all $(BUILD)
bench-gpu: $(BUILD)/libumapreload.so
	tests/gpu/bench-gpu $(BUILD)

deps-build:
	@tools/install-deps build
deps-test:
	@tools/install-deps test
deps-bench:
	@tools/install-deps bench
deps-deb:
	@tools/install-deps deb

# ---- benchmarks (not part of make test) -----------------------------------
$(BUILD)/bench/%: tools/bench/%.c tools/bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -pthread $< -o $@ -lm

$(BUILD)/bench/conf_startup: tools/bench/conf_startup.c $(BUILD)/libumacore.a
	@mkdir -p $(dir $@)
	$(CC) $(UMA_CFLAGS) $< $(BUILD)/libumacore.a -o $@

# The suite: every workload under glibc, uma-preload, jemalloc, mimalloc and
# tcmalloc, interleaved; tables into docs/BENCH.md, the chart beside it.
BENCH_ARGS ?=
bench: deps-bench all $(BENCH_PROGS)
	tools/bench/suite.py --build $(BUILD) --rounds 3 --markdown docs/BENCH.md --svg docs/bench-ratios.svg $(BENCH_ARGS)
	tools/bench/server.py --build $(BUILD) --rounds 2 --wait-ms 3000
	$(BUILD)/bench/conf_startup 100

# A key-value server's fill, delete 3 of 4 keys, idle wait (12 s, past
# jemalloc's 10 s decay), for RSS against the live bytes: about 15 minutes.
bench-server: deps-bench all $(BUILD)/bench/kv_server
	tools/bench/server.py --build $(BUILD) --rounds 3 --markdown docs/BENCH.md $(BENCH_ARGS)

# The bigger run: the suite with 5 rounds, then the server workloads with
# the 12 s wait (about 30 minutes).
bench-full: deps-bench all $(BENCH_PROGS)
	tools/bench/suite.py --build $(BUILD) --rounds 5 --markdown docs/BENCH.md --svg docs/bench-ratios.svg $(BENCH_ARGS)
	tools/bench/server.py --build $(BUILD) --rounds 3 --markdown docs/BENCH.md $(BENCH_ARGS)

bench-quick: deps-bench all $(BENCH_PROGS)
	tools/bench/suite.py --build $(BUILD) --quick $(BENCH_ARGS)

# The import graph of the source: edges, those pointing back up the layers,
# cycles (docs/ARCHITECTURE.md, "Layers").
depgraph: all
	tools/depgraph --build $(BUILD)

bench-cow: all $(BUILD)/bench/cow_copy
	tools/bench/cow-bench $(BUILD) 3 64 256

bench-loop: deps-bench all $(BUILD)/bench/loop
	tools/bench/run $(CURDIR)/$(BUILD)

# ---- install, the way a distribution package lays it out ------------------
# An edited system policy is never overwritten: the shipped one goes beside it.
# The files `install` writes, relative to DESTDIR; `uninstall` removes them.
INSTALLED := $(PRELOADDIR)/libumapreload.so $(LIBDIR)/libumacore.a $(LIBDIR)/pkgconfig/uma-preload.pc \
             $(PREFIX)/include/uma.h $(PREFIX)/bin/uma-run $(PREFIX)/bin/uma-conf $(PREFIX)/bin/uma-report $(PREFIX)/bin/uma-top \
             $(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) $(SYSCONFDIR)/uma-preload.conf \
             $(addprefix $(PREFIX)/share/doc/uma-preload/,README.md ARCHITECTURE.md BENCH.md REPORT-FORMAT.md)
install: all
	install -d $(DESTDIR)$(PRELOADDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	           $(DESTDIR)$(PREFIX)/share/doc/uma-preload $(DESTDIR)$(SYSCONFDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(BUILD)/libumapreload.so $(DESTDIR)$(PRELOADDIR)/libumapreload.so
	install -m 0644 $(BUILD)/libumacore.a $(DESTDIR)$(LIBDIR)/libumacore.a
	install -m 0644 $(BUILD)/uma-preload.pc $(DESTDIR)$(LIBDIR)/pkgconfig/uma-preload.pc
	install -m 0644 include/uma.h $(DESTDIR)$(PREFIX)/include/uma.h
	sed -e 's|@PRELOADDIR@|$(PRELOADDIR)|g' -e 's|@VERSION@|$(VERSION)|g' tools/uma-run > $(DESTDIR)$(PREFIX)/bin/uma-run
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/uma-run
	install -m 0755 $(BUILD)/uma-conf $(DESTDIR)$(PREFIX)/bin/uma-conf
	install -m 0755 $(BUILD)/uma-report $(DESTDIR)$(PREFIX)/bin/uma-report
	install -m 0755 $(BUILD)/uma-top $(DESTDIR)$(PREFIX)/bin/uma-top
	for m in $(MAN_PAGES); do n=$${m##*/}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${n##*.}/$$n; done
	@if [ -f $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf ] && ! cmp -s uma-preload.conf $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf; then \
	  install -m 0644 uma-preload.conf $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf.new; \
	  echo "uma-preload: kept your $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf; the shipped one is beside it as uma-preload.conf.new"; \
	else install -m 0644 uma-preload.conf $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf; fi
	install -m 0644 README.md docs/ARCHITECTURE.md docs/BENCH.md docs/REPORT-FORMAT.md $(DESTDIR)$(PREFIX)/share/doc/uma-preload/

# Removes what install wrote (and the directories it made, where empty).
# A system policy file that differs from the shipped one is the admin's:
# it is kept, and said so.
uninstall:
	@if [ -f $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf ] && ! cmp -s uma-preload.conf $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf; then \
	  echo "uma-preload: kept $(DESTDIR)$(SYSCONFDIR)/uma-preload.conf (changed since install; remove it by hand if unwanted)"; \
	  rm -f $(addprefix $(DESTDIR),$(filter-out $(SYSCONFDIR)/uma-preload.conf,$(INSTALLED))); \
	else rm -f $(INSTALLED:%=$(DESTDIR)%); fi
	-rmdir $(DESTDIR)$(PREFIX)/share/doc/uma-preload $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PRELOADDIR) 2>/dev/null

# The Debian packages (debian/): libumapreload, libumapreload-dev and
# uma-preload-tools, built unsigned into build/deb/ and checked by lintian.
deb: deps-deb
	tools/build-deb $(BUILD)/deb

clean:
	rm -rf $(BUILD)
