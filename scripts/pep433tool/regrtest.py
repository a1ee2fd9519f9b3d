"""``test``: regrtest on the baseline and patched builds, compared.

Each mode's results come from three sources, so that nothing is missed:
the junit XML (one ``testcase`` per test method), the ``FAIL:``/``ERROR:``
lines of the output (failed subtests have no name in the XML), and the
per-module progress lines and exit status (a crashed, timed-out or
"env changed" module has no or incomplete XML).
"""

import datetime
import json
import logging
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import config, gitutil, sanitizers
from .checkout import require_checkout
from .errors import PreconditionError, ProblemFound
from .util import clean_env, cpu_count, format_cmd, run_logged

log = logging.getLogger(__name__)

FAILING = ('fail', 'error')


@dataclass
class Outcome:
    """The result of one test case (or of a whole module)."""

    status: str         # pass, fail, error, skip
    detail: str = ''    # traceback or reason

    @property
    def failed(self):
        return self.status in FAILING


def _key(test_id):
    """Normalise a unittest id: drop the leading ``test.`` package."""
    return test_id[5:] if test_id.startswith('test.') else test_id


def module_of(key):
    """The regrtest module name of a result key (e.g. ``test_os``)."""
    return key.split('.', 1)[0].split(' ', 1)[0]


def parse_junit(path):
    """Results of a regrtest junit XML file: {key: Outcome}.

    regrtest leaves a ``testcase`` element without a name for a test whose
    subtests failed (unittest reports no success and no failure for it);
    such a case is kept as ``<module> (unnamed failing test #N)``.
    """
    results = {}
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return results
    except ET.ParseError as exc:
        log.warning('cannot parse %s: %s', path, exc)
        return results
    suites = [root] if root.tag == 'testsuite' else root.iter('testsuite')
    for suite in suites:
        unnamed = []
        previous = None
        module = None
        for case in suite.iter('testcase'):
            name = case.get('name')
            if not name:
                unnamed.append(previous)
                continue
            key = previous = _key(name)
            module = module or module_of(key)
            results[key] = _case_outcome(case)
        for number, after in enumerate(unnamed, 1):
            where = f' (it ran after {after})' if after else ''
            results[f'{module or "unknown"} (unnamed failing test '
                    f'#{number})'] = Outcome(
                'fail', 'a test case failed without a name in the junit '
                f'XML, typically a failed subTest{where}; run '
                f'"python -m test -v {module or ""}" to see it')
    return results


def _case_outcome(case):
    outcome = Outcome('pass')
    for child in case:
        if child.tag in ('error', 'failure'):
            status = 'error' if child.tag == 'error' else 'fail'
            return Outcome(status, child.text or child.get('message') or '')
        if child.tag == 'skipped':
            outcome = Outcome('skip', child.text or '')
        if child.tag == 'outcome' and (child.text or '') == \
                'UNEXPECTED_SUCCESS':
            outcome = Outcome('fail', 'unexpected success')
    return outcome


PROGRESS_RE = re.compile(
    r'\[\s*\d+/\d+(?:/\d+)?\]\s+(test_[\w.]+)\s+(.*?)\s*$')
FAILLINE_RE = re.compile(r'^(FAIL|ERROR): (\S+) \(([\w.]+)\)(.*)$')
SUMMARY_RE = re.compile(
    r'^(?:\d+|All \d+) (?:re-run )?tests? (failed|altered the execution '
    r'environment \(env changed\)|omitted):$')


def parse_output(text):
    """Module states and failing test ids from regrtest's output.

    Return (modules, failures): modules maps a module to its state line
    (e.g. ``failed (2 errors)``, ``crashed``, ``timed out (20 min)``);
    failures maps a test id to (status, first lines).
    """
    modules = {}
    failures = {}
    lines = text.splitlines()
    section = None
    for index, line in enumerate(lines):
        match = PROGRESS_RE.search(line)
        if match:
            state = match.group(2).split(' -- ')[0]
            modules.setdefault(match.group(1), state)
            section = None
            continue
        match = FAILLINE_RE.match(line)
        if match:
            kind, test_id = match.group(1), _key(match.group(3))
            detail = '\n'.join(lines[index:index + 12])
            status = 'fail' if kind == 'FAIL' else 'error'
            failures.setdefault(test_id, (status, detail))
            continue
        match = SUMMARY_RE.match(line.strip())
        if match:
            section = match.group(1)
            continue
        if section and line.startswith('    ') and line.strip():
            for name in line.split():
                if section == 'failed':
                    if modules.get(name, 'passed').startswith(
                            ('passed', 'skipped', 'ran no tests')):
                        modules[name] = 'failed'
                elif section == 'omitted':
                    modules.setdefault(name, 'omitted (not run)')
                else:
                    modules[name] = 'failed (env changed)'
        elif not line.strip():
            section = None
    return modules, failures


def mode_results(xml_path, output, returncode):
    """Combine XML, output and exit status of one regrtest run."""
    results = parse_junit(xml_path)
    modules, failures = parse_output(output)
    for test_id, (status, detail) in failures.items():
        current = results.get(test_id)
        if current is None or not current.failed:
            results[test_id] = Outcome(status, detail)
    failing_modules = {module_of(key) for key, outcome in results.items()
                       if outcome.failed}
    for module, state in modules.items():
        if state.startswith(('passed', 'skipped', 'ran no tests')):
            continue
        if 'env changed' in state:
            results[f'{module} (env changed)'] = Outcome(
                'error', f'{module} {state}')
        elif module not in failing_modules:
            results[f'{module} (whole module)'] = Outcome(
                'error', f'{module} {state}')
    if returncode not in (0, 4) and not any(
            outcome.failed for outcome in results.values()):
        results['regrtest (exit status)'] = Outcome(
            'error', f'regrtest exited with status {returncode}')
    return results


@dataclass
class Comparison:
    """A patched mode compared with the baseline."""

    mode: str
    counts: dict
    new: list       # [(key, Outcome, baseline status or 'absent')]
    known: list     # [(key, Outcome)]
    flaky: list = field(default_factory=list)   # [(key, Outcome)]


def rerun_name(key):
    """The regrtest name that reruns the test of a result key.

    ``test_asyncio.test_events.EventTests.test_x`` -> ``test_asyncio.test_events``
    (the dotted path up to the first CamelCase class name).
    """
    head = key.split(' ', 1)[0]
    parts = []
    for part in head.split('.'):
        if not part or part[0].isupper():
            break
        parts.append(part)
    return '.'.join(parts) or module_of(key)


def confirm(comparison, rerun):
    """Drop from *comparison.new* what passed when run again.

    *rerun* holds the results of running the modules of the new failures a
    second time; a failure that does not fail again is flaky: reported,
    not counted.
    """
    confirmed = []
    for key, outcome, base in comparison.new:
        again = rerun.get(key)
        whole = rerun_name(key)
        module_failed = any(out.failed for k, out in rerun.items()
                            if rerun_name(k) == whole)
        if (again is not None and not again.failed) or (
                again is None and not module_failed):
            comparison.flaky.append((key, outcome))
        else:
            confirmed.append((key, outcome, base))
    comparison.new = confirmed
    return comparison


def count(results):
    """Number of results per status."""
    counts = {'pass': 0, 'fail': 0, 'error': 0, 'skip': 0}
    for outcome in results.values():
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


def compare(mode, baseline, patched):
    """Compare the results of a patched mode with the baseline's."""
    new, known = [], []
    for key in sorted(patched):
        outcome = patched[key]
        if not outcome.failed:
            continue
        base = baseline.get(key)
        if base is not None and base.failed:
            known.append((key, outcome))
        else:
            new.append((key, outcome, base.status if base else 'absent'))
    return Comparison(mode, count(patched), new, known)


def format_report(baseline, comparisons, first_lines=8,
                  base_mode='baseline'):
    """The summary printed at the end of ``test``."""
    out = []

    def counts_line(name, counts):
        return (f'  {name:<12} ' + ', '.join(
            f'{counts[k]} {k}' for k in ('pass', 'fail', 'error', 'skip')))

    out.append('regrtest results (test cases; whole-module problems '
               'count as errors):')
    out.append(counts_line(base_mode, count(baseline)))
    for comp in comparisons:
        out.append(counts_line(comp.mode, comp.counts))
    for comp in comparisons:
        out.append('')
        if comp.new:
            out.append(f'NEW FAILURES in {comp.mode} ({len(comp.new)}), '
                       'not failing on the baseline:')
            for key, outcome, base in comp.new:
                out.append(f'  {key}  [{outcome.status}; baseline: {base}]')
                lines = outcome.detail.strip().splitlines()
                if len(lines) > first_lines:
                    lines = lines[:3] + ['...'] + lines[-(first_lines - 4):]
                out.extend('      ' + line for line in lines)
        else:
            out.append(f'{comp.mode}: no new failure')
        if comp.known:
            out.append(f'{comp.mode}: {len(comp.known)} failures also on '
                       'the baseline (known on this machine, not counted):')
            out.extend(f'  {key}  [{outcome.status}]'
                       for key, outcome in comp.known)
        if comp.flaky:
            out.append(f'{comp.mode}: {len(comp.flaky)} failures that passed '
                       'when run again (flaky, not counted):')
            out.extend(f'  {key}  [{outcome.status}]'
                       for key, outcome in comp.flaky)
    return '\n'.join(out) + '\n'


def summary_header(paths, what):
    """First lines of a summary file: what ran, on which base and series,
    when; what a reader of a copy in docs/ needs to date the figures."""
    tip = gitutil.rev_parse(paths.cpython, config.BRANCH) or '?'
    when = datetime.datetime.now(datetime.timezone.utc)
    return (f'# {what}\n# base {paths.base.version}, branch {config.BRANCH} '
            f'at {tip[:12]}, {when:%Y-%m-%d %H:%M} UTC\n')


# --- running regrtest -------------------------------------------------------

def _changed_tests(repo, tag, diff_filter=None):
    """Paths under Lib/test/ of the test files the series changes, split
    after Lib/test/ (e.g. ['test_os.py'], ['test_asyncio', 'test_events.py'])."""
    args = ['diff', '--name-only', '--no-renames']
    if diff_filter:
        args.append(f'--diff-filter={diff_filter}')
    text = gitutil.out(repo, *args, tag, config.BRANCH,
                       '--', 'Lib/test/')
    for path in text.splitlines():
        parts = path.split('/')[2:]
        if parts and parts[0].startswith('test_'):
            yield parts


def touched_tests(repo, tag):
    """Test modules (package members by dotted name) the series adds or
    changes: test_os, test_asyncio.test_events..."""
    names = set()
    for parts in _changed_tests(repo, tag):
        if parts[-1].startswith('test_') and parts[-1].endswith('.py'):
            names.add('.'.join(parts[:-1] + [parts[-1][:-3]]))
    return sorted(names)


def series_tests(repo, tag):
    """Test modules/packages that the series adds under Lib/test."""
    names = set()
    for parts in _changed_tests(repo, tag, diff_filter='A'):
        if len(parts) == 1 and parts[0].endswith('.py'):
            names.add(parts[0][:-3])
        elif len(parts) > 1:
            names.add(parts[0])
    return sorted(names)


def existing_tests(src, names):
    """The names of *names* that exist in the source tree *src*."""
    testdir = Path(src) / 'Lib' / 'test'
    found = []
    for name in names:
        path = testdir.joinpath(*name.split('.'))  # test_asyncio.test_events
        if (path.with_suffix('.py').is_file()
                or (path / '__init__.py').is_file()):
            found.append(name)
    return found


def build_of(mode):
    """The build directory name of a mode: ``patched-ft-e`` -> ``patched-ft``
    (a mode is a build, then ``-e`` for the patched ones run with -e)."""
    return mode[:-2] if mode.endswith('-e') else mode


def interpreter(paths, mode):
    """(python command, source tree) of a mode."""
    build = build_of(mode)
    python = [str(paths.workdir / build / 'python')]
    if mode.endswith('-e'):
        python.append('-e')
    if build.startswith('baseline'):
        return python, paths.baseline_src
    return python, paths.cpython


def build_hint(mode):
    """The command that builds the interpreter of *mode*."""
    variant = build_of(mode).partition('-')[2]
    option = {'debug': ' --debug', 'ft': ' --free-threading',
              'tsan': ' --tsan', 'asan': ' --asan'}.get(variant, '')
    return f'scripts/pep433 build{option}'


def test_env(home):
    """Environment for regrtest: no PYTHON* variable, a private HOME."""
    return clean_env({'HOME': str(home)})


def check_cloexec_option(python, env):
    """Return an error message unless ``python -e`` sets sys.flags.cloexec."""
    cmd = [*python, '-c', 'import sys; assert sys.flags.cloexec == 1']
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode == 0:
        return None
    return (f'{format_cmd(cmd)} failed (exit {proc.returncode}): the patched '
            'interpreter does not support -e / sys.flags.cloexec:\n'
            + proc.stderr.strip())


def stream(cmd, env, cwd, logfile, label):
    """Run regrtest *cmd*, its output to *logfile* and its per-module
    progress lines to the log (as *label*); return (output, exit status)."""
    seen = 0

    def follow(seconds=None):
        nonlocal seen
        with open(logfile, 'rb') as f:
            f.seek(seen)
            text = f.read()
        lines = text[:text.rfind(b'\n') + 1]     # whole lines only
        seen += len(lines)
        for line in lines.decode(errors='replace').splitlines():
            if PROGRESS_RE.search(line):
                log.info('%s: %s', label, line.rstrip())

    returncode, _, _ = run_logged(cmd, logfile, cwd=cwd, env=env,
                                  progress=follow, every=1)
    follow()
    with open(logfile, errors='replace') as f:
        return f.readlines(), returncode


def run_mode(paths, mode, names, jobs, tag='', extra_args=(), env=None):
    """Run regrtest for *mode*; save <mode><tag>.xml/.log/.json; return
    the results."""
    python, src = interpreter(paths, mode)
    if not Path(python[0]).exists():
        raise PreconditionError(f'{python[0]} does not exist',
                                hint=build_hint(mode))
    tests = existing_tests(src, names)
    skipped = sorted(set(names) - set(tests))
    if skipped:
        log.info('%s: not in %s, not run: %s', mode, src, ' '.join(skipped))
    results_dir = paths.results
    results_dir.mkdir(parents=True, exist_ok=True)
    xml = results_dir / f'{mode}{tag}.xml'
    logfile = results_dir / f'{mode}{tag}.log'
    xml.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'regrtest-{mode}-'))
    try:
        home = tmp / 'home'
        home.mkdir()
        env = {**test_env(home), **(env or {})}
        if mode.endswith('-e'):
            error = check_cloexec_option(python, env)
            if error:
                log.error('%s', error)
                logfile.write_text(error + '\n')
                results = {'python -e (sys.flags.cloexec)': Outcome(
                    'error', error)}
                _save(results_dir, mode + tag, results, 1, tests)
                return results
        cmd = [*python, '-m', 'test', '--junit-xml', str(xml),
               f'-j{jobs}', '-u', 'network',
               '--timeout', str(config.REGRTEST_TIMEOUT),
               '--tempdir', str(tmp / 'regrtest'), *extra_args, *tests]
        log.info('%s: $ %s (log: %s)', mode, format_cmd(cmd), logfile)
        output, returncode = stream(cmd, env, tmp, logfile, mode)
        log.info('%s: regrtest exit status %d', mode, returncode)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = mode_results(xml, ''.join(output), returncode)
    _save(results_dir, mode + tag, results, returncode, tests)
    return results


def _save(results_dir, mode, results, returncode, tests):
    data = {'returncode': returncode, 'tests': tests,
            'results': {k: [v.status, v.detail] for k, v in results.items()}}
    (results_dir / f'{mode}.json').write_text(json.dumps(data, indent=1))


def load_saved(paths, mode):
    """Results of an earlier run of *mode* (None if there is none)."""
    try:
        data = json.loads((paths.results / f'{mode}.json').read_text())
    except FileNotFoundError:
        return None
    return {k: Outcome(*v) for k, v in data['results'].items()}


def tests_only_check(comparison):
    """True if the new failures are the -e check, which a rerun cannot fix."""
    return all(key == 'python -e (sys.flags.cloexec)'
               for key, _, _ in comparison.new)


def select_tests(paths, full=False, tests=None):
    """The test names to run."""
    if tests:
        return [name for name in re.split(r'[,\s]+', tests) if name]
    names = list(config.TEST_SUBSET)
    if full:
        names += config.TEST_FULL_EXTRA
    for name in series_tests(paths.cpython, paths.base.tag):
        if name not in names:
            names.append(name)
    return names


def run_tests(paths, full=False, modes=None, tests=None, jobs=None,
              refleaks=False, free_threading=False):
    """Implement the ``test`` subcommand; return the exit code.

    With *refleaks*, the debug builds run ``-R 3:3`` on the test modules the
    series adds or changes (or *tests*), and the patched one is compared
    with the baseline one: a leak makes regrtest fail the module.  With
    *free_threading*, the free-threaded builds run the tests in the modes
    of config.FT_MODES, compared with baseline-ft.
    """
    require_checkout(paths)
    all_modes, extra_args, base_mode = config.TEST_MODES, (), 'baseline'
    summary = 'summary.txt'
    if refleaks:
        all_modes, extra_args = config.REFLEAK_MODES, config.REFLEAK_ARGS
        base_mode, summary = 'baseline-debug', 'summary-refleaks.txt'
    elif free_threading:
        all_modes, base_mode = config.FT_MODES, 'baseline-ft'
        summary = 'summary-ft.txt'
    modes = list(dict.fromkeys(modes or all_modes))
    if refleaks and not tests:
        names = touched_tests(paths.cpython, paths.base.tag)
    else:
        names = select_tests(paths, full, tests)
    jobs = jobs or cpu_count()
    log.info('tests: %s', ' '.join(names))
    results = {}
    for mode in all_modes:
        if mode in modes:
            results[mode] = run_mode(paths, mode, names, jobs,
                                     extra_args=extra_args)
    baseline = results.get(base_mode) or load_saved(paths, base_mode)
    if baseline is None:
        raise PreconditionError(
            'no baseline results to compare with',
            hint=f'scripts/pep433 test --mode {base_mode}'
                 + (' --refleaks' if refleaks else '')
                 + (' --free-threading' if free_threading else ''))
    comparisons = []
    for mode, res in results.items():
        if mode == base_mode:
            continue
        comp = compare(mode, baseline, res)
        if comp.new and not tests_only_check(comp):
            again = sorted({rerun_name(key) for key, _, _ in comp.new})
            log.info('%s: %d new failures; running %s again to tell a '
                     'real failure from a flaky one', mode, len(comp.new),
                     ' '.join(again))
            confirm(comp, run_mode(paths, mode, again, jobs, tag='-rerun',
                                   extra_args=extra_args))
        comparisons.append(comp)
    tier = ('refleaks' if refleaks else 'free-threading' if free_threading
            else 'full' if full else 'chosen tests' if tests else 'subset')
    report = (summary_header(paths, f'test ({tier}, {len(names)} test '
                                    f'modules, modes {", ".join(modes)})')
              + format_report(baseline, comparisons, base_mode=base_mode))
    (paths.results / summary).write_text(report)
    print(report, end='')
    new = sum(len(comp.new) for comp in comparisons)
    if new:
        raise ProblemFound(f'{new} new test failures (see above and '
                           f'{paths.results})')
    return 0



# --- the sanitizers ----------------------------------------------------------

#: The state regrtest gives a test module whose worker process died (a
#: signal, a sanitizer that stops the process): "worker non-zero exit code
#: (Exit code 1)"; older versions said "crashed".
CRASH_STATES = ('worker non-zero exit code', 'crashed')
#: What a UBSan report says, in a failed test's output or traceback
UBSAN_TEXT = ': runtime error: '


def crashed_modules(text):
    """{module: state} of the test modules whose worker died, from
    regrtest's output *text*."""
    modules, _ = parse_output(text)
    return {module: state for module, state in modules.items()
            if state.startswith(CRASH_STATES)}


def run_sanitizer(paths, tier, names, jobs=None, what=''):
    """``test --tsan`` and ``test --asan``: *names* on the builds of
    *tier* (a sanitizers.Tier), in each of its modes.

    What counts: a test module whose worker died (named), a test that fails
    (unless it fails in the same mode without the sanitizer too, in the
    results ``test`` saved: then it is listed as known), and a report with
    a frame on a line the series adds or changes.  The other reports are
    listed, not counted.
    """
    jobs = jobs or cpu_count()
    logdir = paths.results / tier.name
    shutil.rmtree(logdir, ignore_errors=True)
    changed = sanitizers.changed_lines(paths.cpython, paths.base.tag)
    problems, lines = [], []
    for mode in tier.modes:
        (logdir / mode).mkdir(parents=True)
        results = run_mode(paths, mode, names, jobs,
                           env=tier.environment(logdir / mode, paths.cpython))
        try:
            output = (paths.results / f'{mode}.log').read_text(
                errors='replace')
        except FileNotFoundError:
            output = ''
        crashed = crashed_modules(output)
        failed = sorted(key for key, outcome in results.items()
                        if outcome.failed and module_of(key) not in crashed)
        known, note = [], ''
        plain = tier.plain.get(mode)
        if plain and failed:
            saved = load_saved(paths, plain)
            if saved is None:
                note = (f'  (no results of {plain} saved by test: every '
                        'failure counts; scripts/pep433 test --mode '
                        f'{plain} saves them)')
            else:
                known = [key for key in failed
                         if key in saved and saved[key].failed]
                failed = [key for key in failed if key not in known]
        reports = tier.parse(sanitizers.read_logs(logdir / mode,
                                                  tier.log_prefixes))
        ours, others = [], []
        for report, times in sanitizers.group(reports):
            hits = sanitizers.in_series(report, changed, paths.cpython)
            (ours if hits else others).append((report, times, hits))
        counts = count(results)
        by_tool = ' and '.join(
            f'{sum(r.tool == tool for r in reports)} {tool}'
            for tool in tier.tools)
        lines.append(f'{mode}: {counts["pass"]} passed, '
                     f'{counts["fail"] + counts["error"]} failed, '
                     f'{counts["skip"]} skipped; {by_tool} reports, '
                     f'{sum(times for _, times, _ in ours)} in code the '
                     'series adds or changes')
        if note:
            lines.append(note)
        for module, state in sorted(crashed.items()):
            lines.append(f'  crashed: {module} ({state})'
                         + (f'; {tier.crash_note}' if tier.crash_note
                            else ''))
            problems.append(f'{mode}: {module} crashed')
        lines.extend(f'  failed: {_failure(key, results, tier)}'
                     for key in failed)
        problems += [f'{mode}: {key} failed' for key in failed]
        lines.extend(f'  failed, as without the sanitizer ({plain}): '
                     f'{_failure(key, results, tier)}' for key in known)
        multi = len(tier.tools) > 1
        for report, times, hits in ours:
            lines.append(_report_line('', report, times, hits, paths, multi))
            problems.append(f'{mode}: {report.kind} in '
                            f'{hits[0][1]}:{hits[0][2]}')
        for report, times, hits in others:
            lines.append(_report_line('not counted: ', report, times, hits,
                                      paths, multi))
    report = (summary_header(paths, f'test --{tier.name} ({len(names)} test '
                                    f'modules{what})')
              + '\n'.join(lines) + '\n')
    (paths.results / f'summary-{tier.name}.txt').write_text(report)
    print(report, end='')
    if problems:
        raise ProblemFound(f'{len(problems)} problems under {tier.title} '
                           f'(reports in {logdir})')
    return 0


def _failure(key, results, tier):
    """A failed test for a summary line, with the tier's note when its
    output has a UBSan report in it."""
    if tier.output_note and UBSAN_TEXT in results[key].detail:
        return f'{key} ({tier.output_note})'
    return key


def _report_line(prefix, report, times, hits, paths, show_tool):
    """A summary line: the report's kind, where it points, its sanitizer
    (when the tier has several), how many processes reported it."""
    kind = report.kind if len(report.kind) <= 100 else \
        report.kind[:97] + '...'
    return (f'  {prefix}{kind} in '
            f'{sanitizers.where(report, paths.cpython, hits)}'
            + (f' [{report.tool}]' if show_tool else '')
            + (f' (x{times})' if times > 1 else ''))


def run_tsan(paths, tests=None, jobs=None):
    """``test --tsan``: the series' tests on the ThreadSanitizer build.

    No baseline to compare with (stock CPython has no cloexec tests): what
    counts is a test that fails, or a TSan report with a frame on a line
    the series adds or changes.
    """
    from . import tsan
    require_checkout(paths)
    if tests:
        names, what = select_tests(paths, tests=tests), ''
    else:
        names = series_tests(paths.cpython, paths.base.tag)
        what = ", the series' own"
    return run_sanitizer(paths, tsan.TIER, names, jobs, what)


def run_asan(paths, tests=None, jobs=None):
    """``test --asan``: the tests of ``test`` (the subset and the series'
    own, or *tests*) on the AddressSanitizer + UBSan build, with and
    without -e.

    A failure that the same mode without the sanitizers has too (the
    results ``test`` saved) is known on this machine: listed, not counted.
    """
    from . import asan
    require_checkout(paths)
    names = select_tests(paths, tests=tests)
    what = '' if tests else ", the subset and the series' own"
    return run_sanitizer(paths, asan.TIER, names, jobs, what)


# --- the command line --------------------------------------------------------

SUMMARY = 'run regrtest on the builds and compare'


def add_arguments(parser):
    """``test``'s options."""
    parser.add_argument('--full', action='store_true',
                        help='also the multiprocessing and asyncio tests')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--refleaks', action='store_true',
                       help='regrtest -R on the --debug builds')
    group.add_argument('--free-threading', action='store_true',
                       help='on the free-threaded builds')
    group.add_argument('--tsan', action='store_true',
                       help="the series' tests on the TSan build")
    group.add_argument('--asan', action='store_true',
                       help='the tests on the ASan + UBSan build')
    parser.add_argument('--mode', action='append',
                        choices=(config.TEST_MODES + config.REFLEAK_MODES
                                 + config.FT_MODES),
                        help='run only this mode (repeatable)')
    parser.add_argument('--tests', metavar='NAMES',
                        help='test modules instead of the subset')
    parser.add_argument('--jobs', '-j', type=int, metavar='N',
                        help='regrtest worker processes (default: number of '
                             'CPUs)')
    parser.set_defaults(func=handle)


def handle(args, paths):
    if args.tsan:
        return run_tsan(paths, tests=args.tests, jobs=args.jobs)
    if args.asan:
        return run_asan(paths, tests=args.tests, jobs=args.jobs)
    return run_tests(paths, full=args.full, modes=args.mode,
                     tests=args.tests, jobs=args.jobs,
                     refleaks=args.refleaks,
                     free_threading=args.free_threading)
