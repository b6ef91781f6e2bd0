#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: pvmem against Debian's stock virtio_mem.ko, same run, on
each guest kernel (6.1 and 6.12: each against that kernel's own
virtio_mem.ko; 6.12's has the upstream removal-retry and config-change
fixes).

Each driver gets an identical QEMU TCG guest (1 GiB boot RAM, memory
onlined movable) with one 2 MiB-block device, and the same three
measurements, timed on the host from qom-set until the device's size
(what the host sees plugged) equals the request:
  plug     0 -> 16 GiB; also until the guest's MemTotal shows it all
           (a PLUG is acknowledged before the guest has added the memory)
  unplug   16 GiB -> 0, idle memory
  load     6 GiB -> 1 GiB with 1 GiB of live tmpfs data sitting at the top
           of the plugged memory, which has to migrate; after it, the
           memory map Linux still keeps for unplugged memory (memory
           blocks left in the region times 2 MiB, less the map of what is
           plugged), counted the same way for both drivers
  normal   in a second guest of each driver, memory onlined online_kernel
           (ZONE_NORMAL; the boot memory is all ZONE_DMA32): 8 GiB, then
           16 GiB plugged and unplugged to 0 idle; 16 GiB plugged under
           memory_hotplug.online_policy=auto-movable (part ZONE_NORMAL,
           part ZONE_MOVABLE) and unplugged to 0 idle; then, online_kernel
           again, 4 GiB plugged, 30,000 files in 300 directories of a
           tmpfs, all but every tenth removed, and unplugged to 0: what
           stays (the host's size) once the size has not changed for 30 s,
           and how long it took to get there
Plug and idle unplug are the median of five rounds.  The guest for the
stock driver loads virtio_mem.ko instead of pvmem.ko; nothing else
differs.  pvmem is built for each kernel first.  Results go to stdout and
build/bench.txt.  'bench.py 6.12' runs one kernel only, 'bench.py normal'
the ZONE_NORMAL measurements only.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmem_rig import BUILD, ROOT, GiB, MiB, Device, Guest, RigError, guest_krel  # noqa: E402

KERNELS = ('6.1', '6.12')

FILL = ('i=0; while [ $i -lt 6 ]; do '
        'dd if=/dev/zero of=/tmp/f$i bs=1M count=%d 2>/dev/null || exit 1; '
        'i=$((i + 1)); done; rm /tmp/f0 /tmp/f1 /tmp/f2 /tmp/f3 /tmp/f4; sync')


def timed(g, size, timeout=900):
    start = time.time()
    g.set_requested('vm0', size)
    g.wait_size('vm0', size, timeout, poll=0.02)
    return time.time() - start


# Wait for MemTotal >= $1 kB with shell builtins only: no fork per poll.
WAIT_MEM = ('while :; do while read -r k v u; do [ "$k" = MemTotal: ] && break; '
            'done < /proc/meminfo; [ "$v" -ge %d ] && break; usleep 2000; done')
ROUNDS = 5


def timed_guest(g, size, kb):
    """Time from qom-set until the guest's MemTotal reaches kb."""
    start = time.time()
    g.set_requested('vm0', size)
    g.check(WAIT_MEM % kb, timeout=900)
    took = time.time() - start
    g.wait_size('vm0', size, 900, poll=0.02)
    return took


def median(xs):
    return sorted(xs)[len(xs) // 2]


def mem_total_kb(g):
    return int(g.check("awk '/MemTotal/{print $2}' /proc/meminfo").strip())


# Memory blocks of the region Linux holds, by their sysfs entries.
COUNT_BLOCKS = ('bs=$((0x$(cat /sys/devices/system/memory/block_size_bytes))); n=0; '
                'for d in /sys/devices/system/memory/memory[0-9]*; do '
                'a=$(( ${d##*memory} * bs )); '
                '[ $a -ge %d ] && [ $a -lt %d ] && n=$((n + 1)); done; echo $n $bs')


def memmap_held(g):
    """Memory-map bytes Linux keeps for unplugged memory of vm0's region."""
    start = g.qom_get('vm0', 'memaddr')
    end = start + g.qom_get('vm0', 'region-size')
    n, bs = (int(x) for x in g.check(COUNT_BLOCKS % (start, end)).split())
    return (n * bs - g.size('vm0')) // 64


def build(kernel):
    """pvmem.ko for @kernel, kept as build/pvmem-bench-<kernel>.ko."""
    ko = os.path.join(BUILD, 'pvmem-bench-%s.ko' % kernel)
    subprocess.check_call('make --no-print-directory modules KDIR=/usr/src/linux-headers-%s '
                          '>/dev/null && cp pvmem.ko %s' % (guest_krel(kernel), ko),
                          shell=True, cwd=ROOT)
    return ko


def in_guest(name, driver, kernel, module, measure, cmdline=''):
    """Boot the bench guest for @driver (the stock one loads
    virtio_mem.ko instead of pvmem.ko, nothing else differs), return
    measure(guest), and report console damage."""
    stock = driver == 'virtio_mem'
    g = Guest('%s-%s' % (name, driver), [Device('vm0', size=16 * GiB, block=2 * MiB)],
              extra_modules=['virtio_mem'] if stock else (),
              cmdline=cmdline + (' pvmem_rig.stock=1' if stock else ''),
              kernel=kernel, module=module)
    try:
        return measure(g)
    finally:
        damage = g.stop()
        g.cleanup()
        if damage:
            print('%s: console showed %s' % (driver, damage[0]))


def run(driver, kernel, module):
    return in_guest('bench', driver, kernel, module, lambda g: measure_all(g, driver))


def measure_all(g, driver):
    """Plug, idle unplug and unplug over live data (see the top)."""
    bound = g.check('ls /sys/bus/virtio/drivers/%s | grep virtio' % driver)
    if not bound.strip():
        raise RigError('%s did not bind' % driver)
    base = mem_total_kb(g)
    rounds = {'plug': [], 'unplug': [], 'plug_guest': []}
    for _ in range(ROUNDS):
        rounds['plug'].append(timed(g, 16 * GiB))
        time.sleep(1)
        rounds['unplug'].append(timed(g, 0))
        time.sleep(1)
        rounds['plug_guest'].append(timed_guest(g, 16 * GiB, base + (16 * GiB >> 10)))
        time.sleep(1)
        timed(g, 0)
        time.sleep(1)
    res = {k: median(v) for k, v in rounds.items()}
    timed(g, 6 * GiB)
    time.sleep(2)
    # Five files fill the bottom 5 GiB, the sixth lands on top; keep it.
    g.check(FILL % 1024, timeout=900)
    res['load'] = timed(g, 1 * GiB)
    res['data'] = g.check('ls -l /tmp/f5 | awk "{print \\$5}"').strip()
    time.sleep(2)
    res['memmap'] = memmap_held(g)
    return res


# 30,000 one-line files in 300 directories, then all but every tenth go
# (shell builtins only: no fork per file).
FILES = ('mkdir -p /tmp/nw && mount -t tmpfs -o nr_inodes=0 none /tmp/nw && '
         'd=0; while [ $d -lt 300 ]; do mkdir /tmp/nw/d$d; i=0; '
         'while [ $i -lt 100 ]; do echo $i > /tmp/nw/d$d/f$i; i=$((i + 1)); done; '
         'd=$((d + 1)); done; d=0; while [ $d -lt 300 ]; do i=1; '
         'while [ $i -lt 100 ]; do [ $((i % 10)) = 0 ] || rm /tmp/nw/d$d/f$i; '
         'i=$((i + 1)); done; d=$((d + 1)); done')


def settle(g, timeout=900, still=30):
    """Ask for 0 and wait until the host's size is 0 or has not changed
    for @still seconds: (bytes left, seconds until the last change)."""
    start = time.time()
    g.set_requested('vm0', 0)
    last, changed = g.size('vm0'), start
    while last and time.time() - changed < still and time.time() - start < timeout:
        time.sleep(0.2)
        cur = g.size('vm0')
        if cur != last:
            last, changed = cur, time.time()
    return last, changed - start


def run_normal(driver, kernel, module):
    """Unplug from ZONE_NORMAL, idle and after the file workload."""
    return in_guest('bench-normal', driver, kernel, module, measure_normal,
                    cmdline='memhp_default_state=online_kernel')


# How Linux onlines what is hot-added from now on.
ONLINE = ('echo %s > /sys/module/memory_hotplug/parameters/online_policy && '
          'echo %s > /sys/devices/system/memory/auto_online_blocks')


def measure_normal(g):
    res = {}
    for gib in (8, 16):
        timed(g, gib * GiB)
        time.sleep(2)
        res['normal_idle_%d' % gib] = settle(g)
    g.check(ONLINE % ('auto-movable', 'online'))
    timed(g, 16 * GiB)
    time.sleep(2)
    res['normal_auto'] = settle(g)
    g.check(ONLINE % ('contig-zones', 'online_kernel'))
    timed(g, 4 * GiB)
    time.sleep(2)
    g.check(FILES, timeout=900)
    res['normal_work'] = settle(g)
    return res


def table_normal(kernel, p, s):
    lines = ['%-34s %16s %16s' % ('%s: unplug to 0, online_kernel' % kernel,
                                  'pvmem', 'virtio_mem')]
    for key, what in (('normal_idle_8', '8 GiB, idle: left, time'),
                      ('normal_idle_16', '16 GiB, idle: left, time'),
                      ('normal_auto', '16 GiB auto-movable: left, time'),
                      ('normal_work', '4 GiB, after files: left, time')):
        lines.append('%-34s %7d MiB %5.1fs %7d MiB %5.1fs' % (
            what, p[key][0] // MiB, p[key][1], s[key][0] // MiB, s[key][1]))
    return lines


def table(kernel, p, s):
    lines = ['%-34s %10s %12s %8s' % ('%s: QEMU TCG, 1 GiB boot, 2 MiB' % kernel, 'pvmem',
                                       'virtio_mem', 'speedup')]
    for key, what in (('plug', 'plug 0 -> 16 GiB (host sees)'),
                      ('plug_guest', 'plug 0 -> 16 GiB (guest has it)'),
                      ('unplug', 'unplug 16 GiB -> 0, idle'),
                      ('load', 'unplug 6 -> 1 GiB, 1 GiB live data')):
        lines.append('%-34s %9.2fs %11.2fs %7.1fx' % (what, p[key], s[key], s[key] / p[key]))
    lines.append('live data kept: pvmem %s bytes, virtio_mem %s bytes' % (p['data'], s['data']))
    lines.append('memory map kept for unplugged memory after it: pvmem %d KiB, '
                 'virtio_mem %d KiB' % (p['memmap'] >> 10, s['memmap'] >> 10))
    return lines


def main():
    args = sys.argv[1:]
    only_normal = 'normal' in args
    kernels = [a for a in args if a != 'normal'] or KERNELS
    modules = {k: build(k) for k in kernels}
    # Leave the tree's pvmem.ko the plain 6.1 build, as 'make' makes it.
    subprocess.check_call('make --no-print-directory modules >/dev/null', shell=True, cwd=ROOT)
    lines = []
    for kernel in kernels:
        results, normal = {}, {}
        for driver in ('pvmem', 'virtio_mem'):
            print('benchmarking %s on %s ...' % (driver, kernel), flush=True)
            if not only_normal:
                results[driver] = run(driver, kernel, modules[kernel])
            normal[driver] = run_normal(driver, kernel, modules[kernel])
        if not only_normal:
            lines += table(kernel, results['pvmem'], results['virtio_mem'])
        lines += table_normal(kernel, normal['pvmem'], normal['virtio_mem']) + ['']
    text = '\n'.join(lines).rstrip()
    print(text)
    with open(os.path.join(BUILD, 'bench.txt'), 'w') as f:
        f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
