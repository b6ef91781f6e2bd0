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
#   make bench    pvmem against each kernel's virtio_mem.ko in the same run
#   make mutants  the unit tests must catch every listed source mutation
#   make lint     checkpatch, sparse, W=1, clang-format, shellcheck, kernel-doc
#   make install  the module (INSTALL_MOD_PATH=, INSTALL_MOD_DIR=updates) and
#                 etc/modprobe.d/pvmem.conf; ONLINE_MOVABLE_RULE=1 adds the udev rule
#   make dkms-source DESTDIR=   the DKMS source tree, /usr/src/pvmem-VERSION
#   make deb      the pvmem-dkms Debian package, in build/deb/
#   make sign KEY= CERT=   sign pvmem.ko for Secure Boot (a MOK key)
#   make FAULT_INJECT=1   a test build with debugfs fault injection
#
GUEST_KREL ?= $(shell scripts/guest-krel 2>/dev/null)
KDIR ?= /usr/src/linux-headers-$(GUEST_KREL)
KBUILD_ARGS := -C $(KDIR) M=$(CURDIR) CONFIG_PVMEM=m
# make FAULT_INJECT=1: debugfs fault injection, for tests only.
ifeq ($(FAULT_INJECT),1)
KBUILD_ARGS += CONFIG_PVMEM_FAULT_INJECT=y
endif

PVMEM_VERSION := $(shell cat VERSION)

.PHONY: all modules deps have-deps check demo bench unit mutants selftests \
	checkpatch kernel-doc sparse clean install modules_install dkms-source \
	deb sign lint

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
	@python3 tools/testing/pvmem/rig/bench.py

checkpatch: have-deps
	@scripts/checkpatch

kernel-doc: have-deps
	@scripts/kerneldoc

lint: have-deps
	@scripts/lint

sparse: have-deps
	$(kdir_switch)
	$(MAKE) $(KBUILD_ARGS) C=2 CHECK=sparse modules

# The module, plus the modprobe.d file that keeps the stock virtio_mem
# from binding the devices first; with ONLINE_MOVABLE_RULE=1 also the
# udev rule that onlines hot-added memory as movable.  INSTALL_MOD_PATH
# is a staging root (default: this machine, /); depmod runs where the
# kernel's own modules are.  Kbuild's signing at install is off (the
# Debian headers carry no key): see 'make sign'.
INSTALL_MOD_DIR ?= updates
KREL = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' $(KDIR)/include/generated/utsrelease.h)
MOD_ROOT = $(INSTALL_MOD_PATH)/lib/modules/$(KREL)
install modules_install: modules
	$(MAKE) $(KBUILD_ARGS) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) CONFIG_MODULE_SIG_ALL= modules_install
	@if [ -e $(MOD_ROOT)/modules.order ]; then \
		echo "depmod $(KREL)"; depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KREL); \
	else echo "no kernel modules in $(MOD_ROOT): run depmod there later"; fi
	install -D -m 644 etc/pvmem-modprobe.conf $(INSTALL_MOD_PATH)/etc/modprobe.d/pvmem.conf
ifeq ($(ONLINE_MOVABLE_RULE),1)
	install -D -m 644 etc/80-pvmem-online-movable.rules \
		$(INSTALL_MOD_PATH)/etc/udev/rules.d/80-pvmem-online-movable.rules
endif

# What DKMS needs to build the module, nothing else.
DKMS_FILES := COPYING Kbuild Kconfig Makefile VERSION dkms.conf \
	$(wildcard drivers/virtio/pvmem*.[ch] mm-hooks/pvmem*.[ch]) \
	include/uapi/linux/pvmem.h
DKMS_DIR = $(DESTDIR)/usr/src/pvmem-$(PVMEM_VERSION)
dkms-source:
	@for f in $(DKMS_FILES); do install -D -m 644 $$f $(DKMS_DIR)/$$f || exit 1; done
	sed -i 's/#MODULE_VERSION#/$(PVMEM_VERSION)/' $(DKMS_DIR)/dkms.conf

# Built from a copy of the sources, so the tree's own objects stay out.
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/pvmem-$(PVMEM_VERSION)
	cp -r $(DKMS_FILES) debian etc $(DEB_DIR)/pvmem-$(PVMEM_VERSION)/ --parents
	cd $(DEB_DIR)/pvmem-$(PVMEM_VERSION) && dpkg-buildpackage -b -us -uc
	@ls $(DEB_DIR)/*.deb

# Secure Boot: sign with the kernel's own sign-file and a key enrolled
# with mokutil (see the admin guide).
SIGN_FILE = $(KDIR)/scripts/sign-file
sign: modules
	@test -n "$(KEY)" -a -n "$(CERT)" || { echo "usage: make sign KEY=key.priv CERT=cert.der" >&2; exit 1; }
	$(SIGN_FILE) sha256 $(KEY) $(CERT) pvmem.ko
	@modinfo -F signer pvmem.ko

clean:
	-$(MAKE) $(KBUILD_ARGS) clean 2>/dev/null
	-$(MAKE) -C tools/testing/pvmem clean
	-$(MAKE) -C tools/testing/selftests/pvmem clean
	rm -rf build $(KDIR_STAMP)
