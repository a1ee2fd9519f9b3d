"""``audit``: every fd-creating call site of the patched stdlib, measured.

Two inventories of the call sites that create an fd in the patched tree's
``Lib/`` (tests excluded) are merged by key (file, function, callee):

* the static one (``auditstatic``): every call of an fd creator found by
  ``ast``, with what it asks for (``cloexec=``, a flag bit, nothing);
* the dynamic one: regrtest on ``patched/python`` with the tracer
  ``probes/audit/sitecustomize.py``, which records at each stdlib site how
  the flag was resolved (from the default, or ``cloexec=True``/``False``).

Each key is checked against ``audit/stdlib-fd-sites.toml``, which says
whether the fd follows the default (``default``: the caller's fd), is the
module's own (``own``: it must ask for the flag) or is no fd at all
(``not-fd``: a static false positive), and whether the site passes the flag
to an object the caller can supply or replace (``replaceable``), with the
test of the tree's ``Lib/test`` that covers that case (``compat_test``).

The parts: audit_classification reads the classification file, auditstatic
finds the static sites (run by a build's interpreter, which knows the
tree's syntax), audit_dynamic runs the workload under the tracer,
audit_check merges the two by key and judges each against its entry, and
audit_report writes the report.  This module runs them in turn and is the
command line.
"""

import json
import logging
import sys
import time
from pathlib import Path

from . import audit_compat, auditstatic, gitutil, options
from .audit_check import check
from .audit_classification import (CLASSIFICATION, compat_tests,
                                   load_classification)
from .audit_creators import Site
from .audit_dynamic import load_dynamic, run_workload, workload
from .audit_report import format_report, sites_json
from .errors import PreconditionError, ProblemFound, UsageError
from .util import cpu_count, run

log = logging.getLogger(__name__)


# --- static part -------------------------------------------------------------

def parser_python(paths):
    """An interpreter that parses the tree's syntax: a build's (the tree's
    own version), else the one running the tool."""
    for build in (paths.baseline, paths.patched):
        python = build / 'python'
        if python.exists():
            return python
    return None


def static_sites(paths, lib, tests=()):
    """The static inventory of *lib*: ([Site], {test: why it does not
    exist, or ''}) for the compatibility *tests* named."""
    python = parser_python(paths)
    if python is None:
        sites, errors = auditstatic.scan_library(lib)
        problems = audit_compat.compat_test_problems(lib, tests)
    else:
        proc = run([python, '-I', Path(auditstatic.__file__), lib, *tests],
                   quiet=True)
        data = json.loads(proc.stdout)
        sites = [Site(**item) for item in data['sites']]
        errors = data['errors']
        problems = data['tests']
    if errors:
        who = python or f'Python {sys.version.split()[0]}'
        raise PreconditionError(
            f'{who} cannot parse {len(errors)} files of {lib}:\n  '
            + '\n  '.join(errors[:20]),
            hint='scripts/pep433 build (audit parses the sources with '
                 'build/baseline/python, which knows their syntax)')
    return sites, problems


# --- the command -------------------------------------------------------------

def _tree_id(repo):
    """The commit the checkout is at (read-only: the tree may be in use)."""
    if not (Path(repo) / '.git').exists():
        return 'a plain tree'
    commit = gitutil.out(repo, 'rev-parse', '--short', 'HEAD', check=False)
    return (f'commit {commit} (and its working tree as it is)' if commit
            else 'an unknown commit')


def run_audit(paths, static_only=False, reuse=False, tests=None, jobs=None,
              output=None, classification=None):
    """Implement the ``audit`` subcommand; return the exit code."""
    if static_only and reuse:
        raise UsageError('--static-only and --reuse exclude each other')
    if tests and (static_only or reuse):
        raise UsageError('--tests needs the dynamic part (not with '
                         '--static-only or --reuse)')
    lib = paths.cpython / 'Lib'
    if not lib.is_dir():
        raise PreconditionError(
            f'no CPython checkout at {paths.cpython} (no Lib/)',
            hint='scripts/pep433 fetch && scripts/pep433 apply')
    classification = Path(classification or paths.repo / CLASSIFICATION)
    entries = load_classification(classification)
    output = Path(output or paths.results / 'audit')
    dyndir = output / 'dynamic'
    if not static_only and not reuse and not (paths.patched /
                                              'python').exists():
        raise PreconditionError(f'{paths.patched / "python"} does not '
                                'exist', hint='scripts/pep433 build')
    if reuse and not any(dyndir.glob('*.jsonl')):
        raise PreconditionError(
            f'no saved dynamic records in {dyndir}',
            hint='scripts/pep433 audit (without --reuse) runs the workload')

    start = time.monotonic()
    sites, test_problems = static_sites(paths, lib, compat_tests(entries))
    log.info('audit: %d static call sites (%d keys) in %s, %.1f s',
             len(sites), len({s.key for s in sites}), lib,
             time.monotonic() - start)
    info = {'tree': f'{paths.cpython} at {_tree_id(paths.cpython)}',
            'classification': str(classification), 'dynamic': None}
    dynamic = None
    if not static_only:
        if reuse:
            try:
                run_info = json.loads((dyndir / 'run.json').read_text())
            except (OSError, ValueError):
                run_info = {}
            run_info['reused'] = True
        else:
            run_info = run_workload(paths, workload(tests),
                                    jobs or cpu_count(), dyndir)
        dynamic, other, processes = load_dynamic(dyndir)
        run_info.update(processes=processes, other=other)
        info['dynamic'] = run_info
        log.info('audit: %d stdlib sites seen by the tracer in %d processes',
                 len(dynamic), processes)
    rows, stale = check(sites, dynamic, entries, test_problems)
    report = format_report(rows, stale, info)
    output.mkdir(parents=True, exist_ok=True)
    (output / 'report.md').write_text(report)
    (output / 'sites.json').write_text(
        json.dumps(sites_json(rows, stale, info), indent=1) + '\n')
    print(report, end='')
    for entry in stale:
        log.warning('audit: stale classification entry (matches no site): '
                    '%s %s %s', entry.file, entry.function, entry.call)
    problems = [row for row in rows if row.problems]
    if problems:
        raise ProblemFound(
            f'{len(problems)} sites with a problem (report: '
            f'{output / "report.md"}):\n  '
            + '\n  '.join(f'{row.key[0]} {row.key[1]} {row.key[2]}: '
                          + '; '.join(row.problems) for row in problems))
    log.info('audit: %d sites, all classified and consistent (report: %s)',
             len(rows), output / 'report.md')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = "inventory and check the stdlib's fd-creating call sites"
DOCS = 'docs/audit.md'


def add_arguments(parser):
    """``audit``'s options."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--static-only', action='store_true',
                       help='skip the dynamic part')
    group.add_argument('--reuse', action='store_true',
                       help="reuse the dynamic records of an earlier run")
    options.add_tests(parser, 'the workload')
    options.add_jobs(parser, 'regrtest worker processes')
    options.add_output(parser, '<workdir>/results/audit')
    parser.add_argument('--classification', metavar='FILE',
                        help=f'default: <repo>/{CLASSIFICATION}')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_audit(paths, static_only=args.static_only, reuse=args.reuse,
                     tests=args.tests, jobs=args.jobs, output=args.output,
                     classification=args.classification)
