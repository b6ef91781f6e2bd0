#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: pvmem against Debian's stock virtio_mem.ko, same run.

Each driver gets an identical QEMU TCG guest (1 GiB boot RAM, memory
onlined movable) with one 2 MiB-block device, and the same three
measurements, timed on the host from qom-set until the device's size
(what the host sees plugged) equals the request:
  plug     0 -> 16 GiB
  unplug   16 GiB -> 0, idle memory
  load     6 GiB -> 1 GiB with 1 GiB of live tmpfs data sitting at the top
           of the plugged memory, which has to migrate
The guest for the stock driver loads virtio_mem.ko instead of pvmem.ko;
nothing else differs.  Results go to stdout and build/bench.txt.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmem_rig import BUILD, GiB, MiB, Device, Guest, RigError  # noqa: E402

FILL = ('i=0; while [ $i -lt 6 ]; do '
        'dd if=/dev/zero of=/tmp/f$i bs=1M count=%d 2>/dev/null || exit 1; '
        'i=$((i + 1)); done; rm /tmp/f0 /tmp/f1 /tmp/f2 /tmp/f3 /tmp/f4; sync')


def timed(g, size, timeout=900):
    start = time.time()
    g.set_requested('vm0', size)
    g.wait_size('vm0', size, timeout, poll=0.02)
    return time.time() - start


def run(driver):
    stock = driver == 'virtio_mem'
    g = Guest('bench-' + driver, [Device('vm0', size=16 * GiB, block=2 * MiB)],
              extra_modules=['virtio_mem'] if stock else (),
              cmdline='pvmem_rig.stock=1' if stock else '')
    try:
        bound = g.check('ls /sys/bus/virtio/drivers/%s | grep virtio' % driver)
        if not bound.strip():
            raise RigError('%s did not bind' % driver)
        res = {'plug': timed(g, 16 * GiB)}
        time.sleep(2)
        res['unplug'] = timed(g, 0)
        timed(g, 6 * GiB)
        time.sleep(2)
        # Five files fill the bottom 5 GiB, the sixth lands on top; keep it.
        g.check(FILL % 1024, timeout=900)
        res['load'] = timed(g, 1 * GiB)
        res['data'] = g.check('ls -l /tmp/f5 | awk "{print \\$5}"').strip()
        return res
    finally:
        damage = g.stop()
        g.cleanup()
        if damage:
            print('%s: console showed %s' % (driver, damage[0]))


def main():
    results = {}
    for driver in ('pvmem', 'virtio_mem'):
        print('benchmarking %s ...' % driver, flush=True)
        results[driver] = run(driver)
    p, s = results['pvmem'], results['virtio_mem']
    lines = ['%-34s %10s %12s %8s' % ('QEMU TCG, 1 GiB boot, 2 MiB blocks', 'pvmem',
                                       'virtio_mem', 'speedup')]
    for key, what in (('plug', 'plug 0 -> 16 GiB'),
                      ('unplug', 'unplug 16 GiB -> 0, idle'),
                      ('load', 'unplug 6 -> 1 GiB, 1 GiB live data')):
        lines.append('%-34s %9.2fs %11.2fs %7.1fx' % (what, p[key], s[key], s[key] / p[key]))
    lines.append('live data kept: pvmem %s bytes, virtio_mem %s bytes' % (p['data'], s['data']))
    text = '\n'.join(lines)
    print(text)
    with open(os.path.join(BUILD, 'bench.txt'), 'w') as f:
        f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
