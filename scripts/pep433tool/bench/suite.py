"""``bench --suite``: pyperformance's whole default suite, or a list of it.

Only pyperformance runs (no micro-benchmarks, system calls or
instructions): the benchmarks of ``pyperformance list`` (its default
group, what ``pyperformance run`` without -b runs) or those of --suite
LIST, on the baseline and the patched build, in the plan's interleaved
passes (ABBA with the default --passes 2), --fast and --same-loops, as
perf.py runs the fixed list.  What the suite adds:

- benchmarks that cannot run here (a requirement that does not build, one
  that needs the network) do not stop the run: a benchmark that a pass's
  result file lacks "did not run" in that pass, and the report lists it
  with pyperformance's reason and the last lines of its output;
- each benchmark outside 1.00 +- SUITE_BAND runs once more, on the patched
  build under strace, which counts the fds one loop of it creates
  (count_calls()): one that makes none does not reach the code the series
  changes, whatever its ratio says.
"""

import functools
import json
import logging
import re
import statistics
from pathlib import Path

from ..errors import ExternalError, ToolError
from ..util import clean_env, run
from . import perf
from .pyperfio import benchmarks_of, load_json, values

log = logging.getLogger(__name__)

#: Seconds one benchmark of the default suite takes in one --fast pass on
#: this machine, on average: measured, pyperformance 1.14's 88 benchmarks
#: took 30 minutes in one pass of 3.13.15's plain baseline (2026-12-01),
#: and 40 to 41 minutes a pass on the optimized pair (2026-12-03, two
#: runs, an otherwise idle machine), the check of each benchmark's
#: requirements included; the estimate takes the later, slower figure.
#: The seven BENCHMARKS are quicker (about 11 s each).
SECONDS_PER_BENCHMARK = 27
#: Benchmarks whose ratio is outside 1.00 +- SUITE_BAND get their fds
#: counted.
SUITE_BAND = 0.02
#: The system calls that create an fd, counted by count_calls(); strace
#: skips those this architecture does not have ("?" prefix).
FD_SYSCALLS = ('openat', 'open', 'creat', 'openat2', 'socket', 'socketpair',
               'accept', 'accept4', 'pipe', 'pipe2', 'dup', 'dup2', 'dup3',
               'epoll_create', 'epoll_create1', 'eventfd', 'eventfd2',
               'inotify_init', 'inotify_init1', 'memfd_create', 'signalfd',
               'signalfd4', 'timerfd_create', 'pidfd_open')
#: The two loop counts of count_calls(): their difference is what the loops
#: make, start-up cancelling out.
FD_LOOPS = (1, 3)
#: Lines of pyperformance's output kept for a benchmark that did not run.
TAIL_LINES = 6


def estimate(benchmarks, passes):
    """Estimated seconds of *benchmarks* (a count) in *passes* passes."""
    return benchmarks * passes * SECONDS_PER_BENCHMARK


def list_suite(tools):
    """The benchmarks of pyperformance's default group, as ``pyperformance
    list`` prints them (the ones ``pyperformance run`` runs without -b)."""
    proc = run([tools / 'pyperformance', 'list'], env=clean_env(),
               quiet=True)
    names = [line[2:].strip() for line in proc.stdout.splitlines()
             if line.startswith('- ')]
    if not names:
        raise ExternalError('pyperformance list printed no benchmark:\n'
                            + proc.stdout[-2000:])
    return names


def owner(result, names, owners=None):
    """The benchmark of *names* that gave the result named *result*.

    One benchmark may give several results, not always under its own name
    (argparse: many_optionals; concurrent_imap: bench_mp_pool and
    bench_thread_pool).  *owners* ({result: benchmark}, what
    result_owners() read in pyperformance's output) says which; for a
    result it does not name, the longest name of *names* that the result
    equals or begins with, followed by '_' (deepcopy: deepcopy_memo).
    """
    if owners and owners.get(result) in names:
        return owners[result]
    found = [n for n in names if result == n or result.startswith(n + '_')]
    return max(found, key=len) if found else None


_VENV = re.compile(r'^\(\s*\d+/\d+\) creating venv for benchmark \((\S+)\)$')
_RUN = re.compile(r'^\[\s*\d+/\d+\] (\S+)\.\.\.$')
_FAILED = re.compile(r'^\d+ benchmarks? failed:$')
_REASON = re.compile(r'^- (\S+) \((.*)\)$')
_END = re.compile(r'^(={10,}|### .* ###|Performance version: .*)$')
_ERROR = re.compile(r'^ERROR: Benchmark (\S+) (?:failed: (.*)|(timed out))$')
_RESULT = re.compile(r'^(\S+): Mean \+- std dev: ')


def result_owners(text):
    """{result: benchmark}: which benchmark printed each result in
    pyperformance's output of one pass (*text*): the "NAME: Mean +- std
    dev" lines that follow its "[n/N] BENCHMARK..." line."""
    found, current = {}, None
    for line in text.splitlines():
        match = _RUN.match(line)
        if match:
            current = match.group(1)
            continue
        match = _RESULT.match(line)
        if match and current:
            found.setdefault(match.group(1), current)
    return found


def failures(text):
    """{name: (reason, [last lines])}: the benchmarks that pyperformance's
    output of one pass (*text*) says failed.

    The reason is pyperformance's closing list ("- name (reason)"), or
    its "ERROR: Benchmark name failed: reason" line when the list is
    missing (pyperformance itself died); the lines are the last of what
    the benchmark's run printed (its error), or of its venv's creation
    when its requirements did not install.
    """
    sections, reasons, errors = {}, {}, {}
    current, closing = None, False
    for line in text.splitlines():
        match = _VENV.match(line) or _RUN.match(line)
        if match:
            kind = 'venv' if line.startswith('(') else 'run'
            current = sections.setdefault((kind, match.group(1)), [])
            closing = False
            continue
        match = _ERROR.match(line)
        if match:
            errors[match.group(1)] = match.group(2) or match.group(3)
        if _FAILED.match(line):
            current, closing = None, True
        elif closing:
            match = _REASON.match(line)
            if match:
                reasons[match.group(1)] = match.group(2)
        elif _END.match(line):
            current = None
        elif current is not None:
            current.append(line)
    for name, reason in errors.items():
        reasons.setdefault(name, reason)
    found = {}
    for name, reason in reasons.items():
        lines = _error_lines(sections.get(('run', name), []))
        if not lines or 'requirements' in reason:
            lines = _error_lines(sections.get(('venv', name), [])) or lines
        found[name] = (reason, lines[-TAIL_LINES:])
    return found


def _error_lines(lines):
    """*lines* without blanks, pyperformance's own notes and its traceback
    of the failure (the reason says it)."""
    out = []
    skip = False
    for i, line in enumerate(lines):
        if (line.startswith('Traceback (most recent call last):')
                and '/pyperformance/' in ''.join(lines[i + 1:i + 2])):
            skip = True
            continue
        if skip:
            skip = line.startswith(' ')
            continue
        if (not line.strip()
                or line.startswith(('ERROR: Benchmark ', 'INFO:root:'))
                or re.match(r'^\(.*\)$', line)):
            continue
        out.append(line)
    return out


def did_not_run(names, passes, done):
    """{name: [{'pass', 'build', 'reason', 'lines'}]}: the benchmarks of
    *names* that a pass's result file lacks, with what pyperformance said.

    *done* is perf.run_passes()'s list of (result file, output text), one
    per build of *passes*.
    """
    missing = {}
    for i, (build, (path, text)) in enumerate(zip(passes, done), 1):
        owners = result_owners(text)
        ran = {owner(r, names, owners)
               for r in benchmarks_of(load_json(path))}
        told = failures(text)
        for name in names:
            if name in ran:
                continue
            if name in told:
                reason, lines = told[name]
            else:
                reason = ('no result, and pyperformance names no failure: '
                          'the lines that mention it')
                lines = [line for line in text.splitlines()
                         if name in line][-3:]
            missing.setdefault(name, []).append(
                {'pass': i, 'build': build, 'reason': reason,
                 'lines': lines})
    return missing


@functools.lru_cache(maxsize=None)
def benchmark_scripts(tools):
    """{benchmark: (run script, extra options)} of pyperformance's manifest
    (its internal _manifest module, in the venv of *tools*)."""
    code = ('import json\n'
            'from pyperformance import _manifest\n'
            'm = _manifest.load_manifest(None)\n'
            'print(json.dumps({b.name: [b.runscript, list(b.extra_opts)]\n'
            '                  for b in m.benchmarks}))\n')
    proc = run([Path(tools) / 'python', '-c', code], env=clean_env(),
               quiet=True)
    try:
        return {name: (script, tuple(extra))
                for name, (script, extra) in json.loads(proc.stdout).items()}
    except ValueError as exc:
        raise ExternalError('cannot read pyperformance\'s manifest: '
                            f'{exc}') from exc


def strace_summary(text, failed=False):
    """{syscall: successful calls} of the table of ``strace -c``; with
    *failed*, {syscall: failed calls}."""
    counts = {}
    for line in text.splitlines():
        fields = line.split()
        if (len(fields) not in (5, 6) or fields[-1] == 'total'
                or not fields[0][:1].isdigit()):
            continue
        try:
            calls = int(fields[3])
            errors = int(fields[4]) if len(fields) == 6 else 0
        except ValueError:
            continue
        counts[fields[-1]] = errors if failed else calls - errors
    return {call: n for call, n in counts.items() if n or not failed}


def count_calls(bench, name, python, loops=FD_LOOPS):
    """({syscall: calls per loop}, {syscall: failed calls per loop}): the
    fds one loop of the pyperformance benchmark *name* creates, run by
    *python* (its venv's interpreter), and the fd-creating calls of that
    loop that fail (dulwich_log's open() of loose objects that are not
    there: they run the creators' code, the series' included, up to the
    system call).

    The benchmark's script runs twice, as pyperformance runs it but with
    one worker process, one value and no warmup, at the two loop counts of
    *loops*, under ``strace -f -c`` for FD_SYSCALLS; the successful calls
    of the second run minus the first, over the difference of the loops,
    are one loop's: start-up (imports, the pyperf worker) cancels out.  A
    pipe2() or socketpair() makes two fds; fds received with SCM_RIGHTS
    are not counted.
    """
    script, extra = benchmark_scripts(bench.tools)[name]
    workdir = bench.output / 'fds' / name
    workdir.mkdir(parents=True, exist_ok=True)
    totals = []
    for n in loops:
        summary = workdir / f'strace-{n}.txt'
        out = workdir / f'result-{n}.json'
        for path in (summary, out):
            if path.exists():
                path.unlink()
        run(['strace', '-f', '-qq', '-c', '-o', summary, '-e',
             'trace=' + ','.join('?' + s for s in FD_SYSCALLS),
             python, '-u', script, *extra, '--processes=1', '--warmups=0',
             '--values=1', f'--loops={n}', '--output', out],
            cwd=workdir, env=clean_env(), quiet=True)
        text = summary.read_text()
        totals.append((strace_summary(text),
                       strace_summary(text, failed=True)))
    found = []
    for first, second in zip(*totals):
        per_loop = {}
        for call in sorted(set(first) | set(second)):
            n = ((second.get(call, 0) - first.get(call, 0))
                 / (loops[1] - loops[0]))
            if n > 0:
                per_loop[call] = n
        found.append(per_loop)
    return tuple(found)


def fd_relevance(bench, benchmarks, names, patched_file, owners=None):
    """{benchmark: what count_calls() found}, for each of *benchmarks*.

    Each entry has 'per_loop' ({syscall: calls}), 'fds' (their sum),
    'failed_per_loop' and 'failed' (the same of the calls that failed),
    'loop_seconds' (the time of one loop of all its results, from the
    patched passes: median value x inner loops) and 'per_second'; or
    'error' when it could not be counted.  *owners* is owner()'s.
    """
    runs = benchmarks_of(load_json(patched_file))
    # the benchmarks share one venv; a result of a command benchmark
    # (2to3 runs lib2to3 in a child) does not record it
    pythons = [rs[0]['metadata'].get('python_executable')
               for rs in runs.values() if rs]
    common = next((p for p in pythons if p), None)
    found = {}
    for name in sorted(benchmarks):
        owned = {r: rs for r, rs in runs.items()
                 if owner(r, names, owners) == name and values(rs)}
        python = next((rs[0]['metadata'].get('python_executable')
                       for rs in owned.values()), None) or (
                           common if owned else None)
        if not python:
            found[name] = {'error': 'no python_executable in the results'}
            continue
        log.info('counting the fds of %s under strace', name)
        try:
            per_loop, failed = count_calls(bench, name, python)
        except (ToolError, KeyError, OSError) as exc:
            found[name] = {'error': str(exc).splitlines()[0][:200]}
            continue
        seconds = sum(statistics.median(values(rs))
                      * rs[0]['metadata'].get('inner_loops', 1)
                      for rs in owned.values())
        fds = sum(per_loop.values())
        found[name] = {'per_loop': per_loop, 'fds': fds,
                       'failed_per_loop': failed,
                       'failed': sum(failed.values()),
                       'loop_seconds': seconds,
                       'per_second': fds / seconds if seconds else None}
    return found


def outside(rows):
    """The results of *rows* outside 1.00 +- SUITE_BAND."""
    return [r for r, row in rows.items() if abs(row['ratio'] - 1) > SUITE_BAND]


def suite_part(names, default, rows, missing, fds, owners=None):
    """The 'suite' part of the pyperformance results (see run_suite())."""
    return {'names': list(names), 'default': default, 'band': SUITE_BAND,
            'owners': {r: owner(r, names, owners) for r in rows},
            'outside': outside(rows), 'did_not_run': missing, 'fds': fds}


def pool_suites(suites, offsets, results):
    """The 'suite' part of pooled runs (combine.py): the benchmarks outside
    the band by the pooled ratios of *results*, what did not run in each
    run (its passes numbered from *offsets*, across the runs in order),
    and the fds counted in any run."""
    missing, fds = {}, {}
    for suite, offset in zip(suites, offsets):
        for name, entries in suite['did_not_run'].items():
            missing.setdefault(name, []).extend(
                dict(entry, **{'pass': entry['pass'] + offset})
                for entry in entries)
        for name, found in suite['fds'].items():
            if name not in fds or 'error' in fds[name]:
                fds[name] = found
    owners = {}
    for suite in suites:
        owners.update(suite.get('owners') or {})
    return suite_part(suites[0]['names'], suites[0]['default'],
                      results['rows'], missing, fds, owners)


def run_suite(bench, names, default):
    """Run the suite *names* (pyperformance's default one when *default*:
    no -b); return the pyperformance part of the results, with 'suite'."""
    passes = bench.plan.pyperformance_passes
    log.info('pyperformance suite: %d benchmarks, %d passes (%s), '
             'estimated %.0f minutes here', len(names), len(passes),
             ''.join('A' if b == 'baseline' else 'B' for b in passes),
             estimate(len(names), len(passes)) / 60)
    done = perf.run_passes(bench, None if default else names, tolerate=True)
    return suite_results(bench, names, default, passes, done)


def suite_results(bench, names, default, passes, done):
    """The pyperformance part of the results of run_suite(), from its
    passes *done* ([(result file, output text)], one per build of
    *passes*)."""
    pass_files = [f for f, _ in done]
    owners = {}
    for _, text in done:
        owners.update(result_owners(text))
    files = perf.merge_passes(bench.output, passes, pass_files)
    compare = perf.compare_to(bench.tools, bench.output, files)
    results = perf.pyperformance_results(names, passes, files, compare,
                                         pass_files)
    fds = fd_relevance(bench,
                       {owner(r, names, owners)
                        for r in outside(results['rows'])} - {None},
                       names, files['patched'], owners)
    results['suite'] = suite_part(names, default, results['rows'],
                                  did_not_run(names, passes, done), fds,
                                  owners)
    for name, missed in sorted(results['suite']['did_not_run'].items()):
        log.warning('pyperformance: %s did not run in %d of %d passes (%s)',
                    name, len(missed), len(passes), missed[0]['reason'])
    return results
