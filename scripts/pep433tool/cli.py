"""Command line of the PEP 433 patch-series tooling (``scripts/pep433``)."""

import argparse
import logging
import sys

from . import config
from .errors import EXIT_USAGE, PreconditionError, ToolError
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
  PEP433_WORKDIR  work directory (default: <repo>/build); each base has its
                  own <workdir>/<version>/
  PEP433_REPO     project repository (default: the one holding this script)
  PEP433_BASES    the bases table (default: scripts/pep433tool/bases.toml)

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
    return run_export(paths, check=args.check)


def _cmd_review(args, paths):
    from .review import run_review
    return run_review(paths, args.dir)


def _cmd_docs(args, paths):
    from .docs import run_docs
    return run_docs(paths, only=args.only, ref=args.ref, jobs=args.jobs,
                    clean=args.clean, screenshots=args.screenshot or (),
                    tree_for_screenshots=args.screenshot_tree)


def _cmd_build(args, paths):
    from .build import run_build
    return run_build(paths, only=args.only, jobs=args.jobs,
                     configure_args=args.configure_args,
                     variant=args.variant)


def _cmd_test(args, paths):
    from .regrtest import run_asan, run_tests, run_tsan
    if args.tsan:
        return run_tsan(paths, tests=args.tests, jobs=args.jobs)
    if args.asan:
        return run_asan(paths, tests=args.tests, jobs=args.jobs)
    return run_tests(paths, full=args.full, modes=args.mode,
                     tests=args.tests, jobs=args.jobs,
                     refleaks=args.refleaks,
                     free_threading=args.free_threading)


def _cmd_rebase(args, paths):
    from .rebase import run_rebase
    return run_rebase(paths, source=args.source, action=args.action)


def _cmd_rebase_regen_commit(args, paths):
    from .rebase import run_regen_commit
    return run_regen_commit(paths)


def _cmd_check(args, paths):
    from .check import run_check
    return run_check(paths, build=not args.no_build, jobs=args.jobs,
                     kqueue=not args.no_kqueue,
                     windows=not args.no_windows, ci=not args.no_ci)


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


#: The options of a measuring ``bench``, which ``bench combine`` refuses.
BENCH_MEASURE = (('--quick', 'quick'), ('--benchmarks', 'benchmarks'),
                 ('--no-pyperformance', 'no_pyperformance'),
                 ('--no-instructions', 'no_instructions'),
                 ('--suite', 'suite'), ('--passes', 'passes'),
                 ('--optimized', 'optimized'))


def _cmd_bench(args, paths):
    from .errors import UsageError
    from .bench import run_bench
    benchmarks = None
    if args.benchmarks:
        benchmarks = [b for b in args.benchmarks.replace(',', ' ').split()
                      if b]
    extra = {}      # only when given: the defaults stay run_bench()'s
    if args.suite:
        given = [opt for opt, on in (
            ('--quick', args.quick), ('--benchmarks', args.benchmarks),
            ('--no-pyperformance', args.no_pyperformance)) if on]
        if given:
            raise UsageError('--suite runs pyperformance alone, on its '
                             'suite: ' + ', '.join(given) + ' cannot go '
                             'with it')
        names = args.suite.replace(',', ' ').split()
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
    return run_bench(paths, quick=args.quick, output=args.output,
                     pyperformance=not args.no_pyperformance,
                     benchmarks=benchmarks, seed=args.seed,
                     instructions=not args.no_instructions, **extra)


def _cmd_bench_combine(args, paths):
    from .errors import UsageError
    from .bench import run_combine
    given = [opt for opt, dest in BENCH_MEASURE
             if getattr(args, dest) not in (None, False)]
    if given:
        raise UsageError('bench combine pools measured folders and '
                         'measures nothing: ' + ', '.join(given)
                         + ' cannot go with it')
    return run_combine(paths, args.dirs, output=args.output)


def _cmd_audit(args, paths):
    from .audit import run_audit
    return run_audit(paths, static_only=args.static_only, reuse=args.reuse,
                     tests=args.tests, jobs=args.jobs, output=args.output,
                     classification=args.classification)


def _impact_packages(args):
    if not args.packages:
        return None
    return [p for p in args.packages.replace(',', ' ').split() if p]


def _cmd_impact(args, paths):
    from .impact import run_impact
    return run_impact(paths, quick=args.quick,
                      packages=_impact_packages(args), output=args.output,
                      fdpass=not args.no_fdpass)


def _cmd_impact_render(args, paths):
    from .impact import run_render
    return run_render(paths, args.dir, quick=args.quick,
                      packages=_impact_packages(args))


def _cmd_selftest(args, paths):
    from .selftest import run_selftest
    return run_selftest(paths, fast=args.fast, pytest_args=args.pytest_args)


def _bases_help():
    from . import bases
    try:
        return ', '.join(b.version for b in bases.load())
    except ToolError as exc:
        return f'unreadable ({exc.message})'


def build_parser():
    """The argparse parser of ``scripts/pep433``."""
    parser = argparse.ArgumentParser(
        prog='pep433',
        description='Fetch a CPython release (a "base"), apply its PEP 433 '
                    'patch series, build baseline and patched interpreters, '
                    'run regrtest on both, measure them, and export the '
                    'series back; port the series to a new release with '
                    'rebase. The bases: %s (scripts/pep433tool/bases.toml).'
                    % _bases_help(),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='log every command run, and debug details')
    parser.add_argument('--workdir', metavar='DIR',
                        help='work directory: cache/, venv/ and one '
                             '<version>/ per base (cpython/, baseline/, '
                             'patched/, results/ ...); default '
                             '$PEP433_WORKDIR or <repo>/build')
    parser.add_argument('--repo', metavar='DIR', help=argparse.SUPPRESS)
    parser.add_argument('--base', metavar='VERSION',
                        help='the CPython release to work on (default: the '
                             'newest in the bases table); its files are in '
                             '<workdir>/VERSION/ and patches/VERSION/')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def add(name, func, help, description):
        p = sub.add_parser(
            name, help=help, description=description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    p = add('fetch', _cmd_fetch, 'get the pristine source of the base as a '
            'git repo',
            'Create <workdir>/<version>/cpython: a git repository whose '
            'first commit (tagged v<version>) is the pristine release '
            'tarball, and the worktree baseline-src/ at that tag. The '
            'tarball comes from --tarball, else the cache, else the '
            'python.org release URL, else Debian\'s source package (looked '
            'up in every suite the bases table names, with a private apt '
            'configuration that reuses this machine\'s Debian mirror); it '
            'must have the sha256 the table pins. With --checkout, your own '
            'CPython git checkout (with the tag v<version>) is used instead. '
            'A second run is a no-op.')
    group = p.add_mutually_exclusive_group()
    group.add_argument('--tarball', metavar='PATH',
                       help='Python-<version>.tar.xz (checked by sha256)')
    group.add_argument('--checkout', metavar='PATH',
                       help='your own CPython git checkout with the tag '
                            'v<version>')

    add('apply', _cmd_apply, 'build branch pep433 from patches/<version>/',
        'Create branch pep433 at v<version> in the checkout and apply the '
        'patches listed in patches/<version>/series with plain git am (no '
        'fuzz) and nothing else, one commit per patch, '
        'with reproducible hashes. A no-op if the branch already matches '
        'patches/. Refuses a dirty tree, a git am in progress and a branch '
        'with commits that were neither applied nor exported (export them '
        'first). A previous tip it replaces is kept as '
        'refs/pep433/backup/<n>.')

    p = add('export', _cmd_export,
            'write patches/<version>/ back from branch pep433',
            'Regenerate patches/<version>/NNNN-*.patch, its series and the '
            'new files (Lib/, Modules/, Doc/, Misc/, shared by every base) '
            'from the commits v<version>..pep433, with fixed format-patch '
            'flags: re-exporting an unchanged branch changes no byte. Prints '
            'the range-diff against the previous series '
            '(refs/pep433/applied) and updates that ref; after a rebase, '
            'also the range-diff against the series it was ported from. '
            'Refuses to write a second version of a new file that another '
            'base\'s series uses.')
    p.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 if patches/ or the new-file '
                        'tree would change')

    p = add('review', _cmd_review,
            'write the review bundle a bpo-17036 reviewer reads',
            'Write DIR/: a cover letter (what the series changes against '
            'PEP 446 and why, the default flip first, one line per patch, '
            'the evidence of the reports committed in docs/, what was not '
            'tested, how to apply) and the patches as [PATCH vN n/M], '
            'pep433-combined.diff, and the rendered docs pages the series '
            'changes with their text diffs when scripts/pep433 docs has '
            'built them. A non-empty DIR without the marker file '
            'review.json is refused; in a DIR with it only the files it '
            'lists are replaced, and the bundle becomes the next version '
            '(v2, ...) with the range-diff against the previous one.')
    p.add_argument('dir', metavar='DIR', help='the bundle\'s directory')

    p = add('build', _cmd_build, 'build baseline and patched interpreters',
            'Check the Debian build dependencies (installing them when run '
            'as root), then build out of tree: <workdir>/baseline from '
            'baseline-src/ (the base tag) and <workdir>/patched from cpython/ '
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
    group = p.add_mutually_exclusive_group()
    group.add_argument('--debug', dest='variant', action='store_const',
                       const='debug',
                       help='build <workdir>/baseline-debug and '
                            'patched-debug instead, with --with-pydebug '
                            '(for test --refleaks)')
    group.add_argument('--free-threading', dest='variant',
                       action='store_const', const='ft',
                       help='build baseline-ft and patched-ft instead, '
                            'with --disable-gil (for test --free-threading)')
    group.add_argument('--tsan', dest='variant', action='store_const',
                       const='tsan',
                       help='build baseline-tsan and patched-tsan instead: '
                            'free-threaded with --with-thread-sanitizer '
                            '(for test --tsan)')
    group.add_argument('--asan', dest='variant', action='store_const',
                       const='asan',
                       help='build baseline-asan and patched-asan instead, '
                            'with %s, and ASAN_OPTIONS=\'%s\' while '
                            'building (for test --asan)'
                            % (' '.join(config.VARIANTS['asan']),
                               config.VARIANT_ENV['asan']['ASAN_OPTIONS']))
    group.add_argument('--optimized', dest='variant', action='store_const',
                       const='optimized',
                       help='build baseline-optimized and patched-optimized '
                            'instead, with %s (PGO + LTO: make runs the '
                            'base\'s profile-opt, whose training run, '
                            'regrtest --pgo, the progress lines follow; '
                            'for bench --optimized; how long: '
                            'docs/performance.md)'
                            % ' '.join(config.VARIANTS['optimized']))

    p = add('docs', _cmd_docs,
            'build the HTML docs of both trees, compare the warnings',
            'Build the HTML documentation of the baseline (v<version>) and of '
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
            'docs/warnings-compare.txt. How long it takes: docs/tool.md.')
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
    group = p.add_mutually_exclusive_group()
    group.add_argument('--refleaks', action='store_true',
                       help='run regrtest -R 3:3 with the --debug builds '
                            '(modes baseline-debug and patched-debug) on the '
                            'test modules the series adds or changes, or on '
                            '--tests; a reference, memory block or fd leak '
                            'fails the module')
    group.add_argument('--free-threading', action='store_true',
                       help='run the tests on the free-threaded builds '
                            '(build --free-threading): modes %s, compared '
                            'with baseline-ft' % ', '.join(config.FT_MODES))
    group.add_argument('--tsan', action='store_true',
                       help='run the test modules the series adds (or '
                            '--tests) on the ThreadSanitizer build (build '
                            '--tsan), modes %s, with CPython\'s suppression '
                            'file; fail on a failed test or on a report with '
                            'a frame on a line the series changes'
                            % ', '.join(config.TSAN_MODES))
    group.add_argument('--asan', action='store_true',
                       help='run the tests of test (the subset and the '
                            'test modules the series adds, or --tests) on '
                            'the AddressSanitizer + UBSan build (build '
                            '--asan), modes %s, every process logging its '
                            'reports to <workdir>/results/asan/<mode>/ '
                            '(ASan stops a process at its first error; '
                            'UBSan goes on; gcc\'s UBSan logs only the '
                            'summary line of a report, with its place, and '
                            'prints the rest on stderr); fail on a crashed '
                            'test module, on a failed test that does not '
                            'fail in the same mode without the sanitizers '
                            '(results saved by test), or on a report with a '
                            'frame on a line the series changes; the other '
                            'reports are listed'
                            % ', '.join(config.ASAN_MODES))
    p.add_argument('--mode', action='append',
                   choices=(config.TEST_MODES + config.REFLEAK_MODES
                            + config.FT_MODES),
                   help='run only this mode (repeatable); the comparison '
                        'uses the baseline results saved earlier')
    p.add_argument('--tests', metavar='NAMES',
                   help='comma- or space-separated test modules instead of '
                        'the subset')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='regrtest worker processes (default: number of CPUs)')

    p = add('check', _cmd_check, 'check the series (applies, builds, ...)',
            'Check that (a) the series applies in order onto the base tag, '
            '(b) each commit of v<version>..pep433 builds (in '
            '<workdir>/check), (c) '
            'clinic and global-objects output is up to date at the tip, (d) '
            'no whitespace errors and each patch has a body and a "Bug: '
            'bpo-17036" trailer, (e) the export round trip is clean, (f) '
            'the kqueue path of select (built only on BSD and macOS) '
            'compiles at each commit: Modules/selectmodule.c of each commit, '
            'and of the base for comparison, is compiled with HAVE_KQUEUE '
            'against libkqueue\'s sys/event.h (Debian\'s libkqueue-dev from '
            'the suite experimental, downloaded once into '
            '<workdir>/kqueue/ with a private apt configuration; nothing is '
            'installed), with the flags of the patched build (which must be '
            'configured) and -Wall, in a few seconds per commit; a compile '
            'error or a warning the base\'s file does not have is a '
            'problem; (g) the Windows code compiles at each commit: each C '
            'file the series changes that PCbuild compiles is compiled '
            'with mingw-w64 (x86_64-w64-mingw32-gcc -fsyntax-only, Debian\'s '
            'gcc-mingw-w64-x86-64, installed when missing and root), the '
            'tree\'s PC/pyconfig.h.in and the macros of its PCbuild project, '
            'at the base and at each commit; a diagnostic the base\'s file '
            'does not have is a problem, and the series\' changed lines '
            'the Windows compile does not see are listed in '
            '<workdir>/windows-coverage.txt; (h) the checks CPython\'s CI '
            'runs on a pull request, at each commit of (b), whose builds are '
            'then shared ones with debug information: abidiff against the '
            'base\'s Doc/data/python3.13.abi (a change of a public type the '
            'base tag\'s own report does not show is a problem; internal '
            'structures are listed), and check-c-globals (abigail-tools and '
            'libgdbm-compat-dev installed when missing and root). Exit 1 '
            'listing every problem.')
    p.add_argument('--no-build', action='store_true',
                   help='skip (b), the per-commit builds ((f) still runs)')
    p.add_argument('--no-kqueue', action='store_true',
                   help='skip (f), the kqueue compile of each commit')
    p.add_argument('--no-windows', action='store_true',
                   help='skip (g), the Windows (mingw-w64) compile of each '
                   'commit')
    p.add_argument('--no-ci', action='store_true',
                   help='skip (h), the checks of CPython\'s CI at each '
                        'commit (ABI dump, check-c-globals); the builds of '
                        '(b) are then not shared ones')
    p.add_argument('--jobs', '-j', type=int, metavar='N',
                   help='parallel make jobs')

    p = add('rebase', _cmd_rebase,
            'port the series to this base from another one',
            'Start (or redo) the series of the base (--base VERSION) from '
            'the series of another one, the way gbp pq rebase does: the '
            'commits of the --from base\'s branch pep433 are replayed onto '
            'v<version> with git rebase --onto, in a worktree of the '
            'checkout made for the port (<workdir>/rebase-src, branch '
            'pep433-port), so that your work tree and branch pep433 are '
            'untouched until it is complete. Generated files (clinic output, '
            'global objects) are regenerated after each commit, never '
            'merged. At a conflict the port stops and names the files: '
            'resolve and git add them there, then rebase --continue, or '
            'rebase --abort to leave everything as it was. When complete, '
            'branch pep433 is the port (its old tip kept in '
            'refs/pep433/backup/<n>); then build, test, export (which shows '
            'the range-diff between the two bases\' series) and check. The '
            'checkout of the base is fetched first if needed.')
    p.add_argument('--from', dest='source', metavar='VERSION',
                   help='the base to port from (default: the newest older '
                        'base that has a series)')
    group = p.add_mutually_exclusive_group()
    for action, text in (('continue', 'go on after resolving a conflict'),
                         ('abort', 'abandon the port in progress'),
                         ('status', 'show the state of the port')):
        group.add_argument(f'--{action}', dest='action', action='store_const',
                           const=action, help=text)
    # what git rebase --exec runs after each replayed commit: plumbing,
    # hidden from --help
    hidden = p.add_subparsers(dest='rebase_step', help=argparse.SUPPRESS)
    hidden.add_parser('regen-commit').set_defaults(
        func=_cmd_rebase_regen_commit)

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
            'measure what the flag costs: patched vs stock CPython',
            'Compare the patched interpreter with the baseline (stock '
            'CPython, the base), on this machine\'s kernel: (1) pyperf '
            'micro-benchmarks '
            'of each fd-creating call plus its close (os.open, open, '
            'os.pipe, os.dup, os.dup2, socket.socket, socketpair, accept on '
            'loopback, select.epoll, recvmsg with one SCM_RIGHTS fd) on the '
            'baseline, the patched build (default cloexec False), patched '
            '-e, and with cloexec=True/False, in interleaved rounds, as '
            'ratios to the baseline with their interquartile range; (2) the '
            'PEP\'s table: os.open with no flag, O_CLOEXEC, ioctl(FIOCLEX) '
            'or fcntl after; (3) system calls per call counted with strace; '
            '(4) user-space instructions per call counted with valgrind\'s '
            'callgrind (target: at most +1% over stock, by default and '
            'under -e), and per function where they differ '
            '(callgrind_annotate); (5) pyperformance, baseline vs patched, '
            'with pyperf compare_to and the geometric mean. Writes the '
            'pyperf JSON files, report.md (the tables and "target missed:" '
            'lines) and '
            'ratios.png into the output folder. pyperf, pyperformance and '
            'matplotlib are installed into <workdir>/venv from '
            'scripts/requirements-dev.txt. A missed target is reported, '
            'not an error (exit 0). Run it on a quiet machine (how long: '
            'docs/performance.md). --suite runs pyperformance alone, '
            'on its whole default suite; bench combine pools the runs of '
            'several output folders into one report; --optimized measures '
            'the builds of build --optimized (PGO + LTO).')
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
                   help='skip the instruction counts (callgrind)')
    p.add_argument('--benchmarks', '-b', metavar='LIST',
                   help='pyperformance benchmarks, comma-separated '
                        '(default: the list in docs/performance.md)')
    p.add_argument('--suite', metavar='all|LIST',
                   help='pyperformance alone (no micro-benchmarks, system '
                        'calls or instructions), on its whole default suite '
                        '("all": the benchmarks of `pyperformance list`) or '
                        'on LIST '
                        '(comma-separated): baseline vs patched in '
                        'interleaved --fast passes with --same-loops, '
                        'compare_to, the geometric mean and the spread of '
                        'the pairs of passes. A benchmark that cannot run '
                        'here is listed in the report with pyperformance\'s '
                        'reason; each one outside 1.00 +- 0.02 runs once more '
                        'under strace, which counts the fds its loop '
                        'creates. The first run installs the benchmarks\' '
                        'requirements into <workdir>/bench/venv; how long a '
                        'pass takes: docs/performance.md')
    p.add_argument('--passes', type=int, metavar='N',
                   help='pyperformance passes of each build, in ABBA order '
                        '(default: 4, ABBAABBA; 1 with --quick; 2, ABBA, '
                        'with --suite)')
    p.add_argument('--optimized', action='store_true',
                   help='measure baseline-optimized and patched-optimized '
                        '(build --optimized: PGO + LTO, as distributions '
                        'build CPython) instead of the plain builds; with '
                        '--suite too. results.json and the report say which '
                        'builds, and bench combine pools only runs of the '
                        'same')
    p.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    actions = p.add_subparsers(dest='bench_action', metavar='combine')
    c = actions.add_parser(
        'combine', help='measure nothing: pool the runs of bench output '
                        'folders into one report',
        description='Measure nothing: pool the runs of these bench output '
                    'folders into one report.md: the micro-benchmarks\' '
                    'rounds (per call, the ratio of each folder and that of '
                    'all their rounds pooled, with its interquartile range) '
                    'and the pyperformance passes. A DIR may be the .tar.xz '
                    'of a folder (results.json, rounds/, pyperformance/), '
                    'as docs/bench-runs/ keeps them. Refuses (exit 3) '
                    'folders of other builds (results.json records '
                    'sys.version and the sha256 of each python) or of '
                    'another plan.')
    c.set_defaults(func=_cmd_bench_combine)
    c.add_argument('dirs', nargs='+', metavar='DIR',
                   help='a bench output folder, or the .tar.xz of one')
    c.add_argument('--output', '-o', metavar='DIR', default=argparse.SUPPRESS,
                   help='output folder (default: '
                        '<workdir>/bench/combined-<timestamp>)')

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
            'The dynamic workload runs %d test modules under the tracer; '
            'test failures there are logged, not counted (how long it '
            'takes: docs/audit.md).'
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

    p = add('impact', _cmd_impact,
            'what the PEP 433 default breaks and fixes in real packages',
            'Run the test suites of packages whose behaviour depends on fd '
            'inheritance (impact/packages.toml: gunicorn, sh, execnet, '
            'pytest-xdist, trio, uvicorn, gevent, compat; sha256-checked '
            'files, each deselected test with its reason) in three modes: '
            'baseline (stock CPython), patched (the PEP 433 default: '
            'inheritable) and patched-e (patched python -e, with '
            'PYTHONCLOEXEC=1 so that the Python processes the tests start '
            'get it too). One venv per build and package, made by the '
            'build\'s own python -m venv (<workdir>/impact/venvs/), with '
            'the pinned wheels only (pip --require-hashes); pip cache and '
            'test sources shared in <root>/impact-cache/. Each patched mode '
            'is compared with the baseline per test case (junit XML); a '
            'difference is run again (flaky ones are reported as flaky) and '
            'explained from the data file (which fd, created where, '
            'inherited by whom), with the census of the processes the test '
            'started. Then the fd-passing table: openssl -pass fd:N and '
            'valgrind --log-fd=N with an os.pipe() fd, started by '
            'subprocess (close_fds True/False, pass_fds), posix_spawn and '
            'fork+execv, in the three modes (installs openssl and valgrind '
            'with apt-get when missing). Writes report.md, the junit XML, '
            'logs and census files into the output folder. Exit 1 when a '
            'confirmed difference has no explanation in the data file '
            '(how long it takes: docs/impact.md).')
    group = p.add_mutually_exclusive_group()
    group.add_argument('--quick', action='store_true',
                       help='only the quick packages of the data file')
    group.add_argument('--packages', metavar='LIST',
                       help='comma-separated package names of the data file')
    p.add_argument('--output', '-o', metavar='DIR',
                   help='output folder (default: '
                        '<workdir>/impact/<timestamp>)')
    p.add_argument('--no-fdpass', action='store_true',
                   help='skip the fd-passing table')
    actions = p.add_subparsers(dest='impact_action', metavar='render')
    r = actions.add_parser(
        'render', help='run nothing: write DIR/report.md again',
        description='Run nothing: write DIR/report.md again from the '
                    'results an earlier run saved in DIR and the data file '
                    'as it is now (after adding explanations).')
    r.set_defaults(func=_cmd_impact_render)
    r.add_argument('dir', metavar='DIR', help='an impact output folder')
    group = r.add_mutually_exclusive_group()
    group.add_argument('--quick', action='store_true',
                       default=argparse.SUPPRESS,
                       help='only the quick packages of the data file')
    group.add_argument('--packages', metavar='LIST',
                       default=argparse.SUPPRESS,
                       help='comma-separated package names of the data file')

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


def require_directory(root):
    """Refuse (exit 3) a work directory that is, or is under, a file."""
    for path in (root, *root.parents):
        if path.exists():
            if not path.is_dir():
                raise PreconditionError(
                    f'the work directory {root} cannot be used: {path} is '
                    'not a directory',
                    hint='name a directory with --workdir DIR (or '
                         'PEP433_WORKDIR)')
            return


def main(argv=None):
    """Entry point; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    setup_logging(args.verbose)
    paths = None
    try:
        paths = Paths(workdir=args.workdir, repo=args.repo, base=args.base)
        require_directory(paths.root)
        return args.func(args, paths) or 0
    except ToolError as exc:
        if paths is not None:
            exc.for_base(paths.base.version)
        log.error('%s: %s', args.command, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error('interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
