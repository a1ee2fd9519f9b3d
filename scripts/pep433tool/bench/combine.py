"""``bench combine DIR...``: the runs of several output folders pooled.

Each folder is the output of a ``bench`` run (results.json, the pyperf
files, rounds/).  The micro-benchmarks pool the rounds: round r of the
i-th folder becomes round (i, r) of one run (stats.pool_rounds()), so a
pooled cell is the median and interquartile range of the per-round ratios
of all folders; the pyperformance passes of each build are merged, and
the pairs of neighbouring passes of every folder give the spread.  Only
folders that measured the same builds (results.json's 'variant': the plain
builds or those of build --optimized, and 'builds': sys.version and sha256
of each python) with the same plan ('plan') are pooled; others are
refused.

A folder may also be given as the .tar.xz archive of one (ARCHIVE_MEMBERS,
as docs/bench-runs/ keeps the runs behind the README's pooled table): it
is read from a temporary extraction and named by its archive.
"""

import json
import logging
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from ..errors import PreconditionError, UsageError
from . import suite as suite_mod
from .command import all_targets, load_run
from .micro import micro_round_stats, read_rounds
from .perf import (compare_to, merge_passes, pass_files_of,
                   pyperformance_results)
from .pyperfio import write_json
from .report import builds_title, render_combined
from .stats import pool_rounds

log = logging.getLogger(__name__)


#: What bench combine reads of an output folder, hence what an archive of one
#: must hold: results.json, the micro-benchmarks' rounds and the
#: pyperformance passes.
ARCHIVE_MEMBERS = ('results.json', 'rounds', 'pyperformance')


def extract_run(archive, scratch):
    """The folder that the .tar.xz *archive* of one bench output folder
    holds, extracted under *scratch*; PreconditionError if it holds none.
    """
    archive = Path(archive)
    target = Path(tempfile.mkdtemp(dir=scratch))
    try:
        with tarfile.open(archive, 'r:xz') as tar:
            tar.extractall(target, filter='data')
    except (OSError, tarfile.TarError) as exc:
        raise PreconditionError(f'{archive}: not a readable .tar.xz '
                                f'({exc})') from None
    found = sorted(p.parent for p in target.glob('*/results.json'))
    if len(found) != 1:
        raise PreconditionError(
            f'{archive}: holds {len(found)} bench output folders (a '
            'top-level folder with results.json), not one',
            hint='make one with: tar -C BENCH -cJf RUN.tar.xz '
                 + ' '.join(f'RUN/{m}' for m in ARCHIVE_MEMBERS))
    return found[0]


def _short(value, width=60):
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[:width - 3] + '...'


def differences(a, b, prefix=''):
    """['key: A vs B', ...]: where the dicts *a* and *b* differ."""
    found = []
    for key in list(a) + [k for k in b if k not in a]:
        name = f'{prefix}{key}'
        if key not in a or key not in b:
            found.append(f'{name}: {"missing" if key not in a else "set"} '
                         f'vs {"missing" if key not in b else "set"}')
        elif isinstance(a[key], dict) and isinstance(b[key], dict):
            found += differences(a[key], b[key], f'{name}.')
        elif a[key] != b[key]:
            found.append(f'{name}: {_short(a[key])} vs {_short(b[key])}')
    return found


def check_poolable(runs):
    """PreconditionError unless all *runs* ([(folder, results)]) measured
    the same builds with the same plan."""
    lacking = [str(folder) for folder, results in runs
               if not results.get('builds')]
    if lacking:
        raise PreconditionError(
            'results.json records no build identity in '
            + ', '.join(lacking) + ': these runs predate it (sys.version '
            'and the sha256 of each python), so nothing tells that they '
            'measured the same builds; they cannot be pooled',
            hint='run scripts/pep433 bench again on the builds to pool and '
                 'combine the new folders')
    first_folder, first = runs[0]
    for folder, results in runs[1:]:
        if first.get('variant') != results.get('variant'):
            raise PreconditionError(
                f'{first_folder} measured the {builds_title(first)} and '
                f'{folder} the {builds_title(results)}: runs of other '
                'builds cannot be pooled',
                hint='combine the runs of bench --optimized together, '
                     'and those without it together')
        found = differences(first['builds'], results['builds'])
        if found:
            raise PreconditionError(
                f'{first_folder} and {folder} measured different builds: '
                + '; '.join(found),
                hint='combine only runs of the same baseline and patched '
                     'builds')
        found = differences({'version': first['version'],
                             'plan': first.get('plan', {})},
                            {'version': results['version'],
                             'plan': results.get('plan', {})})
        if found:
            raise PreconditionError(
                f'{first_folder} and {folder} ran different plans: '
                + '; '.join(found),
                hint='combine only runs made with the same options (--quick, '
                     '--benchmarks, --suite, --passes, --no-pyperformance)')


def labels(runs):
    """A short name for each run: the time it started ('13:39'), with the
    day when they differ, else the folder's name."""
    dates = [results['machine']['date'].split() for _, results in runs]
    one_day = len({d[0] for d in dates}) == 1
    found = [d[1] if one_day else ' '.join(d[:2]) for d in dates]
    if len(set(found)) < len(found):
        found = [folder.name for folder, _ in runs]
    return found


def pool_micro(runs):
    """{'runs': [each run's cells], 'pooled': the cells of the pooled
    rounds, 'spread': their value_spread()}, with (micro, like, pep) of
    the pooled rounds.

    A cell is ratio_stats()'s entry; like_stats()'s replaces it for the
    LIKE_FOR_LIKE pairs, as the target judges them.
    """
    per_runs = []
    for folder, results in runs:
        per_round = read_rounds(folder, results['plan']['rounds'])
        if not per_round:
            raise PreconditionError(f'{folder}/rounds: no round files to '
                                    'pool')
        per_runs.append(per_round)
    each = []
    for per_round in per_runs:
        micro, like, _, _ = micro_round_stats(per_round)
        each.append({**micro, **like})
    micro, like, pep, spread = micro_round_stats(pool_rounds(per_runs))
    return ({'runs': each, 'pooled': {**micro, **like}, 'spread': spread},
            micro, like, pep)


def pool_pyperformance(runs, output, tools):
    """The pyperformance results of all passes of *runs*, merged per build
    into *output*; 'pair_geomeans', 'pair_ratios' and 'same_build' have
    the pairs of every run, run after run (a build's passes compared
    within each run only, numbered across the runs)."""
    passes, pass_files, each, offsets = [], [], [], []
    for folder, results in runs:
        p = results['pyperformance']
        files = pass_files_of(folder, p['passes'])
        each.append((p['passes'], files))
        offsets.append(len(passes))
        passes += p['passes']
        pass_files += files
    files = merge_passes(output, passes, pass_files)
    compare = compare_to(tools, output, files)
    first = runs[0][1]['pyperformance']
    pooled = pyperformance_results(first['benchmarks'], passes, files,
                                   compare, pass_files, runs=each)
    if first.get('suite'):
        pooled['suite'] = suite_mod.pool_suites(
            [results['pyperformance']['suite'] for _, results in runs],
            offsets, pooled)
    return pooled


def _keyed(cells):
    """*cells* with their (call, series) keys as 'call|series' strings."""
    return {f'{a}|{b}': v for (a, b), v in cells.items()}


def _serialise_combined(combined):
    """combined.json: run_combine()'s dict with string keys."""
    data = dict(combined, syscalls=_keyed(combined['syscalls']))
    if combined['micro']:
        data['micro'] = {
            'runs': [_keyed(cells) for cells in combined['micro']['runs']],
            'pooled': _keyed(combined['micro']['pooled']),
            'spread': combined['micro']['spread']}
    return data


def run_combine(paths, folders, output=None, tools=None):
    """Implement ``bench combine``; return 0.

    *tools* is the venv's bin directory (for pyperf compare_to); default:
    selftest.ensure_tools().
    """
    if len(folders) < 2:
        raise UsageError('bench combine needs at least two folders')
    given = [Path(folder) for folder in folders]
    if len({folder.resolve() for folder in given}) < len(given):
        raise UsageError('bench combine: a folder is given twice (its rounds '
                         'would count twice)')
    with tempfile.TemporaryDirectory(prefix='pep433-combine-') as scratch:
        runs = [load_run(extract_run(folder, scratch)
                         if folder.name.endswith('.tar.xz') else folder)
                for folder in given]
        return _combine(paths, runs, given, output, tools)


def _combine(paths, runs, given, output, tools):
    """run_combine() once the folders are on disk: *runs* as load_run()
    gives them, *given* the folders or archives they came from, as the
    report names them."""
    from ..selftest import ensure_tools
    check_poolable(runs)
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    output = (Path(output).resolve() if output
              else paths.workdir / 'bench' / f'combined-{stamp}')
    output.mkdir(parents=True, exist_ok=True)
    log.info('bench combine: %d runs into %s', len(runs), output)
    first = runs[0][1]
    plan = first['plan']
    combined = {
        'version': first['version'], 'plan': plan,
        'builds': first['builds'], 'variant': first.get('variant'),
        'build_dirs': first.get('build_dirs'),
        'configure_args': first.get('configure_args'),
        'runs': [{'folder': str(name), 'label': label,
                  'date': results['machine']['date'],
                  'kind': results['kind'],
                  'duration': results.get('duration', 0),
                  'load_start': results.get('load_start')}
                 for (_, results), name, label in zip(runs, given,
                                                      labels(runs))],
        'micro': None, 'pep': None, 'pyperformance': None,
        'syscalls': first.get('syscalls') or {},
        'syscall_calls': first.get('syscall_calls') or [],
    }
    micro = like = None
    if plan.get('micro_calls'):
        combined['micro'], micro, like, combined['pep'] = pool_micro(runs)
        for folder, results in runs[1:]:
            if (results.get('syscalls') or {}) != combined['syscalls']:
                log.warning('%s counted other system calls than %s; the '
                            'report uses the first', folder, runs[0][0])
    if plan.get('benchmarks'):
        if any(not results.get('pyperformance') for _, results in runs):
            raise PreconditionError('a folder has no pyperformance results '
                                    'although its plan lists benchmarks')
        combined['pyperformance'] = pool_pyperformance(
            runs, output, Path(tools) if tools else ensure_tools(paths))
    # no instruction target: the counts are each run's, in its own report
    held, missed, faster = all_targets(
        micro, like, combined['syscalls'], combined['syscall_calls'], None,
        combined['pyperformance'])
    combined['targets'] = {'held': held, 'missed': missed, 'faster': faster}
    write_json(output / 'combined.json', _serialise_combined(combined))
    (output / 'report.md').write_text(render_combined(combined))
    log.info('%d runs pooled: %d targets held, %d missed; report: %s',
             len(runs), len(held), len(missed), output / 'report.md')
    print(output / 'report.md')
    return 0
