"""``impact``: what the PEP 433 default breaks and fixes in real packages.

PEP 433 lost to PEP 446 on one argument: with a configurable default,
libraries cannot rely on it.  This runs the test suites of packages whose
behaviour depends on fd inheritance (``impact/packages.toml``: pinned
versions, sha256-checked files, what is deselected and why) in three modes:
``baseline`` (stock CPython of the base), ``patched`` (the PEP 433
default: inheritable) and ``patched-e`` (patched with ``-e``), and compares
each patched mode with the baseline per test case, the way ``test`` does
(``junit.compare``/``confirm``/``format_report``).  Then PEP 433's
"programs taking file descriptors from the parent" (openssl, valgrind), in
the three modes (``probes/impact/fdpass.py``).

The parts: impact_data reads the data file; impact_venvs makes one venv per
build and package (from the uninstalled builds) and fetches the test
sources; impact_suite runs a suite in one mode and reads a saved run back;
impact_compare compares each patched mode with the baseline and explains
the differences; impact_report writes the report.  This module runs them in
turn for each package, and the fd-passing table, and is the command line.

A difference is confirmed by running the differing tests again in that mode
(a flaky one is reported as flaky, not counted).  Each one is explained in
the data file (``[[package.explain]]``: which fd, created where, inherited
by whom, and the evidence); the report shows the census of the processes
the test started and the fds its process held when it failed, so a
difference nobody explained yet comes with what was seen.  Exit 1 when a
confirmed difference has no explanation, 0 otherwise.
"""

import argparse
import json
import logging
import time
from datetime import datetime
from pathlib import Path

from . import deps, impact_data, impact_report, options
from .errors import PreconditionError, ProblemFound
from .impact_compare import compare_package, summary_text, unexplained
from .impact_data import BUILD_MODES
from .impact_suite import SuiteRun, load_suite, run_suite
from .impact_venvs import (PROBES, build_python, ensure_tests_file,
                           ensure_venv, impact_dir)
from .regrtest import build_of
from .util import clean_env, run

log = logging.getLogger(__name__)

#: Debian packages of the fd-passing table.
FDPASS_PROGRAMS = ('openssl', 'valgrind')


def data_file(paths):
    return paths.repo / 'impact' / 'packages.toml'


# --- one package in every mode -----------------------------------------------

def run_package(paths, package, outdir, modes=BUILD_MODES):
    """Every mode of *package*, compared and confirmed."""
    pkgdir = outdir / package.name
    venvs = {}
    for build in dict.fromkeys(build_of(m) for m in modes):
        venvs[build] = ensure_venv(paths, build, package)
    tests_file = ensure_tests_file(paths, package,
                                   next(iter(venvs.values()))[0])
    runs = {}
    for mode in modes:
        python, site = venvs[build_of(mode)]
        runs[mode] = run_suite(paths, package, mode, python, site,
                               tests_file, pkgdir)

    def rerun(mode, ids):
        log.info('%s/%s: %d tests differ from the other mode; running '
                 'them again', package.name, mode, len(ids))
        python, site = venvs[build_of(mode)]
        return run_suite(paths, package, mode, python, site, tests_file,
                         pkgdir, select=ids, tag='-rerun')

    result = compare_package(package, runs, rerun)
    if 'baseline' in runs:
        (pkgdir / 'summary.txt').write_text(summary_text(result))
    return result


# --- the fd-passing table ----------------------------------------------------

def run_fdpass(paths, outdir, modes=BUILD_MODES):
    """probes/impact/fdpass.py with each interpreter; return {mode: data}."""
    deps.ensure_build_deps(FDPASS_PROGRAMS)
    results = {}
    for mode in modes:
        python = [str(build_python(paths, build_of(mode)))]
        if mode == 'patched-e':
            python.append('-e')
        proc = run([*python, PROBES / 'fdpass.py', *FDPASS_PROGRAMS],
                   env=clean_env())
        results[mode] = json.loads(proc.stdout.splitlines()[-1])
    (outdir / 'fdpass.json').write_text(json.dumps(results, indent=1))
    return results


# --- the subcommand ----------------------------------------------------------

def load_package(package, outdir, modes=BUILD_MODES):
    """A PackageResult from the files a run saved in *outdir*, compared
    again with the data file's explanations of today (no test runs)."""
    pkgdir = outdir / package.name
    runs = {}
    for mode in modes:
        suite = load_suite(pkgdir, mode)
        if suite is not None:
            runs[mode] = suite
    if not runs:
        return None

    def rerun(mode, ids):
        suite = load_suite(pkgdir, mode, '-rerun')
        return suite if suite is not None else SuiteRun({})

    return compare_package(package, runs, rerun)


def default_output(paths):
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    return impact_dir(paths) / stamp


def command_line(paths, quick, packages, output, fdpass):
    """The command that made a report, as the report shows it."""
    words = ['scripts/pep433', '--base', paths.base.version, 'impact']
    if quick:
        words.append('--quick')
    if packages:
        words += ['--packages', ','.join(packages)]
    if output:
        words += ['--output', str(output)]
    if not fdpass:
        words.append('--no-fdpass')
    return ' '.join(words)


def run_impact(paths, quick=False, packages=None, output=None,
               fdpass=True):
    """Implement the ``impact`` subcommand; return the exit code."""
    selected = impact_data.select(impact_data.load(data_file(paths)),
                                  packages, quick)
    for build in ('baseline', 'patched'):
        build_python(paths, build)
    outdir = Path(output).resolve() if output else default_output(paths)
    outdir.mkdir(parents=True, exist_ok=True)
    log.info('impact on base %s: %s; output in %s', paths.base.version,
             ', '.join(p.title for p in selected), outdir)
    start = time.monotonic()
    results = []
    for number, package in enumerate(selected, 1):
        log.info('[%d/%d] %s', number, len(selected), package.title)
        results.append(run_package(paths, package, outdir))
    table = run_fdpass(paths, outdir) if fdpass else None
    seconds = time.monotonic() - start
    report = impact_report.render(
        results, table, base=paths.base.version, seconds=seconds,
        command=command_line(paths, quick, packages, output, fdpass))
    (outdir / 'report.md').write_text(report)
    print(impact_report.console_summary(results, table), end='')
    log.info('report: %s (%.0f s)', outdir / 'report.md', seconds)
    return _finish(results, outdir)


def run_render(paths, outdir, quick=False, packages=None):
    """Implement ``impact render DIR``: run nothing, write DIR/report.md
    again from the files an earlier run saved there and today's data file
    (after adding explanations); return the exit code."""
    selected = impact_data.select(impact_data.load(data_file(paths)),
                                  packages, quick)
    outdir = Path(outdir).resolve()
    if not outdir.is_dir():
        raise PreconditionError(f'{outdir} is not an impact output folder',
                                hint='scripts/pep433 impact --output DIR')
    results = [r for r in (load_package(p, outdir) for p in selected)
               if r is not None]
    if not results:
        raise PreconditionError(f'no results in {outdir}',
                                hint='scripts/pep433 impact --output '
                                     f'{outdir}')
    table = None
    if (outdir / 'fdpass.json').exists():
        table = json.loads((outdir / 'fdpass.json').read_text())
    seconds = sum(s.seconds for r in results for s in r.runs.values())
    report = impact_report.render(
        results, table, base=paths.base.version, seconds=seconds,
        command=f'scripts/pep433 --base {paths.base.version} impact '
                f'render {outdir}')
    (outdir / 'report.md').write_text(report)
    print(impact_report.console_summary(results, table), end='')
    log.info('report: %s', outdir / 'report.md')
    return _finish(results, outdir)


def _finish(results, outdir):
    """Exit 0, or ProblemFound for the differences nobody explained."""
    missing = unexplained(results)
    if missing:
        raise ProblemFound(
            f'{len(missing)} differences have no explanation in '
            'impact/packages.toml: '
            + ', '.join(f'{d.package} {d.test} ({d.mode})'
                        for d in missing[:5])
            + (' ...' if len(missing) > 5 else '')
            + f' (see {outdir / "report.md"})')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'what the PEP 433 default breaks and fixes in real packages'
DOCS = 'docs/impact.md'


def _add_selection(parser, default=None):
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--quick', action='store_true',
                       default=default if default is not None else False,
                       help='only the quick packages of the data file')
    group.add_argument('--packages', metavar='LIST', default=default,
                       help='comma-separated package names of the data file')


def add_arguments(parser):
    """``impact``'s options, and ``impact render``."""
    _add_selection(parser)
    options.add_output(parser, '<workdir>/impact/<timestamp>')
    parser.add_argument('--no-fdpass', action='store_true',
                        help='skip the fd-passing table')
    parser.set_defaults(func=handle)
    actions = parser.add_subparsers(dest='impact_action', metavar='render')
    render = actions.add_parser(
        'render', help='run nothing: write DIR/report.md again',
        description='Run nothing: write DIR/report.md again from the '
                    'results saved in DIR and the data file as it is now.')
    render.add_argument('dir', metavar='DIR', help='an impact output folder')
    # given before or after "render" alike
    _add_selection(render, default=argparse.SUPPRESS)
    render.set_defaults(func=handle_render)


def _packages(args):
    if not args.packages:
        return None
    return [p for p in args.packages.replace(',', ' ').split() if p]


def handle(args, paths):
    return run_impact(paths, quick=args.quick, packages=_packages(args),
                      output=args.output, fdpass=not args.no_fdpass)


def handle_render(args, paths):
    return run_render(paths, args.dir, quick=args.quick,
                      packages=_packages(args))
