# SPDX-License-Identifier: GPL-2.0
"""The guest setups `make check` boots, and the selftests each one runs.

Longest first: check.py runs two guests at a time and takes them in this
order, so the long ones do not come last."""
from pvmem_rig import Device, GiB, MiB

TiB = 1 << 40

SCENARIOS = [
    {
        'name': 'unplug',
        'doc': '16 GiB devices with 2 MiB (vm0) and 4 MiB (vm1) blocks: unplug '
               'cycles, under load, blocked, raced, manual offlining, host RSS',
        'devices': lambda: [Device('vm0', size=16 * GiB, block=2 * MiB),
                            Device('vm1', size=16 * GiB, block=4 * MiB)],
        'tests': ['pvmem_unplug_test'],
        'host_tests': ['unplugged_memory_untouched'],
    },
    {
        'name': 'lifecycle',
        'doc': 'one 8 GiB device: requested-size flapping for a minute over '
               'checksummed data, two request storms over more data (the '
               'shell must keep answering), then five system_resets',
        'devices': lambda: [Device('vm0', size=8 * GiB)],
        'guest': {'reboot': True},
        'tests': [],
        'host_tests': ['flapping', 'storms', 'reboots'],
    },
    {
        'name': 'detach',
        'doc': 'one 8 GiB device, pvmem built with FAULT_INJECT=1: PCI '
               'function removed and rescanned inside the guest, with and '
               'without data plugged; unbind during a slow plug and unplug, '
               'then bind again',
        'devices': lambda: [Device('vm0', size=8 * GiB)],
        'fault_inject': True,
        'tests': ['pvmem_detach_test'],
    },
    {
        'name': 'bench',
        'doc': "make bench at its small size (bench.py --small): every "
               "benchmark scenario with pvmem and with the stock virtio_mem, "
               "two 512 MiB guests each; passes if each completes with its "
               "data intact (no timing is asserted)",
        'runner': 'bench',
    },
    {
        'name': 'kdump',
        'doc': 'one 4 GiB device, crashkernel=256M: a real crash dump of a '
               'guest with memory plugged (kexec -p, sysrq c)',
        'devices': lambda: [Device('vm0', size=4 * GiB)],
        'guest': {'kdump': True},
        'tests': [],
        'helpers': ['pvmem_vmcore'],
        'host_tests': ['kdump'],
    },
    {
        'name': 'memmap',
        'doc': 'a 512 MiB guest with memory_hotplug.memmap_on_memory=1 and '
               'one 64 GiB device, 2 MiB blocks: 60 GiB plugged with memory '
               'maps inside their blocks, a pattern, exact and partial '
               'unplug over data, all of it back',
        'devices': lambda: [Device('vm0', size=64 * GiB, block=2 * MiB)],
        'guest': {'boot_mem': 512 * MiB,
                  'cmdline': 'memory_hotplug.memmap_on_memory=1'},
        'tests': ['pvmem_memmap_test'],
    },
    {
        'name': 'small',
        'doc': 'the same 512 MiB guest without memmap_on_memory: pvmem '
               'plugs what the boot memory can map, says so, and the guest '
               'keeps running programs',
        'devices': lambda: [Device('vm0', size=64 * GiB, block=2 * MiB)],
        'guest': {'boot_mem': 512 * MiB},
        'tests': ['pvmem_memmap_test'],
    },
    {
        'name': 'bbm',
        'doc': 'big-block mode: three 4 GiB devices with 256 MiB (vm0), '
               '1 GiB (vm1) and 2 MiB (vm2) device blocks, pvmem loaded '
               'with force_bbm=1: grow and shrink, unplug under load, a '
               'request inside a big block, flapping, two system_resets',
        'devices': lambda: [Device('vm0', size=4 * GiB, block=256 * MiB),
                            Device('vm1', size=4 * GiB, block=1 * GiB),
                            Device('vm2', size=4 * GiB, block=2 * MiB)],
        'guest': {'cmdline': 'pvmem.force_bbm=1', 'reboot': True},
        'tests': ['pvmem_bbm_test'],
        'host_tests': ['bbm_reboots'],
    },
    {
        'name': 'normal',
        'doc': 'one 16 GiB device, 2 MiB blocks, a 1 GiB guest: memory onlined '
               'online_kernel and by the auto-movable policy, unplugged to 0 '
               'idle and after files and processes left kernel allocations '
               'in it; pvmem_held/ says what stays',
        'devices': lambda: [Device('vm0', size=16 * GiB, block=2 * MiB)],
        'tests': ['pvmem_normal_test'],
    },
    {
        'name': 'sysfs',
        'doc': 'one 4 GiB device: sysfs status and knobs, counters, tracepoints, '
               'module parameters at load',
        'devices': lambda: [Device('vm0', size=4 * GiB)],
        'tests': ['pvmem_sysfs_test'],
    },
    {
        'name': 'plug',
        'doc': 'one 16 GiB device, 2 MiB blocks: plug steps, usable memory',
        'devices': lambda: [Device('vm0', size=16 * GiB, block=2 * MiB)],
        'tests': ['pvmem_plug_test'],
    },
    {
        'name': 'faults',
        'doc': 'one 4 GiB device, pvmem built with FAULT_INJECT=1: injected '
               'BUSY, NACK, ERROR, isolation and hot-add failures; onlining '
               'and offlining failed by memory-notifier-error-inject',
        'devices': lambda: [Device('vm0', size=4 * GiB)],
        'fault_inject': True,
        'guest': {'extra_modules': ['memory-notifier-error-inject']},
        'tests': ['pvmem_fault_test'],
    },
    {
        'name': 'pressure',
        'doc': 'one 8 GiB device plugged while a process holds all but 40 MiB '
               'of the 1 GiB boot memory',
        'devices': lambda: [Device('vm0', size=8 * GiB)],
        'tests': ['pvmem_pressure_test'],
    },
    {
        'name': 'reject',
        'doc': 'a good device beside one above the pluggable range (64 TiB, '
               '4-level paging), one with 32 GiB blocks (above 16 GiB) and '
               'one with 1 MiB blocks (below a pageblock)',
        'devices': lambda: [Device('vm0', size=4 * GiB),
                            Device('vmhigh', size=1 * GiB, memaddr=64 * TiB),
                            Device('vmbig', size=32 * GiB, block=32 * GiB),
                            Device('vmsmall', size=1 * GiB, block=1 * MiB)],
        'guest': {'cpu': 'qemu64,phys-bits=48', 'maxmem': 64 * TiB + 8 * GiB},
        'tests': ['pvmem_reject_test'],
    },
    {
        'name': 'install',
        'doc': "one 4 GiB device; the guest's module tree holds what 'make "
               "install' staged and the stock virtio_mem: kmod's modprobe by "
               "modalias binds pvmem, and virtio_mem once the modprobe.d "
               "file says 'blacklist pvmem'",
        'devices': lambda: [Device('vm0', size=4 * GiB)],
        'guest': {'install': True, 'load_pvmem': False},
        'tests': [],
        'host_tests': ['installed_driver'],
    },
    {
        'name': 'numa',
        'doc': 'two NUMA nodes, one 4 GiB device on each (vm1 file-backed)',
        'devices': lambda: [Device('vm0', size=4 * GiB, node=0),
                            Device('vm1', size=4 * GiB, node=1, backend='file')],
        'guest': {'nodes': 2},
        'tests': ['pvmem_numa_test'],
    },
    {
        'name': 'boot',
        'doc': 'device requests 2 GiB before pvmem loads; the rig\'s control '
               'line drops a damaged command and runs a doubled one once',
        'devices': lambda: [Device('vm0', size=8 * GiB, requested=2 * GiB)],
        'tests': ['pvmem_boot_test'],
        'host_tests': ['control_line'],
    },
]
