"""``bench``: what the close-on-exec flag costs, patched vs stock CPython.

Five measurements, written to one output folder:

1. **Micro-benchmarks** (micro.py: probes/bench_calls.py, pyperf): each
   fd-creating call plus its close, on the SERIES of plan.py.  Runs are
   interleaved: every round runs each (call, series) once, a few values
   each, the series of one call back to back (in a shuffled order, and the
   calls too: micro.round_order()), so that drift on the machine hits all
   series of a call alike.  The result is the ratio series/baseline per
   round (medians of that round's values), summarised by the median over
   the rounds and the interquartile range (stats.py).
2. **The PEP's table** ("Performances", micro.py): os.open() with no flag,
   with O_CLOEXEC, with ioctl(FIOCLEX) after, with fcntl(F_GETFD/F_SETFD)
   after, as ratios to "no flag", interleaved the same way.  It runs on the
   patched interpreter with cloexec=False, because stock 3.13 always adds
   O_CLOEXEC to os.open(): "no flag" does not exist there.  It is the cost
   of the system calls, whichever interpreter makes them.
3. **System calls per call** (systemcalls.py: syscalls.py under strace):
   the second of two calls of each function, counted; exact, so noise
   cannot blur it.
4. **Instructions per call** (instructions.py: probes/instr_calls.py under
   valgrind's callgrind): the user-space instructions one call costs, on
   the baseline, patched and patched -e; repeatable to the instruction
   (PYTHONHASHSEED=0, a fixed empty working directory and PYTHONPATH), so
   it tells what the patch adds to the interpreter's own work from what
   only the clock says (to a few dozen instructions: see
   instructions.run_instructions); and per function, from the same runs'
   profiles (callgrind_annotate): where a call's instructions differ.
5. **pyperformance** (perf.py) on BENCHMARKS (or --benchmarks), baseline vs
   patched, in ABBAABBA order (full run: eight --fast passes, each in its
   own file, all with the first pass's loop counts) so that drift cancels,
   with ``pyperf compare_to`` and the geometric mean, of all the passes and
   of each pair of neighbouring passes (the noise of a single comparison).

``bench --suite`` (suite.py) runs pyperformance alone on its whole default
suite; ``bench combine`` (combine.py) pools the runs of several output
folders into one report; ``bench report`` writes one folder's report again
(command.run_report()); ``bench --optimized`` measures the builds of
``build --optimized`` (PGO + LTO) instead of the plain ones.  The targets
are in targets.py, report.md is written by report.py (its pyperformance
part by perfreport.py), ratios.png by plot.py; command.py runs it all.
This file is the command line: the options of ``bench`` and of its
actions (combine, report, mp-pool) and their handlers.

The tool's own Python needs no package: pyperf, pyperformance and
matplotlib live in <workdir>/venv (scripts/requirements-dev.txt, installed
by selftest.ensure_tools); the built interpreters import pyperf from a
directory holding only a link to the venv's pyperf package.  The pyperf
JSON files are read and merged here with the json module (pyperfio.py).
"""

import argparse

from .. import options
from ..errors import UsageError
from . import combine as _combine, command as _command, mppool as _mppool


# --- the command line --------------------------------------------------------

SUMMARY = 'measure what the flag costs: patched vs stock CPython'
DOCS = 'docs/performance.md'
COMBINE_SUMMARY = 'measure nothing: pool the runs of bench output folders'
REPORT_SUMMARY = ('measure nothing: write the report of a bench output '
                  'folder again')
MP_POOL_SUMMARY = ('bench_mp_pool on the baseline, prefixes of the series '
                   'and the patched build')

#: The options of a measuring ``bench`` (flag, dest), which ``bench
#: combine`` refuses.
MEASURE_OPTIONS = (('--quick', 'quick'), ('--benchmarks', 'benchmarks'),
                   ('--no-pyperformance', 'no_pyperformance'),
                   ('--no-instructions', 'no_instructions'),
                   ('--suite', 'suite'), ('--passes', 'passes'),
                   ('--optimized', 'optimized'))


def add_arguments(parser):
    """``bench``'s options, and ``bench combine``'s."""
    parser.add_argument('--quick', action='store_true',
                        help='a short plan: a few minutes')
    options.add_output(parser, '<workdir>/bench/<timestamp>')
    parser.add_argument('--no-pyperformance', action='store_true',
                        help='skip pyperformance')
    parser.add_argument('--no-instructions', action='store_true',
                        help='skip the instruction counts (callgrind)')
    parser.add_argument('--benchmarks', '-b', metavar='LIST',
                        help='pyperformance benchmarks, comma-separated')
    parser.add_argument('--suite', metavar='all|LIST',
                        help='pyperformance alone, on its suite or on LIST')
    parser.add_argument('--passes', type=int, metavar='N',
                        help='pyperformance passes of each build, ABBA order')
    parser.add_argument('--optimized', action='store_true',
                        help='measure the builds of build --optimized')
    parser.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    parser.set_defaults(func=handle)
    actions = parser.add_subparsers(dest='bench_action',
                                    metavar='{combine,report,mp-pool}')
    combine = actions.add_parser(
        'combine', help=COMBINE_SUMMARY,
        description=COMBINE_SUMMARY[0].upper() + COMBINE_SUMMARY[1:] + '.')
    combine.add_argument('dirs', nargs='+', metavar='DIR',
                         help='a bench output folder, or the .tar.xz of one')
    # given before or after "combine" alike
    options.add_output(combine, '<workdir>/bench/combined-<timestamp>',
                       default=argparse.SUPPRESS)
    combine.set_defaults(func=handle_combine)
    report = actions.add_parser(
        'report', help=REPORT_SUMMARY,
        description=REPORT_SUMMARY[0].upper() + REPORT_SUMMARY[1:]
        + ', from its results.json and pyperformance passes, with this '
        'version of the report: report.md, ratios.png, and results.json '
        'with what each pair of passes says alone.')
    report.add_argument('dir', metavar='DIR', help='a bench output folder')
    report.set_defaults(func=handle_report)
    mp_pool = actions.add_parser(
        'mp-pool', help=MP_POOL_SUMMARY,
        description='Time pyperformance\'s ' + MP_POOL_SUMMARY
        + ', in interleaved rounds, in a plain loop and inside '
        'pyperformance.  More: ' + DOCS + '.')
    mp_pool.add_argument('--at', metavar='N,N', default=','.join(
        map(str, _mppool.DEFAULT_AT)),
        help='prefixes to build: the first N patches (default: %(default)s)')
    mp_pool.add_argument('--rounds', type=int, default=5, metavar='N',
                         help='interleaved rounds (default: %(default)s; 0 '
                              'with --instructions: count only)')
    mp_pool.add_argument('--loops', type=int, default=20, metavar='N',
                         help='plain-loop loops a round (default: '
                              '%(default)s)')
    mp_pool.add_argument('--no-pyperformance', action='store_true',
                         default=argparse.SUPPRESS,
                         help='the plain loop only')
    mp_pool.add_argument('--instructions', action='store_true',
                         help='also count each loop\'s instructions '
                              '(callgrind)')
    options.add_output(mp_pool, '<workdir>/bench/mp-pool-<timestamp>',
                       default=argparse.SUPPRESS)
    mp_pool.add_argument('--optimized', action='store_true',
                         default=argparse.SUPPRESS,
                         help='the builds of build --optimized, and '
                              'optimized prefixes')
    mp_pool.set_defaults(func=handle_mp_pool)


def _names(text):
    return [name for name in text.replace(',', ' ').split() if name]


def handle(args, paths):
    extra = {}      # only when given: the defaults stay run_bench()'s
    if args.suite:
        given = [opt for opt, on in (
            ('--quick', args.quick), ('--benchmarks', args.benchmarks),
            ('--no-pyperformance', args.no_pyperformance)) if on]
        if given:
            raise UsageError('--suite runs pyperformance alone, on its '
                             'suite: ' + ', '.join(given) + ' cannot go '
                             'with it')
        names = _names(args.suite)
        extra['suite'] = 'all' if names == ['all'] else names
    if args.passes is not None:
        if args.passes < 1:
            raise UsageError('--passes must be at least 1')
        if args.no_pyperformance:
            raise UsageError('--passes with --no-pyperformance: there is no '
                             'pyperformance pass to make')
        extra['passes'] = args.passes
    if args.optimized:
        extra['variant'] = 'optimized'
    return _command.run_bench(
        paths, quick=args.quick, output=args.output,
        pyperformance=not args.no_pyperformance,
        benchmarks=_names(args.benchmarks) if args.benchmarks else None,
        seed=args.seed, instructions=not args.no_instructions, **extra)


def handle_mp_pool(args, paths):
    given = [opt for opt, dest in MEASURE_OPTIONS
             if dest not in ('no_pyperformance', 'optimized')
             and getattr(args, dest) not in (None, False)]
    if given:
        raise UsageError('bench mp-pool measures one benchmark its own '
                         'way: ' + ', '.join(given) + ' cannot go with it')
    try:
        at = [int(n) for n in _names(args.at)]
    except ValueError:
        raise UsageError(f'--at {args.at}: patch numbers, e.g. 6,7,10')
    if args.loops < 1 or args.rounds < (0 if args.instructions else 1):
        raise UsageError('--loops must be at least 1, and --rounds too '
                         'unless --instructions (0: count only)')
    return _mppool.run_mp_pool(
        paths, at=at, rounds=args.rounds, loops=args.loops,
        output=args.output, variant='optimized' if args.optimized else None,
        pyperformance=not args.no_pyperformance, seed=args.seed,
        instructions=args.instructions)


def _measures_nothing(args, action):
    """UsageError if a measuring option was given to *action*."""
    given = [opt for opt, dest in MEASURE_OPTIONS
             if getattr(args, dest) not in (None, False)]
    if args.output is not None and action == 'report':
        given.append('--output')
    if given:
        raise UsageError(f'bench {action} measures nothing: '
                         + ', '.join(given) + ' cannot go with it')


def handle_combine(args, paths):
    _measures_nothing(args, 'combine')
    return _combine.run_combine(paths, args.dirs, output=args.output)


def handle_report(args, paths):
    _measures_nothing(args, 'report')
    return _command.run_report(paths, args.dir)
