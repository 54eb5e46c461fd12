#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""One-way layers, checked on the tree and on the built libraries.

Every module has a rank; a module may include the public header of, or call a function
defined in, a module of lower rank only (or itself). Two checks:
  - includes: every #include "viaduct/X.h" in src/, dpdk/ and include/viaduct/;
  - calls: every vd_ symbol a library's object files leave undefined (nm -u) is looked up in
    the library that defines it (nm --defined-only).
Usage: check.py SOURCE_ROOT BUILD_DIR. Prints every violation; exit 1 if there is one.
check.py --self-test builds two small libraries, one calling upward, and fails unless that
call is found (the check itself is checked).
"""
import os
import re
import subprocess
import sys
import tempfile

RANK = {
    'addr': 0, 'log': 0, 'sip': 0,
    'match': 1, 'hep': 1,
    'config': 2,
    'proxy': 3,
    'stats': 4, 'tls': 4,
    'route': 5,
    'ctl': 6, 'dp': 6,
    'dpdk': 7,
    'main': 8,
}

HEADER = {
    'addr.h': 'addr', 'log.h': 'log', 'sip.h': 'sip',
    'rules.h': 'match', 'maglev.h': 'match', 'lpm.h': 'match',
    'hep.h': 'hep',
    'config.h': 'config',
    'proxy.h': 'proxy',
    'stats.h': 'stats', 'metrics.h': 'stats', 'dpview.h': 'stats',
    'tls.h': 'tls',
    'route.h': 'route',
    'config_file.h': 'ctl', 'control.h': 'ctl', 'health.h': 'ctl', 'admin.h': 'ctl',
    'notify.h': 'ctl',
    'dp.h': 'dp',
    'dpdk.h': 'dpdk',
}

# library (libviaduct_X.a) -> module; the directories are the modules
LIBS = {name: name for name in RANK if name != 'main'}


def allowed(user, used):
    return used == user or RANK[used] < RANK[user]


def module_of_source(rel):
    parts = rel.split(os.sep)
    if parts[0] == 'dpdk':
        return 'dpdk'
    if parts[0] == 'include':
        return HEADER.get(parts[-1])
    if rel == os.path.join('src', 'main.c'):
        return 'main'
    if rel == os.path.join('src', 'log.c'):
        return 'log'
    return parts[1] if len(parts) > 2 else None


def check_includes(root):
    bad = []
    inc = re.compile(r'^\s*#\s*include\s*[<"]viaduct/([a-z_]+\.h)[>"]', re.M)
    for top in ('src', 'dpdk', os.path.join('include', 'viaduct')):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if not f.endswith(('.c', '.h')):
                    continue
                rel = os.path.relpath(os.path.join(d, f), root)
                user = module_of_source(rel)
                if user is None:
                    bad.append('%s: belongs to no module' % rel)
                    continue
                for h in inc.findall(open(os.path.join(root, rel)).read()):
                    used = HEADER.get(h)
                    if used is None:
                        bad.append('%s: includes viaduct/%s, a header of no module' % (rel, h))
                    elif not allowed(user, used):
                        bad.append('%s (%s) includes viaduct/%s (%s)' % (rel, user, h, used))
    return bad


def nm(args, path):
    out = subprocess.run(['nm'] + args + [path], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def find_lib(build, module):
    for d, _, files in os.walk(build):
        if 'libviaduct_%s.a' % module in files:
            return os.path.join(d, 'libviaduct_%s.a' % module)
    return None


def check_calls(build):
    bad, defined, undefined = [], {}, {}
    found = 0
    for module in LIBS:
        lib = find_lib(build, module)
        if not lib:
            continue  # dpdk: only with the dpdk feature
        found += 1
        for line in nm(['--defined-only'], lib):
            f = line.split()
            if len(f) == 3 and f[1] in 'TDBR' and f[2].startswith('vd_'):
                defined[f[2]] = module
        undefined[module] = {f[-1] for f in map(str.split, nm(['-u'], lib))
                             if f and f[-1].startswith('vd_')}
    if found < len(LIBS) - 1:
        bad.append('only %d of the libraries found under %s' % (found, build))
    for module, syms in undefined.items():
        for s in sorted(syms):
            used = defined.get(s)
            if used and not allowed(module, used):
                bad.append('libviaduct_%s.a (%s) calls %s of %s' % (module, module, s, used))
    return bad, len(defined)


def self_test():
    with tempfile.TemporaryDirectory() as t:
        for module, code in (('sip', 'void vd_route_lock(void); void vd_sip_x(void) '
                                     '{ vd_route_lock(); }'),
                             ('route', 'void vd_sip_x(void); void vd_route_lock(void) '
                                       '{ vd_sip_x(); }')):
            src = os.path.join(t, module + '.c')
            open(src, 'w').write(code + '\n')
            subprocess.run(['cc', '-c', src, '-o', src + '.o'], check=True)
            subprocess.run(['ar', 'rcs', os.path.join(t, 'libviaduct_%s.a' % module),
                            src + '.o'], check=True)
        bad, _ = check_calls(t)
    want = 'libviaduct_sip.a (sip) calls vd_route_lock of route'
    ok = want in bad and not any('(route) calls' in b for b in bad)
    print('layering self-test: %s' % ('upward call found, downward call allowed' if ok
                                      else 'FAILED: %r' % bad))
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    root, build = sys.argv[1], sys.argv[2]
    bad = check_includes(root)
    calls, n_defined = check_calls(build)
    bad += calls
    for b in bad:
        print('layering: ' + b)
    print('layering: %d violation(s); %d modules, %d exported functions checked'
          % (len(bad), len(RANK), n_defined))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
