"""``bench mp-pool``: pyperformance's ``bench_mp_pool`` on the baseline, on
prefixes of the series and on the patched build, to find where it differs.

The whole-suite runs read ``bench_mp_pool`` (concurrent_imap: a Pool of 2
processes, 1,000 items in chunks of 10) about 1.18 times slower on the
patched build, in every pass.  This command bisects that: it builds the
series' prefixes named by ``--at`` (a patch number N builds the series'
first N commits; each in a worktree of the checkout, detached, at
``<workdir>/prefix-src/<N>``, built into ``<workdir>/prefix-<N>[-<variant>]``
with the same configure flags as the other builds), then times every
interpreter in interleaved rounds: a round runs each interpreter once, in
a shuffled order, both

- **in a plain loop** (probes/mp_pool_loop.py: the benchmark's own loop,
  timed with perf_counter, no pyperf, no venv), and
- **inside pyperformance** (``pyperformance run -b concurrent_imap --fast``,
  every round with the loop counts of the first: ``--same-loops``),

and the ratio of an interpreter to the baseline is taken within each round
(median of its values over the median of the baseline's), summarised over
the rounds by the median and the spread (quartiles, and min-max).
"""

import json
import logging
import os
import random
import re
import shutil
import statistics
import time
from datetime import datetime
from pathlib import Path

from .. import config, gitutil
from ..build import build_tree, configure_flags
from ..checkout import require_checkout
from ..errors import PreconditionError, UsageError
from ..util import clean_env, run
from .pyperfio import benchmarks_of, load_json, values
from .runner import build_dir
from .stats import quartiles

log = logging.getLogger(__name__)

BENCHMARK = 'concurrent_imap'
RESULT = 'bench_mp_pool'
PROBE = Path(__file__).resolve().parent.parent / 'probes' / 'mp_pool_loop.py'
#: The prefixes that tell the series' parts apart: the C patches alone
#: (0001-0006), + 0007 (the stdlib's own fds: multiprocessing), + 0008-0010
#: (asyncio, the rest of the stdlib, the PEP 433 default).
DEFAULT_AT = (6, 7, 10)
WAYS = ('loop', 'pyperformance')
#: The plain loop's loop counts under callgrind (--instructions): the
#: difference over their difference is one loop, start-up cancelling out.
INSTR_LOOPS = (2, 6)
_PID = re.compile(r'^==(\d+)==')
_COLLECTED = re.compile(r'^==(\d+)== Collected : (\d+)')


def prefix_label(number):
    return f'prefix-{number:04d}'


def prefix_commits(repo, tag, numbers):
    """{N: commit} of the series' first N commits (tag..pep433)."""
    commits = gitutil.commits(repo, f'{tag}..{config.BRANCH}')
    bad = [n for n in numbers if not 1 <= n < len(commits)]
    if bad:
        raise UsageError(
            f'--at {",".join(map(str, bad))}: a prefix is 1 to '
            f'{len(commits) - 1} patches (the series has {len(commits)}; '
            'all of it is the patched build)')
    return {n: commits[n - 1] for n in numbers}


def ensure_prefix_tree(repo, src, commit):
    """The tool's own detached worktree *src* of *repo*, at *commit*."""
    if not (src / '.git').exists():
        src.parent.mkdir(parents=True, exist_ok=True)
        log.info('worktree %s at %s', src, commit[:12])
        gitutil.git(repo, 'worktree', 'add', '--detach', str(src), commit,
                    quiet=True)
        return
    if gitutil.rev_parse(src, 'HEAD') == commit:
        return
    if gitutil.dirty_files(src):
        raise PreconditionError(
            f'{src} (a worktree bench mp-pool made) has uncommitted '
            'changes', hint=f'git -C {repo} worktree remove --force {src}')
    log.info('worktree %s: moving to %s', src, commit[:12])
    gitutil.git(src, 'checkout', '--quiet', '--detach', commit)


def build_prefixes(paths, numbers, variant=None, jobs=None):
    """Build the prefixes; return {label: (python, subject)}."""
    repo = require_checkout(paths)
    commits = prefix_commits(repo, paths.base.tag, numbers)
    flags = configure_flags(paths)
    if variant:
        flags = [*flags, *config.VARIANTS[variant]]
    built = {}
    for number, commit in commits.items():
        label = prefix_label(number)
        src = paths.workdir / 'prefix-src' / f'{number:04d}'
        ensure_prefix_tree(repo, src, commit)
        folder = label + (f'-{variant}' if variant else '')
        python = build_tree(folder, src, paths.workdir / folder, flags, jobs,
                            extra_env=config.VARIANT_ENV.get(variant))
        subject = gitutil.out(repo, 'log', '-1', '--format=%s', commit)
        built[label] = (python, f'0001-{number:04d}: ... {subject}')
    return built


def interpreters(paths, prefixes, variant=None):
    """[(label, python, what)]: baseline, the prefixes, patched."""
    found = [('baseline',
              build_dir(paths, 'baseline', variant) / 'python',
              'stock ' + paths.base.version)]
    for label, (python, what) in prefixes.items():
        found.append((label, python, what))
    found.append(('patched', build_dir(paths, 'patched', variant) / 'python',
                  'the whole series'))
    missing = [str(python) for _, python, _ in found if not python.exists()]
    if missing:
        raise PreconditionError(
            'interpreter not built: ' + ', '.join(missing),
            hint='scripts/pep433 build' + (f' --{variant}' if variant
                                           else ''))
    return found


def time_loop(python, loops):
    """The plain loop's seconds per loop on *python*."""
    proc = run([python, PROBE, str(loops)], env=clean_env(), quiet=True)
    return json.loads(proc.stdout.splitlines()[-1])


def time_pyperformance(tools, python, out, same_loops, cwd):
    """bench_mp_pool's values (seconds) in one pyperformance run."""
    if out.exists():
        out.unlink()
    cmd = [tools / 'pyperformance', 'run', '--python', python,
           '-b', BENCHMARK, '--fast', '-o', out]
    if same_loops:
        cmd += ['--same-loops', same_loops]
    run(cmd, cwd=cwd, env=clean_env(), quiet=True)
    runs = benchmarks_of(load_json(out)).get(RESULT)
    if not runs:
        raise PreconditionError(f'{out} has no {RESULT} result')
    return values(runs)


def collected_by_process(stderr):
    """(the first process's count, the sum of the others') of valgrind's
    stderr: callgrind follows a fork, and every process it counted ends
    with a "==PID== Collected : N" line; the first ==PID== is the process
    valgrind started."""
    first, counts = None, {}
    for line in stderr.splitlines():
        match = _PID.match(line)
        if match and first is None:
            first = match.group(1)
        match = _COLLECTED.match(line)
        if match:
            counts[match.group(1)] = int(match.group(2))
    if first not in counts:
        raise PreconditionError('callgrind counted no instructions of the '
                                'process it started:\n' + stderr[-2000:])
    return counts.pop(first), sum(counts.values())


def count_instructions(python, cwd, loops=INSTR_LOOPS):
    """{'parent', 'workers'}: the user-space instructions of one loop of
    the plain loop, in the process that times it and in the pool's worker
    processes (all of them, summed), by callgrind at two loop counts."""
    if shutil.which('valgrind') is None:
        raise PreconditionError('valgrind is not installed',
                                hint='apt-get install valgrind')
    env = clean_env({'PYTHONHASHSEED': '0'})
    found = []
    for n in loops:
        proc = run(['valgrind', '--tool=callgrind',
                    '--callgrind-out-file=/dev/null', python, PROBE, str(n)],
                   cwd=cwd, env=env, quiet=True)
        found.append(collected_by_process(proc.stderr))
    (p0, w0), (p1, w1) = found
    span = loops[1] - loops[0]
    return {'parent': (p1 - p0) / span, 'workers': (w1 - w0) / span}


def summarise(samples, labels):
    """Per (way, label): the time and the ratios to the baseline.

    *samples* maps (way, label) to {round: [seconds]}.  Return {way:
    {label: {'time', 'time_min', 'time_max', 'ratio', 'q1', 'q3', 'min',
    'max', 'ratios'}}}: the times are the medians of each round's values
    (their median, min and max over the rounds); each round's ratio is the
    median of the label's values over the baseline's in that round.
    """
    table = {}
    for way in WAYS:
        ref = samples.get((way, 'baseline'))
        if not ref:
            continue
        rows = table[way] = {}
        for label in labels:
            rounds = samples.get((way, label))
            if not rounds:
                continue
            medians = [statistics.median(rounds[r]) for r in sorted(rounds)]
            ratios = [statistics.median(rounds[r]) /
                      statistics.median(ref[r])
                      for r in sorted(rounds) if r in ref]
            q1, med, q3 = quartiles(ratios)
            rows[label] = {'time': statistics.median(medians),
                           'time_min': min(medians),
                           'time_max': max(medians),
                           'ratio': med, 'q1': q1, 'q3': q3,
                           'min': min(ratios), 'max': max(ratios),
                           'ratios': ratios}
    return table


def render(results):
    """report.md of a bench mp-pool run."""
    lines = [f'# bench_mp_pool bisected: {results["version"]}'
             + (f', {results["variant"]} builds' if results['variant']
                else ', plain builds'), '',
             f'{results["rounds"]} interleaved rounds, {results["date"]}, '
             f'load average {results["load_start"]} at the start, '
             f'{results["load_end"]} at the end; '
             f'{results["duration"]:.0f} s.  A plain-loop round is '
             f'{results["loops"]} loops after one of warm-up; a '
             'pyperformance round is one `pyperformance run -b '
             'concurrent_imap --fast` (`--same-loops` of the first).', '',
             'Ratio: the median over the rounds of (median of the '
             'interpreter\'s values / median of the baseline\'s) in the '
             'same round; [q1, q3] and (min-max) over the rounds.', '']
    for way, title in (('loop', 'Plain loop'),
                       ('pyperformance', 'Inside pyperformance')):
        rows = results['table'].get(way)
        if not rows:
            continue
        lines += [f'## {title}', '',
                  '| interpreter | what | ms a loop (median, min-max of '
                  'the rounds) | ratio | [q1, q3] | (min-max) |',
                  '|---|---|---|---|---|---|']
        for label, what in results['interpreters']:
            row = rows.get(label)
            if row is None:
                continue
            ratio = ('1' if label == 'baseline' else f'{row["ratio"]:.3f}')
            spread = ('' if label == 'baseline'
                      else f'[{row["q1"]:.3f}, {row["q3"]:.3f}]')
            extent = ('' if label == 'baseline'
                      else f'({row["min"]:.3f}-{row["max"]:.3f})')
            lines.append(
                f'| {label} | {what} | {row["time"] * 1e3:.2f} '
                f'({row["time_min"] * 1e3:.2f}-{row["time_max"] * 1e3:.2f})'
                f' | {ratio} | {spread} | {extent} |')
        lines.append('')
    instr = results.get('instructions')
    if instr:
        base = instr['baseline']
        lines += ['## Instructions per loop (callgrind)', '',
                  'User-space instructions of one loop of the plain loop '
                  f'(count at {INSTR_LOOPS[1]} loops - count at '
                  f'{INSTR_LOOPS[0]}, over {INSTR_LOOPS[1] - INSTR_LOOPS[0]}'
                  '), in the process that runs the pool and in its worker '
                  'processes (two a loop, summed); PYTHONHASHSEED=0.  Time '
                  'spent waiting (for a worker, a thread, the scheduler) '
                  'costs no instruction.', '',
                  '| interpreter | the pool\'s process | ratio | the '
                  'workers | ratio |', '|---|---:|---:|---:|---:|']
        for label, _ in results['interpreters']:
            row = instr.get(label)
            if row is None:
                continue
            lines.append(
                f'| {label} | {row["parent"]:,.0f} | '
                f'{row["parent"] / base["parent"]:.3f} | '
                f'{row["workers"]:,.0f} | '
                f'{row["workers"] / base["workers"]:.3f} |')
        lines.append('')
    return '\n'.join(lines)


def _load():
    return ' '.join(f'{x:.2f}' for x in os.getloadavg())


def run_mp_pool(paths, at=DEFAULT_AT, rounds=5, loops=20, output=None,
                variant=None, pyperformance=True, seed=None,
                instructions=False):
    """Implement ``bench mp-pool``; return 0."""
    from ..selftest import ensure_tools
    start = time.monotonic()
    prefixes = build_prefixes(paths, sorted(set(at)), variant)
    found = interpreters(paths, prefixes, variant)
    tools = ensure_tools(paths) if pyperformance else None
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    output = (Path(output).resolve() if output
              else paths.workdir / 'bench' / f'mp-pool-{stamp}')
    output.mkdir(parents=True, exist_ok=True)
    cwd = paths.workdir / 'bench'      # pyperformance's venvs, kept
    if pyperformance:
        (output / 'pyperformance').mkdir(exist_ok=True)
        cwd.mkdir(parents=True, exist_ok=True)
    load_start = _load()
    rng = random.Random(seed)
    samples, same_loops = {}, None
    for number in range(1, rounds + 1):
        order = list(found)
        rng.shuffle(order)
        for label, python, _ in order:
            log.info('round %d/%d: %s', number, rounds, label)
            loop = samples.setdefault(('loop', label), {})
            loop[number] = time_loop(python, loops)
            if pyperformance:
                out = output / 'pyperformance' / f'{number}-{label}.json'
                inside = samples.setdefault(('pyperformance', label), {})
                inside[number] = time_pyperformance(tools, python, out,
                                                    same_loops, cwd)
                same_loops = same_loops or out
    labels = [label for label, _, _ in found]
    counted = None
    if instructions:
        counted = {}
        scratch = paths.workdir / 'bench' / 'mp-pool-cwd'
        scratch.mkdir(parents=True, exist_ok=True)
        for label, python, _ in found:
            log.info('instructions (callgrind): %s', label)
            counted[label] = count_instructions(python, scratch)
    results = {
        'version': paths.base.version, 'variant': variant,
        'rounds': rounds, 'loops': loops,
        'interpreters': [[label, what] for label, _, what in found],
        'samples': {f'{way}|{label}': {str(r): v for r, v in by.items()}
                    for (way, label), by in samples.items()},
        'table': summarise(samples, labels),
        'instructions': counted,
        'date': datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z'),
        'load_start': load_start,
        'load_end': _load(),
        'duration': time.monotonic() - start,
    }
    (output / 'results.json').write_text(json.dumps(results, indent=1) + '\n')
    (output / 'report.md').write_text(render(results))
    for way, rows in results['table'].items():
        for label, row in rows.items():
            if label != 'baseline':
                log.info('%s, %s: %.3f [%.3f, %.3f] of the baseline', way,
                         label, row['ratio'], row['q1'], row['q3'])
    print(output / 'report.md')
    return 0
