#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
# /init of the pvmem test guest (busybox initramfs built by pvmem_rig.py).
#
# Sets up the guest, loads the virtio transport and pvmem (see below for
# the command line switches), then serves the host on ttyS1:
#   host -> guest  "@@pvmem-run <id> <length of the command> <shell command>"
#   guest -> host  "@@pvmem-got <id>", the command's output, then
#                  "@@pvmem-done <id> <exit code>"
# Tests talk to the host over the same line (see pvmem_host.h).
/bin/busybox --install -s /bin
export PATH=/bin:/pvmem/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /sys/kernel/debug
# Sized explicitly: the default (half of boot RAM) is too small for tests.
mount -t tmpfs -o size=64g tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

M=/lib/modules/pvmem
while read -r m; do
	insmod "$M/$m.ko" || echo "pvmem-rig: insmod $m failed"
done < $M/order
# pvmem_rig.load=0: no memory driver; pvmem_rig.stock=1: Debian's
# virtio_mem instead of pvmem (benchmark only).  pvmem.<param>=<value> on
# the command line goes to insmod, as kmod's modprobe would pass it.
params=
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	pvmem.*) params="$params ${arg#pvmem.}" ;;
	esac
done
if grep -q 'pvmem_rig.stock=1' /proc/cmdline; then
	insmod $M/virtio_mem.ko || echo "pvmem-rig: insmod virtio_mem failed"
elif ! grep -q 'pvmem_rig.load=0' /proc/cmdline; then
	# shellcheck disable=SC2086 # one word per parameter
	insmod /pvmem/pvmem.ko $params || echo "pvmem-rig: insmod pvmem failed"
fi

stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
echo "@@pvmem-ready" >&3
# A command line whose command is shorter than it says lost bytes on the
# way in: it is dropped, and the host, missing the "@@pvmem-got", sends it
# again.  A command seen again (its "got" was slow) is not run twice.
last=
while IFS= read -r line <&3; do
	case "$line" in
	"@@pvmem-run "*)
		rest=${line#@@pvmem-run }
		id=${rest%% *}
		rest=${rest#* }
		len=${rest%% *}
		cmd=${rest#* }
		if [ "${#cmd}" != "$len" ]; then
			echo "pvmem-rig: dropped a damaged command line" > /dev/kmsg
			continue
		fi
		echo "@@pvmem-got $id" >&3
		[ "$id" = "$last" ] && continue
		last=$id
		sh -c "$cmd" </dev/null >&3 2>&3
		echo "@@pvmem-done $id $?" >&3
		;;
	esac
done
poweroff -f
