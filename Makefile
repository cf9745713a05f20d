# DaemonPulse build. `make run` and `make test` are the two commands a
# newcomer needs; everything else is for developers.
#
# Layout-driven: every lib/*.c goes into libdp.a, every src/*.c into
# build/daemonpulse, sim/*.c into build/llmster-sim, sim/lms/*.c into
# build/lms, tests/unit/test_*.c become one cmocka binary each (linked with
# lib + src minus main.c), tests/unit/sim/test_*.c likewise against sim/,
# fuzz/fuzz_*.c one libFuzzer binary each. Adding a file needs no edit here.

CC      ?= cc
CLANG   ?= clang
PKGS    := libevent libevent_pthreads jansson libsodium sqlite3
# libcurl: headers only; lib/curl_dl.c loads the library on the first https request
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null) # the lms stand-in only
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASEFLAGS := -std=c17 -D_GNU_SOURCE -g $(WARN) -Ilib -Isrc -Ibuild/gen $(PKG_CFLAGS) -DDP_VERSION='"$(VERSION)"'
CFLAGS_REL  := $(BASEFLAGS) -O2
CFLAGS_ASAN := $(BASEFLAGS) -Wno-format-truncation -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS  := $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard lib/*.c)
SRC_ALL  := $(wildcard src/*.c)
SRC      := $(filter-out src/main.c,$(SRC_ALL))
SIM_ALL  := $(wildcard sim/*.c)
SIM      := $(filter-out sim/main.c,$(SIM_ALL))
LMS_SRC  := $(wildcard sim/lms/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SIMUNIT_SRC := $(wildcard tests/unit/sim/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
GEN_ASSETS := build/gen/webui_assets.c

# $(call objs,DIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

REL  := build/obj
ASAN := build/asan/obj

.PHONY: all deps run test asan fuzz fuzz-build bench clean web check-banned format format-check unit

all: build/daemonpulse build/llmster-sim build/lms

deps:
	@scripts/deps.sh

# ---- web UI, embedded into the binary ------------------------------------
WEB_INPUTS := $(shell find web/src web/index.html web/package.json web/vite.config.* web/tailwind.config.* web/postcss.config.* web/tsconfig*.json web/public -type f 2>/dev/null)
build/web.stamp: $(WEB_INPUTS)
	@mkdir -p build
	@if [ -f web/package.json ]; then \
		[ -d web/node_modules ] || scripts/deps.sh; \
		cd web && npm run build --silent; \
	else mkdir -p web/dist; fi
	@touch $@
web: build/web.stamp

build/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -Wall -Wextra -Werror -o $@ $< -lz

$(GEN_ASSETS): build/web.stamp build/tools/embed
	@mkdir -p $(dir $@)
	build/tools/embed web/dist > $@.tmp && mv $@.tmp $@

# ---- release objects -----------------------------------------------------
$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REL) -MMD -MP -c -o $@ $<

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -MMD -MP -c -o $@ $<

build/libdp.a: $(call objs,$(REL),$(LIB_SRC))
	@mkdir -p build
	rm -f $@ && ar rcs $@ $^

build/asan/libdp.a: $(call objs,$(ASAN),$(LIB_SRC))
	@mkdir -p build/asan
	rm -f $@ && ar rcs $@ $^

build/daemonpulse: $(call objs,$(REL),$(SRC_ALL) $(GEN_ASSETS)) build/libdp.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

build/llmster-sim: $(call objs,$(REL),$(SIM_ALL)) build/libdp.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS)

build/lms: $(call objs,$(REL),$(LMS_SRC)) build/libdp.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

# ---- sanitizer build -----------------------------------------------------
asan: build/asan/daemonpulse build/asan/llmster-sim build/asan/lms asan-unit

build/asan/daemonpulse: $(call objs,$(ASAN),$(SRC_ALL) $(GEN_ASSETS)) build/asan/libdp.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS)

build/asan/llmster-sim: $(call objs,$(ASAN),$(SIM_ALL)) build/asan/libdp.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS)

build/asan/lms: $(call objs,$(ASAN),$(LMS_SRC)) build/asan/libdp.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS) $(CURL_LIBS)

# ---- unit tests (cmocka) -------------------------------------------------
UNIT_BINS     := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
SIMUNIT_BINS  := $(patsubst tests/unit/sim/%.c,build/tests/sim/%,$(SIMUNIT_SRC))
AUNIT_BINS    := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))
ASIMUNIT_BINS := $(patsubst tests/unit/sim/%.c,build/asan/tests/sim/%,$(SIMUNIT_SRC))

build/tests/sim/%: $(REL)/tests/unit/sim/%.o $(call objs,$(REL),$(SIM)) build/libdp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS) -lcmocka

build/tests/%: $(REL)/tests/unit/%.o $(call objs,$(REL),$(SRC) $(GEN_ASSETS)) build/libdp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LDLIBS) -lcmocka

build/asan/tests/sim/%: $(ASAN)/tests/unit/sim/%.o $(call objs,$(ASAN),$(SIM)) build/asan/libdp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS) -lcmocka

build/asan/tests/%: $(ASAN)/tests/unit/%.o $(call objs,$(ASAN),$(SRC) $(GEN_ASSETS)) build/asan/libdp.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LDLIBS) -lcmocka

unit: $(UNIT_BINS) $(SIMUNIT_BINS)
asan-unit: $(AUNIT_BINS) $(ASIMUNIT_BINS)
.PHONY: asan-unit

# ---- fuzzing (libFuzzer, clang) ------------------------------------------
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -Ilib -Isrc -Isim -Ibuild/gen $(PKG_CFLAGS) -DDP_VERSION='"fuzz"' \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -DDP_FUZZING
FUZZ := build/fuzz/obj
$(FUZZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
# fuzz_sim_* targets link the simulator, the others the control plane.
build/fuzz/fuzz_sim_%: $(FUZZ)/fuzz/fuzz_sim_%.o $(call objs,$(FUZZ),$(SIM) $(LIB_SRC))
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) $(CURL_LIBS)
build/fuzz/%: $(FUZZ)/fuzz/%.o $(call objs,$(FUZZ),$(SRC) $(GEN_ASSETS) $(LIB_SRC))
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz-build: $(FUZZ_BINS)
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
		echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n fuzz/corpus/$$n 2>&1 | tail -n 5 || exit 1; \
	done

# ---- the two commands ----------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

test: deps
	@$(MAKE) --no-print-directory all unit asan fuzz-build
	@tests/run.sh

bench: all
	@bench/run.sh

check-banned:
	@scripts/check-banned.sh

format:
	clang-format -i $(LIB_SRC) $(wildcard lib/*.h) $(SRC_ALL) $(wildcard src/*.h) $(SIM_ALL) $(wildcard sim/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- fake NVML (GPU telemetry tests; owner: telemetry, issue 9) -----------
# tests/fake_nvml/fake_nvml.c built as libnvidia-ml.so.1 in four symbol
# variants; unit tests and bench/telemetry.sh dlopen them by path.
FAKE_NVML_DIR  := build/fake_nvml
FAKE_NVML_LIBS := $(FAKE_NVML_DIR)/full/libnvidia-ml.so.1 $(FAKE_NVML_DIR)/old/libnvidia-ml.so.1 \
	$(FAKE_NVML_DIR)/oldest/libnvidia-ml.so.1 $(FAKE_NVML_DIR)/new/libnvidia-ml.so.1
FAKE_NVML_CFLAGS := -std=c17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden
$(FAKE_NVML_DIR)/full/libnvidia-ml.so.1: tests/fake_nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -o $@ $<
$(FAKE_NVML_DIR)/old/libnvidia-ml.so.1: tests/fake_nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -DFAKE_NVML_OLD_ANY -o $@ $<
$(FAKE_NVML_DIR)/oldest/libnvidia-ml.so.1: tests/fake_nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -DFAKE_NVML_OLD_ANY -DFAKE_NVML_OLDEST -o $@ $<
$(FAKE_NVML_DIR)/new/libnvidia-ml.so.1: tests/fake_nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) $(FAKE_NVML_CFLAGS) -DFAKE_NVML_NEW -o $@ $<
fake-nvml: $(FAKE_NVML_LIBS)
unit: $(FAKE_NVML_LIBS)
asan-unit: $(FAKE_NVML_LIBS)
.PHONY: fake-nvml
