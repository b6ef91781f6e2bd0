# SPDX-License-Identifier: GPL-2.0
"""Host checks that pvmem installs like a real driver: 'make install'
into a staging root, DKMS builds in a throw-away DKMS tree, the Debian
package, signing.  Nothing here writes to this machine's module tree or
DKMS state: DKMS runs in a mount namespace where /etc/dkms and
/var/lib/dkms are scratch directories (so its signing key is one too).

Each function takes the Tally and check.py's sh(cmd, log)."""
import os
import re
import shutil
import subprocess

from pvmem_rig import BUILD, ROOT, guest_krel, install_root

with open(os.path.join(ROOT, 'VERSION')) as _f:
    VERSION = _f.read().strip()
SCRATCH = os.path.join(BUILD, 'packaging')


def kdir(series):
    return '/usr/src/linux-headers-%s' % guest_krel(series)


def module_file(path):
    """@path (a .ko), or its .ko.xz: DKMS and 'make install' compress the
    module the way the kernel compresses its own (6.12: xz)."""
    return path + '.xz' if os.path.exists(path + '.xz') else path


def modinfo(path, field):
    return subprocess.run(['modinfo', '-F', field, path], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.strip()


def make_install(t, sh, series, tag):
    """make install INSTALL_MOD_PATH=: the module for that kernel under
    updates/ (xz-compressed where the kernel's own modules are), the
    modprobe.d file, and with ONLINE_MOVABLE_RULE=1 the udev
    rule.  The 'install' guest scenario boots this very tree."""
    root = install_root(series)
    shutil.rmtree(root, ignore_errors=True)
    rc, out = sh('make --no-print-directory install KDIR=%s INSTALL_MOD_PATH=%s '
                 'ONLINE_MOVABLE_RULE=1' % (kdir(series), root), 'install-%s.log' % series)
    krel = guest_krel(series)
    ko = module_file(os.path.join(root, 'lib/modules/%s/updates/pvmem.ko' % krel))
    want = [ko, os.path.join(root, 'etc/modprobe.d/pvmem.conf'),
            os.path.join(root, 'etc/udev/rules.d/80-pvmem-online-movable.rules')]
    missing = [w for w in want if not os.path.exists(w)]
    vermagic = modinfo(ko, 'vermagic') if os.path.exists(ko) else ''
    t.add('host.make_install_%s' % tag,
          rc == 0 and not missing and vermagic.split(' ')[0] == krel,
          why='missing %s; vermagic %r; %s' % (missing, vermagic, out[-1500:]))


def dkms(cmd, src, log, sh):
    """Run 'dkms <cmd>' against the source tree @src (holding
    pvmem-VERSION/) with scratch DKMS state under SCRATCH."""
    tree = os.path.join(SCRATCH, 'dkms-tree')
    etc = os.path.join(SCRATCH, 'dkms-etc')
    var = os.path.join(SCRATCH, 'dkms-var')
    for d in (tree, etc, var):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(etc, 'framework.conf'), 'w') as f:
        f.write('mok_signing_key=%s/mok.key\nmok_certificate=%s/mok.der\n' % (SCRATCH, SCRATCH))
    inner = ('mount --bind %s /etc/dkms && mount --bind %s /var/lib/dkms && '
             'dkms %s --sourcetree %s --dkmstree %s -m pvmem -v %s' % (
                 etc, var, cmd, src, tree, VERSION))
    rc, out = sh("unshare --mount sh -c '%s'" % inner, log)
    return rc, out, os.path.join(tree, 'pvmem', VERSION)


def dkms_builds(t, sh, series_list):
    """dkms add and build of the 'make dkms-source' tree for each kernel:
    the module has that kernel's vermagic and the scratch MOK signature;
    and a kernel without memory hot-remove is refused by
    BUILD_EXCLUSIVE_CONFIG (dkms exits 77), not built."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    root = os.path.join(SCRATCH, 'root')
    src = os.path.join(root, 'usr', 'src')
    rc, out = sh('make --no-print-directory dkms-source DESTDIR=%s' % root, 'dkms-source.log')
    if rc:
        t.add('host.dkms_source', False, why=out[-1500:])
        return
    rc, out, mod = dkms('add', src, 'dkms-add.log', sh)
    t.add('host.dkms_add', rc == 0 and os.path.islink(os.path.join(mod, 'source')),
          why=out[-1500:])
    for series in series_list:
        krel = guest_krel(series)
        rc, out, mod = dkms('build -k %s --kernelsourcedir %s' % (krel, kdir(series)), src,
                            'dkms-build-%s.log' % series, sh)
        ko = module_file(os.path.join(mod, krel, 'x86_64', 'module', 'pvmem.ko'))
        info = (modinfo(ko, 'vermagic'), modinfo(ko, 'signer')) if os.path.exists(ko) else ('', '')
        t.add('host.dkms_build_%s' % series.replace('.', '_'),
              rc == 0 and info[0].split(' ')[0] == krel and info[1] == 'DKMS module signing key',
              why='vermagic %r signer %r; %s' % (info[0], info[1], out[-1500:]))
    # A kernel tree whose config lacks CONFIG_MEMORY_HOTREMOVE.
    fake = os.path.join(SCRATCH, 'no-hotremove')
    os.makedirs(os.path.join(fake, 'include'))
    with open(os.path.join(kdir('6.1'), '.config')) as f, \
            open(os.path.join(fake, '.config'), 'w') as g:
        g.write(''.join(ln for ln in f if not ln.startswith('CONFIG_MEMORY_HOTREMOVE=')))
    rc, out, mod = dkms('build -k 6.1.0-no-hotremove --kernelsourcedir %s' % fake, src,
                        'dkms-build-excluded.log', sh)
    t.add('host.dkms_refuses_kernel_without_hotremove',
          rc == 77 and 'BUILD_EXCLUSIVE' in out
          and not os.path.exists(os.path.join(mod, '6.1.0-no-hotremove', 'x86_64', 'module')),
          why='dkms exit %d; %s' % (rc, out[-1500:]))


def deb(t, sh):
    """make deb with dpkg-buildpackage and dh-dkms; inspect the package;
    unpack it into a throw-away dpkg root (no maintainer script runs
    there: dh_dkms puts its work in postinst) and build the module DKMS
    would build from what it shipped."""
    rc, out = sh('make --no-print-directory deb', 'deb.log')
    path = os.path.join(BUILD, 'deb', 'pvmem-dkms_%s_all.deb' % VERSION)
    if rc or not os.path.exists(path):
        t.add('host.make_deb', False, why=out[-2000:])
        return
    info = subprocess.run(['dpkg-deb', '-I', path], text=True, stdout=subprocess.PIPE).stdout
    files = subprocess.run(['dpkg-deb', '-c', path], text=True,
                           stdout=subprocess.PIPE).stdout
    names = {ln.split()[-1].lstrip('.') for ln in files.splitlines() if ln.strip()}
    src = '/usr/src/pvmem-%s/' % VERSION
    want = [src + f for f in ('dkms.conf', 'Kbuild', 'Makefile', 'VERSION', 'COPYING',
                              'drivers/virtio/pvmem_main.c', 'mm-hooks/pvmem_mm.c',
                              'include/uapi/linux/pvmem.h')]
    want += ['/lib/modprobe.d/pvmem.conf',
             '/usr/share/doc/pvmem-dkms/examples/80-pvmem-online-movable.rules']
    missing = [w for w in want if w not in names]
    stray = [n for n in names if re.search(r'\.(o|ko|cmd|mod)$', n)]
    fields = dict(re.findall(r'^ (Package|Version|Architecture|Depends): (.*)$', info, re.M))
    ok = (not missing and not stray and fields.get('Package') == 'pvmem-dkms'
          and fields.get('Version') == VERSION and fields.get('Architecture') == 'all'
          and 'dkms' in fields.get('Depends', '') and 'postinst' in info)
    t.add('host.make_deb', ok, why='missing %s, stray %s, fields %s' % (missing, stray, fields))
    root = os.path.join(BUILD, 'deb', 'root')
    shutil.rmtree(root, ignore_errors=True)
    admin = os.path.join(root, 'var', 'lib', 'dpkg')
    for d in ('info', 'updates', 'triggers'):
        os.makedirs(os.path.join(admin, d))
    for f in ('status', 'available'):
        open(os.path.join(admin, f), 'w').close()
    rc, out = sh('dpkg --root=%s --force-depends --force-not-root --unpack %s && '
                 'dpkg --root=%s -L pvmem-dkms' % (root, path, root), 'deb-unpack.log')
    conf = os.path.join(root, src.lstrip('/'), 'dkms.conf')
    version_line = 'PACKAGE_VERSION="%s"' % VERSION
    shipped = os.path.exists(conf) and version_line in open(conf).read()
    t.add('host.deb_unpacks_into_scratch_root',
          rc == 0 and shipped and src + 'dkms.conf' in out,
          why='dkms.conf %s %s; %s' % ('has' if shipped else 'lacks', version_line, out[-1500:]))
    if rc:
        return
    shutil.rmtree(SCRATCH, ignore_errors=True)
    krel = guest_krel('6.12')
    rc, out, mod = dkms('add', os.path.join(root, 'usr', 'src'), 'deb-dkms-add.log', sh)
    if rc == 0:
        rc, out, mod = dkms('build -k %s --kernelsourcedir %s' % (krel, kdir('6.12')),
                            os.path.join(root, 'usr', 'src'), 'deb-dkms-build.log', sh)
    ko = module_file(os.path.join(mod, krel, 'x86_64', 'module', 'pvmem.ko'))
    t.add('host.deb_sources_build_with_dkms', rc == 0 and os.path.exists(ko), why=out[-1500:])


def sign(t, sh):
    """make sign KEY= CERT= with a scratch key: the module carries that
    signer's signature, in the hash the guest kernels check."""
    d = os.path.join(BUILD, 'sign')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    key, cert = os.path.join(d, 'mok.priv'), os.path.join(d, 'mok.der')
    rc, out = sh('openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 -outform DER '
                 '-subj "/CN=pvmem test MOK/" -keyout %s -out %s && '
                 'make --no-print-directory sign KEY=%s CERT=%s' % (key, cert, key, cert),
                 'sign.log')
    ko = os.path.join(ROOT, 'pvmem.ko')
    signer, algo = modinfo(ko, 'signer'), modinfo(ko, 'sig_hashalgo')
    t.add('host.make_sign', rc == 0 and signer == 'pvmem test MOK' and algo == 'sha256',
          why='signer %r hash %r; %s' % (signer, algo, out[-1500:]))
