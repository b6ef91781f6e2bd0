#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: every pvmem test, host and guest, and one summary line.

1. host: build with W=1 (no warnings), sparse, checkpatch --strict, the
   userspace unit tests of the pure core under ASan/UBSan, 15 s of
   libFuzzer over the same core;
2. guest: for each scenario in scenarios.py, boot Debian's 6.1 kernel under
   QEMU TCG, run its kselftests, and check the console stayed clean.
Ends with 'N passed, N failed, N skipped'; exits 1 if anything failed.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmem_rig import BUILD, ROOT, Guest, RigError  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402
import host_tests  # noqa: E402

TAP = re.compile(r'^(not )?ok \d+ (.*)$')
SELFTESTS = os.path.join(ROOT, 'tools', 'testing', 'selftests', 'pvmem')
LOGDIR = os.path.join(BUILD, 'check')


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, name, ok, skip=False, why=''):
        if skip:
            self.skipped += 1
            print('SKIP %s %s' % (name, why), flush=True)
        elif ok:
            self.passed += 1
            print('PASS %s' % name, flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print('FAIL %s %s' % (name, why), flush=True)

    def tap(self, prefix, output):
        """Count the TAP result lines of a kselftest harness run."""
        seen = 0
        for line in output.splitlines():
            m = TAP.match(line)
            if not m:
                continue
            seen += 1
            name = '%s.%s' % (prefix, m.group(2).split(' # ')[0].strip())
            self.add(name, not m.group(1), skip='# SKIP' in m.group(2))
        return seen


def sh(cmd, log):
    """Run a host command, log its output, return (rc, output)."""
    p = subprocess.run(cmd, cwd=ROOT, shell=True, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with open(os.path.join(LOGDIR, log), 'w') as f:
        f.write(p.stdout)
    return p.returncode, p.stdout


def host_checks(t):
    rc, out = sh('make --no-print-directory modules W=1', 'build.log')
    warnings = [ln for ln in out.splitlines() if re.search(r'warning:|error:', ln)]
    t.add('host.build_w1_no_warnings', rc == 0 and not warnings,
          why='\n'.join(warnings[:10]) or out[-2000:])
    if rc:
        return False
    rc, out = sh('make --no-print-directory sparse', 'sparse.log')
    noise = [ln for ln in out.splitlines() if re.search(r'warning:|error:', ln)]
    t.add('host.sparse_clean', rc == 0 and not noise, why='\n'.join(noise[:10]))
    # sparse rebuilt the objects; build again so pvmem.ko is the W=1 one.
    sh('make --no-print-directory modules W=1', 'build2.log')
    # The fault-injection variant for the 'faults' scenario, then the
    # normal module again at the top of the tree.
    rc, out = sh('make --no-print-directory modules W=1 FAULT_INJECT=1 && '
                 'cp pvmem.ko build/pvmem-fi.ko', 'build-fi.log')
    t.add('host.build_fault_inject', rc == 0 and not re.search(r'warning:|error:', out),
          why=out[-2000:])
    sh('make --no-print-directory modules W=1', 'build3.log')
    rc, out = sh('scripts/checkpatch', 'checkpatch.log')
    t.add('host.checkpatch_strict',
          rc == 0 and not re.search(r'ERROR|WARNING|CHECK', out), why=out[-2000:])
    rc, out = sh('make --no-print-directory -C tools/testing/pvmem run', 'unit.log')
    if not t.tap('unit', out) or rc:
        t.add('unit.run', False, why=out[-3000:])
    rc, out = sh('make --no-print-directory -C tools/testing/pvmem fuzz-run FUZZ_SECONDS=15',
                 'fuzz.log')
    t.add('host.fuzz_core_15s', rc == 0 and 'Done ' in out, why=out[-3000:])
    rc, out = sh('make --no-print-directory -C tools/testing/selftests/pvmem', 'selftests-build.log')
    t.add('host.selftests_build', rc == 0, why=out[-2000:])
    return rc == 0


def at_rest(g, t, name):
    """No device sits above its request at rest, unless pvmem says why
    (waiting for a retry, still unplugging, or broken)."""
    deadline = time.time() + 60
    while True:
        states = g.check('cat /sys/bus/virtio/drivers/pvmem/virtio*/pvmem/state '
                         '2>/dev/null; true')
        above = ['%s %d > %d' % (d.id, g.size(d.id), g.qom_get(d.id, 'requested-size'))
                 for d in g.devices
                 if g.size(d.id) > g.qom_get(d.id, 'requested-size')]
        explained = re.search(r'waiting_for_retry|unplugging|broken', states)
        if not above or explained or time.time() > deadline:
            break
        time.sleep(0.5)
    t.add('%s.at_rest_not_above_request' % name, not above or bool(explained),
          why='; '.join(above) + ' with pvmem states: ' + ' '.join(states.split()))


def run_scenario(t, sc):
    name = sc['name']
    tests = sorted({os.path.join(SELFTESTS, x.split()[0]) for x in sc['tests']})
    print('== scenario %s: %s' % (name, sc['doc']), flush=True)
    start = time.time()
    g = None
    try:
        g = Guest(name, sc['devices'](), tests=tests, **sc.get('guest', {}),
                  module=os.path.join(BUILD, 'pvmem-fi.ko') if sc.get('fault_inject') else None)
        for test in sc['tests']:
            rc, out = g.run('/pvmem/tests/%s' % test, timeout=900)
            prog = test.split()[0]
            with open(os.path.join(LOGDIR, '%s-%s.log' % (name, prog)), 'w') as f:
                f.write(out)
            for line in out.splitlines():
                if line.startswith('# ') and ('LOG' in line or ':' in line):
                    print('  ' + line, flush=True)
            if not t.tap('%s.%s' % (name, prog), out) or (rc and 'not ok' not in out):
                t.add('%s.%s' % (name, prog), False,
                      why='exit %d, output:\n%s' % (rc, out[-3000:]))
        for test in sc.get('host_tests', []):
            getattr(host_tests, test)(g, t, name)
        at_rest(g, t, name)
    except RigError as e:
        t.add('%s.rig' % name, False, why=str(e))
    finally:
        damage = g.stop() if g else ['guest did not start']
        if g:
            with open(os.path.join(LOGDIR, '%s-console.log' % name), 'w') as f:
                f.write(g.console())
            g.cleanup()
        t.add('%s.console_clean' % name, not damage, why='; '.join(damage[:5]))
        print('   (%s: %.0f s)' % (name, time.time() - start), flush=True)


def main():
    os.makedirs(LOGDIR, exist_ok=True)
    only = sys.argv[1:]
    t = Tally()
    if host_checks(t):
        for sc in SCENARIOS:
            if not only or sc['name'] in only:
                run_scenario(t, sc)
    if t.failures:
        print('failed: ' + ', '.join(t.failures))
    print('logs: %s' % LOGDIR)
    print('%d passed, %d failed, %d skipped' % (t.passed, t.failed, t.skipped))
    return 1 if t.failed else 0


if __name__ == '__main__':
    sys.exit(main())
