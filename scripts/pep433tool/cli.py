"""Command line of the PEP 433 patch-series tooling (``scripts/pep433``)."""

import argparse
import logging
import sys

from . import config
from .errors import EXIT_USAGE, ToolError
from .util import Paths

log = logging.getLogger('pep433tool')

EPILOG = """\
exit status:
  0  success
  1  a check or a test found a problem (new test failure, check failed,
     export --check found differences)
  2  usage error
  3  a precondition you must fix (dirty tree, wrong version, bad checksum,
     patch does not apply, missing dependency); the message says what is
     wrong and the command that fixes it
  4  an external command failed unexpectedly (e.g. a build error: the log
     tail and the log path are shown)

environment:
  PEP433_WORKDIR  work directory (default: <repo>/build)
  PEP433_REPO     project repository (default: the one holding this script)

Fresh machine: `scripts/pep433 all`, then `scripts/pep433 selftest`.
"""


def _cmd_fetch(args, paths):
    from .fetch import run_fetch
    return run_fetch(paths, tarball=args.tarball, checkout=args.checkout)


def _cmd_apply(args, paths):
    from .apply import run_apply
    return run_apply(paths)


def _cmd_export(args, paths):
    from .export import run_export
    return run_export(paths, check=args.check, review=args.review)


def _cmd_docs(args, paths):
    from .docs import run_docs
    return run_docs(paths, only=args.only, ref=args.ref, jobs=args.jobs,
                    clean=args.clean, screenshots=args.screenshot or (),
                    tree_for_screenshots=args.screenshot_tree)


def _cmd_build(args, paths):
    from .build import run_build
    return run_build(paths, only=args.only, jobs=args.jobs,
                     configure_args=args.configure_args, debug=args.debug)


def _cmd_test(args, paths):
    from .regrtest import run_tests
    return run_tests(paths, full=args.full, modes=args.mode,
                     tests=args.tests, jobs=args.jobs,
                     refleaks=args.refleaks)


def _cmd_check(args, paths):
    from .check import run_check
    return run_check(paths, build=not args.no_build, jobs=args.jobs)


def _cmd_all(args, paths):
    from .fetch import run_fetch
    from .apply import run_apply
    from .build import run_build
    from .regrtest import run_tests
    run_fetch(paths)
    run_apply(paths)
    run_build(paths, jobs=args.jobs)
    return run_tests(paths, full=args.full, jobs=args.jobs)


def _cmd_news(args, paths):
    from .news import run_news
    return run_news(paths, section=args.section, text=' '.join(args.text))


def _cmd_bench(args, paths):
    from .bench import run_bench
    benchmarks = None
    if args.benchmarks:
        benchmarks = [b for b in args.benchmarks.replace(',', ' ').split()
                      if b]
    return run_bench(paths, quick=args.quick, output=args.output,
                     pyperformance=not args.no_pyperformance,
                     benchmarks=benchmarks, seed=args.seed,
                     instructions=not args.no_instructions)


def _cmd_audit(args, paths):
    from .audit import run_audit
    return run_audit(paths, static_only=args.static_only, reuse=args.reuse,
                     tests=args.tests, jobs=args.jobs, output=args.output,
                     classification=args.classification)


def _cmd_selftest(args, paths):
    from .selftest import run_selftest
    return run_selftest(paths, fast=args.fast, pytest_args=args.pytest_args)


def build_parser():
    """The argparse parser of ``scripts/pep433``."""
    parser = argparse.ArgumentParser(
        prog='pep433',
        description='Fetch CPython %s, apply the PEP 433 patch series, '
                    'build baseline and patched interpreters, run regrtest '
                    'on both, and export the series back.' % config.VERSION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='log every command run, and debug details')
    parser.add_argument('--workdir', metavar='DIR',
                        help='work directory (cache/, cpython/, baseline/, '
                             'patched/, results/ ...); default '
                             '$PEP433_WORKDIR or <repo>/build')
    parser.add_argument('--repo', metavar='DIR', help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def add(name, func, help, description):
        p = sub.add_parser(
            name, help=help, description=description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    p = add('fetch', _cmd_fetch, 'get the pristine 3.13.5 source as git repo',
            'Create <workdir>/cpython: a git repository whose first commit '
            '(tagged v3.13.5) is the pristine 3.13.5 release tarball, and '
            'the worktree <workdir>/baseline-src at that tag. The tarball '
            'comes from --tarball, the cache, or Debian\'s source package '
            '(a private apt configuration that reuses this machine\'s Debian '
            'mirror). With --checkout, your own CPython git checkout (with '
            'tag v3.13.5) is used instead. A second run is a no-op.')
    group = p.add_mutually_exclusive_group()
    group.add_argument('--tarball', metavar='PATH',
                       help='Python-3.13.5.tar.xz (checked by sha256)')
    group.add_argument('--checkout', metavar='PATH',
                       help='your own CPython git checkout with tag v3.13.5')

    add('apply', _cmd_apply, 'build branch pep433 from patches/',
        'Create branch pep433 at v3.13.5 in the checkout and apply the '
        'patches listed in patches/series with plain git am (no fuzz), plus '
        'each patch\'s new files (New-File trailers), one commit per patch, '
        'with reproducible hashes. A no-op if the branch already matches '
        'patches/. Refuses a dirty tree, a git am in progress and a branch '
        'with commits that were neither applied nor exported (export them '
        'first). A previous tip it replaces is kept as '
        'refs/pep433/backup/<n>.')

    p = add('export', _cmd_export, 'write patches/ back from branch pep433',
            'Regenerate patches/NNNN-*.patch, patches/series and the new '
            'files (Lib/, Modules/, Doc/, Misc/) from the commits '
            'v3.13.5..pep433, with fixed format-patch flags: re-exporting an '
            'unchanged branch changes no byte. Prints the range-diff against '
            'the previous series (refs/pep433/applied) and updates that ref.')
    p.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 if patches/ would change')
    p.add_argument('--review', metavar='DIR',
                   help='also write DIR/ with the series as a cover letter '
                        '+ patches and DIR/pep433-combined.diff; when '
                        '`scripts/pep433 docs` has built both trees (and '
                        'the docs did not change since), also DIR/docs/html/ '
                        '(the pages whose .rst the series changes, with '
                        '_static/) and DIR/docs/diff/<page>.diff (the '
                        'rendered text, baseline vs patched). export builds '
                        'no docs: without up-to-date builds DIR/docs/ is '
                        'left out and the command to run is printed')

    p = add('build', _cmd_build, 'build baseline and patched interpreters',
            'Check the Debian build dependencies (installing them when run '
            'as root), then build out of tree: <workdir>/baseline from '
            'baseline-src/ (v3.13.5) and <workdir>/patched from cpython/ '
            '(branch pep433), with identical configure flags, make -jN and '
            'ccache when installed. Incremental: an unchanged tree rebuilds '
            'in seconds. The make output goes to <builddir>/make.log.')
    p.add_argument('--only', choices=('baseline', 'patched'),
                   help='build only one of the two')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='parallel jobs (default: number of CPUs)')
    p.add_argument('--configure-args', metavar='ARGS',
                   help='extra configure arguments, one shell-quoted string '
                        '(used for both builds; default: none)')
    p.add_argument('--debug', action='store_true',
                   help='build <workdir>/baseline-debug and patched-debug '
                        'instead, with --with-pydebug (for test --refleaks)')

    p = add('docs', _cmd_docs,
            'build the HTML docs of both trees, compare the warnings',
            'Build the HTML documentation of the baseline (v3.13.5) and of '
            'the patched tree (branch pep433, or --ref) as CPython\'s '
            '`make -C Doc html` does: sphinx-build --builder html '
            '--nitpicky --keep-going --jobs N --warning-file FILE, with '
            'the packages of that tree\'s Doc/requirements.txt in '
            '<workdir>/docs/venv (installed once per requirements '
            'content). Each tree is a detached git worktree of the checkout '
            '(<workdir>/docs/src-<name>, never the checkout\'s own working '
            'tree), moved only when the commit changes, so that Sphinx '
            're-reads only the pages that changed; HTML in '
            '<workdir>/docs/html-<name>/, Sphinx\'s output in '
            'docs/sphinx-<name>.log. The warnings of every page are kept '
            'between runs (Sphinx reports only those of the pages it '
            'rebuilds) and compared as multisets of (path relative to Doc/, '
            'message), without line numbers: the ones the patched tree adds '
            'are listed (exit 1), and, for information, the ones it '
            'removes. Lists in docs/warnings-<name>.txt and '
            'docs/warnings-compare.txt. Times measured on 2 cores: a first '
            'full build takes about 75 s for the baseline and 90 s for '
            'the patched tree (plus about 10 s, once, to create the '
            'venv), a rerun with no change 3 s per tree, a rerun after '
            'a change to one page about 6 s.')
    p.add_argument('--only', choices=('baseline', 'patched'),
                   help='build only one tree (compared with the last build '
                        'of the other, if any)')
    p.add_argument('--ref', metavar='REF',
                   help='build the patched tree from REF (a commit of the '
                        'checkout) instead of branch %s' % config.BRANCH)
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='sphinx-build --jobs (default: number of CPUs)')
    p.add_argument('--clean', action='store_true',
                   help='forget the previous build (doctrees, HTML, saved '
                        'warnings) and build from scratch')
    p.add_argument('--screenshot', action='append', metavar='PAGE[#ANCHOR]',
                   help='after the build, take a headless chromium '
                        'screenshot (1200x1600) of the built PAGE, e.g. '
                        'library/os.html#fd-inheritance, into '
                        '<workdir>/docs/screenshots/ (repeatable; installs '
                        'Debian\'s chromium with apt-get when missing)')
    p.add_argument('--screenshot-tree', choices=('baseline', 'patched'),
                   default='patched',
                   help='the tree the screenshots show (default: patched)')

    p = add('test', _cmd_test, 'run regrtest on the builds and compare',
            'Run the regrtest subset on the baseline build, the patched '
            'build and the patched build with -e; compare each patched mode '
            'with the baseline per test case (junit XML). Exit 1 only for a '
            'test that fails in a patched mode and did not fail on the '
            'baseline. Results and logs go to <workdir>/results/.')
    p.add_argument('--full', action='store_true',
                   help='also run %s' % ' '.join(config.TEST_FULL_EXTRA))
    p.add_argument('--refleaks', action='store_true',
                   help='run regrtest -R 3:3 with the --debug builds '
                        '(modes baseline-debug and patched-debug) on the '
                        'test modules the series adds or changes, or on '
                        '--tests; a reference, memory block or fd leak '
                        'fails the module')
    p.add_argument('--mode', action='append',
                   choices=config.TEST_MODES + config.REFLEAK_MODES,
                   help='run only this mode (repeatable); the comparison '
                        'uses the baseline results saved earlier')
    p.add_argument('--tests', metavar='NAMES',
                   help='comma- or space-separated test modules instead of '
                        'the subset')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='regrtest worker processes (default: number of CPUs)')

    p = add('check', _cmd_check, 'check the series (applies, builds, ...)',
            'Check that (a) the series applies in order onto v3.13.5, (b) '
            'each commit of v3.13.5..pep433 builds (in <workdir>/check), (c) '
            'clinic and global-objects output is up to date at the tip, (d) '
            'no whitespace errors and each patch has a body and a "Bug: '
            'bpo-17036" trailer, (e) the export round trip is clean. Exit 1 '
            'listing every problem.')
    p.add_argument('--no-build', action='store_true',
                   help='skip (b), the per-commit builds')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='parallel make jobs')

    p = add('all', _cmd_all,
            'fetch, apply, build and test (set-up + main job)',
            'Run fetch, apply, build and test in order; each step is quick '
            'when already done.')
    p.add_argument('--full', action='store_true',
                   help='run the full test list (see test --full)')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='parallel jobs for make and regrtest')

    p = add('news', _cmd_news, 'add a NEWS entry (blurb) to the checkout',
            'Write a Misc/NEWS.d/next entry for bpo-17036 with blurb, in the '
            'checkout (blurb only runs in a CPython tree; it is installed '
            'into <workdir>/venv from scripts/requirements-dev.txt). The '
            'entry is named <date>.bpo-17036.<nonce>.rst and staged: commit '
            'it with the topic it belongs to, then export.')
    p.add_argument('-s', '--section', default='Library',
                   help='blurb section, e.g. Library, "Core and Builtins", '
                        '"C API", Documentation, Tests (default: Library)')
    p.add_argument('text', nargs='+', help='the entry: one reST paragraph')

    p = add('bench', _cmd_bench,
            'measure what the flag costs: patched vs stock 3.13.5',
            'Compare the patched interpreter with the baseline (stock '
            '3.13.5), on this machine\'s kernel: (1) pyperf micro-benchmarks '
            'of each fd-creating call plus its close (os.open, open, '
            'os.pipe, os.dup, os.dup2, socket.socket, socketpair, accept on '
            'loopback, select.epoll, recvmsg with one SCM_RIGHTS fd) on the '
            'baseline, the patched build (default cloexec False), patched '
            '-e, and with cloexec=True/False, in interleaved rounds, as '
            'ratios to the baseline with their interquartile range; (2) the '
            'PEP\'s table: os.open with no flag, O_CLOEXEC, ioctl(FIOCLEX) '
            'or fcntl after; (3) system calls per call counted with strace; '
            '(4) user-space instructions per call counted with valgrind\'s '
            'callgrind; (5) pyperformance, baseline vs patched, with pyperf '
            'compare_to and the geometric mean. Writes the pyperf JSON files, '
            'report.md (the tables and "target missed:" lines) and '
            'ratios.png into the output folder. pyperf, pyperformance and '
            'matplotlib are installed into <workdir>/venv from '
            'scripts/requirements-dev.txt. A missed target is reported, '
            'not an error (exit 0). The full run takes about 22 minutes '
            'on 2 cores (--quick: 4); run it on a quiet machine '
            '(load average below ~0.5).')
    p.add_argument('--quick', action='store_true',
                   help='a few minutes: 3 rounds of 2 values, pyperformance '
                        'on %s, one pass each' % ','.join(
                            ('asyncio_tcp', 'nbody')))
    p.add_argument('--output', '-o', metavar='DIR',
                   help='output folder (default: '
                        '<workdir>/bench/<timestamp>)')
    p.add_argument('--no-pyperformance', action='store_true',
                   help='skip pyperformance (micro-benchmarks and system '
                        'calls only)')
    p.add_argument('--no-instructions', action='store_true',
                   help='skip the instruction counts (callgrind, about 2.5 '
                        'minutes)')
    p.add_argument('--benchmarks', '-b', metavar='LIST',
                   help='pyperformance benchmarks, comma-separated '
                        '(default: the list in the README)')
    p.add_argument('--seed', type=int, help=argparse.SUPPRESS)

    p = add('audit', _cmd_audit,
            'inventory and check the stdlib\'s fd-creating call sites',
            'List every call site of the patched tree\'s standard library '
            '(<checkout>/Lib, tests excluded) that creates an fd: (1) '
            'statically, by parsing each module with ast and resolving the '
            'names of the fd creators (open, os.open, os.pipe, os.dup, '
            'socket.socket, accept, socketpair, recvmsg, select.epoll, ... '
            'and the wrappers socket.create_connection/create_server and '
            'selectors.DefaultSelector), with what each call asks for '
            '(cloexec=, an explicit O_CLOEXEC/SOCK_CLOEXEC/EPOLL_CLOEXEC/'
            'MSG_CMSG_CLOEXEC bit, **kwargs, or nothing: it follows '
            'sys.getdefaultcloexec()); (2) dynamically, by running regrtest '
            'on patched/python with a tracer (probes/audit/sitecustomize.py) '
            'that records, per site, how the flag was resolved. A site is '
            '(file, function, callee). Each is checked against '
            'audit/stdlib-fd-sites.toml, which classifies it "default" (the '
            'caller\'s fd: follows the default), "own" (the module\'s own: '
            'must ask for the flag) or "not-fd" (a static false positive). '
            'Prints a table (also <output>/report.md and sites.json). '
            'Exit 1 for an unclassified site (a TOML stub to paste is '
            'printed), an own site that follows the default (statically or '
            'as traced), or an own call of a wrapper that does not always '
            'set the flag; stale entries are only warned about. '
            'The static part takes about 5 s; the dynamic workload (%d test '
            'modules, about 2,500 traced processes) about 5 minutes on 2 '
            'cores (measured: 285-299 s with -j2). Test failures under the '
            'tracer are logged, not counted.'
            % len(dict.fromkeys(config.TEST_SUBSET + config.AUDIT_WORKLOAD)))
    group = p.add_mutually_exclusive_group()
    group.add_argument('--static-only', action='store_true',
                       help='skip the dynamic part')
    group.add_argument('--reuse', action='store_true',
                       help='check against the dynamic records saved in '
                            '<output>/dynamic/ by an earlier run, without '
                            'running the workload')
    p.add_argument('--tests', metavar='NAMES',
                   help='comma- or space-separated test modules instead of '
                        'the workload (the regrtest subset plus '
                        'config.AUDIT_WORKLOAD)')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='regrtest worker processes (default: number of CPUs)')
    p.add_argument('--output', '-o', metavar='DIR',
                   help='output folder (default: <workdir>/results/audit)')
    p.add_argument('--classification', metavar='FILE',
                   help='the classification file (default: '
                        '<repo>/audit/stdlib-fd-sites.toml)')

    p = add('selftest', _cmd_selftest, 'run the tooling\'s own tests',
            'Create <workdir>/venv if needed, install '
            'scripts/requirements-test.txt into it, and run pytest on '
            'scripts/tests (with the slow end-to-end test unless --fast). '
            'The exit status is pytest\'s.')
    p.add_argument('--fast', action='store_true',
                   help='skip the slow end-to-end test')
    p.add_argument('pytest_args', nargs='*', metavar='PYTEST_ARG',
                   help='extra pytest arguments (after --)')
    return parser


def setup_logging(verbose):
    """Log to stderr: INFO (or DEBUG with -v)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('pep433: %(message)s'))
    root = logging.getLogger('pep433tool')
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = True   # no root handler outside tests


def main(argv=None):
    """Entry point; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    setup_logging(args.verbose)
    paths = Paths(workdir=args.workdir, repo=args.repo)
    try:
        return args.func(args, paths) or 0
    except ToolError as exc:
        log.error('%s: %s', args.command, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error('interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
