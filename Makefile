# ngx_http_smsverify_module: deps, build, run, test, bench.

SHELL        := /bin/bash
#
#   make run     install what is missing, build, run nginx on 127.0.0.1:8080
#   make test    install what is missing, build, run every test

NGINX_SRC    ?= /usr/share/nginx/src
NGINX_BIN    ?= /usr/sbin/nginx
BUILD        := $(CURDIR)/build
MODULE       := $(BUILD)/ngx_http_smsverify_module.so

CC           ?= cc
SV_CFLAGS    := -std=c99 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc \
                $(shell pkg-config --cflags libpq 2>/dev/null \
                    || echo -I/usr/include/postgresql)
SV_LIBS      := -llmdb -lcjson -lcurl -lcrypto -lcrypt -lpq -lpthread

SV_SRCS      := $(wildcard src/sv_*.c)
SV_OBJS      := $(patsubst src/%.c,$(BUILD)/sv/%.o,$(SV_SRCS))
UNIT_SRCS    := $(wildcard t/unit/test_*.c)
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS)) \
                $(BUILD)/unit/test_store_on_pg

DEB_PACKAGES := nginx nginx-dev liblmdb-dev lmdb-utils libcjson-dev \
                libcurl4-openssl-dev libssl-dev libcrypt-dev libcmocka-dev \
                libtest-base-perl libtext-diff-perl libipc-run-perl \
                libwww-perl libjson-pp-perl liburi-perl python3 \
                python3-bcrypt valgrind wrk curl gcc make \
                chromium fonts-noto-cjk clang libclang-rt-14-dev \
                build-essential debhelper dpkg-dev \
                libpcre2-dev zlib1g-dev binutils postgresql-15 libpq-dev \
                prometheus

.PHONY: all deps build module unit layers test test-nginx test-nginx-pg \
        test-valgrind \
        test-e2e test-asan test-static fuzz bench bench-smoke run stop clean \
        deb test-deb

# the stand-in Test::Nginx in t/lib serves only where upstream's is absent
PROVE_INC    = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                   || echo -I t/lib) -I t/inc
PROVE_FILES ?= t/selftest t

# as root, workers would run as "nobody", who may not reach a checkout
# under a private home: the development server keeps the caller's user
RUN_USER     = $(if $(filter 0,$(shell id -u)),user root;)

export TEST_NGINX_SMSVERIFY_MODULE := $(MODULE)
# t/051-prometheus.t checks the status' Prometheus text with it (Debian's
# "prometheus" package, in DEB_PACKAGES; the daemon is not started)
export TEST_NGINX_PROMTOOL ?= /usr/bin/promtool
export TEST_NGINX_BINARY ?= $(NGINX_BIN)

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive \
	        $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: module

module: $(MODULE)

$(BUILD)/nginx-src/objs/Makefile: config ngx_http_smsverify_module.map
	rm -rf $(BUILD)/nginx-src
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR) >$(BUILD)/configure.log

$(MODULE): $(BUILD)/nginx-src/objs/Makefile $(wildcard src/*.[ch]) \
           ngx_http_smsverify_module.c
	$(MAKE) -C $(BUILD)/nginx-src -f objs/Makefile modules
	@# a running nginx maps the .so: replace it, never overwrite it
	cp $(BUILD)/nginx-src/objs/ngx_http_smsverify_module.so $@.tmp
	mv -f $@.tmp $@

$(BUILD)/sv/%.o: src/%.c $(wildcard src/sv_*.h)
	@mkdir -p $(dir $@)
	$(CC) $(SV_CFLAGS) -c $< -o $@

$(BUILD)/unit/%: t/unit/%.c t/unit/bytes.h $(SV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SV_CFLAGS) $< $(SV_OBJS) -o $@ -lcmocka $(SV_LIBS)

# test_store's backend-neutral cases again, on the PostgreSQL store
$(BUILD)/unit/test_store_on_pg: t/unit/test_store.c t/unit/bytes.h $(SV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SV_CFLAGS) -DSV_TEST_PG $< $(SV_OBJS) -o $@ -lcmocka $(SV_LIBS)

# the rules and the records alone: no LMDB in their tests
$(BUILD)/unit/test_rules: t/unit/test_rules.c $(BUILD)/sv/sv_rules.o
	@mkdir -p $(dir $@)
	$(CC) $(SV_CFLAGS) $^ -o $@ -lcmocka -lcrypto

$(BUILD)/unit/test_record: t/unit/test_record.c $(BUILD)/sv/sv_record.o
	@mkdir -p $(dir $@)
	$(CC) $(SV_CFLAGS) $^ -o $@ -lcmocka -lcjson

# test_pg needs a PostgreSQL: unless TEST_NGINX_PG_URI names one, the
# tests' own (t/pg/pg.sh) is started for the run and stopped after it,
# if it was not running before
unit: $(UNIT_BINS)
	@set -e; \
	if [ -z "$$TEST_NGINX_PG_URI" ]; then \
	    if ! t/pg/pg.sh status >/dev/null 2>&1; then \
	        t/pg/pg.sh start >/dev/null; \
	        trap 't/pg/pg.sh stop' EXIT; \
	    fi; \
	    eval "$$(t/pg/pg.sh env)"; \
	    export SV_PG_SH=$(CURDIR)/t/pg/pg.sh; \
	fi; \
	for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# no nginx-side file includes a layer above its own (docs/DESIGN.md)
layers:
	@mkdir -p $(BUILD)
	@t/layers.sh >$(BUILD)/layers.log \
	    || { cat $(BUILD)/layers.log; exit 1; }
	@tail -1 $(BUILD)/layers.log

test: deps
	$(MAKE) layers
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) fuzz
	$(MAKE) test-nginx
	$(MAKE) test-nginx-pg
	$(MAKE) test-static
	$(MAKE) test-asan
	$(MAKE) bench-smoke
	$(MAKE) test-valgrind
	$(MAKE) test-deb
	$(MAKE) test-e2e

test-nginx: $(MODULE)
	prove $(PROVE_INC) $(PROVE_FILES)

# the same suite against the PostgreSQL store (t/inc/SmsVerify/Flow.pm):
# PG_RUN runs what follows it with TEST_NGINX_SMSVERIFY_STORE=postgresql
# and, unless TEST_NGINX_PG_URI names a server, the tests' own (t/pg/pg.sh),
# started for the run and stopped after it if it was not running before
PG_PROVE_FILES ?= t
# what valgrind and ASan run against PostgreSQL besides the whole suite
# against LMDB: every endpoint, the races, the outage, two nodes
PG_CHECK_FILES ?= t/020-send.t t/030-confirm.t t/040-signup.t t/045-race.t \
                  t/100-login.t t/101-reset.t t/102-auth.t t/104-pg-conf.t \
                  t/110-nodes.t

PG_RUN = set -e; \
	if [ -z "$$TEST_NGINX_PG_URI" ]; then \
	    if ! t/pg/pg.sh status >/dev/null 2>&1; then \
	        t/pg/pg.sh start >/dev/null; \
	        trap 't/pg/pg.sh stop' EXIT; \
	    fi; \
	    eval "$$(t/pg/pg.sh env)"; \
	fi; \
	export SV_PG_SH=$(CURDIR)/t/pg/pg.sh TEST_NGINX_SMSVERIFY_STORE=postgresql;

test-nginx-pg: $(MODULE)
	@$(PG_RUN) prove $(PROVE_INC) $(PG_PROVE_FILES)

# a whole nginx from Debian's source package with the module linked in
# (--add-module), and the CORS, lifecycle and flow files against it
STATIC_FILES ?= t/020-send.t t/030-confirm.t t/040-signup.t t/060-cors.t \
                t/070-lifecycle.t

test-static:
	t/static/run.sh $(STATIC_FILES)

test-valgrind: $(MODULE)
	TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_TIMEOUT=20 \
	    prove $(PROVE_INC) $(PROVE_FILES)
	@$(PG_RUN) TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_TIMEOUT=20 \
	    prove $(PROVE_INC) $(PG_CHECK_FILES)

test-e2e: $(MODULE)
	SMSVERIFY_MODULE=$(MODULE) t/e2e/run.sh

# the Debian package libnginx-mod-http-smsverify (debian/), built with
# dh_nginx from a copy of the tree in build/deb: the tree stays clean
DEB_NAME     := libnginx-mod-http-smsverify
DEB_VERSION   = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH      = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_SRC       = $(BUILD)/deb/$(DEB_NAME)-$(DEB_VERSION)
DEB_FILE      = $(BUILD)/deb/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb
# the tree the package is built from: what git knows (new files too), not
# the tests, benchmarks or anything built or ignored; outside git, all
# but build/, var/ and t/
DEB_TREE      = { git ls-files -co --exclude-standard -- . \
                      ':!t' ':!bench' ':!docs' ':!.ci' 2>/dev/null \
                  || find . \( -path ./build -o -path ./var -o -path ./.git \
                              -o -path ./t \) -prune -o -type f -print; } \
                | while read -r f; do [ -e "$$f" ] && echo "$$f"; done

deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_SRC)
	$(DEB_TREE) | tar -cf - -T - | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc >../build.log 2>&1 \
	    || { tail -40 ../build.log; echo "deb: failed, see $(BUILD)/deb/build.log"; exit 1; }
	@echo "deb: $(DEB_FILE)"

# installs the package, checks nginx -t and a whole signup, removes it
test-deb: deb
	t/deb/run.sh $(DEB_FILE)

# libFuzzer targets of the parsers and validators, FUZZ_SECONDS each
FUZZ_SECONDS ?= 10

fuzz:
	t/fuzz/run.sh $(FUZZ_SECONDS)

# the suite again, the module built with AddressSanitizer and UBSan
test-asan:
	t/asan/run.sh
	@$(PG_RUN) t/asan/run.sh $(PG_CHECK_FILES)

# one run, every endpoint against nginx's return 200 (bench/README.md)
bench: $(MODULE)
	BENCH_MODULE=$(MODULE) bench/run $(BENCH_ARGS)

# CI: every bench scenario for ~1 s; checks they produce numbers, never figures
bench-smoke: $(MODULE)
	BENCH_MODULE=$(MODULE) bench/run --smoke

run: deps
	$(MAKE) build
	mkdir -p var/log
	@echo "nginx on http://127.0.0.1:8080/ (codes in var/log/error.log)"
	$(NGINX_BIN) -p $(CURDIR)/ -c conf/nginx.conf -g 'daemon off; $(RUN_USER)'

stop:
	-$(NGINX_BIN) -p $(CURDIR)/ -c conf/nginx.conf -s quit

clean:
	rm -rf $(BUILD) t/servroot
