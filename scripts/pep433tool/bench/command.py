"""The ``bench`` command: run the measurements, write results and report.

run_bench() runs a measurement into an output folder: results.json
(write_results()), report.md, ratios.png and the files of each
measurement.  results.json also records what bench combine compares before it
pools folders: which builds were measured ('variant': None for the plain
builds, 'optimized' for those of build --optimized; their folders and
configure flags), their identity (build_identity()) and the plan
(plan_record()).
"""

import contextlib
import json
import logging
import os
import platform
import time
from datetime import datetime
from pathlib import Path

from ..build import STAMP
from ..errors import PreconditionError
from ..util import build_in_use, clean_env, run, sha256_of
from . import suite as suite_mod
from .instructions import function_rows
from .micro import micro_round_stats, read_rounds
from .perf import pair_results, pass_files_of, pyperformance_results
from .plan import (BENCHMARKS, CONTROL_CALLS, MICRO_CALLS, MICRO_ORDER,
                   QUICK_BENCHMARKS, REFERENCE, SERIES, SUITE_PASSES, Plan)
from .pyperfio import write_json
from .report import render_report
from .runner import Bench, build_dir, draw_ratios
from .targets import (geomean_target, instruction_targets, micro_targets,
                      syscall_targets)

log = logging.getLogger(__name__)

BUILDS = ('baseline', 'patched')


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


def build_identity(paths, variant=None):
    """{build: {'sys_version', 'sha256': {file: digest}}} of the two builds
    (those of build --<variant> with a *variant*).

    What tells that two runs measured the same interpreters: their
    sys.version (version, build date, compiler) and the sha256 of each
    build's ``python`` and of its libpython*.so when it is a shared build.
    """
    identity = {}
    for build in BUILDS:
        python = build_dir(paths, build, variant) / 'python'
        proc = run([python, '-c', 'import sys; print(sys.version)'],
                   env=clean_env(), quiet=True)
        files = {'python': sha256_of(python)}
        for lib in sorted(python.parent.glob('libpython*.so*')):
            files[lib.name] = sha256_of(lib)
        identity[build] = {'sys_version': proc.stdout.strip(),
                           'sha256': files}
    return identity


def build_record(paths, variant=None):
    """What results.json says of the builds measured: 'variant' (None: the
    plain builds), 'build_dirs' ({build: folder name}) and
    'configure_args' ({build: the flags build gave configure, from its
    stamp; None if unknown})."""
    dirs = {build: build_dir(paths, build, variant) for build in BUILDS}
    flags = {}
    for build, folder in dirs.items():
        try:
            flags[build] = json.loads(
                (folder / STAMP).read_text())['configure_args']
        except (OSError, ValueError, KeyError, TypeError):
            flags[build] = None
    return {'variant': variant,
            'build_dirs': {build: folder.name
                           for build, folder in dirs.items()},
            'configure_args': flags}


def plan_record(plan, micro, benchmarks):
    """What results.json records of the plan; bench combine pools only runs
    whose records are equal.  *benchmarks* is None when pyperformance did
    not run; 'order' is recorded when the micro-benchmarks ran."""
    record = {'rounds': plan.rounds, 'values': plan.values,
              'min_time': plan.min_time,
              'micro_calls': (list(MICRO_CALLS + CONTROL_CALLS) if micro
                              else []),
              'series': [s.name for s in SERIES] if micro else [],
              'pyperformance_passes': (list(plan.pyperformance_passes)
                                       if benchmarks is not None else []),
              'pyperformance_fast': plan.pyperformance_fast,
              'benchmarks': (list(benchmarks) if benchmarks is not None
                             else [])}
    if micro:
        # the runs of older versions, all 'shuffled', do not name it
        record['order'] = MICRO_ORDER
    return record


def _serialise(results):
    """results with tuple keys as 'call|series' strings (for JSON)."""
    data = dict(results)
    for key in ('micro', 'like', 'syscalls', 'instructions'):
        if key in data and data[key] is not None:
            data[key] = {f'{a}|{b}': v for (a, b), v in data[key].items()}
    return data


def deserialise(data):
    """results.json as run_bench() made it: the inverse of _serialise()."""
    results = dict(data)
    for key in ('micro', 'like', 'syscalls', 'instructions'):
        if results.get(key) is not None:
            results[key] = {tuple(k.split('|', 1)): v
                            for k, v in results[key].items()}
    return results


def load_run(folder):
    """(folder, results) of a bench output folder, or PreconditionError."""
    folder = Path(folder).resolve()
    path = folder / 'results.json'
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PreconditionError(f'{folder}: no results.json: not the '
                                'output folder of a bench run') from None
    except ValueError as exc:
        raise PreconditionError(f'{path}: not JSON ({exc})') from None
    return folder, deserialise(data)


def write_results(output, results):
    """results.json of the output folder *output*."""
    write_json(Path(output) / 'results.json', _serialise(results))


def check_builds(paths, variant=None):
    """The two interpreters (of build --<variant> with a *variant*), or
    PreconditionError."""
    missing = [str(build_dir(paths, b, variant) / 'python')
               for b in BUILDS
               if not (build_dir(paths, b, variant) / 'python').exists()]
    if missing:
        raise PreconditionError(
            'interpreter not built: ' + ', '.join(missing),
            hint='scripts/pep433 build' + (f' --{variant}' if variant
                                           else ''))


def run_bench(paths, variant=None, **options):
    """Implement the ``bench`` subcommand; return 0.

    The two builds are held in use while they are measured
    (util.build_in_use): a build of either is refused until the end, and
    bench is refused while one runs.  *options* are _measure()'s.
    """
    check_builds(paths, variant)
    with contextlib.ExitStack() as held:
        for build in BUILDS:
            held.enter_context(build_in_use(
                build_dir(paths, build, variant), 'bench'))
        return _measure(paths, variant=variant, **options)


def all_targets(micro, like, counts, calls, instr, perf):
    """(held, missed, faster): every target of a run, from what it
    measured (None or empty where it measured nothing of a kind)."""
    held, missed, faster = [], [], []
    if micro:
        held, missed, faster = micro_targets(micro, counts=counts, like=like)
        h, m = syscall_targets(counts, calls)
        held += h
        missed += m
    if instr:
        h, m = instruction_targets(instr)
        held += h
        missed += m
    if perf:
        h, m = geomean_target(perf['geomean'])
        held += h
        missed += m
    return held, missed, faster


def _measure(paths, quick=False, output=None, pyperformance=True,
             benchmarks=None, seed=None, instructions=True, suite=None,
             passes=None, variant=None):
    """Measure the builds into *output*; return 0.

    *suite* ('all' or a list of names) runs pyperformance alone, on its
    default suite or on that list (see suite.py); *passes* is the number
    of pyperformance passes of each build (default: the plan's; 2 with
    *suite*).  *variant* ('optimized': bench --optimized) measures the
    builds of build --<variant> instead of the plain ones.
    """
    from ..selftest import ensure_tools
    start = time.monotonic()
    machine = machine_info()
    load_start = machine['load']
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    output = (Path(output).resolve() if output
              else paths.workdir / 'bench' / stamp)
    plan = Plan.make(quick, passes=passes or (SUITE_PASSES if suite
                                              else None))
    benchmarks = list(benchmarks or (QUICK_BENCHMARKS if quick
                                     else BENCHMARKS))
    kind = 'suite' if suite else 'quick' if quick else 'full'
    log.info('bench (%s%s) into %s; load average %s', kind,
             f', {variant} builds' if variant else '', output, load_start)
    tools = ensure_tools(paths)
    builds = build_identity(paths, variant)
    bench = Bench(paths, output, plan, tools, seed=seed, variant=variant)

    if suite:
        output.mkdir(parents=True, exist_ok=True)
        benchmarks = (suite_mod.list_suite(tools) if suite == 'all'
                      else list(suite))
        perf = suite_mod.run_suite(bench, benchmarks, suite == 'all')
        counts, calls, micro, like, pep, instr = {}, [], None, None, None, None
        spread = None
        functions = None
    else:
        bench.prepare()
        counts = bench.run_syscalls()
        calls = list(MICRO_CALLS) + [c for c, _ in sorted(counts)
                                     if c not in MICRO_CALLS]
        calls = list(dict.fromkeys(calls))
        micro, like, pep, spread = bench.run_micro()
        instr, per_function = (bench.measure_instructions() if instructions
                               else (None, None))
        functions = None
        if per_function is not None:
            functions = {call: function_rows(per_function, call)
                         for call in MICRO_CALLS
                         if (call, REFERENCE) in per_function}

        perf = None
        if pyperformance:
            perf = pyperformance_results(
                benchmarks, plan.pyperformance_passes,
                *bench.run_pyperformance(benchmarks))

    held, missed, faster = all_targets(micro, like, counts, calls, instr,
                                       perf)
    results = {
        'version': paths.base.version, 'kind': kind,
        'load_start': load_start,
        'plan': plan_record(plan, not suite,
                            benchmarks if suite or pyperformance else None),
        'micro': micro, 'pep': pep, 'spread': spread, 'syscalls': counts,
        'syscall_calls': calls, 'pyperformance': perf,
        'like': like, 'instructions': instr,
        'instruction_functions': functions,
        'targets': {'held': held, 'missed': missed, 'faster': faster},
        'series': [[s.name, s.title] for s in SERIES],
        'builds': builds, **build_record(paths, variant),
    }
    results['duration'] = time.monotonic() - start
    results['machine'] = machine
    results['load_end'] = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    write_results(output, results)
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


def run_report(paths, folder):
    """Implement ``bench report``: write report.md and ratios.png of the
    bench output *folder* again, with this version of the report; return 0.

    Nothing is measured.  What each pair of pyperformance passes says
    alone (perf.pair_results()) is read again from the folder's pass files,
    and the micro-benchmarks' statistics (the 95% interval of each median
    with them) from its rounds/, so a run made before the report showed
    them gets them, and its targets are judged again; results.json is
    written back with them, its measurements unchanged.
    """
    from ..selftest import ensure_tools
    folder, results = load_run(folder)
    p = results.get('pyperformance')
    if p:
        p.update(pair_results(
            [(p['passes'], pass_files_of(folder, p['passes']))], p['rows']))
    if results.get('micro'):
        per_round = read_rounds(folder, results['plan']['rounds'])
        if per_round:
            micro, like, pep, spread = micro_round_stats(per_round)
            results.update(micro=micro, like=like, pep=pep, spread=spread)
    held, missed, faster = all_targets(
        results.get('micro'), results.get('like'), results.get('syscalls'),
        results.get('syscall_calls'), results.get('instructions'), p)
    results['targets'] = {'held': held, 'missed': missed, 'faster': faster}
    write_results(folder, results)
    draw_ratios(ensure_tools(paths), folder)
    (folder / 'report.md').write_text(render_report(results))
    log.info('report written again: %s', folder / 'report.md')
    print(folder / 'report.md')
    return 0
