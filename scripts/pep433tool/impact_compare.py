"""The result of one package in every mode: what differs from the baseline.

Each patched mode is compared with the baseline per test case, both ways
(what the mode breaks, what it fixes), the way ``test`` does
(``junit.compare``/``confirm``/``format_report``).  A difference is
confirmed by running the differing tests again in that mode (a flaky one is
reported as flaky, not counted), and each is given the data file's
explanation and the evidence the census and the plugin saw.
"""

from dataclasses import dataclass, field

from . import impact_report
from .junit import Outcome, compare, confirm, count, format_report


@dataclass
class Difference:
    """A test that fails in one mode only (or passes in one mode only)."""

    package: str
    mode: str           # the patched mode it is about
    test: str
    kind: str           # 'breaks' (fails in mode only) or 'fixes'
    outcome: Outcome    # the failure (in mode, or on the baseline)
    other: str          # the status in the other mode
    flaky: bool = False
    explanation: object = None      # impact_data.Explanation
    evidence: list = field(default_factory=list)   # [str]


@dataclass
class PackageResult:
    package: object
    runs: dict                      # {mode: SuiteRun}
    comparisons: list               # junit.Comparison, breaks
    fixes: list                     # junit.Comparison, fixes
    differences: list
    reruns: dict = field(default_factory=dict)      # {mode: SuiteRun}


def compare_package(package, runs, rerun):
    """Compare each patched mode of *runs* ({mode: SuiteRun}) with the
    baseline, both ways (what breaks, what it fixes); run what differs
    again with ``rerun(mode, [pytest arguments])`` -> SuiteRun, and return
    the PackageResult with its explained differences."""
    result = PackageResult(package, runs, [], [], [])
    if 'baseline' not in runs:
        return result
    base = runs['baseline'].results
    again = {}      # {mode to rerun in: {test ids}}
    for mode in runs:
        if mode == 'baseline':
            continue
        breaks = compare(mode, base, runs[mode].results)
        fixes = compare(mode, runs[mode].results, base)
        fixes.counts = count(base)
        # A baseline failure the mode did not run is not fixed by it.
        fixes.new = [item for item in fixes.new if item[2] != 'absent']
        result.comparisons.append(breaks)
        result.fixes.append(fixes)
        again.setdefault(mode, set()).update(k for k, _, _ in breaks.new)
        again.setdefault('baseline', set()).update(
            k for k, _, _ in fixes.new)
    for mode, keys in again.items():
        ids = {}
        for key in sorted(keys):
            arg = (runs[mode].rerun_ids.get(key)
                   or _rerun_from_others(runs, key))
            if arg:
                ids[key] = arg
        if not ids:
            continue
        result.reruns[mode] = rerun(mode, sorted(set(ids.values())))
    for breaks, fixes in zip(result.comparisons, result.fixes):
        _confirm(breaks, result.reruns.get(breaks.mode), runs[breaks.mode])
        _confirm(fixes, result.reruns.get('baseline'), runs['baseline'])
    result.differences = differences(result)
    return result


def _rerun_from_others(runs, key):
    for suite in runs.values():
        if key in suite.rerun_ids:
            return suite.rerun_ids[key]
    return None


def _confirm(comparison, rerun, first):
    """junit.confirm, keeping what could not be run again (a whole-run
    error) as confirmed."""
    if rerun is None:
        return comparison
    results = dict(rerun.results)
    results.pop('(whole run)', None)
    for key, outcome, _ in comparison.new:
        if key not in first.rerun_ids and key not in results:
            results[key] = outcome
    return confirm(comparison, results)


def differences(result):
    """Every difference of a PackageResult, explained when the data file
    explains it, with the census evidence."""
    package = result.package
    out = []
    for kind, comps in (('breaks', result.comparisons),
                        ('fixes', result.fixes)):
        for comp in comps:
            flaky = {key for key, _ in comp.flaky}
            items = [(k, o, b) for k, o, b in comp.new]
            items += [(k, o, '') for k, o in comp.flaky]
            for key, outcome, other in sorted(items, key=lambda i: i[0]):
                diff = Difference(package.name, comp.mode, key, kind,
                                  outcome, other or 'pass',
                                  flaky=key in flaky)
                diff.explanation = package.explanation(comp.mode, key)
                diff.evidence = evidence(result, comp.mode, key)
                out.append(diff)
    return out


def evidence(result, mode, key):
    """What the census and the plugin saw of test *key*."""
    lines = []
    for name in ('baseline', mode):
        suite = result.runs.get(name)
        if suite is None:
            continue
        children = [r for r in suite.census if r.get('test') == key]
        held = [r for r in children if r.get('fds')]
        if children:
            lines.append(
                f'{name}: the test started {len(children)} Python '
                f'process(es), {len(held)} of them holding inherited fds'
                + (': ' + '; '.join(_describe_child(r) for r in held[:4])
                   if held else ''))
        fds = suite.fds.get(key)
        if fds:
            inheritable = {fd: target for fd, (target, cloexec)
                           in fds['fds'].items() if cloexec is False}
            lines.append(
                f'{name}: at the failure ({fds["when"]}) the test process '
                f'held {len(fds["fds"])} fds above 2, '
                f'{len(inheritable)} inheritable'
                + (': ' + ', '.join(f'{fd} {_kind(t)}' for fd, t
                                    in sorted(inheritable.items(),
                                              key=lambda i: int(i[0])))[:300]
                   if inheritable else ''))
    return lines


def _describe_child(record):
    argv = ' '.join(record.get('argv', []))[:70]
    fds = ', '.join(f'{fd} {_kind(t)}' for fd, t in sorted(
        record['fds'].items(), key=lambda i: int(i[0])))
    return f'pid {record["pid"]} `{argv}`: {fds}'[:300]


def _kind(target):
    """socket, pipe, a file's path ... of a /proc/<pid>/fd link."""
    kind = impact_report.fd_class(target)
    return target if kind in ('file', 'deleted file') else kind


def summary_text(result):
    """The regrtest-style summary of a package (junit.format_report),
    breaks then fixes."""
    base = result.runs['baseline'].results
    text = format_report(base, result.comparisons)
    fixes = [c for c in result.fixes if c.new or c.flaky]
    if fixes:
        text += '\nfailing on the baseline, passing in a patched mode:\n'
        for comp in fixes:
            text += ''.join(f'  {comp.mode}: {key}  [baseline: '
                            f'{outcome.status}]\n'
                            for key, outcome, _ in comp.new)
            text += ''.join(f'  {comp.mode}: {key}  [baseline: flaky]\n'
                            for key, _ in comp.flaky)
    return text


def unexplained(results):
    """The confirmed differences that the data file does not explain."""
    return [d for r in results for d in r.differences
            if not d.flaky and d.explanation is None]
