#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: boot a guest with pvmem and one 16 GiB virtio-mem device, plug
4 GiB then 8 GiB from the host over QMP, give 6 GiB back, and show the
guest's view (including pvmemstat) at each step."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmem_rig import GiB, MiB, ROOT, Device, Guest, RigError  # noqa: E402

VIEW = r'''
grep -E '^(MemTotal|MemFree):' /proc/meminfo
for n in /sys/devices/system/node/node*; do
    echo "$(basename $n): $(grep MemTotal $n/meminfo | sed 's/.*MemTotal: *//')"
done
mb=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
on=0; movable=0
for b in /sys/devices/system/memory/memory*; do
    i=${b##*memory}
    [ $((i * mb)) -ge $((0x100000000)) ] || continue
    # valid_zones of a block still being added crashes 6.1 and 6.12.
    [ "$(cat $b/state)" = online ] || continue
    on=$((on + 1))
    case "$(cat $b/valid_zones)" in Movable*) movable=$((movable + 1));; esac
done
echo "pvmem memory blocks online: $on ($movable movable, $((mb >> 20)) MiB each)"
grep 'pvmem' /proc/iomem | sed 's/^ */iomem: /'
pvmemstat -b
'''


def show(g, title):
    print('--- %s: host sees size %d MiB of requested %d MiB' % (
        title, g.size('vm0') // MiB, g.qom_get('vm0', 'requested-size') // MiB))
    for line in g.check(VIEW).splitlines():
        print('    ' + line)


def resize(g, size):
    """Ask for size from the host, time it, show the guest's view."""
    start = time.time()
    print('host: qom-set vm0 requested-size %d GiB' % (size // GiB))
    g.set_requested('vm0', size)
    g.wait_size('vm0', size)
    print('    done in %.1f s' % (time.time() - start))
    time.sleep(0.5)
    show(g, 'at %d GiB' % (size // GiB))


def main():
    build = subprocess.run(['make', '--no-print-directory', '-C', ROOT, 'modules'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if build.returncode:
        print(build.stdout)
        return 1
    print('Booting Debian 6.1 under QEMU TCG: 1 GiB boot RAM, one 16 GiB '
          'virtio-mem device (2 MiB blocks), pvmem loaded by init')
    g = Guest('demo', [Device('vm0', size=16 * GiB)])
    try:
        print(g.check("dmesg | grep 'pvmem virtio' | sed 's/^/    /'"))
        show(g, 'at boot')
        for size in (4 * GiB, 8 * GiB, 2 * GiB):
            resize(g, size)
    except RigError as e:
        print('demo failed: %s' % e)
        return 1
    finally:
        damage = g.stop()
        g.cleanup()
    print('guest shut down%s' % ('; console showed: %s' % damage[0] if damage else ', console clean'))
    return 1 if damage else 0


if __name__ == '__main__':
    sys.exit(main())
