#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The manuals against the programs and the config loader (meson test 'manuals', suite docs).

Checks the generated pages (build/man/*.[58], from man/*.scd by scdoc):
  render   each page formats without a warning as lintian runs it (man --warnings -E UTF-8
           -l -Tutf8 -Z, 80 and 120 columns), under groff -man -ww -z, and lexgrog reads its
           NAME line (the whatis entry);
  options  every option viaduct --help and viaductctl --help print (the usage lines and the
           option table) is a term of the page's OPTIONS section, and every option there is
           in --help; every viaductctl command of --help is a term of COMMANDS and the other
           way round; and --help lists everything the code accepts (src/main.c's getopt_long
           table and option string, viaductctl's getopt string and command table);
  keys     every key the loader accepts (the CYAML_FIELD_* tables of src/ctl/config*.c, and
           the wrappers around them, followed from the root config_fields through every
           nested mapping) is a term ("*key*: ...") of the KEYS subsection of its section in
           viaduct.yaml(5), whose title lists the sections it documents ("pools[], pool";
           "[]" marks a list), top-level keys in "Top level"; every term there is a key the
           loader accepts at that place; and every config key README.md's "Configuration" and
           "Edge protection" name (the YAML example's keys with their sections, and the
           `key: ...` / `key: { a, b }` forms of the text) is in viaduct.yaml(5);
  example  the EXAMPLE of viaduct.yaml(5), a whole config, passes viaduct --check-config.

Usage: manuals.py SOURCE_ROOT VIADUCT VIADUCTCTL viaduct.8 viaductctl.8 viaduct.yaml.5
       manuals.py --self-test SOURCE_ROOT VIADUCT VIADUCTCTL viaduct.8 viaductctl.8 viaduct.yaml.5
One line per problem, then "manuals: N problem(s)" or "manuals: ok (...)"; exit 1 on a problem,
77 (skip) when man, groff, lexgrog or python3-yaml is missing (scripts/install-deps.sh installs
them). --self-test breaks copies of the pages and of the inputs in the ways the checks exist for
and fails unless each one is caught.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print('manuals: python3-yaml not installed: skipped')
    sys.exit(77)

SKIP = 77
LINTIAN_WIDTHS = ('80', '120')  # lintian runs man at 120 columns, "back to 80" once groff is fixed

# ---------------------------------------------------------------- roff, as scdoc writes it


def roff_text(line):
    """A roff line with scdoc's escapes undone, font changes kept as \\fB \\fI \\fR."""
    line = line.replace('\\\\', '\0')  # an escaped backslash, kept apart from escapes
    return (line.replace('\\&', '').replace('\\-', '-').replace('\\(aq', "'")
            .replace('\\*(Aq', "'").replace('\\e', '\\').replace('\0', '\\'))


def roff_sections(roff):
    """{SECTION: [lines]} for every .SH, and [(subsection title, [lines])] per .SH too."""
    sections, subsections = {}, {}
    cur = sub = None
    for raw in roff.splitlines():
        line = roff_text(raw)
        m = re.match(r'\.SH\s+"?(.*?)"?\s*$', line)
        if m:
            cur = m.group(1)
            sections[cur] = []
            subsections[cur] = []
            sub = None
            continue
        m = re.match(r'\.SS\s+"?(.*?)"?\s*$', line)
        if m and cur is not None:
            sub = (m.group(1), [])
            subsections[cur].append(sub)
            continue
        if cur is None:
            continue
        sections[cur].append(line)
        if sub is not None:
            sub[1].append(line)
    return sections, subsections


def term_lines(lines):
    """Lines that open a definition (scdoc: a line followed by an indented body, .RS)."""
    return [lines[i] for i in range(len(lines) - 1) if lines[i + 1].startswith('.RS')]


OPT_RE = r'(?<![\w-])(--?[A-Za-z0-9][\w-]*)'


def page_options(roff):
    sections, _ = roff_sections(roff)
    opts = set()
    for line in term_lines(sections.get('OPTIONS', [])):
        for bold in re.findall(r'\\fB(.*?)\\fR', line):
            opts.update(re.findall(OPT_RE, bold))
    return opts


def page_commands(roff):
    sections, _ = roff_sections(roff)
    cmds = set()
    for line in term_lines(sections.get('COMMANDS', [])):
        m = re.match(r'\\fB([a-z][\w-]*)\\fR', line)
        if m:
            cmds.add(m.group(1))
    return cmds


KEY_TERM = re.compile(r'^\\fB([a-z][a-z0-9_]*)\\fR:(?: |$)')
TOP = ''  # the parent of top-level keys; its subsection is "Top level"


def literal_blocks(lines):
    """The text of scdoc's literal blocks (.nf ... .fi) among lines."""
    blocks, cur = [], None
    for line in lines:
        if line == '.nf':
            cur = []
        elif line == '.fi' and cur is not None:
            blocks.append('\n'.join(cur) + '\n')
            cur = None
        elif cur is not None and not line.startswith('.RS'):
            cur.append(line)
    return blocks


def page_keys(roff):
    """{parent path: set of keys} from viaduct.yaml(5)'s KEYS subsections."""
    _, subsections = roff_sections(roff)
    out = {}
    for title, lines in subsections.get('KEYS', []):
        terms = {m.group(1) for m in map(KEY_TERM.match, lines) if m}
        names = [TOP] if title.strip().lower() == 'top level' else \
            [t.strip().replace('[]', '') for t in title.split(',')]
        for name in names:
            out.setdefault(name, set()).update(terms)
    return out

# ---------------------------------------------------------------- --help and the code


def help_options(text):
    """Options of the usage lines and of the option table (lines starting with '-')."""
    opts = set()
    for line in text.splitlines():
        s = line.strip()
        if re.match(r'(usage:\s*)?viaduct(ctl)?\s', s):
            opts.update(re.findall(OPT_RE, s))
        elif s.startswith('-'):
            opts.update(re.findall(OPT_RE, re.split(r'\s{2,}', s)[0]))
    return opts


def help_commands(text):
    """viaductctl's commands: the first word of each line between "commands:" and "options:"."""
    cmds, inside = set(), False
    for line in text.splitlines():
        if line.strip() == 'commands:':
            inside = True
        elif re.match(r'\S', line):
            inside = False
        elif inside and line.strip():
            cmds.add(line.split()[0])
    return cmds


def code_options(src, name):
    """The options a C source gives getopt or getopt_long: the short ones of the option
    string, the long ones of the struct option table."""
    m = re.search(r'getopt(?:_long)?\s*\(\s*argc\s*,\s*argv\s*,\s*"([^"]*)"', src)
    if not m:
        raise ValueError(f'{name}: no getopt option string')
    opts = {'-' + c for c in m.group(1) if c.isalnum()}
    return opts | {'--' + n for n in re.findall(r'\{\s*"([\w-]+)"\s*,\s*\w+_argument', src)}


def code_commands(src):
    """tools/viaductctl.c: the names of its command table."""
    t = re.search(r'struct command commands\[\]\s*=\s*\{(.*?)\n\};', src, re.S)
    if not t:
        raise ValueError('tools/viaductctl.c: no command table')
    return set(re.findall(r'\{\s*"([\w-]+)"\s*,', t.group(1)))

# ---------------------------------------------------------------- the loader's schema


def strip_c_comments(s):
    return re.sub(r'/\*.*?\*/|//[^\n]*', '', s, flags=re.S)


def calls(body):
    """Top-level MACRO(args) calls of an initializer body: [(macro, [args])]."""
    out, i = [], 0
    while True:
        m = re.compile(r'([A-Za-z_]\w*)\s*\(').search(body, i)
        if not m:
            return out
        depth, j, args, start = 1, m.end(), [], m.end()
        while depth:
            c = body[j]
            if c == '"':
                j = body.index('"', j + 1)
            elif c in '({[':
                depth += 1
            elif c in ')}]':
                depth -= 1
            elif c == ',' and depth == 1:
                args.append(body[start:j].strip())
                start = j + 1
            j += 1
        args.append(body[start:j - 1].strip())
        out.append((m.group(1), args))
        i = j


def loader_keys(sources):
    """Every key path ("pools.outlier.retry_after") the cyaml schemas accept, from config_fields."""
    text = strip_c_comments('\n'.join(sources))
    fields = {m.group(1): m.group(2) for m in re.finditer(
        r'cyaml_schema_field_t\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\n\};', text, re.S)}
    values = {}
    for m in re.finditer(r'cyaml_schema_value_t\s+(\w+)\s*=\s*\{(.*?)\n\};', text, re.S):
        inner = re.search(r'CYAML_VALUE_MAPPING\s*\((.*)\)', m.group(2), re.S)
        values[m.group(1)] = inner.group(1).split(',')[-1].strip() if inner else None
    if 'config_fields' not in fields:
        raise ValueError('no config_fields table (the root schema) in src/ctl/config*.c')
    paths = set()

    def walk(table, prefix, seen):
        if table in seen:
            raise ValueError(f'{table}: the schema nests itself')
        for macro, args in calls(fields[table]):
            if macro == 'CYAML_FIELD_END':
                continue
            key = re.fullmatch(r'"([^"]+)"', args[0])
            if not key:
                raise ValueError(f'{table}: {macro}({args[0]}, ...): no key string')
            path = prefix + key.group(1)
            paths.add(path)
            for a in args[1:]:
                ref = a.lstrip('&').strip()
                child = ref if ref in fields else values.get(ref)
                if child in fields:
                    walk(child, path + '.', seen | {table})

    walk('config_fields', '', set())
    return paths

# ---------------------------------------------------------------- README


def readme_sections(readme, names):
    out = []
    for name in names:
        m = re.search(r'^## ' + re.escape(name) + r'\n(.*?)(?=^## |\Z)', readme, re.S | re.M)
        if not m:
            raise ValueError(f'README.md has no section "## {name}"')
        out.append(m.group(1))
    return out


def yaml_paths(node, prefix=''):
    """Key paths of a parsed YAML value: mappings, and mappings inside lists."""
    out = set()
    if isinstance(node, list):
        for item in node:
            out |= yaml_paths(item, prefix)
    elif isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str) or not re.fullmatch(r'[a-z][a-z0-9_]*', k):
                continue
            out.add(prefix + k)
            out |= yaml_paths(v, prefix + k + '.')
    return out


def readme_keys(readme, top_keys):
    """README's two sections: (key paths from the top, paths whose section the prose gives)."""
    paths, loose = set(), set()
    for sec in readme_sections(readme, ['Configuration', 'Edge protection']):
        for lang, block in re.findall(r'^```(\w*)\n(.*?)^```', sec, re.S | re.M):
            if lang == 'yaml':
                paths |= yaml_paths(yaml.safe_load(block))
        text = re.sub(r'^```.*?^```', '', sec, flags=re.S | re.M)
        for tok in re.findall(r'`([^`]+)`', text):
            tok = ' '.join(tok.split())
            if re.fullmatch(r'[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+', tok) and \
                    tok.split('.')[0] in top_keys:
                paths.add(tok)  # a dotted path: limits.max_message_size
                continue
            if not re.search(r'^[a-z][a-z0-9_]*:(\s|$)', tok):
                continue  # not YAML's key: form (a value, a metric, a file name)
            try:
                node = yaml.safe_load(tok.replace('[...]', '[]'))
            except yaml.YAMLError:
                continue  # prose that merely looks like it ("x.yaml: listeners[0]...")
            if not isinstance(node, dict):
                continue
            for k, v in node.items():
                if k in top_keys:
                    paths |= yaml_paths({k: v})
                else:  # `over: drop`, `methods: [{ method, rate }]`: the section is the prose's
                    loose |= yaml_paths({k: v})
    return paths, loose

# ---------------------------------------------------------------- the checks


def split_path(path):
    parent, _, key = path.rpartition('.')
    return parent, key


def check_keys(loader, page, readme_paths, readme_loose):
    problems = []
    for path in sorted(loader):
        parent, key = split_path(path)
        if key not in page.get(parent, set()):
            where = f'subsection "{parent}"' if parent else 'subsection "Top level"'
            problems.append(f'viaduct.yaml.5: key {path} (the loader accepts it) is no term of '
                            f'the {where}')
    for parent, keys in sorted(page.items()):
        for key in sorted(keys):
            path = f'{parent}.{key}' if parent else key
            if path not in loader:
                problems.append(f'viaduct.yaml.5: term {path}: the loader accepts no such key')
    for path in sorted(readme_paths):
        parent, key = split_path(path)
        if key not in page.get(parent, set()):
            problems.append(f'viaduct.yaml.5: key {path} (README.md names it) is not there')
    for rel in sorted(readme_loose):  # in any section whose path ends with rel's parent
        parent, key = split_path(rel)
        if not any(key in keys and (not parent or p == parent or p.endswith('.' + parent))
                   for p, keys in page.items()):
            problems.append(f'viaduct.yaml.5: key {rel} (README.md names it) is not there')
    return problems


def check_options(name, help_opts, page_opts, code_opts):
    problems = []
    for o in sorted(help_opts - page_opts):
        problems.append(f'{name}: option {o} of --help is not in the OPTIONS section')
    for o in sorted(page_opts - help_opts):
        problems.append(f'{name}: option {o} of the OPTIONS section is not in --help')
    for o in sorted(code_opts - help_opts):
        problems.append(f'{name}: option {o} is accepted by the code but not in --help')
    return problems


def check_commands(help_cmds, page_cmds, code_cmds):
    problems = []
    for c in sorted(help_cmds - page_cmds):
        problems.append(f'viaductctl.8: command {c} of --help is not in the COMMANDS section')
    for c in sorted(page_cmds - help_cmds):
        problems.append(f'viaductctl.8: command {c} of the COMMANDS section is not in --help')
    for c in sorted(code_cmds - help_cmds):
        problems.append(f'viaductctl: command {c} of the command table is not in --help')
    if not help_cmds:
        problems.append('viaductctl --help: no commands found')
    return problems


def check_render(page):
    """What lintian's man call, groff's warnings and lexgrog say about one page."""
    problems = []
    name = os.path.basename(page)
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'LC_ALL': 'C.UTF-8',
           'MANROFFSEQ': ''}
    for width in LINTIAN_WIDTHS:
        r = subprocess.run(['man', '--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', page],
                           env=dict(env, MANWIDTH=width), cwd=os.path.dirname(page),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in r.stderr.splitlines():
            if line.strip():
                problems.append(f'{name}: man --warnings at {width} columns: {line}')
        if r.returncode:
            problems.append(f'{name}: man exited {r.returncode}')
    r = subprocess.run(['groff', '-man', '-ww', '-z', page], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    problems += [f'{name}: groff -ww: {l}' for l in r.stderr.splitlines() if l.strip()]
    r = subprocess.run(['lexgrog', page], env=env, capture_output=True, text=True)
    if r.returncode or not re.search(r': ".+ - .+"$', r.stdout.strip()):
        problems.append(f'{name}: lexgrog finds no whatis entry (NAME): {r.stdout.strip()}')
    return problems


def check_example(roff, viaduct):
    """The EXAMPLE of viaduct.yaml(5) is a whole config: viaduct --check-config takes it."""
    sections, _ = roff_sections(roff)
    blocks = literal_blocks(sections.get('EXAMPLE', []))
    if len(blocks) != 1:
        return [f'viaduct.yaml.5: EXAMPLE has {len(blocks)} literal blocks, not one config']
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'example.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(blocks[0])
        r = subprocess.run([viaduct, '--check-config', path], capture_output=True, text=True,
                           timeout=60)
    if r.returncode:
        return [f'viaduct.yaml.5: the EXAMPLE fails viaduct --check-config: '
                f'{r.stderr.strip()}']
    return []


def run_help(binary):
    r = subprocess.run([binary, '--help'], capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise ValueError(f'{binary} --help exited {r.returncode}: {r.stderr}')
    return r.stdout


class Inputs:
    def __init__(self, root, viaduct, viaductctl, pages):
        self.root, self.pages = root, [os.path.abspath(p) for p in pages]
        self.viaduct = viaduct
        read = lambda *p: open(os.path.join(root, *p), encoding='utf-8').read()
        self.roff = {os.path.basename(p): open(p, encoding='utf-8').read() for p in pages}
        self.help = {'viaduct': run_help(viaduct), 'viaductctl': run_help(viaductctl)}
        self.main_c = read('src', 'main.c')
        self.ctl_c = read('tools', 'viaductctl.c')
        ctl = os.path.join(root, 'src', 'ctl')
        self.config_c = [read('src', 'ctl', f) for f in sorted(os.listdir(ctl))
                         if re.fullmatch(r'config.*\.[ch]', f)]
        self.readme = read('README.md')


def check(inp, render=True):
    problems = []
    if render:
        for p in inp.pages:
            problems += check_render(p)
    problems += check_options('viaduct.8', help_options(inp.help['viaduct']),
                              page_options(inp.roff['viaduct.8']),
                              code_options(inp.main_c, 'src/main.c'))
    problems += check_options('viaductctl.8', help_options(inp.help['viaductctl']),
                              page_options(inp.roff['viaductctl.8']),
                              code_options(inp.ctl_c, 'tools/viaductctl.c'))
    problems += check_commands(help_commands(inp.help['viaductctl']),
                               page_commands(inp.roff['viaductctl.8']), code_commands(inp.ctl_c))
    loader = loader_keys(inp.config_c)
    top = {p for p in loader if '.' not in p}
    rp, rl = readme_keys(inp.readme, top)
    problems += check_keys(loader, page_keys(inp.roff['viaduct.yaml.5']), rp, rl)
    problems += check_example(inp.roff['viaduct.yaml.5'], inp.viaduct)
    return problems, len(loader), len(rp) + len(rl)


def self_test(inp):
    """Each way the manuals can drift from the code, made on copies; each must be caught."""
    import copy
    cases = []

    def case(what, mutate, expect):
        i = copy.copy(inp)
        i.roff, i.help = dict(inp.roff), dict(inp.help)
        mutate(i)
        found = [p for p in check(i, render=False)[0] if expect in p]
        cases.append((what, bool(found)))

    def drop_term(page, term_re):
        def f(i):
            lines = i.roff[page].splitlines()
            k = next(n for n, l in enumerate(lines) if re.search(term_re, roff_text(l)))
            del lines[k]
            i.roff[page] = '\n'.join(lines)
        return f
    case('an option left out of viaduct.8', drop_term('viaduct.8', r'^\\fB-w\\fR'),
         'option -w of --help')
    case('an option only viaduct.8 has',
         lambda i: i.roff.update({'viaduct.8': i.roff['viaduct.8'].replace(
             '\\fB--dpdk\\fR\n', '\\fB--dpdk\\fR, \\fB--fast\\fR\n')}),
         'option --fast of the OPTIONS')
    case('an option only the code has',
         lambda i: setattr(i, 'main_c', i.main_c.replace('"c:w:hV"', '"c:w:hVq"')),
         'option -q is accepted by the code')
    case('a command left out of viaductctl.8', drop_term('viaductctl.8', r'^\\fBundrain\\fR'),
         'command undrain of --help')
    case('a key left out of viaduct.yaml.5', drop_term('viaduct.yaml.5', r'^\\fBban_seconds\\fR:'),
         'key rate_limit.ban_seconds')
    case('a key the loader gains',
         lambda i: setattr(i, 'config_c', [c.replace(
             'STR_FIELD("after_ms"', 'STR_FIELD("after_us", OPT, struct raw_overload, after_ms),'
             '\n\tSTR_FIELD("after_ms"') for c in i.config_c]),
         'key overload.after_us')
    case('a term the loader does not know',
         lambda i: i.roff.update({'viaduct.yaml.5': i.roff['viaduct.yaml.5'].replace(
             '\\fBshed\\fR:', '\\fBshedding\\fR:')}),
         'term overload.shedding')
    case('a README key the page lacks',
         lambda i: setattr(i, 'readme', i.readme.replace(
             '`overload: { shed:', '`overload: { shed_mode: drop, shed:')),
         'key overload.shed_mode (README.md')
    case('an EXAMPLE viaduct refuses',
         lambda i: i.roff.update({'viaduct.yaml.5': i.roff['viaduct.yaml.5'].replace(
             'port: 5070', 'port: 70000', 1)}),
         'EXAMPLE fails viaduct --check-config')
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, 'viaduct.8')
        with open(bad, 'w') as f:
            f.write(inp.roff['viaduct.8'].replace('.SH OPTIONS', '.SH OPTIONS\n.BOGUS x\n.ft Q'))
        cases.append(('a page groff warns about', bool(check_render(bad))))
    failed = [w for w, ok in cases if not ok]
    for w, ok in cases:
        print(f'manuals self-test: {w}: {"caught" if ok else "NOT caught"}')
    return failed


def main(argv):
    selftest = argv[:1] == ['--self-test']
    args = argv[1:] if selftest else argv
    if len(args) != 6:
        print(__doc__.split('\n\n')[-1].splitlines()[0], file=sys.stderr)
        return 2
    for tool in ('man', 'groff', 'lexgrog'):
        if not shutil.which(tool):
            print(f'manuals: {tool} not installed (man-db, groff-base): skipped')
            return SKIP
    inp = Inputs(args[0], args[1], args[2], args[3:])
    if selftest:
        failed = self_test(inp)
        print(f'manuals self-test: {len(failed)} of the broken copies not caught')
        return 1 if failed else 0
    problems, n_keys, n_readme = check(inp)
    for p in problems:
        print(p)
    if problems:
        print(f'manuals: {len(problems)} problem(s)')
        return 1
    print(f'manuals: ok (3 pages render clean; --help options and viaductctl commands match '
          f'the pages both ways; {n_keys} loader keys and {n_readme} README keys in '
          f'viaduct.yaml.5; its EXAMPLE passes --check-config)')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
