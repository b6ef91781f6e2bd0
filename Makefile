# SPDX-License-Identifier: GPL-2.0
#
# pvmem: out-of-tree build against the *guest* kernel (Debian bookworm 6.1),
# never against the running kernel.
#
#   make          build pvmem.ko (installs nothing; says what is missing)
#   make deps     install what building and testing need (Debian packages)
#   make check    install, build, host unit tests, mutation check, guest
#                 kselftests in QEMU; summary line
#   make demo     boot a guest, plug 4 GiB then 8 GiB, show the guest's view
#   make bench    pvmem against Debian's virtio_mem.ko in the same run
#   make mutants  the unit tests must catch every listed source mutation
#   make FAULT_INJECT=1   a test build with debugfs fault injection
#
GUEST_KREL ?= $(shell scripts/guest-krel 2>/dev/null)
KDIR ?= /usr/src/linux-headers-$(GUEST_KREL)
KBUILD_ARGS := -C $(KDIR) M=$(CURDIR) CONFIG_PVMEM=m
# make FAULT_INJECT=1: debugfs fault injection, for tests only.
ifeq ($(FAULT_INJECT),1)
KBUILD_ARGS += CONFIG_PVMEM_FAULT_INJECT=y
endif

.PHONY: all modules deps have-deps check demo bench unit mutants selftests \
	checkpatch kernel-doc sparse clean

all: modules

# Objects built for another KDIR go first: kbuild would keep some (the
# flavours of one release share their headers, e.g. amd64 and cloud-amd64)
# and the module would carry the other kernel's vermagic.
KDIR_STAMP := .pvmem-kdir
# Not kbuild's clean: that would also delete the modules saved in build/.
MODULE_OBJS := pvmem.ko pvmem.o pvmem.mod pvmem.mod.c pvmem.mod.o \
	drivers/virtio/*.o mm-hooks/*.o Module.symvers modules.order
define kdir_switch
	@test -d "$(KDIR)" || { echo "KDIR $(KDIR) missing: run 'make deps' (or set KDIR=)" >&2; exit 1; }
	@if [ "$$(cat $(KDIR_STAMP) 2>/dev/null)" != "$(KDIR)" ]; then \
		rm -f $(MODULE_OBJS); echo "$(KDIR)" > $(KDIR_STAMP); fi
endef

modules:
	$(kdir_switch)
	$(MAKE) $(KBUILD_ARGS) modules

deps:
	@scripts/install-deps

# Targets that only build or test say what is missing instead of installing.
have-deps:
	@scripts/install-deps --check || { echo "run 'make deps' first" >&2; exit 1; }

unit: have-deps
	$(MAKE) -C tools/testing/pvmem run

mutants: have-deps
	@python3 tools/testing/pvmem/mutants.py

selftests: have-deps
	$(MAKE) -C tools/testing/selftests/pvmem

check: deps
	@python3 tools/testing/pvmem/rig/check.py

demo: deps
	@python3 tools/testing/pvmem/rig/demo.py

bench: deps
	@$(MAKE) --no-print-directory modules >/dev/null
	@python3 tools/testing/pvmem/rig/bench.py

checkpatch: have-deps
	@scripts/checkpatch

kernel-doc: have-deps
	@scripts/kerneldoc

sparse: have-deps
	$(kdir_switch)
	$(MAKE) $(KBUILD_ARGS) C=2 CHECK=sparse modules

clean:
	-$(MAKE) $(KBUILD_ARGS) clean 2>/dev/null
	-$(MAKE) -C tools/testing/pvmem clean
	-$(MAKE) -C tools/testing/selftests/pvmem clean
	rm -rf build $(KDIR_STAMP)
