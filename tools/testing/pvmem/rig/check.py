#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: every pvmem test, host and guest, and one summary line.

1. host: for each guest kernel a W=1 build (no warnings), sparse and the
   fault-injection build, the cloud flavour's build; make install, DKMS,
   the Debian package and signing (packaging.py); checkpatch --strict,
   kernel-doc, clang-format, shellcheck; the userspace unit tests of the
   pure core under ASan/UBSan, 15 s of libFuzzer over the same core, the
   mutation check;
2. guest: for each scenario in scenarios.py and each kernel in KERNELS,
   boot that kernel under QEMU TCG (two guests at a time), run its
   kselftests and host tests, and check the console stayed clean; the
   scenario 'bench' instead runs the benchmark at its small size
   (bench.py --small) for pvmem and the stock driver.
   'check.py [--quick] [scenario|kernel/scenario ...]' runs only those,
   after only the builds with --quick.
Ends with 'N passed, N failed, N skipped'; exits 1 if anything failed.
A skip counts as a failure unless ALLOWED_SKIPS names the test and says
why (the README lists them); there are none today.
"""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmem_rig import BUILD, KERNEL, ROOT, Guest, RigError, call_traces, guest_krel  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402
import bench  # noqa: E402
import host_tests  # noqa: E402
import packaging  # noqa: E402

# test name -> why it may skip (documented in README.md).
ALLOWED_SKIPS = {}

TAP = re.compile(r'^(not )?ok \d+ (.*)$')
SELFTESTS = os.path.join(ROOT, 'tools', 'testing', 'selftests', 'pvmem')
LOGDIR = os.path.join(BUILD, 'check')
# The guest kernel series every scenario runs on (scripts/guest-krel).
KERNELS = ('6.1', '6.12')
# Guests running at once: one per kernel keeps both host cores busy while
# one guest sleeps or waits for its host.
GUEST_WORKERS = 2


def ksft_settings():
    """The selftests' settings file (kselftest format): per-program timeout."""
    with open(os.path.join(SELFTESTS, 'settings')) as f:
        return dict(ln.strip().split('=', 1) for ln in f if '=' in ln)


TIMEOUT = int(ksft_settings()['timeout'])


def guest_config_missing(series):
    """Options of the selftests' config file the guest kernel of @series
    lacks (=y satisfies =m, as for kselftest configs)."""
    have = {}
    with open('/boot/config-%s' % guest_krel(series)) as f:
        for ln in f:
            if ln.startswith('CONFIG_') and '=' in ln:
                k, v = ln.strip().split('=', 1)
                have[k] = v
    missing = []
    with open(os.path.join(SELFTESTS, 'config')) as f:
        for ln in f:
            if not ln.startswith('CONFIG_'):
                continue
            k, v = ln.strip().split('=', 1)
            if have.get(k) != v and not (v == 'm' and have.get(k) == 'y'):
                missing.append('%s=%s (guest has %s)' % (k, v, have.get(k, 'nothing')))
    return missing


class Tally:
    """Results and what they print.  A buffered tally (one per scenario
    run, when two run at once) keeps its lines until merged, so that a
    scenario's lines stay together."""

    def __init__(self, buffered=False):
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        self.lines = [] if buffered else None

    def say(self, line):
        if self.lines is None:
            print(line, flush=True)
        else:
            self.lines.append(line)

    def merge(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures
        for line in other.lines:
            self.say(line)

    def add(self, name, ok, skip=False, why=''):
        if skip and name in ALLOWED_SKIPS:
            self.skipped += 1
            self.say('SKIP %s %s (%s)' % (name, why, ALLOWED_SKIPS[name]))
            return
        if skip:
            ok, why = False, 'unexpected skip ' + why
        if ok:
            self.passed += 1
            self.say('PASS %s' % name)
        else:
            self.failed += 1
            self.failures.append(name)
            self.say('FAIL %s %s' % (name, why))

    def tap(self, prefix, output):
        """Count the TAP result lines of a kselftest harness run."""
        seen = 0
        for line in output.splitlines():
            m = TAP.match(line)
            if not m:
                continue
            seen += 1
            name = '%s.%s' % (prefix, m.group(2).split(' # ')[0].strip())
            self.add(name, not m.group(1), skip='# SKIP' in m.group(2),
                     why=m.group(2).partition('# SKIP')[2].strip())
        return seen


def sh(cmd, log):
    """Run a host command, log its output, return (rc, output)."""
    p = subprocess.run(cmd, cwd=ROOT, shell=True, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with open(os.path.join(LOGDIR, log), 'w') as f:
        f.write(p.stdout)
    return p.returncode, p.stdout


def series_tag(series):
    return series.replace('.', '_')


def build_series(t, series):
    """Build pvmem for one guest kernel series with W=1 (no warnings), run
    sparse over it, and keep the module and its fault-injection variant in
    build/ for the guests of that series.  The cloud flavour only builds."""
    kdir = '/usr/src/linux-headers-%s' % guest_krel(series)
    make = 'make --no-print-directory KDIR=%s' % kdir
    tag = series_tag(series)
    rc, out = sh('%s modules W=1 && cp pvmem.ko build/pvmem-%s.ko' % (make, series),
                 'build-%s.log' % series)
    warnings = [ln for ln in out.splitlines() if re.search(r'warning:|error:', ln)]
    t.add('host.build_w1_no_warnings_%s' % tag, rc == 0 and not warnings,
          why='\n'.join(warnings[:10]) or out[-2000:])
    if rc or series not in KERNELS:
        return rc == 0
    rc, out = sh('%s sparse' % make, 'sparse-%s.log' % series)
    noise = [ln for ln in out.splitlines() if re.search(r'warning:|error:', ln)]
    t.add('host.sparse_clean_%s' % tag, rc == 0 and not noise, why='\n'.join(noise[:10]))
    # The variant with debugfs fault injection, for the scenarios that
    # inject faults.
    rc, out = sh('%s modules W=1 FAULT_INJECT=1 && cp pvmem.ko build/pvmem-fi-%s.ko' % (
        make, series), 'build-fi-%s.log' % series)
    t.add('host.build_fault_inject_%s' % tag,
          rc == 0 and not re.search(r'warning:|error:', out), why=out[-2000:])
    return rc == 0


def build_modules(t):
    """Every series' modules (build_series) and 'make install' trees (the
    'install' scenario boots them), then the tree's pvmem.ko the plain
    6.1 build again, as 'make' leaves it."""
    os.makedirs(BUILD, exist_ok=True)
    built = [build_series(t, series) for series in KERNELS + ('cloud',)]
    for series in KERNELS:
        packaging.make_install(t, sh, series, series_tag(series))
    sh('make --no-print-directory modules W=1', 'build-final.log')
    return all(built)


def host_checks(t):
    if not build_modules(t):
        return False
    packaging.dkms_builds(t, sh, KERNELS + ('cloud',))
    packaging.deb(t, sh)
    packaging.sign(t, sh)
    rc, out = sh('scripts/checkpatch', 'checkpatch.log')
    t.add('host.checkpatch_strict',
          rc == 0 and not re.search(r'ERROR|WARNING|CHECK', out), why=out[-2000:])
    rc, out = sh('scripts/kerneldoc', 'kernel-doc.log')
    t.add('host.kernel_doc_clean', rc == 0 and not out.strip(), why=out[-2000:])
    rc, out = sh('scripts/clang-format-check', 'clang-format.log')
    t.add('host.clang_format_clean', rc == 0 and not out.strip(), why=out[-2000:])
    rc, out = sh('scripts/shellcheck', 'shellcheck.log')
    t.add('host.shellcheck_clean', rc == 0 and not out.strip(), why=out[-2000:])
    rc, out = sh('make --no-print-directory -C tools/testing/pvmem run', 'unit.log')
    if not t.tap('unit', out) or rc:
        t.add('unit.run', False, why=out[-3000:])
    rc, out = sh('make --no-print-directory -C tools/testing/pvmem fuzz-run FUZZ_SECONDS=15',
                 'fuzz.log')
    t.add('host.fuzz_core_15s', rc == 0 and 'Done ' in out, why=out[-3000:])
    rc, out = sh('python3 tools/testing/pvmem/mutants.py', 'mutants.log')
    last = out.strip().splitlines()[-1] if out.strip() else ''
    t.add('host.mutants_all_caught', rc == 0 and re.match(r'(\d+) of \1 mutations caught$', last),
          why=out[-3000:])
    for series in KERNELS:
        missing = guest_config_missing(series)
        t.add('host.guest_kernel_config_%s' % series_tag(series), not missing,
              why='; '.join(missing))
    return build_selftests(t)


def build_selftests(t):
    rc, out = sh('make --no-print-directory -C tools/testing/selftests/pvmem', 'selftests-build.log')
    t.add('host.selftests_build', rc == 0, why=out[-2000:])
    return rc == 0


PV = '/sys/bus/virtio/drivers/pvmem/virtio*'
# Counters that grow when a retry fails for a reason the admin guide gives:
# data that would not migrate, no room to migrate it to, an empty block
# Linux would not remove.
REASONS = ('unplug_failed_busy', 'unplug_failed_nomem', 'remove_failed')


def above_request(g):
    return ['%s %d > %d' % (d.id, g.size(d.id), g.qom_get(d.id, 'requested-size'))
            for d in g.devices if g.size(d.id) > g.qom_get(d.id, 'requested-size')]


def reason_counts(g):
    return g.check('cat %s %s; true' % (' '.join('%s/pvmem_stats/%s' % (PV, r) for r in REASONS),
                                         '2>/dev/null')).split()


def at_rest(g, t, name):
    """No device sits above its request at rest, unless pvmem says why and
    the reason is still true: the device is broken, or a retry run now
    fails again for one of REASONS."""
    deadline = time.time() + 60
    while True:
        above = above_request(g)
        if not above or time.time() > deadline:
            break
        time.sleep(0.5)
    why = ''
    if above:
        before = reason_counts(g)
        g.check('for f in %s/pvmem/retry_now; do echo 1 > $f; done; sleep 10' % PV)
        after = reason_counts(g)
        states = g.check('cat %s/pvmem/state 2>/dev/null; true' % PV)
        retried = 'waiting_for_retry' in states and before != after
        if 'broken' in states or retried:
            above = []
        why = ' with pvmem states: %s; counters %s -> %s' % (
            ' '.join(states.split()), before, after)
    t.add('%s.at_rest_not_above_request' % name, not above_request(g) or not above,
          why='; '.join(above) + why)


def host_backs_only_plugged(g, t, name):
    """The host check that pvmem never touches unplugged memory: each
    device's backend holds no more resident memory than is plugged (QEMU
    discards what is unplugged; a guest touching it would bring it
    back)."""
    over = host_tests.overdrawn(g.backend_rss())
    t.add('%s.host_backs_only_plugged' % name, not over, why='; '.join(over))


def module_for(series, sc):
    return os.path.join(BUILD, 'pvmem-%s%s.ko' % ('fi-' if sc.get('fault_inject') else '', series))


def run_scenario(t, sc, series=KERNEL):
    """Boot a guest of kernel @series for scenario @sc and run its tests;
    results are named '<series>/<scenario>.<test>'."""
    name = '%s/%s' % (series, sc['name'])
    logdir = os.path.join(LOGDIR, series)
    os.makedirs(logdir, exist_ok=True)
    tests = sorted({os.path.join(SELFTESTS, x.split()[0])
                    for x in sc['tests'] + sc.get('helpers', [])})
    t.say('== scenario %s: %s' % (name, sc['doc']))
    start = time.time()
    g = None
    try:
        g = Guest(sc['name'], sc['devices'](), tests=tests, **sc.get('guest', {}),
                  kernel=series, module=module_for(series, sc), log=t.say)
        for test in sc['tests']:
            rc, out = g.run('/pvmem/tests/%s' % test, timeout=TIMEOUT)
            prog = test.split()[0]
            with open(os.path.join(logdir, '%s-%s.log' % (sc['name'], prog)), 'w') as f:
                f.write(out)
            for line in out.splitlines():
                if line.startswith('# ') and ('LOG' in line or ':' in line):
                    t.say('  ' + line)
            if not t.tap('%s.%s' % (name, prog), out) or (rc and 'not ok' not in out):
                t.add('%s.%s' % (name, prog), False,
                      why='exit %d, output:\n%s' % (rc, out[-3000:]))
        for test in sc.get('host_tests', []):
            getattr(host_tests, test)(g, t, name)
        at_rest(g, t, name)
        host_backs_only_plugged(g, t, name)
    except RigError as e:
        t.add('%s.rig' % name, False, why=str(e))
    finally:
        damage = g.stop() if g else ['guest did not start']
        traces = []
        if g:
            with open(os.path.join(logdir, '%s-console.log' % sc['name']), 'w') as f:
                f.write(g.console())
            traces = call_traces(g.console()) if damage else []
            g.cleanup()
        t.add('%s.console_clean' % name, not damage, why='; '.join(damage[:5] + traces))
        t.say('   (%s: %.0f s)' % (name, time.time() - start))


def run_bench(t, sc, series):
    """The benchmark at its small size (bench.run_small()) for both
    drivers: one result per scenario and driver, named
    '<series>/bench.<driver>.<scenario>', passing if it completed with its
    data intact, and each driver's guests' consoles clean."""
    name = '%s/%s' % (series, sc['name'])
    t.say('== scenario %s: %s' % (name, sc['doc']))
    start = time.time()
    results = {}
    for driver in bench.DRIVERS:
        got, damage = bench.run_small(driver, series, module_for(series, sc), log=t.say)
        for scenario, res in got.items():
            results.setdefault(scenario, {d: [] for d in bench.DRIVERS})[driver].append(res)
            why = bench.incomplete(res)
            t.add('%s.%s.%s' % (name, driver, scenario), not why, why=why)
        t.add('%s.%s.console_clean' % (name, driver), not damage, why='; '.join(damage[:5]))
    with open(os.path.join(LOGDIR, series, 'bench.txt'), 'w') as f:
        f.write('\n'.join(bench.table({series: results}, [series], 1)))
    t.say('   (%s: %.0f s)' % (name, time.time() - start))


def run_guests(t, jobs, workers=GUEST_WORKERS):
    """Run (series, scenario) jobs, @workers guests at a time, taking them
    in order (the longest come first in SCENARIOS); each scenario's lines
    are printed together when it ends."""
    lock = threading.Lock()
    todo = list(jobs)

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                series, sc = todo.pop(0)
            mine = Tally(buffered=True)
            try:
                if sc.get('runner') == 'bench':
                    os.makedirs(os.path.join(LOGDIR, series), exist_ok=True)
                    run_bench(mine, sc, series)
                else:
                    run_scenario(mine, sc, series)
            except Exception as e:  # a rig bug must still be counted
                mine.add('%s/%s.rig' % (series, sc['name']), False, why=repr(e))
            with lock:
                t.merge(mine)
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def main():
    os.makedirs(LOGDIR, exist_ok=True)
    args = sys.argv[1:]
    quick = '--quick' in args
    only = [a for a in args if a != '--quick']
    t = Tally()
    ok = build_modules(t) and build_selftests(t) if quick else host_checks(t)
    if ok:
        jobs = [(series, sc) for sc in SCENARIOS for series in KERNELS
                if not only or sc['name'] in only or '%s/%s' % (series, sc['name']) in only]
        run_guests(t, jobs)
    if t.failures:
        print('failed: ' + ', '.join(t.failures))
    print('logs: %s' % LOGDIR)
    print('%d passed, %d failed, %d skipped' % (t.passed, t.failed, t.skipped))
    return 1 if t.failed else 0


if __name__ == '__main__':
    sys.exit(main())
