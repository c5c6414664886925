# accelguard — the single entry: `make` builds, `make check` runs every test, `make V=1` shows commands.
# Build outputs go to $(BUILD) (default build/), never into the source tree.

# ARCH: the architecture built for, in the kernel's names (x86, arm64), default this machine's.
# `make ARCH=arm64` on an x86-64 machine cross-builds (tools/deps.sh arm64: the cross compiler and
# the arm64 libraries through multiarch) into build/arm64 unless BUILD says otherwise; on an arm64
# machine a plain `make` is the native build. The BPF side takes vmlinux/$(ARCH)/vmlinux.h and
# bpf/arch/$(ARCH)/syscalls.h; nothing else names an architecture.
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH     := $(HOST_ARCH)
override ARCH := $(patsubst x86_64,x86,$(patsubst amd64,x86,$(patsubst aarch64,arm64,$(ARCH))))
ifeq ($(filter x86 arm64,$(ARCH)),)
$(error ARCH=$(ARCH): accelguard builds for x86 and arm64)
endif
CLANG    ?= clang
BPFTOOL  ?= bpftool
TRIPLET_x86   := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
# A cross C compiler: TRIPLET-gcc where there is one, else clang --target=TRIPLET (Debian's
# gcc-aarch64-linux-gnu conflicts with gcc-multilib, which the x86 ia32 helper needs, so the
# cross build uses clang with the multiarch libraries and binutils-aarch64-linux-gnu's linker).
cross_cc = $(if $(shell command -v $(1)-gcc),$(1)-gcc,$(CLANG) --target=$(1))
# the 32-bit (compat) helper of the integration tests: ia32 on x86-64, AArch32 on arm64
COMPAT32_CC_x86   = $(CC) -m32
COMPAT32_CC_arm64 = $(call cross_cc,arm-linux-gnueabihf)
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(TRIPLET_$(ARCH))-
BUILD    ?= build/$(ARCH)
ifeq ($(origin CC),default)
CC       := $(call cross_cc,$(TRIPLET_$(ARCH)))
endif
endif
BUILD    ?= build
COMPAT32_CC ?= $(COMPAT32_CC_$(ARCH))
VERSION  := $(shell tools/version.sh)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# user/ is in folders that follow the data (docs/DESIGN.md, "Module map"; their layers in
# user/layers), each built by its fragment mk/FOLDER.mk. A header is included by its name from any
# folder but k8s/, whose headers are included with the folder's name ("k8s/k8s.h").
USER_INC := -Iuser $(patsubst %,-I%,$(filter-out user/k8s,$(patsubst %/,%,$(sort $(wildcard user/*/)))))

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
            -D_GNU_SOURCE -Iinclude $(USER_INC) -I$(BUILD) -DAG_VERSION='"$(VERSION)"'
LDLIBS   += -lbpf -lelf -lz -lyaml -lpthread
# clang as the (cross) compiler: the fragments' gcc-only -Wno-* options are no error there
ifneq ($(findstring clang,$(CC)),)
CFLAGS   += -Wno-unknown-warning-option
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ivmlinux/$(ARCH) \
              -Ibpf/arch/$(ARCH)
# header dependencies from the compiler: every object has its .d beside it (included below)
DEPFLAGS := -MMD -MP

BPF_FAMILIES := open ioctl file syscall cgroup ptrace receive
BPF_OBJS     := $(patsubst %,$(BUILD)/bpf/%.bpf.o,$(BPF_FAMILIES))
SKELS        := $(BUILD)/accelguard.skel.h

# Modules add to these from mk/*.mk (one fragment per module, owned with it, with its sources).
USER_SRCS    :=
OBJS         :=
CHECK_STAGES :=
BENCH_STAGES :=

# A stage of `make check` runs its commands (separated by ::) through tests/stage.sh, which
# records passed / failed / skipped: REASON in $(STAGES)/STAGE for the table `make check` prints.
STAGES := $(BUILD)/stages
stage = $(Q)tests/stage.sh $(1) $(STAGES) --

.DELETE_ON_ERROR:
.PHONY: all clean check deps vmlinux

all: $(BUILD)/accelguard

-include $(sort $(wildcard mk/*.mk))

USER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(USER_SRCS))
OBJS      += $(USER_OBJS) $(AGENT_MAIN_OBJ) $(BPF_OBJS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/accelguard.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(BUILD)/accelguard.skel.h: $(BUILD)/accelguard.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name accelguard_bpf > $@

# One object per source, shared by the agent and every test that links it. Generated headers are
# order-only prerequisites of the objects that include them (in the fragments); after the first
# build the .d files name them like any header.
$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# AG_VERSION reaches the events, the pins' metadata and the evidence: the objects that use it are
# rebuilt when it changes (a commit, a dirty tree), not only when their sources do.
VERSION_FILE := $(BUILD)/version.txt
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(VERSION_FILE) 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" > $(VERSION_FILE); })
$(patsubst %,$(BUILD)/user/%.o,cmd/main run/agent kernel/pins evidence/evidence sinks/metrics k8s/api_http): $(VERSION_FILE)

$(BUILD)/libag.a: $(USER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

$(BUILD)/accelguard: $(AGENT_MAIN_OBJ) $(BUILD)/libag.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bpf $(BUILD)/user:
	$(Q)mkdir -p $@

# vmlinux.h is committed so that the build needs no BTF; regenerate it on a host whose kernel has
# the types wanted (make vmlinux), or from a BTF file (make vmlinux ARCH=arm64 VMLINUX_BTF=F;
# vmlinux/btf-from-deb.sh takes it from a Debian kernel package: vmlinux/README.md)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
vmlinux:
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > vmlinux/$(ARCH)/vmlinux.h

# Install the Debian packages that building and testing need (no-op when present).
deps:
	$(Q)tools/deps.sh all

# Every stage, even after one failed (-k), then the table of their results; fails on a failed
# stage, and says which stages skipped and why.
# CHECK_SKIP: stages a build variant leaves out (mk/sanitize.mk).
check: all
	$(Q)rm -rf $(STAGES)
	-$(Q)$(MAKE) --no-print-directory -k $(filter-out $(CHECK_SKIP),$(CHECK_STAGES))
	$(Q)tests/stages.sh $(STAGES) $(filter-out $(CHECK_SKIP),$(CHECK_STAGES))

bench: all $(BENCH_STAGES)

clean:
	rm -rf $(BUILD)

# Standalone install: the binary, the systemd unit, the example configuration (never overwritten).
PREFIX ?= /usr/local
.PHONY: install
install: $(BUILD)/accelguard
	install -D -m 0755 $(BUILD)/accelguard $(DESTDIR)$(PREFIX)/bin/accelguard
	install -D -m 0644 deploy/systemd/accelguard.service $(DESTDIR)/etc/systemd/system/accelguard.service
	sed -i 's#/usr/local/bin/accelguard#$(PREFIX)/bin/accelguard#' $(DESTDIR)/etc/systemd/system/accelguard.service
	[ -e $(DESTDIR)/etc/accelguard/config.yaml ] || \
		install -D -m 0640 deploy/config.example.yaml $(DESTDIR)/etc/accelguard/config.yaml

-include $(OBJS:.o=.d)
