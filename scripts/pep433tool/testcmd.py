"""``test``: regrtest on the baseline and patched builds, each patched mode
compared with the baseline (junit.py), and the sanitizer tiers (--tsan,
--asan) on the series' lines."""

import logging
import re
import shutil
from typing import NamedTuple

from . import asan, config, options, regrtest, sanitizers, tsan
from .checkout import require_checkout
from .errors import PreconditionError, ProblemFound, UsageError
from .junit import (compare, confirm, count, format_report, module_of,
                    parse_output, rerun_name, summary_header)
from .util import cpu_count

log = logging.getLogger(__name__)


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
    for name in regrtest.series_tests(paths.cpython, paths.base.tag):
        if name not in names:
            names.append(name)
    return names


class _Tier(NamedTuple):
    """What a tier of ``test`` runs and where its results go."""
    name: str                   # in the summary's header
    option: str                 # the option that selects it, for hints
    modes: tuple = config.TEST_MODES
    base_mode: str = 'baseline'
    extra_args: tuple = ()      # added to regrtest's command line
    summary: str = 'summary.txt'
    tag: str = ''               # after the mode in the results' names


def run_tests(paths, full=False, modes=None, tests=None, jobs=None,
              refleaks=False, free_threading=False, every=False):
    """Implement the ``test`` subcommand; return the exit code.

    With *every*, regrtest runs every test module of the base
    (config.ALL_TESTS_ARGS), its results kept apart from the subset's
    (``<mode>-all.json``, ``summary-all.txt``).

    With *refleaks*, the debug builds run ``-R 3:3`` on the test modules the
    series adds or changes (or *tests*), and the patched one is compared
    with the baseline one: a leak makes regrtest fail the module.  With
    *free_threading*, the free-threaded builds run the tests in the modes
    of config.FT_MODES, compared with baseline-ft.
    """
    require_checkout(paths)
    if every:
        tier = _Tier('every module', '--all', extra_args=config.ALL_TESTS_ARGS,
                     summary='summary-all.txt', tag='-all')
    elif refleaks:
        tier = _Tier('refleaks', '--refleaks', config.REFLEAK_MODES,
                     'baseline-debug', config.REFLEAK_ARGS,
                     'summary-refleaks.txt')
    elif free_threading:
        tier = _Tier('free-threading', '--free-threading', config.FT_MODES,
                     'baseline-ft', summary='summary-ft.txt')
    else:
        tier = _Tier('full' if full else 'chosen tests' if tests
                     else 'subset', '')
    modes = list(dict.fromkeys(modes or tier.modes))
    if every:
        names = []      # regrtest's own list: every module
    elif refleaks and not tests:
        names = regrtest.touched_tests(paths.cpython, paths.base.tag)
    else:
        names = select_tests(paths, full, tests)
    jobs = jobs or cpu_count()
    log.info('tests: %s', ' '.join(names) or 'every test module')
    results = {}
    for mode in tier.modes:
        if mode in modes:
            results[mode] = regrtest.run_mode(paths, mode, names, jobs,
                                              tag=tier.tag,
                                              extra_args=tier.extra_args)
    baseline = (results.get(tier.base_mode)
                or regrtest.load_saved(paths, tier.base_mode + tier.tag))
    if baseline is None:
        raise PreconditionError(
            'no baseline results to compare with',
            hint=f'scripts/pep433 test --mode {tier.base_mode}'
                 + (f' {tier.option}' if tier.option else ''))
    comparisons = []
    for mode, res in results.items():
        if mode == tier.base_mode:
            continue
        comp = compare(mode, baseline, res)
        if comp.new and not tests_only_check(comp):
            again = sorted({rerun_name(key) for key, _, _ in comp.new})
            log.info('%s: %d new failures; running %s again to tell a '
                     'real failure from a flaky one', mode, len(comp.new),
                     ' '.join(again))
            confirm(comp, regrtest.run_mode(paths, mode, again, jobs,
                                            tag=tier.tag + '-rerun',
                                            extra_args=tier.extra_args))
        comparisons.append(comp)
    what = (f'{tier.name}, {" ".join(tier.extra_args)}' if every
            else f'{tier.name}, {len(names)} test modules')
    report = (summary_header(paths, f'test ({what}, modes '
                                    f'{", ".join(modes)})')
              + format_report(baseline, comparisons,
                              base_mode=tier.base_mode))
    (paths.results / tier.summary).write_text(report)
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
        results = regrtest.run_mode(paths, mode, names, jobs,
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
            saved = regrtest.load_saved(paths, plain)
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
    kind = (report.kind if len(report.kind) <= 100
            else report.kind[:97] + '...')
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
    require_checkout(paths)
    if tests:
        names, what = select_tests(paths, tests=tests), ''
    else:
        names = regrtest.series_tests(paths.cpython, paths.base.tag)
        what = ", the series' own"
    return run_sanitizer(paths, tsan.TIER, names, jobs, what)


def run_asan(paths, tests=None, jobs=None):
    """``test --asan``: the tests of ``test`` (the subset and the series'
    own, or *tests*) on the AddressSanitizer + UBSan build, with and
    without -e.

    A failure that the same mode without the sanitizers has too (the
    results ``test`` saved) is known on this machine: listed, not counted.
    """
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
    group.add_argument('--all', action='store_true', dest='every',
                       help="every module of the base's regrtest, "
                            '-u all but network and gui')
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
    options.add_tests(parser, 'the subset')
    options.add_jobs(parser, 'regrtest worker processes')
    parser.set_defaults(func=handle)


def handle(args, paths):
    if args.tsan:
        return run_tsan(paths, tests=args.tests, jobs=args.jobs)
    if args.asan:
        return run_asan(paths, tests=args.tests, jobs=args.jobs)
    if args.every and (args.full or args.tests):
        raise UsageError('--all runs every module: no --full or --tests '
                         'with it')
    return run_tests(paths, full=args.full, modes=args.mode,
                     tests=args.tests, jobs=args.jobs,
                     refleaks=args.refleaks,
                     free_threading=args.free_threading, every=args.every)
