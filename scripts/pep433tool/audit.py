"""``audit``: every fd-creating call site of the patched stdlib, measured.

Two inventories of the call sites that create an fd in the patched tree's
``Lib/`` (tests excluded) are merged by key (file, function, callee):

* the static one (``auditstatic``): every call of an fd creator found by
  ``ast``, with what it asks for (``cloexec=``, a flag bit, nothing);
* the dynamic one: regrtest on ``patched/python`` with the tracer
  ``probes/audit/sitecustomize.py``, which records at each stdlib site how
  the flag was resolved (from the default, or ``cloexec=True``/``False``).

Each key is checked against ``audit/stdlib-fd-sites.toml``, which says
whether the fd follows the default (``default``: the caller's fd), is the
module's own (``own``: it must ask for the flag) or is no fd at all
(``not-fd``: a static false positive), and whether the site passes the flag
to an object the caller can supply or replace (``replaceable``), with the
test of the tree's ``Lib/test`` that covers that case (``compat_test``).
"""

import json
import logging
import re
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import (audit_compat, audit_creators, auditstatic, config, gitutil,
               junit, options, regrtest)
from .audit_creators import INDIRECT, Site
from .errors import PreconditionError, ProblemFound, UsageError
from .util import cpu_count, format_cmd, run

log = logging.getLogger(__name__)

CLASSIFICATION = Path('audit') / 'stdlib-fd-sites.toml'
KINDS = ('default', 'own', 'not-fd')
#: The keys of a [[site]]: required (non-empty strings), then optional.
REQUIRED = ('file', 'function', 'call', 'kind', 'reason')
OPTIONAL = ('replaceable', 'compat_test')
TRACER = Path(__file__).resolve().parent / 'probes' / 'audit'
#: How the tracer saw a call's cloexec resolved: from the default, an
#: explicit True or False, or an opener (not the build modes of impact).
RESOLUTIONS = ('default', 'true', 'false', 'opener')
RESOLUTION_NAMES = {'default': 'default', 'true': 'cloexec',
              'false': 'no-cloexec', 'opener': 'opener'}


@dataclass
class Entry:
    """One ``[[site]]`` of the classification file."""

    file: str
    function: str
    call: str
    kind: str
    reason: str
    #: the site passes the flag to an object the caller can supply or
    #: replace, and compat_tests (module.Class.test_method) cover that
    replaceable: bool = False
    compat_tests: tuple = ()

    @property
    def key(self):
        return (self.file, self.function, self.call)


@dataclass
class Row:
    """Everything known about one key."""

    key: tuple
    static: list = field(default_factory=list)      # [Site]
    dynamic: dict = field(default_factory=dict)     # {mode: count}
    dynamic_lines: set = field(default_factory=set)
    entry: Entry = None
    problems: list = field(default_factory=list)    # [str]

    @property
    def lines(self):
        return sorted({s.line for s in self.static} | self.dynamic_lines)

    @property
    def indirect(self):
        return self.key[2] in INDIRECT

    def not_asking(self):
        """The static calls that neither ask for the flag nor pass an
        explicit cloexec=False."""
        return [s for s in self.static if s.asks in ('default', 'kwargs')]

    def replaceable_calls(self):
        """The static calls that pass the flag to an object the caller can
        supply or replace."""
        return [s for s in self.static if s.replaceable]


# --- the classification file -------------------------------------------------

def load_classification(path):
    """{key: Entry} of the classification file *path* (exit 3 if it is
    missing or invalid)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise PreconditionError(
            f'no classification file {path}',
            hint=f'create it (an empty file will do: touch {path}), run '
                 'scripts/pep433 audit --static-only and paste the stubs '
                 'it prints') from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PreconditionError(
            f'cannot read the classification file {path}: {exc}',
            hint=f'fix the TOML syntax of {path}') from None
    sites = data.get('site', [])
    if not isinstance(sites, list):
        raise PreconditionError(f'{path}: "site" must be an array of '
                                'tables ([[site]])',
                                hint=f'fix {path}')
    entries = {}
    errors = []
    for number, item in enumerate(sites, 1):
        where = f'{path}: [[site]] #{number}'
        if not isinstance(item, dict):
            errors.append(f'{where}: not a table')
            continue
        missing = [name for name in REQUIRED
                   if not isinstance(item.get(name), str) or not item[name]]
        if missing:
            errors.append(f'{where}: missing or empty: {", ".join(missing)}')
            continue
        entry = Entry(*(item[name] for name in REQUIRED))
        where = f'{where} ({entry.file} {entry.function} {entry.call})'
        unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            errors.append(f'{where}: unknown keys: {", ".join(unknown)}')
        if entry.kind not in KINDS:
            errors.append(f'{where}: kind must be one of '
                          f'{", ".join(KINDS)}, not {entry.kind!r}')
        entry.replaceable, entry.compat_tests, problems = \
            _read_replaceable(item, where)
        errors += problems
        if entry.key in entries:
            errors.append(f'{where}: a second entry for this site')
        entries[entry.key] = entry
    if errors:
        raise PreconditionError('invalid classification file:\n  '
                                + '\n  '.join(errors), hint=f'fix {path}')
    return entries


def _read_replaceable(item, where):
    """(replaceable, compat tests, errors) of the [[site]] *item*."""
    replaceable = item.get('replaceable', False)
    tests = item.get('compat_test', ())
    if isinstance(tests, str):
        tests = (tests,)
    if not isinstance(replaceable, bool):
        return False, (), [f'{where}: replaceable must be true or false']
    if not isinstance(tests, (list, tuple)) or not all(
            isinstance(test, str) and test for test in tests):
        return False, (), [f'{where}: compat_test must be a test name '
                           '(module.Class.test_method) or an array of them']
    if tests and not replaceable:
        return False, (), [f'{where}: compat_test without replaceable = true']
    return replaceable, tuple(tests), []


def compat_tests(entries):
    """The compatibility tests the entries name, sorted."""
    return sorted({test for entry in entries.values()
                   for test in entry.compat_tests})


def toml_string(text):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def toml_stub(row):
    """A ``[[site]]`` to paste into the classification file."""
    file, function, call = row.key
    asks = '; '.join(dict.fromkeys(s.detail for s in row.static)) or \
        'not seen statically'
    lines = ', '.join(map(str, row.lines))
    return (f'[[site]]  # line {lines}; asks: {asks}\n'
            f'file = {toml_string(file)}\n'
            f'function = {toml_string(function)}\n'
            f'call = {toml_string(call)}\n'
            'kind = "TODO"  # "default", "own" or "not-fd"\n'
            'reason = "TODO"\n'
            + ('replaceable = true\n'
               'compat_test = "TODO"  # module.Class.test_method of Lib/test\n'
               if row.replaceable_calls() else ''))


# --- static part -------------------------------------------------------------

def parser_python(paths):
    """An interpreter that parses the tree's syntax: a build's (the tree's
    own version), else the one running the tool."""
    for build in (paths.baseline, paths.patched):
        python = build / 'python'
        if python.exists():
            return python
    return None


def static_sites(paths, lib, tests=()):
    """The static inventory of *lib*: ([Site], {test: why it does not
    exist, or ''}) for the compatibility *tests* named."""
    python = parser_python(paths)
    if python is None:
        sites, errors = auditstatic.scan_library(lib)
        problems = audit_compat.compat_test_problems(lib, tests)
    else:
        proc = run([python, '-I', Path(auditstatic.__file__), lib, *tests],
                   quiet=True)
        data = json.loads(proc.stdout)
        sites = [Site(**item) for item in data['sites']]
        errors = data['errors']
        problems = data['tests']
    if errors:
        who = python or f'Python {sys.version.split()[0]}'
        raise PreconditionError(
            f'{who} cannot parse {len(errors)} files of {lib}:\n  '
            + '\n  '.join(errors[:20]),
            hint='scripts/pep433 build (audit parses the sources with '
                 'build/baseline/python, which knows their syntax)')
    return sites, problems


# --- dynamic part ------------------------------------------------------------

def workload(tests=None):
    """The test modules the tracer runs."""
    if tests:
        return [name for name in re.split(r'[,\s]+', tests) if name]
    return list(dict.fromkeys(config.TEST_SUBSET + config.AUDIT_WORKLOAD))


def run_workload(paths, names, jobs, dyndir):
    """regrtest on the patched build with the tracer; records go to
    *dyndir*.  Test failures do not matter (they are logged)."""
    python, src = regrtest.interpreter(paths, 'patched')
    tests = regrtest.existing_tests(src, names)
    missing = sorted(set(names) - set(tests))
    if missing:
        log.info('audit: not in %s, not run: %s', src, ' '.join(missing))
    if dyndir.exists():
        shutil.rmtree(dyndir)
    dyndir.mkdir(parents=True)
    logfile = dyndir / 'regrtest.log'
    tmp = Path(tempfile.mkdtemp(prefix='pep433-audit-'))
    start = time.monotonic()
    try:
        home = tmp / 'home'
        home.mkdir()
        env = regrtest.test_env(home)
        env.update(PYTHONPATH=str(TRACER), PEP433_AUDIT_LOG=str(dyndir))
        cmd = [*python, '-m', 'test', f'-j{jobs}', '-u', 'network',
               '--timeout', str(config.REGRTEST_TIMEOUT),
               '--tempdir', str(tmp / 'regrtest'), *tests]
        log.info('audit: PYTHONPATH=%s PEP433_AUDIT_LOG=%s $ %s (log: %s)',
                 TRACER, dyndir, format_cmd(cmd), logfile)
        output, returncode = regrtest.stream(cmd, env, tmp, logfile,
                                             'audit')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = round(time.monotonic() - start)
    modules, _ = junit.parse_output(''.join(output))
    failed = sorted(name for name, state in modules.items()
                    if not state.startswith(('passed', 'skipped',
                                             'ran no tests')))
    if failed:
        log.warning('audit: under the tracer, regrtest reported (this does '
                    'not matter for the audit): %s',
                    ', '.join(f'{name} {modules[name]}' for name in failed))
    log.info('audit: workload done in %d s (regrtest exit status %d)',
             seconds, returncode)
    info = {'tests': tests, 'jobs': jobs, 'seconds': seconds,
            'returncode': returncode, 'not_passed': failed}
    (dyndir / 'run.json').write_text(json.dumps(info, indent=1) + '\n')
    return info


def load_dynamic(dyndir):
    """Aggregate the tracer's records of *dyndir*.

    Return (sites, other, processes): sites maps a key to {'modes': {mode:
    count}, 'lines': set}; other maps a callee to {mode: count} (calls from
    tests and non-stdlib code).  A (pid, site, mode) counts with its
    largest recorded count.
    """
    best = {}
    processes = 0
    broken = 0
    for path in sorted(Path(dyndir).glob('*.jsonl')):
        processes += 1
        for text in path.read_text(encoding='utf-8',
                                   errors='replace').splitlines():
            try:
                rec = json.loads(text)
                ident = (rec['pid'], rec.get('file'), rec.get('line'),
                         rec.get('function'), rec['call'], rec['mode'])
                count = int(rec['count'])
            except (ValueError, KeyError, TypeError):
                broken += 1
                continue
            best[ident] = max(best.get(ident, 0), count)
    if broken:
        log.warning('audit: %d unreadable records in %s', broken, dyndir)
    sites, other = {}, {}
    for (_, file, line, function, call, mode), count in best.items():
        if file is None:
            modes = other.setdefault(call, {})
        else:
            site = sites.setdefault((file, function, call),
                                    {'modes': {}, 'lines': set()})
            site['lines'].add(line)
            modes = site['modes']
        modes[mode] = modes.get(mode, 0) + count
    return sites, other, processes


# --- the check ---------------------------------------------------------------

def always_cloexec(callee, sites, rows):
    """True if the indirect *callee* always makes its fd close-on-exec:
    every static site inside its definition that makes an fd is classified
    own, asks for the flag, and was never seen resolved from the default.
    A site classified not-fd (e.g. PollSelector's select.poll(), which a
    static resolution cannot tell from epoll's) makes no fd."""
    inside = [site for site in audit_creators.indirect_sites(callee, sites)
              if rows[site.key].entry is None
              or rows[site.key].entry.kind != 'not-fd']
    if not inside:
        return False
    for site in inside:
        row = rows[site.key]
        if row.entry is None or row.entry.kind != 'own':
            return False
        if not site.asked or row.dynamic.get('default'):
            return False
    return True


def replaceable_problems(row, test_problems):
    """The problems of *row* under the rule for the sites that pass the
    flag to an object the caller can supply or replace: each is marked
    replaceable in the classification, with a compatibility test that
    exists (*test_problems*: {test: why it does not exist, or ''})."""
    entry = row.entry
    calls = row.replaceable_calls()
    if not entry.replaceable:
        if not calls:
            return []
        how = ', '.join(f'{s.line} ({_how(s)})' for s in calls)
        return ['passes the flag to an object the caller can supply or '
                f'replace at line {how}: mark it replaceable = true, with '
                'the compat_test that covers it']
    if not entry.compat_tests:
        return ['replaceable, but no compat_test names the test of Lib/test '
                'that covers it']
    return [f'replaceable, but its compat_test {test} '
            + test_problems.get(test, 'was not looked for')
            for test in entry.compat_tests if test_problems.get(test, '-')]


def _how(site):
    if site.via == audit_creators.VIA_METHOD:
        return f'{site.detail} to a method of a socket it was given'
    return f'through {site.via}()'


def check(sites, dynamic, entries, test_problems=None):
    """Merge and check; return (rows sorted by key, stale entries).

    *test_problems* maps each compatibility test the entries name to why
    it does not exist in the tree ('' if it does)."""
    rows = {}
    for site in sites:
        rows.setdefault(site.key, Row(site.key)).static.append(site)
    for key, info in (dynamic or {}).items():
        row = rows.setdefault(key, Row(key))
        row.dynamic = dict(info['modes'])
        row.dynamic_lines = set(info['lines'])
    for key, row in rows.items():
        row.entry = entries.get(key)
    for key, row in sorted(rows.items()):
        entry = row.entry
        if entry is None:
            row.problems.append('not classified')
            continue
        row.problems += replaceable_problems(row, test_problems or {})
        if entry.kind == 'not-fd':
            if row.dynamic:
                row.problems.append('classified not-fd, but the tracer saw '
                                    'it create fds')
            continue
        if entry.kind != 'own':
            continue
        if row.indirect:
            # a helper sets the flag whatever the wrapper does
            helped = row.static and all(s.helper and s.asked
                                         for s in row.static)
            if not helped and not always_cloexec(key[2], sites, rows):
                row.problems.append(
                    f'own, but {key[2]}() does not always make its fd '
                    'close-on-exec (a site inside it is not own or does not '
                    'ask for the flag)')
            continue
        lazy = row.not_asking()
        if lazy:
            row.problems.append(
                'own, but follows the default at line '
                + ', '.join(f'{s.line} ({s.detail})' for s in lazy)
                + ': pass cloexec=True (or the flag bit)')
        if row.dynamic.get('default'):
            row.problems.append(
                f'own, but the tracer saw it resolved from the default '
                f'{row.dynamic["default"]} times')
    used = set(rows)
    stale = [entry for key, entry in sorted(entries.items())
             if key not in used]
    return [rows[key] for key in sorted(rows)], stale


# --- the report --------------------------------------------------------------

def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def dynamic_cell(row, dynamic_ran):
    if not dynamic_ran:
        return '-'
    if not row.dynamic:
        return 'not reached'
    return ' / '.join(f'{row.dynamic[mode]} {RESOLUTION_NAMES[mode]}'
                      for mode in RESOLUTIONS if row.dynamic.get(mode))


def kind_cell(row):
    if not row.entry:
        return '**none**'
    if row.entry.replaceable:
        return f'{row.entry.kind}, replaceable'
    return row.entry.kind


def asks_cell(row):
    if not row.static:
        return '(not seen statically)'
    return '; '.join(dict.fromkeys(s.detail for s in row.static))


def totals(rows, dynamic_ran):
    kinds = {kind: 0 for kind in KINDS}
    for row in rows:
        if row.entry:
            kinds[row.entry.kind] += 1
    result = {'sites': len(rows),
              'static': sum(1 for row in rows if row.static),
              'dynamic only': sum(1 for row in rows if not row.static),
              'classified default (follow the default)': kinds['default'],
              'classified own': kinds['own'],
              'classified not-fd': kinds['not-fd'],
              'marked replaceable': sum(
                  1 for row in rows if row.entry and row.entry.replaceable),
              'not classified': sum(1 for row in rows if not row.entry),
              'with a problem': sum(1 for row in rows if row.problems)}
    if dynamic_ran:
        result['reached dynamically'] = sum(1 for row in rows
                                            if row.dynamic)
    return result


def format_report(rows, stale, info):
    """The markdown report: header, table, totals, problems, stale."""
    dynamic_ran = info.get('dynamic') is not None
    out = ['# PEP 433 audit of the stdlib\'s fd-creating call sites', '']
    out.append(f'- tree: {info.get("tree")}')
    out.append(f'- classification: {info.get("classification")}')
    dyn = info.get('dynamic')
    if dyn is None:
        out.append('- dynamic part: not run (--static-only)')
    else:
        parts = [f'{dyn.get("processes")} traced processes']
        if dyn.get('tests'):
            parts.append(f'regrtest -j{dyn.get("jobs")} on '
                         f'{len(dyn["tests"])} test modules in '
                         f'{dyn.get("seconds")} s')
        if dyn.get('reused'):
            parts.append('records of an earlier run (--reuse)')
        out.append('- dynamic part: ' + '; '.join(parts))
    out += ['', '| file | function | callee | lines | asks (static) | '
            'dynamic | kind | verdict |', '|---|---|---|---|---|---|---|---|']
    for row in rows:
        file, function, call = row.key
        verdict = '; '.join(row.problems) if row.problems else 'ok'
        out.append('| ' + ' | '.join(_cell(text) for text in (
            file, function, call, ', '.join(map(str, row.lines)),
            asks_cell(row), dynamic_cell(row, dynamic_ran),
            kind_cell(row), verdict)) + ' |')
    out += ['', '## Totals', '']
    out += [f'- {name}: {value}'
            for name, value in totals(rows, dynamic_ran).items()]
    other = (dyn or {}).get('other')
    if other:
        out.append('- calls from tests and other code (not listed): '
                   + ', '.join(f'{call} ' + '/'.join(
                       f'{modes[m]} {RESOLUTION_NAMES[m]}'
                       for m in RESOLUTIONS if modes.get(m))
                       for call, modes in sorted(other.items())))
    problems = [row for row in rows if row.problems]
    if problems:
        out += ['', f'## Problems ({len(problems)})', '']
        for row in problems:
            out.append(f'- Lib/{row.key[0]}: {row.key[1]}: {row.key[2]} '
                       f'(line {", ".join(map(str, row.lines))}): '
                       + '; '.join(row.problems))
        stubs = [toml_stub(row) for row in problems if row.entry is None]
        if stubs:
            out += ['', 'Classification stubs to paste (choose kind and '
                    'write the reason):', '', '```toml']
            out += '\n'.join(stubs).splitlines()
            out.append('```')
    if stale:
        out += ['', f'## Stale classification entries ({len(stale)})', '']
        out += [f'- {e.file}: {e.function}: {e.call} (kind {e.kind}): '
                'matches no site' for e in stale]
    return '\n'.join(out) + '\n'


def sites_json(rows, stale, info):
    return {'info': info,
            'sites': [{'file': row.key[0], 'function': row.key[1],
                       'call': row.key[2], 'lines': row.lines,
                       'static': [{'line': s.line, 'asks': s.asks,
                                   'detail': s.detail, 'via': s.via}
                                  for s in row.static],
                       'dynamic': row.dynamic,
                       'kind': row.entry.kind if row.entry else None,
                       'reason': row.entry.reason if row.entry else None,
                       'replaceable': bool(row.entry
                                           and row.entry.replaceable),
                       'compat_tests': list(row.entry.compat_tests
                                            if row.entry else ()),
                       'problems': row.problems} for row in rows],
            'stale': [_entry_json(entry) for entry in stale]}


def _entry_json(entry):
    data = vars(entry).copy()
    data['compat_tests'] = list(entry.compat_tests)
    return data


# --- the command -------------------------------------------------------------

def _tree_id(repo):
    """The commit the checkout is at (read-only: the tree may be in use)."""
    if not (Path(repo) / '.git').exists():
        return 'a plain tree'
    commit = gitutil.out(repo, 'rev-parse', '--short', 'HEAD', check=False)
    return f'commit {commit} (and its working tree as it is)' if commit \
        else 'an unknown commit'


def run_audit(paths, static_only=False, reuse=False, tests=None, jobs=None,
              output=None, classification=None):
    """Implement the ``audit`` subcommand; return the exit code."""
    if static_only and reuse:
        raise UsageError('--static-only and --reuse exclude each other')
    if tests and (static_only or reuse):
        raise UsageError('--tests needs the dynamic part (not with '
                         '--static-only or --reuse)')
    lib = paths.cpython / 'Lib'
    if not lib.is_dir():
        raise PreconditionError(
            f'no CPython checkout at {paths.cpython} (no Lib/)',
            hint='scripts/pep433 fetch && scripts/pep433 apply')
    classification = Path(classification or paths.repo / CLASSIFICATION)
    entries = load_classification(classification)
    output = Path(output or paths.results / 'audit')
    dyndir = output / 'dynamic'
    if not static_only and not reuse and not (paths.patched /
                                              'python').exists():
        raise PreconditionError(f'{paths.patched / "python"} does not '
                                'exist', hint='scripts/pep433 build')
    if reuse and not any(dyndir.glob('*.jsonl')):
        raise PreconditionError(
            f'no saved dynamic records in {dyndir}',
            hint='scripts/pep433 audit (without --reuse) runs the workload')

    start = time.monotonic()
    sites, test_problems = static_sites(paths, lib, compat_tests(entries))
    log.info('audit: %d static call sites (%d keys) in %s, %.1f s',
             len(sites), len({s.key for s in sites}), lib,
             time.monotonic() - start)
    info = {'tree': f'{paths.cpython} at {_tree_id(paths.cpython)}',
            'classification': str(classification), 'dynamic': None}
    dynamic = None
    if not static_only:
        if reuse:
            try:
                run_info = json.loads((dyndir / 'run.json').read_text())
            except (OSError, ValueError):
                run_info = {}
            run_info['reused'] = True
        else:
            run_info = run_workload(paths, workload(tests),
                                    jobs or cpu_count(), dyndir)
        dynamic, other, processes = load_dynamic(dyndir)
        run_info.update(processes=processes, other=other)
        info['dynamic'] = run_info
        log.info('audit: %d stdlib sites seen by the tracer in %d processes',
                 len(dynamic), processes)
    rows, stale = check(sites, dynamic, entries, test_problems)
    report = format_report(rows, stale, info)
    output.mkdir(parents=True, exist_ok=True)
    (output / 'report.md').write_text(report)
    (output / 'sites.json').write_text(
        json.dumps(sites_json(rows, stale, info), indent=1) + '\n')
    print(report, end='')
    for entry in stale:
        log.warning('audit: stale classification entry (matches no site): '
                    '%s %s %s', entry.file, entry.function, entry.call)
    problems = [row for row in rows if row.problems]
    if problems:
        raise ProblemFound(
            f'{len(problems)} sites with a problem (report: '
            f'{output / "report.md"}):\n  '
            + '\n  '.join(f'{row.key[0]} {row.key[1]} {row.key[2]}: '
                          + '; '.join(row.problems) for row in problems))
    log.info('audit: %d sites, all classified and consistent (report: %s)',
             len(rows), output / 'report.md')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = "inventory and check the stdlib's fd-creating call sites"
DOCS = 'docs/audit.md'


def add_arguments(parser):
    """``audit``'s options."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--static-only', action='store_true',
                       help='skip the dynamic part')
    group.add_argument('--reuse', action='store_true',
                       help="reuse the dynamic records of an earlier run")
    options.add_tests(parser, 'the workload')
    options.add_jobs(parser, 'regrtest worker processes')
    options.add_output(parser, '<workdir>/results/audit')
    parser.add_argument('--classification', metavar='FILE',
                        help=f'default: <repo>/{CLASSIFICATION}')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_audit(paths, static_only=args.static_only, reuse=args.reuse,
                     tests=args.tests, jobs=args.jobs, output=args.output,
                     classification=args.classification)
