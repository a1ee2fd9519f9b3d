"""Command line of the PEP 433 patch-series tooling (``scripts/pep433``)."""

import argparse
import logging
import sys

from . import (apply, audit, bench, build, check, docs, export, fetch,
               impact, news, options, rebase, review, selftest, testcmd)
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


#: The commands in the order --help lists them; each module declares its
#: own arguments (add_arguments) and its handler; None is ``all``.
COMMANDS = (('fetch', fetch), ('apply', apply), ('export', export),
            ('review', review), ('build', build), ('docs', docs),
            ('test', testcmd), ('check', check), ('rebase', rebase),
            ('all', None), ('news', news), ('bench', bench),
            ('audit', audit), ('impact', impact), ('selftest', selftest))

#: ``all``, the one command made of others' steps.
ALL_SUMMARY = 'fetch, apply, build and test (set-up + main job)'


def _all(args, paths):
    fetch.run_fetch(paths)
    apply.run_apply(paths)
    build.run_build(paths, jobs=args.jobs)
    return testcmd.run_tests(paths, full=args.full, jobs=args.jobs)


def _add_all(parser):
    """``all``'s options."""
    parser.add_argument('--full', action='store_true',
                        help='run the full test list (see test --full)')
    options.add_jobs(parser, 'parallel jobs for make and regrtest')
    parser.set_defaults(func=_all)


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
                    'rebase. The bases: %s (scripts/pep433tool/bases.toml). '
                    'Every command and option: docs/tool.md.'
                    % _bases_help(),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='log every command run, and debug details')
    parser.add_argument('--workdir', metavar='DIR',
                        help='work directory (default: $PEP433_WORKDIR or '
                             '<repo>/build)')
    parser.add_argument('--repo', metavar='DIR', help=argparse.SUPPRESS)
    parser.add_argument('--base', metavar='VERSION',
                        help='the CPython release to work on (default: the '
                             'newest)')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name, module in COMMANDS:
        if module is None:
            summary, page, add_arguments = ALL_SUMMARY, None, _add_all
        else:
            summary, add_arguments = module.SUMMARY, module.add_arguments
            page = getattr(module, 'DOCS', None)
        description = (f'{summary[0].upper()}{summary[1:]}. The whole '
                       'reference: docs/tool.md'
                       + (f'; more: {page}.' if page else '.'))
        add_arguments(sub.add_parser(
            name, help=summary, description=description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter))
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
