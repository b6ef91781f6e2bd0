#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvmem QEMU rig: boot Debian's 6.1 kernel under TCG with pvmem and drive it.

The guest is a busybox initramfs (guest-init.sh) holding pvmem.ko, the
virtio transport modules and the selftests.  The host side:
  - builds the initramfs, starts QEMU with the requested memory layout,
  - runs shell commands in the guest over ttyS1 (framed, with exit codes),
  - answers the guest's requests to resize devices (QMP qom-set/qom-get),
  - watches the console (ttyS0) for BUG:/WARNING:/Call Trace/Oops; the
    guest boots with panic_on_warn, so any of them ends the run.
Every wait has a hard timeout.
"""
import base64
import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
BUILD = os.path.join(ROOT, 'build')
GiB = 1 << 30
MiB = 1 << 20
# What the console must never show: BUG:, kernel BUG at, WARNING:, a
# trace, an oops or panic, a hung task, a soft lockup or an RCU stall.
DAMAGE = re.compile(r'BUG:|kernel BUG|WARNING:|Call Trace|Oops|Kernel panic|'
                    r'blocked for more than|soft lockup|rcu_.*stall')
# A frame of a kernel call trace: "[  1.0]  name+0x7c/0x2b0 [module]".
FRAME = re.compile(r'^\[[ 0-9.]+\]\s+(\? )?([A-Za-z0-9_.]+)\+0x[0-9a-f]+/0x[0-9a-f]+')
# Frames that say nothing about who waits for what.
DULL_FRAMES = {'__schedule', 'schedule', 'schedule_preempt_disabled',
               'schedule_timeout', 'dump_stack_lvl', 'ret_from_fork', 'kthread',
               'worker_thread', 'process_one_work', 'entry_SYSCALL_64_after_hwframe'}


def call_traces(text, most=3):
    """The first @most call traces of console @text, each as one line:
    the task it is about (from the line before, if it names one), then
    its reliable frames innermost first, "<"-joined."""
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if 'Call Trace:' not in line:
            continue
        frames = []
        for ln in lines[i + 1:i + 40]:
            if '</TASK>' in ln or '---[ end trace' in ln:
                break
            m = FRAME.match(ln)
            if m and not m.group(1) and m.group(2) not in DULL_FRAMES:
                frames.append(m.group(2))
        task = next((ln.split('task:')[1].split()[0] for ln in reversed(lines[max(i - 3, 0):i])
                     if 'task:' in ln), '')
        out.append('%strace: %s' % (task + ' ' if task else '', ' < '.join(frames[:8])))
        if len(out) == most:
            break
    return out


# Boots more of a guest kernel that crashed before /init (Guest()).
BOOT_RETRIES = 2
# Seconds the guest has to acknowledge a command before it is sent again.
ACK_WAIT = 10
TRANSPORT = ['virtio', 'virtio_ring', 'virtio_pci_legacy_dev',
             'virtio_pci_modern_dev', 'virtio_pci']


class RigError(Exception):
    pass


# The guest kernel series a Guest boots unless told: 6.1, or PVMEM_GUEST.
KERNEL = os.environ.get('PVMEM_GUEST', '6.1')


def guest_krel(series=None):
    """The release of Debian's kernel of @series (6.1, 6.12 or cloud; by
    default KERNEL), see scripts/guest-krel."""
    return subprocess.check_output([os.path.join(ROOT, 'scripts', 'guest-krel'),
                                    series or KERNEL], text=True).strip()


def install_root(kernel):
    """Where check.py's 'make install' stages the tree of @kernel, which
    Guest(install=True) boots."""
    return os.path.join(BUILD, 'install-%s' % kernel)


def size_arg(n):
    """Bytes as a QEMU size string."""
    for unit, mult in (('G', GiB), ('M', MiB)):
        if n % mult == 0:
            return '%d%s' % (n // mult, unit)
    return str(n)


def copy_program(path, root):
    """Copy a dynamically linked program and the libraries ldd names
    into @root, at the same paths."""
    files = [path]
    for line in subprocess.check_output(['ldd', path], text=True).splitlines():
        m = re.search(r'(/\S+) \(0x', line)
        if m:
            files.append(m.group(1))
    for f in files:
        dst = os.path.join(root, f.lstrip('/'))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.realpath(f), dst)


def stage_module_tree(krel, root, install_root):
    """Make @root's /lib/modules/@krel a module tree the way a real guest
    has one: what 'make install' put in @install_root (pvmem under
    updates/, /etc/modprobe.d/pvmem.conf), the stock virtio_mem with the
    transport it needs, kmod's modprobe, and depmod's indexes."""
    shutil.copytree(install_root, root, dirs_exist_ok=True, symlinks=True)
    for rel in module_closure(krel, 'virtio_mem') + [
            p for name in TRANSPORT for p in module_closure(krel, name)]:
        dst = os.path.join(root, 'lib/modules', krel, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy('/lib/modules/%s/%s' % (krel, rel), dst)
    for f in ('modules.order', 'modules.builtin', 'modules.builtin.modinfo'):
        shutil.copy('/lib/modules/%s/%s' % (krel, f), os.path.join(root, 'lib/modules', krel, f))
    subprocess.check_call(['depmod', '-b', root, krel])
    copy_program('/sbin/modprobe', root)


def build_initramfs(krel, tests, out, extra_modules=(), module=None, kdump=False,
                    install_root=None):
    """Pack busybox, kernel @krel's modules, pvmem.ko and test programs
    into a cpio; with @kdump also kexec and the guest kernel, to load a
    crash kernel; with @install_root a real module tree
    (stage_module_tree)."""
    tmp = tempfile.mkdtemp(prefix='pvmem-initramfs-', dir=BUILD)
    try:
        for d in ('bin', 'proc', 'sys', 'dev', 'tmp', 'lib/modules/pvmem', 'pvmem/tests'):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        shutil.copy('/bin/busybox', os.path.join(tmp, 'bin', 'busybox'))
        shutil.copy(os.path.join(os.path.dirname(__file__), 'guest-init.sh'),
                    os.path.join(tmp, 'init'))
        os.chmod(os.path.join(tmp, 'init'), 0o755)
        order = []
        for name in TRANSPORT + list(extra_modules):
            for path in module_closure(krel, name):
                if path not in order:
                    order.append(path)
        names = []
        for rel in order:
            name = os.path.basename(rel).split('.ko')[0]
            src = '/lib/modules/%s/%s' % (krel, rel)
            dst = os.path.join(tmp, 'lib/modules/pvmem', name + '.ko')
            if src.endswith('.xz'):
                with open(dst, 'wb') as f:
                    subprocess.check_call(['xz', '-dc', src], stdout=f)
            else:
                shutil.copy(src, dst)
            names.append(name)
        # guest-init.sh loads these in this order, dependencies first.
        with open(os.path.join(tmp, 'lib/modules/pvmem/order'), 'w') as f:
            f.write('\n'.join(names) + '\n')
        shutil.copy(module or os.path.join(ROOT, 'pvmem.ko'),
                    os.path.join(tmp, 'pvmem', 'pvmem.ko'))
        shutil.copy(os.path.join(ROOT, 'tools', 'pvmem', 'pvmemstat'),
                    os.path.join(tmp, 'bin', 'pvmemstat'))
        for t in tests:
            shutil.copy(t, os.path.join(tmp, 'pvmem', 'tests', os.path.basename(t)))
        if install_root:
            stage_module_tree(krel, tmp, install_root)
        if kdump:
            copy_program('/sbin/kexec', tmp)
            os.makedirs(os.path.join(tmp, 'boot'), exist_ok=True)
            shutil.copy('/boot/vmlinuz-%s' % krel, os.path.join(tmp, 'boot', 'vmlinuz'))
        with open(out, 'wb') as f:
            find = subprocess.Popen(['find', '.'], cwd=tmp, stdout=subprocess.PIPE)
            subprocess.check_call(['cpio', '--quiet', '-o', '-H', 'newc'], cwd=tmp,
                                  stdin=find.stdout, stdout=f)
            find.wait()
    finally:
        shutil.rmtree(tmp)
    return out


def module_closure(krel, name):
    """Paths (relative to /lib/modules/KREL) of a module and its
    dependencies, dependencies first, from modules.dep."""
    deps = {}
    with open('/lib/modules/%s/modules.dep' % krel) as f:
        for line in f:
            mod, _, rest = line.partition(':')
            deps[mod] = rest.split()
    byname = {os.path.basename(m).split('.ko')[0].replace('-', '_'): m for m in deps}
    start = byname.get(name.replace('-', '_'))
    with open('/lib/modules/%s/modules.builtin' % krel) as f:
        builtin = {os.path.basename(ln.strip()).split('.ko')[0].replace('-', '_') for ln in f}
    # Built in (6.12 has the virtio transport in the kernel): nothing to load.
    if not start and name.replace('-', '_') in builtin:
        return []
    if not start:
        raise RigError('module %s not in modules.dep of %s' % (name, krel))
    out = []

    def visit(mod):
        for d in deps.get(mod, []):
            visit(d)
        if mod not in out:
            out.append(mod)
    visit(start)
    return out


class Device:
    """One virtio-mem-pci device and its memory backend."""

    def __init__(self, dev_id, size=16 * GiB, block=2 * MiB, node=0,
                 requested=0, memaddr=None, backend='ram'):
        self.id = dev_id
        self.size = size
        self.block = block
        self.node = node
        self.requested = requested
        self.memaddr = memaddr
        self.backend = backend

    def args(self, workdir):
        mem = 'mem-%s' % self.id
        if self.backend == 'file':
            path = os.path.join(workdir, '%s.img' % self.id)
            obj = 'memory-backend-file,id=%s,size=%s,mem-path=%s,share=on' % (
                mem, size_arg(self.size), path)
        else:
            obj = 'memory-backend-ram,id=%s,size=%s,reserve=off' % (mem, size_arg(self.size))
        dev = 'virtio-mem-pci,id=%s,memdev=%s,node=%d,block-size=%s,requested-size=%s' % (
            self.id, mem, self.node, size_arg(self.block), size_arg(self.requested))
        if self.memaddr is not None:
            dev += ',memaddr=%#x' % self.memaddr
        return ['-object', obj, '-device', dev]


class Guest:
    """A running QEMU guest: commands over ttyS1, devices over QMP."""

    def __init__(self, name, devices, boot_mem=GiB, nodes=1, cpus=2,
                 load_pvmem=True, tests=(), extra_modules=(), cpu='qemu64',
                 maxmem=None, cmdline='', boot_timeout=120, log=print, module=None,
                 reboot=False, kdump=False, kernel=None, install=False, trace=False,
                 damage_fatal=True):
        self.name = name
        self.kernel = kernel or KERNEL
        self.devices = list(devices)
        self.log = log
        self.workdir = tempfile.mkdtemp(prefix='pvmem-%s-' % name, dir=BUILD)
        self.console_path = os.path.join(self.workdir, 'console.log')
        self.console_seen = 0
        self.damage = []
        # False: console damage is collected (stop() returns it) but does
        # not end the run; make bench records it as an outcome.
        self.damage_fatal = damage_fatal
        self.rx = b''
        self.seq = 0
        # Commands sent again for want of an acknowledgement (run()); and
        # hooks for the rig's own test (host_tests.control_line()): the
        # next command line loses this many bytes from the middle of its
        # command, or goes twice.
        self.resends = 0
        self.lose_next = 0
        self.twice_next = False
        self.wake = None	# (when, how): wake a sleeping guest then
        self.crashing = False	# crash() runs: the panic is expected
        self.crash_log = []
        krel = guest_krel(self.kernel)
        initrd = build_initramfs(krel, tests, os.path.join(self.workdir, 'initramfs.cpio'),
                                 extra_modules, module, kdump,
                                 install_root(self.kernel) if install else None)
        if kdump:
            cmdline += ' crashkernel=256M'
        total = boot_mem + sum(d.size for d in self.devices)
        maxmem = maxmem or total + GiB
        # no_console_suspend: a guest that dies in suspend or resume
        # (sysfs scenario) says where on its console.
        append = ('console=ttyS0 no_console_suspend panic_on_warn=1 panic=-1 oops=panic '
                  'memhp_default_state=online_movable mitigations=off '
                  'sysctl.kernel.hung_task_timeout_secs=30 pvmem_rig.load=%d %s %s' % (
                      int(load_pvmem), '' if install else 'modprobe.blacklist=virtio_mem',
                      cmdline))
        qmp = os.path.join(self.workdir, 'qmp.sock')
        ctl = os.path.join(self.workdir, 'ctl.sock')
        argv = ['qemu-system-x86_64', '-accel', 'tcg', '-machine', 'pc',
                '-cpu', cpu, '-smp', '%d,sockets=%d,cores=%d' % (
                    cpus, max(nodes, 1), cpus // max(nodes, 1)), '-nodefaults', '-display', 'none',
                '-m', '%s,maxmem=%s' % (size_arg(boot_mem), size_arg(maxmem)),
                '-kernel', '/boot/vmlinuz-%s' % krel, '-initrd', initrd,
                '-append', append,
                '-chardev', 'file,id=con,path=%s' % self.console_path,
                '-serial', 'chardev:con',
                '-chardev', 'socket,id=ctl,path=%s,server=on,wait=off' % ctl,
                '-serial', 'chardev:ctl',
                '-qmp', 'unix:%s,server=on,wait=off' % qmp]
        self.boot_sizes = [boot_mem // max(nodes, 1)] * max(nodes, 1)
        if nodes > 1:
            per = boot_mem // nodes
            for n in range(nodes):
                argv += ['-object', 'memory-backend-ram,id=boot%d,size=%s' % (n, size_arg(per)),
                         '-numa', 'node,nodeid=%d,cpus=%d,memdev=boot%d' % (n, n % cpus, n)]
        for d in self.devices:
            argv += d.args(self.workdir)
        # QEMU's log trace backend: every virtio-mem request the device
        # gets is a line of trace.log (see requests()).
        self.trace_path = os.path.join(self.workdir, 'trace.log') if trace else None
        if trace:
            argv += ['-trace', 'enable=virtio_mem_*_request', '-D', self.trace_path]
        # A panic reboots (panic=-1); unless reboots are wanted, that ends
        # QEMU.  Either way the console scan catches it.
        if not reboot:
            argv.append('-no-reboot')
        self.argv = argv
        self.boot_timeout = boot_timeout
        # A guest kernel that crashes before it runs /init is booted
        # again, up to BOOT_RETRIES times: pvmem and the tests have not
        # run yet.  Seen with 6.12 under TCG (an int3 oops from boot-time
        # code patching, about one boot in a hundred, and twice in a row
        # twice on 3 December 2026).  Any later crash fails the test as
        # always.
        self.boot_crashes = []
        while True:
            try:
                self._start(qmp, ctl)
                break
            except RigError:
                early = self._crash_before_init()
                if not early or len(self.boot_crashes) >= BOOT_RETRIES:
                    raise
                self.boot_crashes.append(early)
                self.log('rig: %s: the guest kernel crashed before /init (%s); '
                         'booting it again' % (name, early))
                self._restart()

    def _start(self, qmp, ctl):
        self.proc = subprocess.Popen(self.argv,
                                     stdout=open(os.path.join(self.workdir, 'qemu.log'), 'w'),
                                     stderr=subprocess.STDOUT)
        self.qmp_sock = self._connect(qmp)
        self.qmp_file = self.qmp_sock.makefile('rwb', buffering=0)
        # Seen once (6.1, stock driver, 512 MiB guest): an event line
        # first.  Events are not news here; the greeting must follow.
        for _ in range(10):
            greeting = self.qmp_file.readline()
            if b'"event"' not in greeting:
                break
        if b'QMP' not in greeting:
            raise RigError('no QMP greeting: %r' % greeting)
        self.qmp('qmp_capabilities')
        self.ctl = self._connect(ctl)
        self._wait_line('@@pvmem-ready', self.boot_timeout)

    def _crash_before_init(self, since=0):
        """The first damage line of a console (from offset @since) where
        the kernel never got to run /init, or None."""
        text = self.console()[since:]
        if 'Run /init as init process' in text:
            return None
        return next((ln.strip() for ln in text.splitlines() if DAMAGE.search(ln)), None)

    def _restart(self):
        """Kill QEMU and keep its console as console-crash.log."""
        for sock in ('qmp_sock', 'ctl'):
            if getattr(self, sock, None):
                getattr(self, sock).close()
                setattr(self, sock, None)
        self.proc.kill()
        self.proc.wait()
        os.replace(self.console_path, os.path.join(self.workdir, 'console-crash.log'))
        self.console_seen = 0
        self.damage = []
        self.rx = b''

    # --- plumbing ---------------------------------------------------------

    def _connect(self, path, timeout=30):
        end = time.time() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                return s
            except OSError:
                s.close()
                if self.proc.poll() is not None:
                    raise RigError('QEMU exited early: %s' % self._qemu_log())
                if time.time() > end:
                    raise RigError('cannot connect to %s' % path)
                time.sleep(0.05)

    def _qemu_log(self):
        try:
            with open(os.path.join(self.workdir, 'qemu.log')) as f:
                return f.read()[-2000:]
        except OSError:
            return ''

    def console(self):
        try:
            with open(self.console_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def _check_console(self):
        text = self.console()
        new = text[self.console_seen:]
        cut = new.rfind('\n') + 1
        for line in new[:cut].splitlines():
            # From crash() until the crash kernel's banner: the panic.
            if self.crashing:
                self.crashing = 'Linux version' not in line
                if self.crashing:
                    self.crash_log.append(line)
                    continue
            if DAMAGE.search(line):
                self.damage.append(line.strip())
        self.console_seen += cut
        if self.damage and self.damage_fatal:
            raise RigError('guest console shows damage: %s' % self.damage[0])
        if self.proc.poll() is not None:
            raise RigError('QEMU exited (%s); console tail:\n%s' % (
                self.proc.returncode, text[-3000:]))

    def _wake_if_due(self):
        """Wake a sleeping guest when a test asked for it: a byte on its
        control line (ttyS1, a wakeup source for suspend to idle) or
        QMP system_wakeup (ACPI, for suspend to RAM)."""
        if self.wake and time.time() >= self.wake[0]:
            how, self.wake = self.wake[1], None
            if how == 'tty':
                self.ctl.sendall(b'\n')
            else:
                self.qmp('system_wakeup')

    def _read_line(self, deadline, quiet=False):
        """The next line from the control line; at @deadline a RigError,
        or None if @quiet."""
        while b'\n' not in self.rx:
            self._check_console()
            self._wake_if_due()
            left = deadline - time.time()
            if left <= 0:
                if quiet:
                    return None
                raise RigError('timeout waiting for the guest')
            r, _, _ = select.select([self.ctl], [], [], min(left, 0.5))
            if r:
                chunk = self.ctl.recv(65536)
                if not chunk:
                    raise RigError(self._closed_why())
                self.rx += chunk
        line, self.rx = self.rx.split(b'\n', 1)
        return line.decode(errors='replace').rstrip('\r')

    def _closed_why(self):
        """What to say when QEMU closed the control channel: how QEMU
        ended and the console's last lines (a guest that triple-faults
        under -no-reboot ends QEMU without a word on its console)."""
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = 'still running'
        return 'guest control channel closed (QEMU: %s; %s); console tail:\n%s' % (
            rc, self._qemu_log().strip()[-500:] or 'no QEMU output',
            self.console()[-2000:])

    def _wait_line(self, want, timeout):
        deadline = time.time() + timeout
        while True:
            line = self._read_line(deadline)
            if line.startswith('@@pvmem-host '):
                self._serve(line)
            elif line == want:
                return

    def qmp(self, cmd, **args):
        msg = {'execute': cmd}
        if args:
            msg['arguments'] = args
        try:
            self.qmp_file.write(json.dumps(msg).encode() + b'\n')
        except OSError as e:
            # QEMU is gone: the guest died (a panic with -no-reboot).
            raise RigError('QMP %s: QEMU is gone (%s)' % (cmd, e))
        while True:
            line = self.qmp_file.readline()
            if not line:
                raise RigError('QMP %s: QEMU closed the monitor' % cmd)
            reply = json.loads(line)
            if 'return' in reply:
                return reply['return']
            if 'error' in reply:
                raise RigError('QMP %s: %s' % (cmd, reply['error'].get('desc')))

    def system_reset(self):
        """QMP system_reset (devices unplug everything); wait for the
        guest to come back.  A kernel that crashes before it runs /init
        (see __init__) reboots itself (panic=-1): waited for, as for
        the first boot."""
        self._check_console()
        mark = self.console_seen
        self.qmp('system_reset')
        try:
            self._wait_line('@@pvmem-ready', self.boot_timeout)
        except RigError:
            early = self._crash_before_init(since=mark)
            if (not early or len(self.boot_crashes) >= BOOT_RETRIES or
                    self.proc.poll() is not None):
                raise
            self.boot_crashes.append(early)
            self.log('rig: %s: the guest kernel crashed before /init after '
                     'system_reset (%s); waiting for it to boot again' % (self.name, early))
            # The rest of that panic, up to the next banner, is not news.
            self.damage = []
            self.crashing = True
            self.crash_log = []
            self._wait_line('@@pvmem-ready', self.boot_timeout)

    def crash(self):
        """Crash the kernel (sysrq c) into the crash kernel loaded with
        kexec -p, and wait for it to serve us.  The console is checked up
        to the crash as always; the panic, up to the crash kernel's banner,
        is kept in crash_log instead (it must be the sysrq one)."""
        self._check_console()
        self.crashing = True
        self._send_run('crash', 'echo c > /proc/sysrq-trigger')
        self._wait_line('@@pvmem-ready', self.boot_timeout)
        panic = [ln for ln in self.crash_log if 'Kernel panic' in ln]
        if len(panic) != 1 or 'sysrq triggered crash' not in panic[0]:
            raise RigError('unexpected crash: %s' % '; '.join(panic or self.crash_log[-5:]))

    # --- device control ---------------------------------------------------

    def qom_get(self, dev_id, prop):
        path = '/machine/peripheral/%s' % dev_id
        if prop == 'region-size':
            return self.qmp('qom-get', path='/objects/mem-%s' % dev_id, property='size')
        return self.qmp('qom-get', path=path, property=prop)

    def set_requested(self, dev_id, size):
        self.qmp('qom-set', path='/machine/peripheral/%s' % dev_id,
                 property='requested-size', value=size)

    def rss(self):
        """QEMU's resident memory in bytes: what the host pays for."""
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        raise RigError('no VmRSS for QEMU')

    def backend_rss(self):
        """What the host pays for each device: {id: (resident bytes of its
        memory backend, plugged bytes)}, from QEMU's smaps, where a
        device's backend is the one mapping of exactly its region size.
        Devices whose size another mapping (boot memory, another device)
        also has are summed as one group under the ids joined by '+';
        a size boot memory shares is left out (it cannot be told apart)."""
        boot = set(self.boot_sizes)
        maps, size = [], None
        with open('/proc/%d/smaps' % self.proc.pid) as f:
            for line in f:
                if line.startswith('Size:'):
                    size = int(line.split()[1]) * 1024
                elif line.startswith('Rss:') and size is not None:
                    maps.append((size, int(line.split()[1]) * 1024))
                    size = None
        out = {}
        for sz in sorted({d.size for d in self.devices} - boot):
            devs = [d for d in self.devices if d.size == sz]
            rss = [r for s, r in maps if s == sz]
            if len(rss) != len(devs):
                raise RigError('%d mappings of %d bytes for devices %s' % (
                    len(rss), sz, ' '.join(d.id for d in devs)))
            out['+'.join(d.id for d in devs)] = (sum(rss), sum(self.size(d.id) for d in devs))
        return out

    def size(self, dev_id):
        return self.qom_get(dev_id, 'size')

    def requests(self):
        """Requests the guest's drivers sent to the devices so far, by
        kind ('plug', 'unplug', 'unplug_all', 'state'), from QEMU's trace
        (Guest(trace=True))."""
        out = dict.fromkeys(('plug', 'unplug', 'unplug_all', 'state'), 0)
        with open(self.trace_path, errors='replace') as f:
            for line in f:
                m = re.search(r'virtio_mem_(\w+)_request\b', line)
                if m and m.group(1) in out:
                    out[m.group(1)] += 1
        return out

    def wait_size(self, dev_id, size, timeout=600, poll=0.2):
        deadline = time.time() + timeout
        while self.size(dev_id) != size:
            self._check_console()
            if time.time() > deadline:
                raise RigError('%s: size %d, wanted %d' % (dev_id, self.size(dev_id), size))
            time.sleep(poll)

    def _serve(self, line):
        """Answer one '@@pvmem-host <seq> <cmd> [args]' from a guest test."""
        parts = line.split()
        seq, cmd, args = parts[1], parts[2] if len(parts) > 2 else '', parts[3:]
        try:
            if cmd == 'devs':
                val = ' '.join(d.id for d in self.devices)
            elif cmd == 'get' and len(args) == 2:
                val = str(self.qom_get(args[0], args[1]))
            elif cmd == 'rss':
                val = str(self.rss())
            elif cmd == 'wake' and len(args) == 2 and args[1] in ('tty', 'acpi'):
                self.wake = (time.time() + float(args[0]), args[1])
                val = args[1]
            elif cmd == 'set' and len(args) == 2:
                self.set_requested(args[0], int(args[1]))
                val = args[1]
            else:
                raise RigError('unknown request %r' % ' '.join(parts[2:]))
            body = 'ok %s' % val
        except (RigError, ValueError) as e:
            body = 'err %s' % str(e).replace('\n', ' ')
        # The length lets the test tell a reply that lost bytes (see run()).
        self.ctl.sendall(('@@pvmem-reply %s %d %s\n' % (seq, len(body), body)).encode())

    # --- running things ---------------------------------------------------

    def _send_run(self, tag, cmd):
        """One framed command line; the length lets guest-init.sh tell a
        line that lost bytes on the way in."""
        line = ('@@pvmem-run %s %d %s\n' % (tag, len(cmd.encode()), cmd)).encode()
        if self.lose_next:
            mid = len(line) - 1 - len(cmd.encode()) // 2
            line, self.lose_next = line[:mid] + line[mid + self.lose_next:], 0
        if self.twice_next:
            line, self.twice_next = line + line, False
        self.ctl.sendall(line)

    def run(self, cmd, timeout=600, echo=False):
        """Run a shell command in the guest; return (exit code, output).

        The guest's serial driver can drop received bytes: seen as the
        first 16 bytes (one UART FIFO) of a command line gone while the
        guest onlines hot-added memory, with both memory drivers.  A
        command the guest has not acknowledged ("@@pvmem-got") within
        ACK_WAIT seconds is sent again, after a newline that ends what
        is left of the lost one; each resend is logged."""
        self.seq += 1
        tag = 'c%d' % self.seq
        if '\n' in cmd:
            # The line protocol carries one line: ship scripts encoded.
            cmd = 'echo %s | base64 -d | sh' % base64.b64encode(cmd.encode()).decode()
        self._send_run(tag, cmd)
        deadline = time.time() + timeout
        resend = time.time() + ACK_WAIT
        out = []
        while True:
            line = self._read_line(min(deadline, resend) if resend else deadline, quiet=True)
            if line is None:
                if time.time() >= deadline:
                    raise RigError('timeout waiting for the guest (%s): %s' % (
                        'no answer to the command' if resend else 'the command did not end',
                        cmd[:80]))
                self.log('rig: %s: no answer to command %s within %d s; sending it again' % (
                    self.name, tag, ACK_WAIT))
                self.ctl.sendall(b'\n')
                self._send_run(tag, cmd)
                self.resends += 1
                resend = time.time() + ACK_WAIT
            elif line.startswith('@@pvmem-host '):
                self._serve(line)
            elif line == '@@pvmem-got %s' % tag:
                resend = None
            elif line.startswith('@@pvmem-got '):
                pass
            elif line.startswith('@@pvmem-done %s ' % tag):
                return int(line.split()[2]), '\n'.join(out)
            else:
                out.append(line)
                if echo:
                    self.log(line)

    def check(self, cmd, timeout=600):
        rc, out = self.run(cmd, timeout)
        if rc:
            raise RigError('guest command %r failed (%d):\n%s' % (cmd, rc, out))
        return out

    def stop(self):
        """Power off; return the console damage lines seen (none is good)."""
        try:
            if self.proc.poll() is None:
                try:
                    self._check_console()
                except RigError:
                    pass
                self.qmp('quit')
        except (OSError, RigError, ValueError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        text = self.console()
        for line in text[self.console_seen:].splitlines():
            if DAMAGE.search(line):
                self.damage.append(line.strip())
        return self.damage

    def cleanup(self, keep=False):
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
