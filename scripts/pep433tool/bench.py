"""``bench``: what the close-on-exec flag costs, patched vs stock CPython (the base).

Five measurements, written to one output folder:

1. **Micro-benchmarks** (probes/bench_calls.py, pyperf): each fd-creating
   call plus its close, on the SERIES below.  Runs are interleaved: every
   round runs each (call, series) once, a few values each, in a shuffled
   order, so that drift on the machine hits all series alike.  The result is
   the ratio series/baseline per round (medians of that round's values),
   summarised by the median over the rounds and the interquartile range.
2. **The PEP's table** ("Performances"): os.open() with no flag, with
   O_CLOEXEC, with ioctl(FIOCLEX) after, with fcntl(F_GETFD/F_SETFD) after,
   as ratios to "no flag", interleaved the same way.  It runs on the patched
   interpreter with cloexec=False, because stock 3.13 always adds O_CLOEXEC
   to os.open(): "no flag" does not exist there.  It is the cost of the
   system calls, whichever interpreter makes them.
3. **System calls per call** (syscalls.py under strace): the second of two
   calls of each function, counted; exact, so noise cannot blur it.
4. **Instructions per call** (probes/instr_calls.py under valgrind's
   callgrind): the user-space instructions one call costs, on the baseline,
   patched and patched -e; repeatable to the instruction (PYTHONHASHSEED=0,
   a fixed empty working directory and PYTHONPATH), so it tells what the
   patch adds to the interpreter's own work from what only the clock says
   (to a few dozen instructions: see Bench.run_instructions).
5. **pyperformance** on BENCHMARKS (or --benchmarks), baseline vs patched,
   in ABBAABBA order (full run: eight --fast passes, each in its own file,
   all with the first pass's loop counts) so that drift cancels, with
   ``pyperf compare_to`` and the geometric mean, of all the passes and of
   each pair of neighbouring passes (the noise of a single comparison).

The tool's own Python needs no package: pyperf, pyperformance and
matplotlib live in <workdir>/venv (scripts/requirements-dev.txt, installed
by selftest.ensure_tools); the built interpreters import pyperf from a
directory holding only a link to the venv's pyperf package.  The pyperf
JSON files are read and merged here with the json module (pyperf's format:
suite metadata, benchmarks, runs with values).
"""

import json
import logging
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import syscalls
from .errors import ExternalError, PreconditionError
from .util import clean_env, format_cmd, run

log = logging.getLogger(__name__)

PROBES = Path(__file__).resolve().parent / 'probes'
BENCH_PROBE = PROBES / 'bench_calls.py'
INSTR_PROBE = PROBES / 'instr_calls.py'


@dataclass(frozen=True)
class Series:
    """One way of running the calls: an interpreter, its options, a mode."""

    name: str
    build: str          # 'baseline' or 'patched'
    args: tuple = ()    # interpreter options, e.g. ('-e',)
    mode: str = 'default'   # no cloexec keyword, or cloexec=True/False
    label: str = ''
    calls: tuple = ()   # the calls it runs (empty: all of MICRO_CALLS)

    def runs(self, call):
        return not self.calls or call in self.calls

    @property
    def title(self):
        return self.label or self.name


REFERENCE = 'baseline'
SERIES = (
    Series('baseline', 'baseline', label='baseline (stock)'),
    Series('patched', 'patched', label='patched (default False)'),
    Series('patched-e', 'patched', ('-e',), label='patched -e'),
    Series('patched-True', 'patched', mode='True',
           label='patched cloexec=True'),
    Series('patched-False', 'patched', mode='False',
           label='patched cloexec=False'),
    Series('baseline-noninheritable', 'baseline', mode='noninheritable',
           label='baseline inheritable=False', calls=('os.dup2',)),
)
TITLES = {s.name: s.title for s in SERIES}

#: The series whose ratio to the baseline has a target (1.00 +- 0.02).
TARGET_SERIES = ('patched', 'patched-e')
#: The baseline and the target series: where the control runs and the
#: instructions are counted.
COMPARED_SERIES = (REFERENCE,) + TARGET_SERIES
#: Control: a call that the series does not change (no fd is made), run on
#: COMPARED_SERIES.  Its ratio is what two builds of the same code differ by
#: (code layout, alignment): the floor under every other ratio.  It has no
#: target.
CONTROL_CALLS = ('os.fstat',)
#: Like for like: where stock's default makes the fd with the other flag
#: than a target series does, but stock has a call of its own that makes
#: the same flag with the same system call, the target compares with that
#: call.  os.dup2() is inheritable by default in 3.13 (dup2()); under -e
#: the patched one makes a close-on-exec fd (dup3(O_CLOEXEC)), as stock's
#: os.dup2(fd, fd2, inheritable=False) does.  socket.recv_fds() has no
#: such pair: stock's ignores its flags argument (gh-107898), so it cannot
#: ask for MSG_CMSG_CLOEXEC, which the patched one passes under -e.
LIKE_FOR_LIKE = {('os.dup2', 'patched-e'): 'baseline-noninheritable'}
MICRO_TOLERANCE = 0.02
GEOMEAN_TOLERANCE = 0.01

#: The calls timed (names of probes/fdcalls.CALLS).
MICRO_CALLS = ('os.open', 'open', 'os.pipe', 'os.dup', 'os.dup2',
               'socket.socket', 'socket.socketpair', 'socket.accept',
               'select.epoll', 'socket.recv_fds')

PEP_SERIES = Series('pep', 'patched', mode='False',
                    label='os.open() on patched, cloexec=False')
PEP_ROWS = (
    ('pep.none', 'no flag (cloexec=False)'),
    ('pep.atomic', 'O_CLOEXEC (atomic)'),
    ('pep.ioctl', 'no flag + ioctl(FIOCLEX)'),
    ('pep.fcntl', 'no flag + fcntl(F_GETFD) + fcntl(F_SETFD)'),
)
PEP_REFERENCE = 'pep.none'
#: What PEP 433 measured on Linux 3.6 (bench_cloexec.py).
PEP_PUBLISHED = {'pep.none': '7.8 us', 'pep.atomic': '+1% (7.9 us)',
                 'pep.ioctl': '+3% (8.0 us)', 'pep.fcntl': '+3% (8.0 us)'}

#: Series of the system call count table: (name, interpreter args, mode).
SYSCALL_SERIES = (
    ('baseline', 'baseline', (), 'default'),
    ('patched', 'patched', (), 'default'),
    ('patched-e', 'patched', ('-e',), 'default'),
    ('patched-True', 'patched', (), 'True'),
    ('patched-False', 'patched', (), 'False'),
)
#: On the baseline these calls create inheritable fds (no flag) by default,
#: so comparing them with cloexec=True compares different things.
BASELINE_INHERITABLE = ('os.dup2', 'socket.recv_fds')

#: Loops of the two callgrind runs of each (call, series): the cost of one
#: call is the difference of their counts over the difference of the loops.
INSTR_LOOPS = (200, 600)

#: pyperformance benchmarks: fd-heavy ones first, then a general set (the
#: README says why these).
BENCHMARKS_FD = ('dulwich_log', 'asyncio_tcp', 'python_startup')
BENCHMARKS_GENERAL = ('nbody', 'richards', 'json_dumps', 'float')
BENCHMARKS = BENCHMARKS_FD + BENCHMARKS_GENERAL
QUICK_BENCHMARKS = ('asyncio_tcp', 'nbody')


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    rounds: int
    values: int
    min_time: float
    pyperformance_passes: tuple   # e.g. ('baseline', 'patched', ...)
    pyperformance_fast: bool

    @classmethod
    def make(cls, quick):
        if quick:
            return cls(rounds=3, values=2, min_time=0.02,
                       pyperformance_passes=('baseline', 'patched'),
                       pyperformance_fast=True)
        # Each (call, series) of a round is one process, and a process's
        # values agree with each other far better than processes do:
        # os.pipe() + close runs at 6.05 or 6.43 us depending on the
        # process, on either build.  So the full run spends its time on
        # processes (rounds), not on values within one.
        return cls(rounds=24, values=2, min_time=0.05,
                   pyperformance_passes=('baseline', 'patched', 'patched',
                                         'baseline') * 2,
                   pyperformance_fast=True)


# -- pyperf JSON ------------------------------------------------------------

def load_json(path):
    """A pyperf JSON file as a dict."""
    with open(path, encoding='utf-8') as fp:
        return json.load(fp)


def benchmarks_of(suite):
    """{name: [run, ...]} of a pyperf suite; each run's metadata complete.

    The metadata of a run is the suite's, then the benchmark's, then the
    run's own (pyperf stores what is common at the highest level).
    """
    common = suite.get('metadata', {})
    result = {}
    for bench in suite['benchmarks']:
        bench_meta = dict(common, **bench.get('metadata', {}))
        runs = []
        for run_ in bench['runs']:
            full = dict(run_)
            full['metadata'] = dict(bench_meta, **run_.get('metadata', {}))
            runs.append(full)
        result[bench_meta['name']] = runs
    return result


def values(runs):
    """The measured values (not the warmups) of *runs*."""
    return [v for run_ in runs for v in run_.get('values', ())]


def _common(dicts):
    """The items that all *dicts* share (same key, same value)."""
    dicts = list(dicts)
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items()
            if all(k in d and d[k] == v for d in dicts[1:])}


def merge(suites):
    """Merge pyperf suites (dicts) into one: the runs of each benchmark.

    Benchmarks keep the order in which they first appear.  Metadata common
    to every run of a benchmark moves up to the benchmark, what all
    benchmarks share up to the suite, as pyperf writes it.
    """
    runs = {}
    for suite in suites:
        for name, bench_runs in benchmarks_of(suite).items():
            runs.setdefault(name, []).extend(bench_runs)
    bench_common = {name: _common(r['metadata'] for r in bench_runs)
                    for name, bench_runs in runs.items()}
    suite_common = _common(bench_common.values())
    suite_common.pop('name', None)
    benchmarks = []
    for name, bench_runs in runs.items():
        common = bench_common[name]
        out_runs = []
        for run_ in bench_runs:
            out = {k: v for k, v in run_.items() if k != 'metadata'}
            out['metadata'] = {k: v for k, v in run_['metadata'].items()
                               if k not in common}
            out_runs.append(out)
        benchmarks.append({
            'metadata': {k: v for k, v in common.items()
                         if k not in suite_common or k == 'name'},
            'runs': out_runs})
    return {'version': '1.0', 'metadata': suite_common,
            'benchmarks': benchmarks}


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, sort_keys=True) + '\n')


# -- statistics -------------------------------------------------------------

def quartiles(data):
    """(q1, median, q3) of *data* (a single value gives it three times)."""
    data = sorted(data)
    if len(data) == 1:
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method='inclusive')
    return q1, q2, q3


def ratio_stats(per_round, reference):
    """Ratios to *reference*, round by round.

    *per_round* maps (benchmark, series) to {round: [values]}.  Return
    {(benchmark, series): {'median', 'q1', 'q3', 'ratios', 'time'}} for every
    series but the reference: the ratios are median(series values of a
    round) / median(reference values of the same round), over the rounds
    that both have; 'time' is the median of all the series' values.
    """
    stats = {}
    for (bench, series), rounds in per_round.items():
        ref = per_round.get((bench, reference))
        entry = {'time': statistics.median(
            [v for vals in rounds.values() for v in vals])}
        if series != reference and ref:
            ratios = [statistics.median(rounds[r]) /
                      statistics.median(ref[r])
                      for r in sorted(rounds) if r in ref]
            if ratios:
                q1, med, q3 = quartiles(ratios)
                entry.update(median=med, q1=q1, q3=q3, ratios=ratios)
        stats[bench, series] = entry
    return stats


def like_stats(per_round, like=None):
    """Ratios of the LIKE_FOR_LIKE pairs: {(call, series): entry}.

    Each entry is ratio_stats()'s for *series* against the stock series
    that makes the same flag, plus its name as 'reference'.
    """
    like = LIKE_FOR_LIKE if like is None else like
    stats = {}
    for (call, series), reference in like.items():
        pair = {k: per_round[k] for k in ((call, series), (call, reference))
                if k in per_round}
        entry = ratio_stats(pair, reference).get((call, series))
        if entry and 'median' in entry:
            stats[call, series] = dict(entry, reference=reference)
    return stats


def geometric_mean(ratios):
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def pyperformance_ratios(reference, changed):
    """Per benchmark median(changed)/median(reference), and the geomean.

    *reference* and *changed* are pyperf suites (dicts).  Return
    ({name: {'reference', 'changed', 'ratio'}}, geometric mean or None).
    """
    ref = benchmarks_of(reference)
    new = benchmarks_of(changed)
    rows = {}
    for name in ref:
        if name in new and values(ref[name]) and values(new[name]):
            a = statistics.median(values(ref[name]))
            b = statistics.median(values(new[name]))
            rows[name] = {'reference': a, 'changed': b, 'ratio': b / a}
    geomean = (geometric_mean([r['ratio'] for r in rows.values()])
               if rows else None)
    return rows, geomean


def pyperformance_results(benchmarks, passes, files, compare, pass_files):
    """The pyperformance part of the results, from run_pyperformance()'s.

    The ratios and the geometric mean pool every pass of each build
    (*files*: {build: merged file}); 'pair_geomeans' has the geometric
    mean of each pair of neighbouring passes (see pass_pairs()).
    """
    rows, geomean = pyperformance_ratios(load_json(files['baseline']),
                                         load_json(files['patched']))
    pairs = [pyperformance_ratios(load_json(pass_files[a]),
                                  load_json(pass_files[b]))[1]
             for a, b in pass_pairs(passes)]
    return {'benchmarks': list(benchmarks), 'passes': list(passes),
            'rows': rows, 'geomean': geomean, 'pair_geomeans': pairs,
            'compare_to': compare}


def pass_pairs(passes):
    """The pyperformance passes paired with their neighbour: a list of
    (baseline index, patched index), passes taken two by two in order.

    ABBAABBA gives [(0, 1), (3, 2), (4, 5), (7, 6)]: each pair ran close
    together in time, so the spread of the pairs' geometric means is the
    noise of one baseline-vs-patched comparison on this machine.  A pair
    that is not one baseline and one patched pass is left out.
    """
    pairs = []
    for i in range(0, len(passes) - 1, 2):
        two = {passes[i]: i, passes[i + 1]: i + 1}
        if set(two) == {'baseline', 'patched'}:
            pairs.append((two['baseline'], two['patched']))
    return pairs


# -- system calls -----------------------------------------------------------

def syscall_counts(traces_by_series, round_='second'):
    """{(call, series): [syscall names]} of round *round_*.

    *traces_by_series* maps a series name to (traces, mode) where traces is
    what syscalls.run() returns ({(name, mode, round): Trace}).
    """
    counts = {}
    for series, (traces, mode) in traces_by_series.items():
        for (name, trace_mode, trace_round), trace in traces.items():
            if trace_mode == mode and trace_round == round_:
                counts[name, series] = trace.syscalls
    return counts


def syscall_diff(reference, other):
    """'+fcntl -ioctl': what *other* makes more and fewer than *reference*."""
    more = Counter(other) - Counter(reference)
    fewer = Counter(reference) - Counter(other)
    parts = [f'+{n}' + (f'x{c}' if c > 1 else '')
             for n, c in sorted(more.items())]
    parts += [f'-{n}' + (f'x{c}' if c > 1 else '')
              for n, c in sorted(fewer.items())]
    return ' '.join(parts)


def syscall_targets(counts, calls):
    """(held, missed): messages about the system call targets.

    cloexec=True and the -e default make as many calls as the baseline;
    cloexec=False and the default (False) no more.
    """
    held, missed = [], []
    rules = (('patched-True', 'equal', 'cloexec=True'),
             ('patched-e', 'equal', '-e default'),
             ('patched-False', 'at most', 'cloexec=False'),
             ('patched', 'at most', 'default (False)'))
    for series, rule, what in rules:
        bad = []
        for call in calls:
            base = counts.get((call, 'baseline'))
            other = counts.get((call, series))
            if base is None or other is None:
                continue
            if (len(other) != len(base) if rule == 'equal'
                    else len(other) > len(base)):
                bad.append(f'{call}: {len(other)} vs {len(base)} '
                           f'({syscall_diff(base, other)}; '
                           f'{" ".join(other)} vs {" ".join(base)})')
        text = (f'system calls per call, {what}: {rule} the baseline\'s')
        if bad:
            missed.extend(f'{text}: {b}' for b in bad)
        else:
            held.append(text)
    return held, missed


# -- running ----------------------------------------------------------------

class Bench:
    """One run of the ``bench`` subcommand."""

    def __init__(self, paths, output, plan, tools, seed=None):
        self.paths = paths
        self.output = Path(output)
        self.plan = plan
        self.tools = Path(tools)        # the venv's bin directory
        self.rng = random.Random(seed)
        self.pylib = self.output / 'pylib'
        self.env = None

    def python(self, build):
        return getattr(self.paths, build) / 'python'

    def prepare(self):
        """The output folder and a PYTHONPATH with the venv's pyperf."""
        self.output.mkdir(parents=True, exist_ok=True)
        proc = run([self.tools / 'python', '-c',
                    'import os, pyperf; '
                    'print(os.path.dirname(pyperf.__file__))'], quiet=True)
        link_pyperf(self.pylib, proc.stdout.strip())
        self.env = clean_env({'PYTHONPATH': str(self.pylib)})

    def pyperf_cmd(self, series, name, out, loops=None):
        cmd = [self.python(series.build), *series.args, BENCH_PROBE,
               '--name', name, '--cloexec', series.mode, '--quiet',
               '--processes', '1', '--warmups', '1', '-o', out]
        if loops:
            cmd += ['--values', str(self.plan.values), '--loops', str(loops)]
        else:
            cmd += ['--values', '1', '--min-time', str(self.plan.min_time)]
        return cmd

    def calibrate(self, jobs):
        """{benchmark: loops}, calibrated once on the first series of each."""
        loops = {}
        for name, series in jobs:
            if name in loops:
                continue
            out = self.output / 'calibration' / f'{name}.json'
            out.parent.mkdir(exist_ok=True)
            if out.exists():
                out.unlink()
            run(self.pyperf_cmd(series, name, out), env=self.env,
                quiet=True)
            runs = benchmarks_of(load_json(out))[name]
            loops[name] = max(int(r['metadata']['loops']) for r in runs)
            log.debug('%s: %d loops', name, loops[name])
        return loops

    def run_micro(self):
        """Micro-benchmarks and the PEP table, interleaved; return stats."""
        jobs = [(name, s) for name in MICRO_CALLS for s in SERIES
                if s.runs(name)]
        jobs += [(name, s) for name in CONTROL_CALLS for s in SERIES
                 if s.name in COMPARED_SERIES]
        jobs += [(name, PEP_SERIES) for name, _ in PEP_ROWS]
        log.info('micro-benchmarks: %d calls x %d series (and %d '
                 'like-for-like) + the PEP table (%d rows), %d rounds of %d '
                 'runs', len(MICRO_CALLS),
                 sum(1 for s in SERIES if not s.calls),
                 sum(len(s.calls) for s in SERIES), len(PEP_ROWS),
                 self.plan.rounds, len(jobs))
        log.info('calibrating the loop counts')
        loops = self.calibrate(
            [(name, SERIES[0]) for name in MICRO_CALLS + CONTROL_CALLS]
            + [(name, PEP_SERIES) for name, _ in PEP_ROWS])
        per_round = {}
        files = {}
        start = time.monotonic()
        for round_ in range(self.plan.rounds):
            order = list(jobs)
            self.rng.shuffle(order)
            for name, series in order:
                out = (self.output / 'rounds' / series.name
                       / f'{name}-{round_:02d}.json')
                out.parent.mkdir(parents=True, exist_ok=True)
                if out.exists():
                    out.unlink()
                run(self.pyperf_cmd(series, name, out, loops[name]),
                    env=self.env, quiet=True)
                suite = load_json(out)
                per_round.setdefault((name, series.name), {})[round_] = \
                    values(benchmarks_of(suite)[name])
                files.setdefault(series.name, []).append(suite)
            elapsed = time.monotonic() - start
            left = elapsed / (round_ + 1) * (self.plan.rounds - round_ - 1)
            log.info('micro-benchmarks: round %d/%d done (%.0f s, about '
                     '%.0f s left)', round_ + 1, self.plan.rounds, elapsed,
                     left)
        for series, suites in files.items():
            name = ('pep-table' if series == PEP_SERIES.name
                    else f'micro-{series}')
            write_json(self.output / f'{name}.json', merge(suites))
        micro = ratio_stats({k: v for k, v in per_round.items()
                             if k[1] != PEP_SERIES.name}, REFERENCE)
        pep = _pep_stats(per_round)
        return micro, like_stats(per_round), pep

    def run_syscalls(self):
        """System call names per call and series (second round)."""
        log.info('counting system calls under strace')
        traces = {}
        for name, build, args, mode in SYSCALL_SERIES:
            try:
                found, _ = syscalls.run(self.python(build), (mode,), args)
            except RuntimeError as exc:
                raise ExternalError(str(exc)) from exc
            traces[name] = (found, mode)
        counts = syscall_counts(traces)
        write_json(self.output / 'syscalls.json',
                   {f'{call} {series}': calls
                    for (call, series), calls in sorted(counts.items())})
        return counts

    def run_instructions(self, calls=MICRO_CALLS, loops=INSTR_LOOPS):
        """{(call, series): user-space instructions per call} (callgrind).

        Each (call, series) runs twice under callgrind, with the two loop
        counts of *loops*, two runs at a time; a run without valgrind first
        writes the probes' .pyc files, so that every counted run reads them.

        The runs see the same environment in every bench run: the working
        directory and PYTHONPATH are fixed paths of the work directory
        (bench/instructions/), not of the output folder.  They matter:
        with other paths, some counts move by tens of instructions (open()
        by up to 52, accept() by up to 85; the heap's layout, it seems),
        while the same paths give the same counts.
        """
        if shutil.which('valgrind') is None:
            raise PreconditionError('valgrind is not installed',
                                    hint='apt-get install valgrind')
        series = {s.name: s for s in SERIES}
        jobs = [(call, series[name], n) for call in calls
                for name in COMPARED_SERIES for n in loops]
        log.info('counting instructions under callgrind: %d calls x %d '
                 'series x %d runs', len(calls), len(COMPARED_SERIES),
                 len(loops))
        fixed = self.paths.workdir / 'bench' / 'instructions'
        cwd = fixed / 'cwd'
        if cwd.exists():
            shutil.rmtree(cwd)
        cwd.mkdir(parents=True)
        pylib = fixed / 'pylib'
        link_pyperf(pylib, (self.pylib / 'pyperf').resolve())
        env = dict(self.env, PYTHONHASHSEED='0', PYTHONPATH=str(pylib))
        for name in COMPARED_SERIES:
            s = series[name]
            run([self.python(s.build), *s.args, INSTR_PROBE, calls[0],
                 s.mode, '1'], cwd=cwd, env=env, quiet=True)

        def count(job):
            call, s, n = job
            proc = run(['valgrind', '--tool=callgrind',
                        '--callgrind-out-file=/dev/null',
                        self.python(s.build), *s.args, INSTR_PROBE,
                        call, s.mode, str(n)], cwd=cwd, env=env,
                       quiet=True)
            return collected_instructions(proc.stderr)

        with ThreadPoolExecutor(max_workers=2) as pool:
            totals = dict(zip(jobs, pool.map(count, jobs)))
        counts = {}
        for call in calls:
            for name in COMPARED_SERIES:
                low, high = (totals[call, series[name], n] for n in loops)
                counts[call, name] = (high - low) / (loops[1] - loops[0])
        write_json(self.output / 'instructions.json',
                   {f'{call} {name}': value
                    for (call, name), value in sorted(counts.items())})
        return counts

    def run_pyperformance(self, benchmarks):
        """pyperformance on baseline and patched, pass by pass.

        Each pass writes its own file, pyperformance/<n>-<build>.json; the
        passes after the first run the first one's loop counts
        (--same-loops), so both builds run the same loops.  The passes of
        each build are merged into pyperformance-<build>.json.  Return
        ({build: merged file}, the compare_to table, [pass files]).
        """
        cwd = self.paths.workdir / 'bench'   # venvs kept between runs
        cwd.mkdir(parents=True, exist_ok=True)
        folder = self.output / 'pyperformance'
        folder.mkdir(parents=True, exist_ok=True)
        passes = self.plan.pyperformance_passes
        pass_files = []
        for i, build in enumerate(passes, 1):
            out = folder / f'{i}-{build}.json'
            if out.exists():
                out.unlink()
            cmd = [self.tools / 'pyperformance', 'run', '--python',
                   self.python(build), '-b', ','.join(benchmarks), '-o', out]
            if self.plan.pyperformance_fast:
                cmd.append('--fast')
            if pass_files:
                cmd += ['--same-loops', pass_files[0]]
            log.info('pyperformance pass %d/%d: %s (%s)', i, len(passes),
                     build, ', '.join(benchmarks))
            logfile = self.output / f'pyperformance-{build}.log'
            with open(logfile, 'a') as fp:
                fp.write(f'$ {format_cmd(cmd)}\n')
                fp.flush()
                proc = subprocess.run([str(c) for c in cmd], cwd=cwd,
                                      stdout=fp, stderr=subprocess.STDOUT,
                                      env=clean_env(), check=False)
            if proc.returncode != 0 or not out.exists():
                tail = logfile.read_text(errors='replace').splitlines()[-30:]
                raise ExternalError(
                    f'pyperformance failed (exit {proc.returncode}); '
                    f'log: {logfile}\n' + '\n'.join('    ' + t
                                                    for t in tail))
            pass_files.append(out)
        files = {}
        for build in dict.fromkeys(passes):
            files[build] = self.output / f'pyperformance-{build}.json'
            write_json(files[build], merge(
                [load_json(f) for f, b in zip(pass_files, passes)
                 if b == build]))
        proc = run([self.tools / 'python', '-m', 'pyperf', 'compare_to',
                    files['baseline'], files['patched'], '--table',
                    '--table-format', 'md'], check=False, quiet=True)
        if proc.returncode != 0:     # older pyperf: no --table-format
            proc = run([self.tools / 'python', '-m', 'pyperf', 'compare_to',
                        files['baseline'], files['patched'], '--table'],
                       quiet=True)
        (self.output / 'compare_to.txt').write_text(proc.stdout)
        return files, all_benchmarks_table(proc.stdout), pass_files

    def plot(self, results):
        """Draw the ratios (benchplot.py in the venv, matplotlib Agg)."""
        data = self.output / 'results.json'
        png = self.output / 'ratios.png'
        env = clean_env({'PYTHONPATH': str(Path(__file__).parent.parent)})
        run([self.tools / 'python', '-m', 'pep433tool.benchplot', data, png],
            env=env, quiet=True)
        return png


def link_pyperf(pylib, target):
    """Make *pylib* a directory holding only a link to pyperf (*target*)."""
    pylib.mkdir(parents=True, exist_ok=True)
    link = pylib / 'pyperf'
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)


def collected_instructions(stderr):
    """The instruction count of callgrind's "Collected : N" line."""
    found = re.findall(r'^==\d+== Collected : (\d+)$', stderr, re.M)
    if not found:
        raise ExternalError('no "Collected" line in the output of '
                            'callgrind:\n' + stderr[-2000:])
    return int(found[-1])


def instruction_table(counts, calls):
    others = [s for s in COMPARED_SERIES if s != REFERENCE]
    lines = ['| call | ' + ' | '.join(TITLES[s] for s in COMPARED_SERIES)
             + ' | ' + ' | '.join(f'{TITLES[s]} - baseline' for s in others)
             + ' |', '|---|' + '---:|' * (len(COMPARED_SERIES) + len(others))]
    for call in calls:
        if (call, REFERENCE) not in counts:
            continue
        base = counts[call, REFERENCE]
        cells = [f'{counts[call, s]:.0f}' for s in COMPARED_SERIES]
        cells += [f'{counts[call, s] - base:+.0f} '
                  f'({(counts[call, s] - base) / base:+.1%})'
                  for s in others]
        lines.append(f'| `{call}` | ' + ' | '.join(cells) + ' |')
    return lines


def all_benchmarks_table(text):
    """compare_to's output without the per-tag tables (when it has them)."""
    marker = 'All benchmarks:'
    if marker not in text:
        return text
    rest = text.split(marker, 1)[1].lstrip('\n')
    return rest.lstrip('=').lstrip('\n')


def _pep_stats(per_round):
    """The PEP table's ratios to 'no flag', round by round."""
    rounds = {(name, 'pep'): per_round[name, PEP_SERIES.name]
              for name, _ in PEP_ROWS}
    ref = rounds[PEP_REFERENCE, 'pep']
    stats = {}
    for (name, _), by_round in rounds.items():
        entry = {'time': statistics.median(
            [v for vals in by_round.values() for v in vals])}
        ratios = [statistics.median(by_round[r]) / statistics.median(ref[r])
                  for r in sorted(by_round) if r in ref]
        q1, med, q3 = quartiles(ratios)
        entry.update(median=med, q1=q1, q3=q3, ratios=ratios)
        stats[name] = entry
    return stats


# -- the report -------------------------------------------------------------

def machine_info():
    """nproc, CPU model, kernel, date, load."""
    model = ''
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'nproc': os.cpu_count(), 'cpu': model or platform.processor(),
            'kernel': platform.release(),
            'date': datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z'),
            'load': ' '.join(f'{x:.2f}' for x in os.getloadavg())}


def fmt_ratio(entry):
    if not entry or 'median' not in entry:
        return 'n/a'
    return f'{entry["median"]:.3f} [{entry["q1"]:.3f}-{entry["q3"]:.3f}]'


def fmt_time(seconds):
    if seconds < 1e-3:
        return f'{seconds * 1e6:.2f} us'
    if seconds < 1:
        return f'{seconds * 1e3:.1f} ms'
    return f'{seconds:.2f} s'


def micro_targets(micro, calls=MICRO_CALLS, counts=None, like=None):
    """(held, missed, faster) for the micro-benchmark target (1.00 +- 0.02).

    A call of a LIKE_FOR_LIKE pair is judged by its ratio to the stock call
    that makes the same flag (*like*, from like_stats), when measured.  A
    missed call says what its system calls differ in from the baseline's
    (*counts*, from syscall_counts), or that they are the same.  A call
    below the band whose system calls differ from the baseline's does other
    work than stock, not the same work for less: it is reported in
    *faster*, neither held nor missed.
    """
    held, missed, faster = [], [], []
    counts = counts or {}
    like = like or {}
    for series in TARGET_SERIES:
        bad, fast = [], []
        for call in calls:
            entry = like.get((call, series)) or micro.get((call, series))
            if not entry or 'median' not in entry or \
                    abs(entry['median'] - 1) <= MICRO_TOLERANCE:
                continue
            reference = entry.get('reference', REFERENCE)
            base = counts.get((call, REFERENCE))
            other = counts.get((call, series))
            diff = (syscall_diff(base, other)
                    if base is not None and other is not None else None)
            if reference != REFERENCE:
                why = f' (against {TITLES[reference]})'
            elif diff is None:
                why = ''
            else:
                why = (f' (system calls: {diff})' if diff
                       else ' (same system calls)')
            text = f'{call} {entry["median"]:.3f}{why}'
            if entry['median'] < 1 and diff and reference == REFERENCE:
                fast.append(text)
            else:
                bad.append(text)
        text = (f'micro-benchmarks, {TITLES[series]}: median ratio within '
                f'1.00 +- {MICRO_TOLERANCE:.2f}')
        if bad:
            missed.append(f'{text}: {", ".join(bad)}')
        elif not fast:
            held.append(text)
        if fast:
            faster.append(f'micro-benchmarks, {TITLES[series]}: faster than '
                          f'the band, with other system calls than stock: '
                          f'{", ".join(fast)}')
    return held, missed, faster


def geomean_target(geomean):
    text = (f'pyperformance geometric mean within 1.00 +- '
            f'{GEOMEAN_TOLERANCE:.2f}')
    if geomean is None:
        return [], []
    if abs(geomean - 1) > GEOMEAN_TOLERANCE:
        return [], [f'{text}: {geomean:.4f}']
    return [f'{text} ({geomean:.4f})'], []


def micro_table(micro, calls=MICRO_CALLS):
    others = [s for s in SERIES if s.name != REFERENCE]
    lines = ['| call | baseline time | '
             + ' | '.join(s.title for s in others) + ' |',
             '|---|---:|' + '---:|' * len(others)]
    for call in calls:
        base = micro.get((call, REFERENCE))
        if base is None:
            continue
        cells = [fmt_ratio(micro.get((call, s.name))) for s in others]
        lines.append(f'| `{call}` | {fmt_time(base["time"])} | '
                     + ' | '.join(cells) + ' |')
    return lines


def like_lines(like):
    """The like-for-like ratios, a sentence each (or nothing)."""
    if not like:
        return []
    out = ['Like for like (the target compares these):']
    for (call, series), entry in like.items():
        out.append(f'- `{call}`, {TITLES[series]} against '
                   f'{TITLES[entry["reference"]]} (both make a close-on-exec '
                   f'fd with the same system call): {fmt_ratio(entry)}')
    return out + ['']


def pep_table(pep):
    lines = ['| os.open() + close | time | ratio to no flag | '
             'PEP 433 on Linux 3.6 |', '|---|---:|---:|---|']
    for name, title in PEP_ROWS:
        entry = pep.get(name)
        if not entry:
            continue
        lines.append(f'| {title} | {fmt_time(entry["time"])} | '
                     f'{fmt_ratio(entry)} | {PEP_PUBLISHED[name]} |')
    return lines


def syscall_table(counts, calls):
    series = [s[0] for s in SYSCALL_SERIES]
    titles = {'baseline': 'baseline', 'patched': 'patched (default)',
              'patched-e': 'patched -e', 'patched-True': 'cloexec=True',
              'patched-False': 'cloexec=False'}
    lines = ['| call | ' + ' | '.join(titles[s] for s in series)
             + ' | differences from the baseline |',
             '|---|' + '---:|' * len(series) + '---|']
    for call in calls:
        base = counts.get((call, 'baseline'))
        if base is None:
            continue
        cells, diffs = [], []
        for s in series:
            found = counts.get((call, s))
            cells.append(str(len(found)) if found is not None else 'n/a')
            if found is not None and s != 'baseline':
                diff = syscall_diff(base, found)
                if diff:
                    diffs.append(f'{titles[s]}: {diff}')
        note = '; '.join(diffs)
        if call in BASELINE_INHERITABLE:
            note = ('baseline makes an inheritable fd here (compares '
                    'different things)' + ('; ' + note if note else ''))
        lines.append(f'| `{call}` | ' + ' | '.join(cells)
                     + f' | {note} |')
    return lines


def pyperformance_table(rows, geomean):
    lines = ['| benchmark | baseline | patched | patched/baseline |',
             '|---|---:|---:|---:|']
    for name, row in rows.items():
        lines.append(f'| {name} | {fmt_time(row["reference"])} | '
                     f'{fmt_time(row["changed"])} | {row["ratio"]:.3f} |')
    if geomean is not None:
        lines.append(f'| **geometric mean** | | | **{geomean:.4f}** |')
    return lines


def pair_lines(pair_geomeans):
    """The geometric mean of each pair of neighbouring passes (or nothing)."""
    if not pair_geomeans or len(pair_geomeans) < 2:
        return []
    return ['', 'Geometric mean of each pair of neighbouring passes (one '
            'baseline and one patched pass, run one after the other): '
            + ', '.join(f'{g:.4f}' for g in pair_geomeans)
            + '. Their spread is what one baseline-vs-patched comparison '
            'can tell on this machine; the mean above pools all passes.']


def render_report(results):
    """report.md from the results dict (see run_bench)."""
    m = results['machine']
    out = [f'# PEP 433 benchmark: patched vs stock CPython '
           f'{results["version"]}', '',
           f'{results["kind"]} run, {m["date"]}; {m["nproc"]} CPUs '
           f'({m["cpu"]}), Linux {m["kernel"]}; load average at the start '
           f'{results["load_start"]}, at the end {results["load_end"]}; '
           f'{results["duration"]:.0f} s.', '']
    targets = results['targets']
    out.append('## Targets')
    out.append('')
    out += [f'- target missed: {t}' for t in targets['missed']]
    out += [f'- other work, not comparable: {t}'
            for t in targets.get('faster', [])]
    out += [f'- target held: {t}' for t in targets['held']]
    out.append('')
    if results.get('micro'):
        plan = results['plan']
        out += ['## Micro-benchmarks: ratio to the baseline', '',
                f'Each call plus its close, pyperf; {plan["rounds"]} '
                f'interleaved rounds of {plan["values"]} values per call and '
                'series, shuffled order. Cell: median over the rounds of '
                'median(series)/median(baseline) of the same round '
                '[interquartile range]. Target: patched and patched -e within '
                f'1.00 +- {MICRO_TOLERANCE:.2f}. `socket.accept` includes '
                'closing the client end.', '']
        out += micro_table(results['micro'], MICRO_CALLS + CONTROL_CALLS)
        out.append('')
        if any((c, REFERENCE) in results['micro'] for c in CONTROL_CALLS):
            out += [f'`{", ".join(CONTROL_CALLS)}` is the control: a call '
                    'the series does not change, no fd made. Its ratio is '
                    'what two builds of the same code differ by (code '
                    'layout), the floor under the other ratios; no target.',
                    '']
        out += like_lines(results.get('like') or {})
    if results.get('pep'):
        out += ['## The PEP\'s table, today', '',
                'os.open("/dev/null") + close on the patched interpreter with '
                'cloexec=False (stock 3.13 always adds O_CLOEXEC, so "no '
                'flag" does not exist there); the flag set atomically or '
                'afterwards from Python (`fcntl.ioctl`, `fcntl.fcntl`). '
                'This is the cost of the system calls and what the atomic '
                'path saves.', '']
        out += pep_table(results['pep'])
        out.append('')
    if results.get('syscalls'):
        out += ['## System calls per call (strace)', '',
                'Second of two calls (the first may probe the kernel once), '
                'between strace markers. Target: cloexec=True and -e equal '
                'to the baseline, cloexec=False and the default no more.', '']
        out += syscall_table(results['syscalls'], results['syscall_calls'])
        out.append('')
    if results.get('instructions'):
        out += ['## Instructions per call (callgrind)', '',
                'User-space instructions of one call, its close and its '
                'untimed preparation (`socket.accept`: the client socket and '
                'its connect; `socket.recv_fds`: the send_fds()), counted by '
                'valgrind --tool=callgrind with PYTHONHASHSEED=0: (count at '
                f'{INSTR_LOOPS[1]} calls - count at {INSTR_LOOPS[0]}) / '
                f'{INSTR_LOOPS[1] - INSTR_LOOPS[0]}, in a fixed working '
                'directory with a fixed PYTHONPATH: the same builds give the '
                'same counts in every run, which noise cannot blur. Not '
                'exact as a difference, though: other paths move some counts '
                'by tens of instructions (`open` by up to 52, '
                '`socket.accept` by up to 85; the heap\'s layout), so a '
                'difference of that size in those rows is not the patch\'s. '
                'A ratio outside the band with the same system calls and '
                'about the same instructions is not code the patch runs.', '']
        out += instruction_table(results['instructions'],
                                 [c for c in results['syscall_calls']
                                  if c in MICRO_CALLS])
        out.append('')
    if results.get('pyperformance'):
        p = results['pyperformance']
        out += ['## pyperformance', '',
                f'Benchmarks: {", ".join(p["benchmarks"])}; passes '
                f'{" ".join(p["passes"])} (--fast each). Ratio of medians; '
                f'target: geometric mean within 1.00 +- '
                f'{GEOMEAN_TOLERANCE:.2f}.', '']
        out += pyperformance_table(p['rows'], p['geomean'])
        out += pair_lines(p.get('pair_geomeans'))
        out += ['', '`pyperf compare_to` baseline vs patched (means):', '',
                p['compare_to'].strip(), '']
    out += ['![ratios](ratios.png)', '']
    return '\n'.join(out)


def _serialise(results):
    """results with tuple keys as 'call|series' strings (for JSON)."""
    data = dict(results)
    for key in ('micro', 'like', 'syscalls', 'instructions'):
        if key in data and data[key] is not None:
            data[key] = {f'{a}|{b}': v for (a, b), v in data[key].items()}
    return data


def check_builds(paths):
    """The two interpreters, or PreconditionError."""
    missing = [str(getattr(paths, b) / 'python')
               for b in ('baseline', 'patched')
               if not (getattr(paths, b) / 'python').exists()]
    if missing:
        raise PreconditionError(
            'interpreter not built: ' + ', '.join(missing),
            hint='scripts/pep433 build')


def run_bench(paths, quick=False, output=None, pyperformance=True,
              benchmarks=None, seed=None, instructions=True):
    """Implement the ``bench`` subcommand; return 0."""
    from .selftest import ensure_tools
    check_builds(paths)
    start = time.monotonic()
    machine = machine_info()
    load_start = machine['load']
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    output = Path(output) if output else paths.workdir / 'bench' / stamp
    plan = Plan.make(quick)
    benchmarks = list(benchmarks or (QUICK_BENCHMARKS if quick
                                     else BENCHMARKS))
    log.info('bench (%s) into %s; load average %s', 'quick' if quick
             else 'full', output, load_start)
    tools = ensure_tools(paths)
    bench = Bench(paths, output, plan, tools, seed=seed)
    bench.prepare()

    counts = bench.run_syscalls()
    calls = list(MICRO_CALLS) + [c for c, _ in sorted(counts)
                                 if c not in MICRO_CALLS]
    calls = list(dict.fromkeys(calls))
    micro, like, pep = bench.run_micro()
    instr = bench.run_instructions() if instructions else None

    perf = None
    if pyperformance:
        perf = pyperformance_results(
            benchmarks, plan.pyperformance_passes,
            *bench.run_pyperformance(benchmarks))

    held, missed, faster = micro_targets(micro, counts=counts, like=like)
    h, m = syscall_targets(counts, calls)
    held += h
    missed += m
    if perf:
        h, m = geomean_target(perf['geomean'])
        held += h
        missed += m
    results = {
        'version': paths.base.version, 'kind': 'quick' if quick else 'full',
        'load_start': load_start,
        'plan': {'rounds': plan.rounds, 'values': plan.values},
        'micro': micro, 'pep': pep, 'syscalls': counts,
        'syscall_calls': calls, 'pyperformance': perf,
        'like': like, 'instructions': instr,
        'targets': {'held': held, 'missed': missed, 'faster': faster},
        'series': [[s.name, s.title] for s in SERIES],
    }
    results['duration'] = time.monotonic() - start
    results['machine'] = machine
    results['load_end'] = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    write_json(output / 'results.json', _serialise(results))
    bench.plot(results)
    report = render_report(results)
    (output / 'report.md').write_text(report)
    for line in missed:
        log.warning('target missed: %s', line)
    for line in faster:
        log.info('other work, not comparable: %s', line)
    log.info('%d targets held, %d missed, %d not comparable; report: %s '
             '(%.0f s)', len(held), len(missed), len(faster),
             output / 'report.md', time.monotonic() - start)
    print(output / 'report.md')
    return 0

