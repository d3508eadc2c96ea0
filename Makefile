# mailfetch — GNU make. `make`, `make check`, `make demo`, `make bench`,
# `make install`, `make clean`; `make check SAN=1` builds with ASan+UBSan
# into build-san/.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/mailfetch
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
DESTDIR ?=
PYTHON ?= python3

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes
ifeq ($(CI),true)
WARN += -Werror
endif
PKGS = libtls inih libcrypto zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv -pthread

BUILD = build
ifeq ($(SAN),1)
BUILD = build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
endif

ALL_CFLAGS = -std=c99 -D_DEFAULT_SOURCE -pthread $(WARN) $(CFLAGS) \
	$(SANFLAGS) $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

TLS_SRC = $(wildcard tls/*.c)
PROTO_SRC = $(wildcard proto/*.c)
CMD_SRC = $(filter-out cmd/main.c,$(wildcard cmd/*.c))
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(TLS_SRC) $(PROTO_SRC) $(CMD_SRC))

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/%,$(UNIT_SRC))

all: $(BUILD)/mailfetch

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libmailfetch.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/mailfetch: $(BUILD)/cmd/main.o $(BUILD)/libmailfetch.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests link against the library archive, which pulls in only the
# objects a test uses.
$(BUILD)/test_%: tests/unit/test_%.c tests/unit/t.h $(BUILD)/libmailfetch.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libmailfetch.a \
		$(PKG_LIBS)

# A test aid for tests/test_daemon_wake.py, preloaded into mailfetch:
# CLOCK_BOOTTIME moved ahead, as by a suspend. Never installed; built
# without the sanitizers (the test lets ASan accept the preload).
$(BUILD)/clockshim.so: tests/clockshim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE -fPIC -shared $(WARN) $(CFLAGS) \
		-o $@ $< -ldl

unit: $(UNIT_BIN) $(BUILD)/clockshim.so

# Install what building and testing need (Debian packages), when missing.
deps:
	@sh tests/deps.sh

check: deps
	$(MAKE) all unit
	$(PYTHON) tests/run.py --build $(BUILD)

demo: deps
	$(MAKE) all
	$(PYTHON) tests/demo.py --build $(BUILD)

bench: deps
	$(MAKE) all
	sh tests/deps.sh bench
	$(PYTHON) bench/bench.py --build $(BUILD)
	$(PYTHON) bench/jobs.py --build $(BUILD)
	$(PYTHON) bench/idle.py --build $(BUILD)
	$(PYTHON) bench/mirror.py --build $(BUILD)
	$(PYTHON) bench/memory.py --build $(BUILD) --profile

# systemd user units: the daemon, and a timer with its oneshot service.
UNITS = mailfetch.service mailfetch-oneshot.service mailfetch.timer

install: $(BUILD)/mailfetch
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/mailfetch $(DESTDIR)$(BINDIR)/mailfetch
	install -m 644 mailfetch.1 $(DESTDIR)$(MANDIR)/man1/mailfetch.1
	install -m 644 fetchrc.5 $(DESTDIR)$(MANDIR)/man5/fetchrc.5
	install -m 644 fetchrc.example README.md $(DESTDIR)$(DOCDIR)
	install -d $(DESTDIR)$(SYSTEMDUSERDIR)
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u >$(DESTDIR)$(SYSTEMDUSERDIR)/$$u \
		    && chmod 644 $(DESTDIR)$(SYSTEMDUSERDIR)/$$u || exit 1; \
	done

# Fuzzing: libFuzzer targets (tests/fuzz/fuzz_*.c) built by clang with
# ASan+UBSan into build-fuzz/. `make fuzz-bin` builds them (the smoke
# test in tests/test_fuzz.py does, and runs each a fixed number of times
# with a fixed seed, the same every run); `make fuzz FUZZTIME=60` explores:
# it runs each for FUZZTIME seconds over its seeds in
# tests/fuzz/corpus/NAME, keeping what it finds in build-fuzz/corpus/NAME
# and crashes in build-fuzz/.
FUZZ_CC = clang
FUZZ_DIR = build-fuzz
FUZZTIME ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c99 -D_DEFAULT_SOURCE $(WARN) -g -O1 $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link $(PKG_CFLAGS)
FUZZ_OBJ = $(patsubst %.c,$(FUZZ_DIR)/%.o,$(TLS_SRC) $(PROTO_SRC) $(CMD_SRC))
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,\
	$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_DIR)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/libmailfetch.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $(FUZZ_OBJ)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libmailfetch.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_DIR)/libmailfetch.a $(PKG_LIBS)

fuzz-bin: $(FUZZ_BIN)

fuzz: fuzz-bin
	@for t in $(FUZZ_BIN); do \
		n=$${t##*/}; mkdir -p $(FUZZ_DIR)/corpus/$$n; \
		echo "=== $$n ($(FUZZTIME) s)"; \
		$$t -max_total_time=$(FUZZTIME) -print_final_stats=1 \
		    -artifact_prefix=$(FUZZ_DIR)/$$n- \
		    $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

format:
	clang-format -i $(wildcard */*.c */*.h tests/unit/*.c tests/unit/*.h)

clean:
	rm -rf build build-san build-fuzz

.PHONY: all unit deps check demo bench install format clean fuzz fuzz-bin
