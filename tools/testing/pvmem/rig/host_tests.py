# SPDX-License-Identifier: GPL-2.0
"""Tests driven from the host, for what a guest cannot do to itself:
flapping the request for a minute, request storms over data, resetting
the machine, crashing it into a crash kernel."""
import random
import re
import time

from pvmem_rig import GiB, MiB, RigError

PV = '/sys/bus/virtio/drivers/pvmem/virtio*/pvmem'


def guest_int(g, cmd):
    return int(g.check(cmd).strip())


def mem_total_kb(g):
    return guest_int(g, "awk '/MemTotal/{print $2}' /proc/meminfo")


def wait_idle(g, timeout=120):
    """Every pvmem device of the guest rests within @timeout seconds."""
    end = time.time() + timeout
    while set(g.check('cat %s/state' % PV).split()) != {'idle'}:
        if time.time() > end:
            return False
        time.sleep(0.2)
    return True


def flapping(g, t, name):
    """requested-size flips between 1 and 3 GiB every 100 ms for a minute
    while 256 MiB of checksummed data sits in pvmem memory."""
    base = mem_total_kb(g)
    g.set_requested('vm0', 2 * GiB)
    g.wait_size('vm0', 2 * GiB)
    g.check('dd if=/dev/urandom of=/tmp/data bs=1M count=256 2>/dev/null && '
            'md5sum /tmp/data > /tmp/data.md5')
    start, flips = time.time(), 0
    while time.time() - start < 60:
        g.set_requested('vm0', (1 if flips % 2 else 3) * GiB)
        flips += 1
        time.sleep(0.1)
    last = 1536 * MiB
    g.set_requested('vm0', last)
    g.wait_size('vm0', last, 300)
    t.add('%s.flap_settles_at_last_request' % name, wait_idle(g) and g.size('vm0') == last,
          why='size %d after %d flips' % (g.size('vm0'), flips))
    rc, out = g.run('md5sum -c /tmp/data.md5')
    t.add('%s.flap_data_intact' % name, rc == 0, why=out)
    rc, _ = g.run("dmesg | grep -q -e 'invoked oom-killer' -e 'Out of memory'")
    t.add('%s.flap_no_oom' % name, rc != 0)
    total = mem_total_kb(g)
    t.add('%s.flap_memtotal_consistent' % name, total == base + (last >> 10),
          why='MemTotal %d kB, boot %d kB + %d kB plugged' % (total, base, last >> 10))
    print('   %d flips in 60 s' % flips)
    g.run('rm -f /tmp/data /tmp/data.md5')


def overdrawn(rss):
    """Devices whose backend holds more than is plugged (Guest.backend_rss())."""
    return ['%s: %d MiB resident, %d MiB plugged' % (i, r >> 20, p >> 20)
            for i, (r, p) in rss.items() if r > p]


def control_line(g, t, name):
    """The rig's control line copes with what the guest's serial driver
    does to it (Guest.run()): a command line that lost bytes is dropped,
    not run as what is left, and sent again; one that arrives twice (its
    acknowledgement was slow) runs once."""
    cmd = 'echo ran >> /tmp/ran; echo answered'
    g.check('rm -f /tmp/ran')
    before = g.resends
    g.lose_next = 6
    rc, out = g.run(cmd, timeout=120)
    t.add('%s.rig_damaged_line_sent_again' % name,
          rc == 0 and out.strip() == 'answered' and g.resends > before,
          why='exit %d, %d resends, output %r' % (rc, g.resends - before, out))
    g.twice_next = True
    rc, out = g.run(cmd, timeout=120)
    ran = g.check('cat /tmp/ran | wc -l').strip()
    t.add('%s.rig_line_twice_runs_once' % name,
          rc == 0 and out.strip() == 'answered' and ran == '2',
          why='exit %d, output %r, ran %s times in all (2 wanted)' % (rc, out, ran))


def alive(g, timeout=30):
    """The guest's shell answers within @timeout seconds, else RigError."""
    g.check('true', timeout=timeout)


def storm(g, t, name, data_mib, low, high, period, seconds):
    """requested-size flips between @low and @high every @period seconds
    for @seconds over @data_mib of checksummed tmpfs data, then settles
    half-way.  The shell must keep answering throughout (checked every
    few seconds), the device must land on the last request and the data
    must survive."""
    tag = '%s.storm_%dm_%d_%d' % (name, data_mib, low >> 30, high >> 30)
    g.set_requested('vm0', high)
    g.wait_size('vm0', high)
    g.check('dd if=/dev/urandom of=/tmp/storm bs=1M count=%d 2>/dev/null && '
            'md5sum /tmp/storm > /tmp/storm.md5' % data_mib, timeout=300)
    start = probe = time.time()
    flips = 0
    while time.time() - start < seconds:
        g.set_requested('vm0', low if flips % 2 == 0 else high)
        flips += 1
        time.sleep(period)
        if time.time() - probe > 5:
            alive(g)
            probe = time.time()
    last = (low + high) // 2
    g.set_requested('vm0', last)
    g.wait_size('vm0', last, 300)
    alive(g)
    t.add('%s_settles' % tag, wait_idle(g) and g.size('vm0') == last,
          why='size %d after %d flips' % (g.size('vm0'), flips))
    rc, out = g.run('md5sum -c /tmp/storm.md5', timeout=300)
    t.add('%s_data_intact' % tag, rc == 0, why=out)
    print('   %s: %d flips in %d s' % (tag, flips, seconds))
    g.run('rm -f /tmp/storm /tmp/storm.md5')


def storms(g, t, name):
    """The request storm of issue 11 (768 MiB over 6 GiB, 4 <-> 6 GiB at
    100 ms) and a faster, wider one with less data."""
    storm(g, t, name, 768, 4 * GiB, 6 * GiB, 0.1, 60)
    storm(g, t, name, 384, 3 * GiB, 7 * GiB, 0.05, 30)


def unplugged_memory_untouched(g, t, name):
    """After an unplug that leaves a memory block partly plugged, a guest
    workload that takes all free memory must not bring back any unplugged
    memory on the host: the backend stays at or below the plugged size."""
    g.set_requested('vm0', 3 * GiB)
    g.wait_size('vm0', 3 * GiB)
    g.set_requested('vm0', GiB + 6 * MiB)
    g.wait_size('vm0', GiB + 6 * MiB)
    wait_idle(g)
    avail = guest_int(g, "awk '/MemAvailable/{print $2}' /proc/meminfo") >> 10
    g.check('dd if=/dev/zero of=/tmp/hog bs=1M count=%d 2>/dev/null; true' % max(avail - 96, 0),
            timeout=300)
    rss = g.backend_rss()
    g.run('rm -f /tmp/hog')
    over = overdrawn(rss)
    vm0 = [v for k, v in rss.items() if 'vm0' in k.split('+')]
    t.add('%s.hog_never_touches_unplugged' % name, not over and vm0 and vm0[0][0] > 0,
          why='; '.join(over) or 'no resident memory seen for vm0')
    print('   %d MiB filled; backends %s' % (max(avail - 96, 0), ', '.join(
        '%s %d/%d MiB' % (i, r >> 20, p >> 20) for i, (r, p) in rss.items())))
    # Back to nothing, without waiting: the kernel-zone test before may
    # have left memory that cannot go (at_rest checks why).
    g.set_requested('vm0', 0)


def reset_replugs(g, t, name, devs, rounds):
    """@rounds system_resets with 2 GiB plugged on each of @devs: each boot
    every device starts from nothing plugged and pvmem plugs back to the
    request (1 GiB of boot memory: 8 memory blocks, 16 per device)."""
    for d in devs:
        g.set_requested(d, 2 * GiB)
    for d in devs:
        g.wait_size(d, 2 * GiB)
    for i in range(1, rounds + 1):
        g.system_reset()
        for d in devs:
            g.wait_size(d, 2 * GiB, 120)
        idle = wait_idle(g)
        probe = g.check("dmesg | grep 'pvmem virtio'")
        plugged = guest_int(g, "cat /sys/bus/virtio/drivers/pvmem/virtio*/pvmem_stats/bytes_plugged"
                               " | awk '{s += $1} END {print s}'")
        online = guest_int(g, 'cat /sys/devices/system/memory/memory*/state | grep -c online')
        ok = (idle and probe.count('requested size: 0x80000000') == len(devs)
              and 'plugged before probe' not in probe
              and plugged == 2 * GiB * len(devs) and online == 8 + 16 * len(devs))
        t.add('%s.reset_%d_replugs' % (name, i), ok,
              why='idle %s, bytes_plugged %d, online blocks %d, probe: %s' % (
                  idle, plugged, online, probe.strip()))


def reboots(g, t, name):
    """Five system_resets with 2 GiB plugged on vm0."""
    reset_replugs(g, t, name, ['vm0'], 5)


def bbm_reboots(g, t, name):
    """Two system_resets with 2 GiB plugged on each big-block device."""
    reset_replugs(g, t, name, [d.id for d in g.devices], 2)


def kdump(g, t, name):
    """A real crash dump: 1 GiB + 6 MiB plugged (the last memory block
    mostly unplugged), 512 MiB of marker text in tmpfs (most of it in
    pvmem's memory), a crash kernel loaded with kexec_file_load (it
    describes the memory added by then), sysrq c.  In the crash kernel
    pvmem must leave the device as it is, log kdump mode, and let
    /proc/vmcore be read to its end with the marker found in the
    device's region; the unplugged part reads as zeros (and the host's
    RSS check after the scenario proves it was not touched)."""
    plugged = GiB + 6 * MiB
    g.set_requested('vm0', plugged)
    g.wait_size('vm0', plugged)
    wait_idle(g)
    addr = g.qom_get('vm0', 'memaddr')
    region = g.qom_get('vm0', 'region-size')
    marker = 'PVMEM-KDUMP-%08x' % random.getrandbits(32)
    g.check('yes %s | head -c %d > /tmp/m1 && for i in $(seq 512); do cat /tmp/m1; done '
            '> /tmp/marker && rm /tmp/m1' % (marker, MiB))
    g.check('cd / && find . -xdev ! -path "./boot*" | cpio -o -H newc > /tmp/crash.cpio 2>/dev/null')
    append = ('console=ttyS0 panic_on_warn=1 panic=-1 oops=panic mitigations=off '
              'nr_cpus=1 irqpoll reset_devices sysctl.kernel.hung_task_timeout_secs=30')
    g.check('/sbin/kexec -p -s /boot/vmlinuz --initrd=/tmp/crash.cpio --append="%s"' % append)
    g.crash()
    rc, log = g.run("dmesg | grep 'pvmem virtio'")
    t.add('%s.kdump_mode_leaves_device_as_is' % name,
          'kdump mode: %d MiB plugged' % (plugged >> 20) in log and
          'unplugged all memory' not in log and g.size('vm0') == plugged,
          why='size %d; log: %s' % (g.size('vm0'), log.strip()))
    rc, out = g.run('/pvmem/tests/pvmem_vmcore %d %d %s' % (addr, addr + region, marker),
                    timeout=900)
    m = re.search(r'read (\d+) bytes; region (\d+) bytes, (\d+) markers, (\d+) zero', out)
    t.add('%s.kdump_vmcore_read_completes' % name, rc == 0 and m is not None,
          why=out.strip())
    if not m:
        return
    total, inside, markers, zeros = (int(x) for x in m.groups())
    print('   vmcore: %d MiB read, %d MiB of them in the region, %d markers, '
          '%d zero pages' % (total >> 20, inside >> 20, markers, zeros))
    # Most of the 512 MiB went to pvmem's (movable) memory.
    t.add('%s.kdump_data_found_in_dump' % name,
          markers * (len(marker) + 1) > 256 * MiB, why=out.strip())
    unplugged = 128 * MiB - 6 * MiB
    t.add('%s.kdump_unplugged_memory_reads_as_zeros' % name,
          zeros * 4096 >= unplugged, why=out.strip())


MODPROBE = '/sbin/modprobe'	# kmod's, as a real guest has it


def bound_driver(g, vdir):
    out = g.check('readlink %s/driver; true' % vdir).strip()
    return out.rsplit('/', 1)[-1]


def installed_driver(g, t, name):
    """The guest boots with what 'make install' staged (pvmem under
    updates/, /etc/modprobe.d/pvmem.conf), the stock virtio_mem beside it
    and kmod's modprobe.  Loading by the device's modalias, as udev does,
    binds pvmem and never virtio_mem, and pvmem prints the stock driver's
    lines; virtio_mem asked for by name is refused.  With "blacklist
    pvmem" in the file's place (the documented way back) virtio_mem binds
    and plugs, and pvmem stays unloaded."""
    vdir = g.check('dirname $(grep -l 0x0018 /sys/bus/virtio/devices/*/device)').strip()
    alias = g.check('cat %s/modalias' % vdir).strip()
    rc, out = g.run('%s %s' % (MODPROBE, alias))
    loaded = g.check('lsmod').split()
    drv = bound_driver(g, vdir)
    t.add('%s.modalias_loads_pvmem_not_virtio_mem' % name,
          rc == 0 and drv == 'pvmem' and 'virtio_mem' not in loaded,
          why='modprobe %s: %d %s; bound to %r; lsmod %s' % (alias, rc, out, drv, loaded))
    rc, out = g.run('%s virtio_mem' % MODPROBE)
    t.add('%s.virtio_mem_refused_by_name' % name,
          rc != 0 and 'virtio_mem' not in g.check('lsmod').split(),
          why='modprobe virtio_mem exit %d: %s' % (rc, out))
    before = mem_total_kb(g)
    g.set_requested('vm0', GiB)
    g.wait_size('vm0', GiB, 120)
    idle = wait_idle(g)
    grown = mem_total_kb(g) - before
    log = g.check("dmesg | grep 'pvmem virtio'")
    words = ['start address: 0x', 'region size: 0x100000000', 'device block size: 0x200000',
             'memory block size: 0x8000000', 'plugged size: 0x0',
             'requested size: 0x40000000']
    missing = [w for w in words if w not in log]
    t.add('%s.installed_pvmem_plugs_and_prints_stock_lines' % name,
          idle and grown == GiB >> 10 and not missing,
          why='idle %s, MemTotal grew %d KiB, missing %s in: %s' % (idle, grown, missing, log))
    g.set_requested('vm0', 0)
    g.wait_size('vm0', 0, 120)
    end = time.time() + 60
    while g.run('rmmod pvmem')[0] and time.time() < end:
        time.sleep(0.5)
    g.check('echo "blacklist pvmem" > /etc/modprobe.d/pvmem.conf')
    rc, out = g.run('%s %s' % (MODPROBE, alias))
    drv = bound_driver(g, vdir)
    loaded = g.check('lsmod').split()
    g.set_requested('vm0', GiB)
    try:
        g.wait_size('vm0', GiB, 120)
        g.set_requested('vm0', 0)
        g.wait_size('vm0', 0, 120)
        sized = ''
    except RigError as e:
        sized = str(e)
    t.add('%s.way_back_binds_virtio_mem' % name,
          rc == 0 and drv == 'virtio_mem' and 'pvmem' not in loaded and not sized,
          why='modprobe %d %s; bound to %r; lsmod %s; %s' % (rc, out, drv, loaded, sized))
