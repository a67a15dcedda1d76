# SPDX-License-Identifier: MIT
# vmdb - build, test, benchmark and install.
#
#   make            libvmdb.a and libvmdb.so in build/
#   make demo       the demo: a small database made from a CSV, queried with
#                   the vmdb command (installs what it needs); demo-api runs
#                   the C example of the map and buffer layers
#   make test       the layering, header and generated docs' checks
#                   (check-layers, check-headers, check-docs), the Criterion suite, the mutants it must catch
#                   (test-mutants), the suite again under ASan+UBSan, then
#                   the install check and the README's examples (installs
#                   what it needs)
#   make bench      benchmarks (figures in docs/benchmarks.md); bench-map,
#                   bench-ring, bench-engine, bench-import, bench-query and
#                   bench-recovery, bench-group run one each; bench-oneshot times one put
#                   and one get on 100 and 10M records
#   make stress     the crash harness with 5000 kill cycles
#   make valgrind   the suite under valgrind's leak checker
#   make fuzz       each libFuzzer harness of fuzz/ for FUZZ_TIME seconds
#                   (clang, ASan+UBSan; not part of make test: docs/fuzzing.md)
#   make tsan       the suites that run threads, under ThreadSanitizer
#   make install PREFIX=/usr/local   (make uninstall PREFIX=... removes it)

VERSION      := 0.1.0
SOVERSION    := 0
PREFIX       ?= /usr/local
ifeq ($(origin CC),default)
CC           := gcc
endif
BUILD        := build

# Warnings are errors in make test and CI; `make WERROR=` builds anyway.
WERROR       ?= -Werror
WARN         := -Wall -Wextra $(WERROR)
BASE_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude -pthread -MMD -MP
CFLAGS       ?= -O2 -g
LIB_CFLAGS   := $(BASE_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden
# libm for the query layer's float arithmetic.
LDLIBS       := -lxxhash -lm -pthread
# The command's own: none. (The shell loads libedit for line editing with
# dlopen, only at a terminal.)
CLI_LDLIBS   :=

# The engine's layers, bottom-up, one folder each (docs/architecture.md).
# A layer is compiled with the include paths of its own folder and of the
# folders below it only, so that an upward include does not build; `make
# check-layers` also rejects upward includes of public headers and calls
# that go up a layer or round a cycle of files.
LAYERS       := base mem store db query
INC_base     := -Iengine/base
INC_mem      := $(INC_base) -Iengine/mem
INC_store    := $(INC_mem) -Iengine/store
INC_db       := $(INC_store) -Iengine/db
INC_query    := $(INC_db) -Iengine/query
# The include paths of the layer of engine/LAYER/NAME (a stem LAYER/NAME).
layer_inc     = $(INC_$(firstword $(subst /, ,$(1))))
# Tests, fuzzers and benchmarks see every layer, and the command's files.
ALL_INC      := $(INC_query) -Icli

ENGINE_SRC   := $(foreach l,$(LAYERS),$(wildcard engine/$(l)/*.c))
CLI_SRC      := $(wildcard cli/*.c)
# Everything of the command but main(): the unit tests link it too.
CLI_LIB_SRC  := $(filter-out cli/main.c,$(CLI_SRC))
TEST_SRC     := $(wildcard tests/test_*.c)
# The command's own unit tests link its objects, in a binary of their own
# (cli_tests); every other suite tests the library (vmdb_tests), and the
# command only as a program it runs.
CLI_TEST_SRC := tests/test_cli_base.c tests/test_cli_readers.c tests/test_cli_after_cut.c \
                tests/test_cli_schema_guess.c
LIB_TEST_SRC := $(filter-out $(CLI_TEST_SRC),$(TEST_SRC))
# Linked by every test build and by no other: the fault injector and the
# power-loss simulator, which wrap the os seam's system calls
# (engine/base/os_syscalls.h) when the test binary starts.
TEST_OS_SRC  := tests/os_fault.c tests/os_powerloss.c
CLI          := $(BUILD)/vmdb

LIB_OBJ      := $(ENGINE_SRC:engine/%.c=$(BUILD)/engine/%.o)
CLI_OBJ      := $(CLI_SRC:cli/%.c=$(BUILD)/cli/%.o)
STATIC_LIB   := $(BUILD)/libvmdb.a
SHARED_LIB   := $(BUILD)/libvmdb.so.$(VERSION)

# Debian packages the build, the tests and the benchmarks need.
DEPS         := gcc g++ make pkg-config libxxhash-dev libcriterion-dev valgrind $(PEER_DEPS)
# The peers the benchmark (bench/peers) measures vmdb against.
PEER_DEPS    := liblmdb-dev libsqlite3-dev librocksdb-dev libtkrzw-dev
PEER_LIBS    := -llmdb -lsqlite3 -lrocksdb -ltkrzw
# The library's test binary links SQLite too, to compare the SQL with
# (tests/test_sqlite_diff.c; libsqlite3-dev is among PEER_DEPS).
TEST_LDLIBS  := -lsqlite3

.PHONY: all check-layers check-headers check-spdx check-docs deps fuzz-deps fuzz fuzz-build fuzz-regress fuzz-seeds test test-plain test-mutants test-asan test-install test-readme test-peers bench-peers demo demo-api bench bench-map bench-ring bench-engine bench-import bench-query bench-recovery bench-oneshot bench-group stress valgrind tsan install uninstall clean

all: $(STATIC_LIB) $(SHARED_LIB) $(CLI)

# Installs only what is missing, so a machine that has everything pays a
# dpkg query per package and nothing else.
# Without dpkg and apt (not Debian or Ubuntu) it installs nothing: it
# says what the build needs and goes on, so that a system with those
# installed its own way builds, and one without fails at the first compile.
deps:
	@if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make deps: no dpkg/apt here; install these (Debian names) your system's way:$(DEPS)"; \
	    exit 0; \
	fi; \
	missing=""; \
	for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing$$missing"; \
	    sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(call layer_inc,$*) -c $< -o $@

$(STATIC_LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libvmdb.so.$(SOVERSION) -o $@ $^ $(LDLIBS)
	ln -sf libvmdb.so.$(VERSION) $(BUILD)/libvmdb.so.$(SOVERSION)
	ln -sf libvmdb.so.$(SOVERSION) $(BUILD)/libvmdb.so

# The command uses the public API only.
CLI_INC      := -Icli
$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(CFLAGS) $(CLI_INC) -c $< -o $@

$(CLI): $(CLI_OBJ) $(STATIC_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(STATIC_LIB) $(CLI_LDLIBS) $(LDLIBS)

# The tests link the engine's objects directly, compiled with the db
# layer's test hooks (VMDB_TEST_HOOKS: callbacks in engine/db/db.h where a
# test kills a process or commits "meanwhile"), and TEST_OS_SRC, so that
# every failure path can be provoked.
# test_build,FLAVOUR,FLAGS[,more tests/ sources that only this flavour links]
define test_build
$(BUILD)/$(1)/engine/%.o: engine/%.c
	@mkdir -p $$(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(2) -DVMDB_TEST_HOOKS $$(call layer_inc,$$*) -c $$< -o $$@

$(BUILD)/$(1)/cli/%.o: cli/%.c
	@mkdir -p $$(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(2) $(CLI_INC) -c $$< -o $$@

$(BUILD)/$(1)/tests/%.o: tests/%.c
	@mkdir -p $$(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(2) -DVMDB_TEST_HOOKS $(ALL_INC) -c $$< -o $$@

$(BUILD)/$(1)/vmdb_tests: $(ENGINE_SRC:engine/%.c=$(BUILD)/$(1)/engine/%.o) $(LIB_TEST_SRC:tests/%.c=$(BUILD)/$(1)/tests/%.o) $(TEST_OS_SRC:tests/%.c=$(BUILD)/$(1)/tests/%.o) $(patsubst tests/%.c,$(BUILD)/$(1)/tests/%.o,$(3))
	$(CC) $(2) -o $$@ $$^ -lcriterion $(TEST_LDLIBS) $(CLI_LDLIBS) $(LDLIBS)

$(BUILD)/$(1)/cli_tests: $(ENGINE_SRC:engine/%.c=$(BUILD)/$(1)/engine/%.o) $(CLI_LIB_SRC:cli/%.c=$(BUILD)/$(1)/cli/%.o) $(CLI_TEST_SRC:tests/%.c=$(BUILD)/$(1)/tests/%.o) $(TEST_OS_SRC:tests/%.c=$(BUILD)/$(1)/tests/%.o)
	$(CC) $(2) -o $$@ $$^ -lcriterion $(CLI_LDLIBS) $(LDLIBS)
endef

PLAIN_FLAGS := -O2 -g
ASAN_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
$(eval $(call test_build,plain,$(PLAIN_FLAGS)))
$(eval $(call test_build,asan,$(ASAN_FLAGS)))
# valgrind's own: the plain build with the Criterion timeouts scaled to its pace.
$(eval $(call test_build,vg,$(PLAIN_FLAGS) -DVMDB_TEST_TIMEOUT_SCALE=50))
# ThreadSanitizer's (gcc): its pace is about ten times slower.
TSAN_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=thread -Wno-tsan -DVMDB_TEST_TIMEOUT_SCALE=10
$(eval $(call test_build,tsan,$(TSAN_FLAGS),tests/tsan_arena.c))

# Every configuration is built once, all of them side by side on every
# core (JOBS), then the suites run: Criterion spreads each over the cores
# itself, and the mutants run two at a time.
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
MUTANT_BINS   = $(MUTANT_NAMES:%=$(BUILD)/mutant-%/vmdb_tests)

test: deps
	$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/plain/vmdb_tests $(BUILD)/plain/cli_tests \
	    $(BUILD)/asan/vmdb_tests $(BUILD)/asan/cli_tests $(MUTANT_BINS) $(BUILD)/bench/peers
	$(MAKE) --no-print-directory check-layers check-headers check-docs check-spdx
	$(MAKE) --no-print-directory test-plain
	$(MAKE) --no-print-directory -j2 test-mutants
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-install
	$(MAKE) --no-print-directory test-readme
	$(MAKE) --no-print-directory test-peers

# Upward includes and calls, and cycles of calls between the engine's
# files (tools/check_layers.sh), judged on the objects of `make all`.
check-layers: all
	sh tools/check_layers.sh $(BUILD)

# Each public header alone, as C99 -pedantic and as C++ (tools/check_headers.sh).
check-headers:
	sh tools/check_headers.sh

# An SPDX licence line in every source file (tools/check_spdx.sh).
check-spdx:
	sh tools/check_spdx.sh

# ---- generated docs ------------------------------------------------------
# docs/errors.md is printed by docs/errors.awk from VMDB_ERROR_MAP and the
# public headers' comments; the committed page must be what it prints, so
# a code or a documented return added to a header without the page fails
# make test (check-docs) until `make docs/errors.md` is run and committed.
PUBLIC_HEADERS := $(sort $(wildcard include/vmdb/*.h))

# Phony: a page edited by hand is newer than its sources, and must still
# be printed again.
.PHONY: docs/errors.md
docs/errors.md: docs/errors.awk $(PUBLIC_HEADERS)
	awk -f docs/errors.awk $(PUBLIC_HEADERS) > $@.tmp && mv $@.tmp $@

check-docs:
	@awk -f docs/errors.awk $(PUBLIC_HEADERS) | cmp -s - docs/errors.md || \
	    { echo "docs/errors.md differs from what docs/errors.awk prints: run make docs/errors.md"; exit 1; }
	@echo "docs/errors.md is up to date"

test-plain: $(BUILD)/plain/vmdb_tests $(BUILD)/plain/cli_tests $(CLI)
	@echo "== Criterion suite"
	$(BUILD)/plain/vmdb_tests
	$(BUILD)/plain/cli_tests

# Mutants: each entry NAME:filter:env builds the test binary with
# -DVMDB_MUTANT_NAME, which puts a known bug back (the #ifdefs in engine/),
# and runs the tests of `filter` with the variables of `env` (commas for
# spaces: small budgets). The tests must fail: a mutant that passes them
# survived, and so fails the make. Only the engine files that name the
# mutant are compiled again; the rest is the plain build's.
MUTANTS := \
    ACK_BEFORE_COMMIT:powercut/one_writer*:VMDB_POWERCUT_DURABILITY=sync,VMDB_POWERLOSS_CYCLES=60 \
    NO_LOG_FLUSH:powercut/one_writer*:VMDB_POWERCUT_DURABILITY=sync,VMDB_POWERLOSS_CYCLES=60 \
    CHECKPOINT_WITHOUT_TABLE_FLUSH:powercut/one_writer*:VMDB_POWERCUT_DURABILITY=sync,VMDB_POWERLOSS_CYCLES=60 \
    GROWTH_WITHOUT_LENGTH_FLUSH:powerloss/table_grown*: \
    NO_DIR_FSYNC:powerloss_dirsync/*: \
    OWN_RANGE_FLUSH:durability/a_sync_commit_after_none*: \
    HANDLE_SYNC_SEQ:ring/sync_numbers_its_copy*: \
    NONE_APPLIED_AT_ONCE:powercut/one_writer*:VMDB_POWERCUT_DURABILITY=none,VMDB_POWERLOSS_CYCLES=60 \
    READ_UNVALIDATED:read/readers_in*: \
    READ_THROUGH_QUEUE:read/threads_of_one_handle*:VMDB_READ_SCANS=400000 \
    GET_MANY_TRUSTS_HINT:get_many/answers*: \
    SUMMARY_AFTER_CRASH:summary/*: \
    WAL_EPOCH_UNCHANGED:wal_grow/another*: \
    WAL_REPLACED_UNFLUSHED:wal_grow/a_power_cut*busy*: \
    SQL_SUBSTR_FROM_ZERO:sqlite_diff/*: \
    SEQ_WRAPS_TO_ZERO:upgrade/a_counter_that_wraps*: \
    SALT_FROM_LOCK_PAGE:summary/a_writer_after_a_checkpoint_cut_short*:
comma := ,
mutant_name = $(word 1,$(subst :, ,$(1)))
MUTANT_NAMES := $(foreach m,$(MUTANTS),$(call mutant_name,$(m)))

define mutant_build
MUTANT_SRC_$(1) := $$(shell grep -lw VMDB_MUTANT_$(1) $(ENGINE_SRC))
$(BUILD)/mutant-$(1)/engine/%.o: engine/%.c
	@mkdir -p $$(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) $(PLAIN_FLAGS) -DVMDB_TEST_HOOKS -DVMDB_MUTANT_$(1) $$(call layer_inc,$$*) -c $$< -o $$@

$(BUILD)/mutant-$(1)/vmdb_tests: $$(MUTANT_SRC_$(1):engine/%.c=$(BUILD)/mutant-$(1)/engine/%.o) \
        $$(filter-out $$(MUTANT_SRC_$(1):engine/%.c=$(BUILD)/plain/engine/%.o),$(ENGINE_SRC:engine/%.c=$(BUILD)/plain/engine/%.o)) \
        $(LIB_TEST_SRC:tests/%.c=$(BUILD)/plain/tests/%.o) \
        $(TEST_OS_SRC:tests/%.c=$(BUILD)/plain/tests/%.o)
	@test -n "$$(MUTANT_SRC_$(1))" || { echo "mutant $(1): no engine file names VMDB_MUTANT_$(1)"; exit 1; }
	$(CC) $(PLAIN_FLAGS) -o $$@ $$^ -lcriterion $(TEST_LDLIBS) $(CLI_LDLIBS) $(LDLIBS)
endef
$(foreach n,$(MUTANT_NAMES),$(eval $(call mutant_build,$(n))))

# One target per mutant, so that make -j runs several at once.
test-mutants: $(MUTANT_NAMES:%=mutant-run-%)
	@echo "== Mutants: all $(words $(MUTANT_NAMES)) caught"

mutant-run-%: $(BUILD)/mutant-%/vmdb_tests
	@m='$(filter $*:%,$(MUTANTS))'; \
	name=$*; rest=$${m#*:}; filter=$${rest%%:*}; vars=$$(echo "$${rest#*:}" | tr '$(comma)' ' '); \
	log=$(BUILD)/mutant-$$name/log; \
	if env $$vars $(BUILD)/mutant-$$name/vmdb_tests --filter "$$filter" >$$log 2>&1; then \
	    echo "mutant $$name SURVIVED $$filter ($$vars): $$log"; exit 1; \
	fi; \
	grep -q 'Tested: [1-9]' $$log || { echo "mutant $$name: no test matches $$filter: $$log"; exit 1; }; \
	echo "mutant $$name caught by $$filter: $$(grep -m1 -A2 'Assertion Failed' $$log | tail -1 | \
	    sed -e 's/^\[----\] *//' -e 's/.*db-after-last-cut: //' | cut -c1-300)"

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
	UBSAN_OPTIONS=print_stacktrace=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp

test-asan: $(BUILD)/asan/vmdb_tests $(BUILD)/asan/cli_tests $(CLI)
	@echo "== Criterion suite under AddressSanitizer + UndefinedBehaviorSanitizer"
	$(ASAN_ENV) $(BUILD)/asan/vmdb_tests
	$(ASAN_ENV) $(BUILD)/asan/cli_tests

test-install: all
	@echo "== make install + pkg-config"
	sh tests/install_test.sh

test-readme: all
	@echo "== README examples"
	sh tests/readme_test.sh

stress: deps $(BUILD)/plain/vmdb_tests
	VMDB_KILL_CYCLES=5000 $(BUILD)/plain/vmdb_tests --filter 'crash/*'

# Criterion runs each test in a forked worker, whose valgrind verdict does
# not reach the runner's exit status: judge every process's log instead.
# The crash harnesses run a few cycles only (a writer under valgrind needs
# about a second to commit), and the binary runs from a copy: Criterion's
# workers run the file again, and a rebuild meanwhile would mix two builds.
# --fair-sched: valgrind runs one thread at a time, and by default a thread
# that keeps running keeps the turn: a writer committing without a pause
# starved its own flusher thread for seconds.
VALGRIND_RUN := VMDB_KILL_CYCLES=3 VMDB_POWERLOSS_CYCLES=2 VMDB_BITFLIP_STEP=37 \
	VMDB_HAMMER_VERSIONS=500 VMDB_HOT_KEYS=1000 \
	valgrind --quiet --fair-sched=yes --leak-check=full --show-possibly-lost=no \
	    --errors-for-leak-kinds=definite,indirect --trace-children=yes \
	    --log-file=$(BUILD)/valgrind/%p.log

valgrind: deps $(BUILD)/vg/vmdb_tests $(BUILD)/vg/cli_tests $(CLI)
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	cp $(BUILD)/vg/vmdb_tests $(BUILD)/vg/cli_tests $(BUILD)/valgrind/
	$(VALGRIND_RUN) $(BUILD)/valgrind/vmdb_tests -j1
	$(VALGRIND_RUN) $(BUILD)/valgrind/cli_tests -j1
	@if grep -lE "lost in loss record|Invalid (read|write|free)|uninitialised|Syscall param|Mismatched free|overlap" $(BUILD)/valgrind/*.log; then \
	    echo "valgrind found errors (logs above)"; exit 1; \
	else echo "valgrind: no leaks, no memory errors"; fi

# ---- fuzzing ----------------------------------------------------------------
# One libFuzzer harness per file fuzz/fuzz_NAME.c, built with clang under
# ASan and UBSan. The engine is compiled with VMDB_FUZZ_NO_CHECKSUMS
# (engine/base/checksum.h), so that mutated files get past their checksums to
# the parsers behind them, and VMDB_FUZZ_SHORT_WAITS, so that a reader
# gives up on a slot left mid-write after a thousand spins, not a million:
# that build is for fuzzing only.
#
# `make fuzz` runs each harness for FUZZ_TIME seconds (FUZZ_ONLY picks
# some) from its seeds in fuzz/corpus/NAME, which it only reads: what it
# finds goes to build/fuzz/corpus/NAME, a crash's input to
# build/fuzz/artifacts/, and the make fails. fuzz-regress runs every
# harness once over its seeds and the inputs of past findings,
# fuzz/crashes/NAME-* (seconds). docs/fuzzing.md has the long runs.
FUZZ_CC      := clang
FUZZ_TIME    ?= 60
FUZZ_OPTS    ?=
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_ONLY    ?= $(FUZZ_NAMES)
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all -DVMDB_FUZZ_NO_CHECKSUMS -DVMDB_FUZZ_SHORT_WAITS
FUZZ_DEPS    := clang libclang-rt-dev
FUZZ_OBJ     := $(ENGINE_SRC:engine/%.c=$(BUILD)/fuzz/engine/%.o) \
                $(CLI_LIB_SRC:cli/%.c=$(BUILD)/fuzz/cli/%.o)

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEPS="$(FUZZ_DEPS)"

$(BUILD)/fuzz/engine/%.o: engine/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(BASE_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(call layer_inc,$*) -c $< -o $@

$(BUILD)/fuzz/cli/%.o: cli/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(BASE_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(CLI_INC) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(CPPFLAGS) $(BASE_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(ALL_INC) -o $@ $< $(FUZZ_OBJ) \
	    $(CLI_LDLIBS) $(LDLIBS)

# Shared by every harness: not intermediates for make to delete.
.SECONDARY: $(FUZZ_OBJ)

fuzz-build: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

# A harness's log is kept in build/fuzz/NAME.log; its last lines say how
# many inputs ran and how large the corpus grew.
fuzz: fuzz-deps fuzz-build
	@mkdir -p $(BUILD)/fuzz/artifacts
	@for n in $(FUZZ_ONLY); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	    dict=; [ -f fuzz/$$n.dict ] && dict=-dict=fuzz/$$n.dict; \
	    echo "== fuzz $$n: $(FUZZ_TIME) s"; \
	    if ! $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_TIME) -timeout=20 -rss_limit_mb=2560 \
	            -print_final_stats=1 $$dict -artifact_prefix=$(BUILD)/fuzz/artifacts/$$n- $(FUZZ_OPTS) \
	            $(BUILD)/fuzz/corpus/$$n fuzz/corpus/$$n >$(BUILD)/fuzz/$$n.log 2>&1; then \
	        tail -n 60 $(BUILD)/fuzz/$$n.log; echo "fuzz $$n failed: $(BUILD)/fuzz/$$n.log"; exit 1; \
	    fi; \
	    grep -E '^#[0-9]+[[:space:]]+DONE' $(BUILD)/fuzz/$$n.log | tail -n 1; \
	done

# The binary seeds (table, log, ring and slot-ring files) as the library
# writes them; committed, so this runs only when their format changes.
$(BUILD)/fuzz/make_seeds: fuzz/make_seeds.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O1 -g -o $@ $< $(STATIC_LIB) $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz/make_seeds
	mkdir -p fuzz/corpus/table fuzz/corpus/wal fuzz/corpus/ring fuzz/corpus/slotring fuzz/corpus/dir
	$(BUILD)/fuzz/make_seeds fuzz/corpus

# libFuzzer takes either directories (a corpus, run once with -runs=0)
# or files (each run once), not both: two calls.
fuzz-regress: fuzz-deps fuzz-build
	@for n in $(FUZZ_NAMES); do \
	    echo "== fuzz-regress $$n"; log=$(BUILD)/fuzz/$$n-regress.log; \
	    crashes=$$(ls fuzz/crashes/$$n-* 2>/dev/null); \
	    { $(BUILD)/fuzz/fuzz_$$n -runs=0 fuzz/corpus/$$n && \
	      { [ -z "$$crashes" ] || $(BUILD)/fuzz/fuzz_$$n $$crashes; }; } >$$log 2>&1 || \
	        { tail -n 60 $$log; echo "fuzz-regress $$n failed: $$log"; exit 1; }; \
	done

# ThreadSanitizer over every suite whose tests run threads in one process
# (the group commit's flusher included), and the processes they fork. Its
# reports go to one log per process, judged like valgrind's. Left out:
# tests whose forked children start threads, which TSan cannot follow
# after a fork of a process with threads ("dup thread with used id").
# The seqlock's reads of slots are atomics (engine/store/table.h), so nothing
# is suppressed.
TSAN_SUITES := error buffer ring slotring map index txn none db read backup compact space sql_txn get_many
TSAN_SKIP   := a_process_waiting_for_the_lock_gets_it_within_a_few_flusher_rounds \
    writers_in_two_processes_take_turns every_other_handle_follows_the_new_files \
    a_hold_begun_inside_a_write_transaction_holds_on_after_its_commit \
    a_second_begin_on_an_open_read_leaves_its_hold_to_its_end \
    a_table_another_process_grew_is_read_whole \
    check_finds_nothing_wrong_while_writers_change_records_and_index \
    readers_in_read_transactions_never_see_part_of_a_transfer \
    readers_without_read_transactions_see_part_of_a_transfer select_prints_one_committed_state \
    select_through_the_api_sees_one_committed_state
empty :=
space := $(empty) $(empty)
bar   := |
TSAN_FILTER := @($(subst $(space),$(bar),$(TSAN_SUITES)))/!($(subst $(space),$(bar),$(strip $(TSAN_SKIP))))

tsan: deps $(BUILD)/tsan/vmdb_tests
	@rm -rf $(BUILD)/tsan-run && mkdir -p $(BUILD)/tsan-run
	cp $(BUILD)/tsan/vmdb_tests $(BUILD)/tsan-run/vmdb_tests
	TSAN_OPTIONS="log_path=$(CURDIR)/$(BUILD)/tsan-run/tsan die_after_fork=0" \
	    $(BUILD)/tsan-run/vmdb_tests -j2 --filter '$(TSAN_FILTER)'
	@if grep -l "ThreadSanitizer" $(BUILD)/tsan-run/tsan.* 2>/dev/null; then \
	    echo "ThreadSanitizer reported (logs above)"; exit 1; \
	else echo "tsan: no reports"; fi

$(BUILD)/demo: docs/examples/demo.c $(STATIC_LIB)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O2 -o $@ $< $(STATIC_LIB) $(LDLIBS)

demo: deps all
	sh docs/examples/demo.sh

demo-api: deps $(BUILD)/demo
	$(BUILD)/demo

$(BUILD)/bench/%: bench/%.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O2 $(ALL_INC) -o $@ $< $(STATIC_LIB) $(LDLIBS)

bench: bench-map bench-ring bench-engine bench-import bench-query bench-recovery bench-group

bench-map: deps $(BUILD)/bench/map_bench
	$(BUILD)/bench/map_bench

bench-ring: deps $(BUILD)/bench/ring_bench
	$(BUILD)/bench/ring_bench

bench-engine: deps $(BUILD)/bench/engine_bench
	$(BUILD)/bench/engine_bench

# Recovery of a log a writer left when it died (figures in
# docs/performance.md).
bench-recovery: deps $(BUILD)/bench/recovery_bench
	$(BUILD)/bench/recovery_bench

# Durable commits from 1, 2 and 4 threads: commits per flush and per
# second (docs/performance.md).
$(BUILD)/bench/group_bench: bench/group_bench.c bench/bench_util.h $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O2 -Iinclude -o $@ $< $(STATIC_LIB) $(LDLIBS)

bench-group: deps $(BUILD)/bench/group_bench
	$(BUILD)/bench/group_bench

# The import benchmark times the vmdb command and, apart, the command's
# readers, which it links from cli/.
$(BUILD)/bench/import_bench: bench/import_bench.c cli/csv.c cli/jsonl.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O2 -Icli -o $@ bench/import_bench.c cli/csv.c cli/jsonl.c $(STATIC_LIB) $(LDLIBS)

bench-import: deps $(BUILD)/bench/import_bench $(CLI)
	$(BUILD)/bench/import_bench

# vmdb beside LMDB, SQLite, RocksDB and Tkrzw (figures in
# docs/performance.md); `make test` runs it once at a small N to show it
# works, with no figure asserted.
PEERS_SRC := $(wildcard bench/peers/*.c)
$(BUILD)/bench/peers: $(PEERS_SRC) bench/peers/peer.h bench/bench_util.h $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(BASE_CFLAGS) -O2 -Iinclude -o $@ $(PEERS_SRC) $(STATIC_LIB) $(PEER_LIBS) $(LDLIBS) -lm

bench-peers: deps $(BUILD)/bench/peers
	$(BUILD)/bench/peers

test-peers: deps $(BUILD)/bench/peers
	VMDB_PEERS_N=3000 VMDB_PEERS_ROUNDS=2 VMDB_PEERS_COMMITS=20 timeout 300 $(BUILD)/bench/peers

# Times the built command as a process, so it needs build/vmdb too.
bench-query: deps $(BUILD)/bench/query_bench $(CLI)
	$(BUILD)/bench/query_bench

# One put and one get as processes on a 100-record and a 10M-record table
# (docs/performance.md, "One-shot commands"); not in `make bench`, since
# building the large table takes minutes and 1.5 GB of disk.
bench-oneshot: deps $(BUILD)/bench/oneshot_bench $(CLI)
	$(BUILD)/bench/oneshot_bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/vmdb $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/vmdb.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 include/vmdb.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/vmdb/*.h $(DESTDIR)$(PREFIX)/include/vmdb/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libvmdb.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libvmdb.so.$(SOVERSION)
	ln -sf libvmdb.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libvmdb.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' vmdb.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmdb.pc

# Removes what install put in place, then those of its directories that
# are left empty (rmdir keeps any that hold something else); bin, lib and
# include themselves stay.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmdb $(DESTDIR)$(PREFIX)/include/vmdb.h \
	    $(addprefix $(DESTDIR)$(PREFIX)/include/vmdb/,$(notdir $(wildcard include/vmdb/*.h))) \
	    $(DESTDIR)$(PREFIX)/lib/libvmdb.a $(DESTDIR)$(PREFIX)/lib/libvmdb.so \
	    $(DESTDIR)$(PREFIX)/lib/libvmdb.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libvmdb.so.$(VERSION) \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmdb.pc $(DESTDIR)$(PREFIX)/share/man/man1/vmdb.1
	for d in include/vmdb lib/pkgconfig share/man/man1 share/man share; do \
	    rmdir $(DESTDIR)$(PREFIX)/$$d 2>/dev/null || true; done

clean:
	rm -rf $(BUILD)

# What -MMD wrote: each object's headers, so that a header's change
# rebuilds exactly the objects that include it.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
