"""regrtest's results: the junit model, one mode's results, the comparison
of a patched mode with the baseline, and its report.

Each mode's results come from three sources, so that nothing is missed:
the junit XML (one ``testcase`` per test method), the ``FAIL:``/``ERROR:``
lines of the output (failed subtests have no name in the XML), and the
per-module progress lines and exit status (a crashed, timed-out or
"env changed" module has no or incomplete XML).
"""

import datetime
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import config, gitutil

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
        if (child.tag == 'outcome'
                and (child.text or '') == 'UNEXPECTED_SUCCESS'):
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
