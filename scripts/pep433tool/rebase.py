"""``rebase``: port the series from one base to another, ``gbp pq`` style.

``scripts/pep433 --base NEW rebase --from OLD`` replays the commits of OLD's
branch pep433 onto NEW's tag with ``git rebase --onto``, in a worktree of
NEW's checkout that the tool creates for the port (``<workdir>/rebase-src``,
on a branch of its own, ``pep433-port``), so that neither the user's work
tree nor branch pep433 is touched until the port is complete.  Generated
files (Argument Clinic output, the global objects) are never merged: after
each commit is replayed they are regenerated from its sources, and a
conflict in them alone is resolved by regenerating them.

The rebase stops at the first conflict in a source file, names the files
and what to run next: resolve them in the worktree, ``git add`` them, then
``rebase --continue``; or ``rebase --abort``, which leaves everything as it
was before the port started.  Like cherry_picker, the state of the port is
explicit (``state.json`` of NEW's work directory, key ``rebase``) and
``rebase --status`` shows it.

When the port is complete, branch pep433 of NEW's checkout points at it
(its previous tip, if any, kept as ``refs/pep433/backup/<n>``); ``export``
then writes ``patches/NEW/`` and prints ``git range-diff`` between OLD's
series and NEW's: what the port changed, patch by patch.
"""

import argparse
import fnmatch
import logging
import re
import sys
from pathlib import Path

from . import bases, checkout, config, gitutil, patchset
from .errors import PreconditionError, ProblemFound, UsageError
from .util import run

log = logging.getLogger(__name__)

#: The branch the port is made on, in the rebase worktree.
PORT_BRANCH = 'pep433-port'
#: Refs of NEW's repository that hold OLD's series and base while porting.
SOURCE_REF = 'refs/pep433/port/source'
SOURCE_BASE_REF = 'refs/pep433/port/source-base'

#: Workflow states kept in state.json (key "rebase"), as cherry_picker does.
IN_PROGRESS = 'in-progress'     # git rebase running or stopped at a conflict
DONE = 'done'                   # branch pep433 is the port; export is next

#: Files CPython generates from others: regenerated, never merged.
GENERATED = ('*/clinic/*.c.h', 'Include/internal/pycore_global_strings.h',
             'Include/internal/pycore_runtime_init_generated.h',
             'Include/internal/pycore_global_objects_fini_generated.h',
             'Include/internal/pycore_unicodeobject_generated.h')


def is_generated(path):
    """True if *path* (relative to the source tree) is a generated file."""
    return any(fnmatch.fnmatch(path, pattern) for pattern in GENERATED)


def regenerate(src, python=None):
    """Regenerate the clinic output and global objects in the tree *src*.

    The same generators as ``make clinic regen-global-objects``, run with
    this Python (any supported by the base's Tools/ does) so that no build
    directory is needed.
    """
    python = python or sys.executable
    src = Path(src)
    for script, args in (('Tools/clinic/clinic.py',
                          ('--make', '--exclude', 'Lib/test/clinic.test.c',
                           '--srcdir', '.')),
                         ('Tools/build/generate_global_objects.py', ())):
        if (src / script).exists():
            run([python, script, *args], cwd=src, quiet=True)
        else:
            log.debug('no %s in %s: nothing to regenerate with it', script,
                      src)


def worktree_path(paths):
    return paths.workdir / 'rebase-src'


def _state(paths):
    return paths.load_state().get('rebase') or {}


def _set_state(paths, **values):
    paths.update_state(rebase=values or None)


def default_source(paths):
    """The newest base older than *paths*' base that has a series."""
    older = [b for b in bases.load()
             if b.key < paths.base.key and paths.for_base(b).series.exists()]
    if not older:
        raise UsageError(
            f'no older base with a series to port to {paths.base.version} '
            'from; name one with --from VERSION')
    return older[-1]


def ported_from(paths):
    """The base the current series of *paths* was ported from, or None."""
    state = _state(paths)
    if state.get('state') != DONE:
        return None
    repo = paths.cpython
    if not gitutil.is_repo(repo) or gitutil.rev_parse(
            repo, SOURCE_REF) is None:
        return None
    try:
        return bases.get(state['from'])
    except (KeyError, UsageError):
        return None


def port_range_diff(paths, old):
    """``git range-diff`` of OLD's series against the current one.

    OLD's branch is fetched again when its checkout is there, so that the
    range-diff is between the two bases' series as they are now, not as
    OLD's was when the port was made.
    """
    source = paths.for_base(old).cpython
    if gitutil.is_repo(source) and gitutil.rev_parse(
            source, f'refs/heads/{config.BRANCH}'):
        gitutil.git(paths.cpython, 'fetch', '--quiet', '--no-tags',
                    str(source), f'+refs/heads/{config.BRANCH}:{SOURCE_REF}',
                    check=False, quiet=True)
    return patchset.range_diff(paths.cpython, SOURCE_REF, config.BRANCH,
                      SOURCE_BASE_REF, paths.base.tag)


def _require_source(paths, old):
    """OLD's checkout, with branch pep433 as patches/OLD/ makes it."""
    old_paths = paths.for_base(old)
    repo = old_paths.cpython
    try:
        source = checkout.open_checkout(old_paths)
    except PreconditionError:
        source = None                   # not fetched: said below
    if source is None or source.tip is None:
        raise PreconditionError(
            f'the {old.version} series is not applied ({repo} has no branch '
            f'{config.BRANCH})',
            hint=f'scripts/pep433 --base {old.version} fetch && '
                 f'scripts/pep433 --base {old.version} apply')
    if source.applied != source.tip:
        raise PreconditionError(
            f'branch {config.BRANCH} of {repo} is not the series in '
            f'patches/{old.version}/ (commits not exported, or not applied)',
            hint=f'scripts/pep433 --base {old.version} export (to keep the '
                 f'branch) or scripts/pep433 --base {old.version} apply')
    return repo


def _conflicts(src):
    text = gitutil.out(src, 'diff', '--name-only', '--diff-filter=U')
    return text.splitlines()


def _rebase_in_progress(src):
    return gitutil.is_repo(src) and gitutil.am_in_progress(src)


def _drive(paths, src, first=None):
    """Run or continue the git rebase until it ends or stops.

    *first* is the git command that starts the rebase (None: continue).
    Conflicts in generated files alone are resolved by regenerating them.
    Return True when the rebase is complete.
    """
    env = {'GIT_EDITOR': 'true'}
    command = first
    while True:
        if command is None:
            conflicts = _conflicts(src)
            sources = [p for p in conflicts if not is_generated(p)]
            if sources:
                raise _stopped(paths, src, sources)
            if conflicts:
                log.info('regenerating the conflicting generated files: %s',
                         ', '.join(conflicts))
                gitutil.git(src, 'checkout', '--ours', '--', *conflicts,
                            quiet=True)
            # The generated files of the resolved sources; the generators
            # also rewrite the checksums of the clinic blocks in the
            # sources: stage all of it.
            regenerate(src)
            if conflicts:
                gitutil.git(src, 'add', '--', *conflicts, quiet=True)
            gitutil.git(src, 'add', '--update', quiet=True)
            command = ['rebase', '--continue']
        proc = gitutil.git(src, *command, env=env, check=False)
        if proc.returncode == 0 and not _rebase_in_progress(src):
            return True
        if not _rebase_in_progress(src):
            raise ProblemFound(
                'git rebase failed:\n' + (proc.stdout + proc.stderr)[-3000:])
        if not _conflicts(src):
            # Stopped without a conflict: the exec step (regeneration)
            # failed, or a commit became empty.
            raise _stopped(paths, src, [], (proc.stdout + proc.stderr)[-2000:])
        command = None


def _stopped(paths, src, files, output=''):
    """The error that tells the user where the port stopped and what next."""
    stopped = gitutil.out(src, 'log', '-1', '--format=%s',
                          'REBASE_HEAD', check=False) or '?'
    base = paths.base.version
    lines = [f'the port to {base} stopped at "{stopped}"']
    if files:
        lines.append('conflicts to resolve in ' + str(src) + ':\n  '
                     + '\n  '.join(files))
    if output:
        lines.append(output.strip())
    return PreconditionError(
        '\n'.join(lines),
        hint=f'resolve them in {src} (generated files need nothing: they '
             'are regenerated), git -C ' + str(src) + ' add FILES, then '
             f'scripts/pep433 --base {base} rebase --continue; or '
             f'scripts/pep433 --base {base} rebase --abort')


def _regen_exec(paths):
    """The --exec command that regenerates and amends after each pick:
    the hidden subcommand ``rebase regen-commit``."""
    script = Path(__file__).resolve().parent.parent / 'pep433'
    return (f'{sys.executable} {script} --workdir {paths.root} '
            f'--base {paths.base.version} rebase regen-commit')


def ported_message(message, old, new):
    """*message* with its DEP-3 ``Origin:`` trailer naming base *new*."""
    return re.sub(rf'^(Origin: .*\bCPython ){re.escape(old)}$',
                  rf'\g<1>{new}', message, flags=re.M)


def run_regen_commit(paths):
    """After each replayed commit: regenerate, amend if anything changed.

    The commit's ``Origin:`` trailer is made to name the new base too.
    """
    src = Path.cwd()
    regenerate(src)
    message = gitutil.commit_message(src, 'HEAD')
    source = _state(paths).get('from')
    ported = (ported_message(message, source, paths.base.version)
              if source else message)
    if gitutil.dirty_files(src) or ported != message:
        gitutil.git(src, 'commit', '--quiet', '--all', '--amend',
                    '--no-verify', '--cleanup=verbatim', '-F', '-',
                    input=ported, quiet=True)
        log.info('regenerated files and trailers amended into "%s"',
                 gitutil.out(src, 'log', '-1', '--format=%s'))
    return 0


def _remove_worktree(repo, src):
    checkout.remove_worktree(repo, src)
    if gitutil.rev_parse(repo, f'refs/heads/{PORT_BRANCH}'):
        gitutil.git(repo, 'branch', '--quiet', '-D', PORT_BRANCH)


def _finish(paths, repo, src):
    """The port is complete: move branch pep433 to it, clean up."""
    new = gitutil.rev_parse(src, 'HEAD')
    old = gitutil.rev_parse(repo, f'refs/heads/{config.BRANCH}')
    checkout.check_holders(repo, new)
    if old and old != gitutil.rev_parse(repo, paths.base.tag):
        backup = checkout.keep_backup(repo, old, 'rebase')
        log.info('the previous %s series is kept as %s', paths.base.version,
                 backup)
    gitutil.git(src, 'checkout', '--quiet', '--detach')
    checkout.move_branch(repo, old, new)
    _remove_worktree(repo, src)
    state = _state(paths)
    _set_state(paths, state=DONE, **{'from': state['from']})
    count = len(gitutil.commits(repo, f'{paths.base.tag}..{config.BRANCH}'))
    base = paths.base.version
    log.info('rebase: branch %s of %s is the %s series ported to %s (%d '
             'commits). Next: scripts/pep433 --base %s build && '
             'scripts/pep433 --base %s test, then scripts/pep433 --base %s '
             'export (writes patches/%s/ and shows the range-diff against '
             'the %s series) and scripts/pep433 --base %s check',
             config.BRANCH, repo, state['from'], base, count, base, base,
             base, base, state['from'], base)
    return 0


def start(paths, old):
    """Start the port of *old*'s series to the base of *paths*."""
    from .fetch import run_fetch
    if old.version == paths.base.version:
        raise UsageError('--from names the base being ported to')
    if _state(paths).get('state') == IN_PROGRESS:
        raise PreconditionError(
            f'a port to {paths.base.version} is already in progress',
            hint=f'scripts/pep433 --base {paths.base.version} rebase '
                 '--continue (or --abort)')
    source_repo = _require_source(paths, old)
    if not gitutil.is_repo(paths.cpython):
        log.info('fetching %s first', paths.base.version)
        run_fetch(paths)
    cpython = checkout.open_checkout(paths)
    repo = cpython.repo
    checkout.require_clean(repo)
    if cpython.unexported:
        raise PreconditionError(
            f'branch {config.BRANCH} in {repo} has commits that are not in '
            f'patches/{paths.base.version}/',
            hint=f'export them first (scripts/pep433 --base '
                 f'{paths.base.version} export), or move the branch away '
                 f'(git -C {repo} branch -m {config.BRANCH} my-work)')
    src = worktree_path(paths)
    if src.exists() or gitutil.rev_parse(repo, f'refs/heads/{PORT_BRANCH}'):
        log.info('removing a port worktree left behind: %s', src)
        _remove_worktree(repo, src)
    gitutil.git(repo, 'fetch', '--quiet', '--no-tags', str(source_repo),
                f'+refs/heads/{config.BRANCH}:{SOURCE_REF}',
                f'+refs/tags/{old.tag}:{SOURCE_BASE_REF}')
    count = len(gitutil.commits(repo, f'{SOURCE_BASE_REF}..{SOURCE_REF}'))
    gitutil.git(repo, 'worktree', 'add', '--quiet', '-b', PORT_BRANCH,
                str(src), SOURCE_REF)
    _set_state(paths, state=IN_PROGRESS, **{'from': old.version})
    log.info('porting the %d commits of the %s series onto %s in %s',
             count, old.version, paths.base.tag, src)
    done = _drive(paths, src, [
        'rebase', '--quiet', '--no-autosquash', '--empty=keep',
        '--exec', _regen_exec(paths), '--onto', paths.base.tag,
        SOURCE_BASE_REF, PORT_BRANCH])
    return _finish(paths, repo, src) if done else 1


def continue_(paths):
    """``rebase --continue``: go on after the user resolved a conflict."""
    src, repo = _in_progress(paths)
    if not _rebase_in_progress(src):
        return _finish(paths, repo, src)
    done = _drive(paths, src)
    return _finish(paths, repo, src) if done else 1


def abort(paths):
    """``rebase --abort``: everything as it was before the port started."""
    src, repo = _in_progress(paths)
    if _rebase_in_progress(src):
        gitutil.git(src, 'rebase', '--abort', check=False, quiet=True)
    _remove_worktree(repo, src)
    for ref in (SOURCE_REF, SOURCE_BASE_REF):
        gitutil.git(repo, 'update-ref', '-d', ref, check=False, quiet=True)
    previous = _state(paths)
    _set_state(paths)
    log.info('rebase --abort: the port from %s was abandoned; branch %s of '
             '%s is as it was', previous.get('from'), config.BRANCH, repo)
    return 0


def _in_progress(paths):
    if _state(paths).get('state') != IN_PROGRESS:
        raise PreconditionError(
            f'no port to {paths.base.version} is in progress',
            hint=f'scripts/pep433 --base {paths.base.version} rebase '
                 '--status (a port is started with rebase --from VERSION)')
    return worktree_path(paths), checkout.require_checkout(paths)


def status(paths):
    """``rebase --status``: the state of the port, and what to run next."""
    state = _state(paths)
    base = paths.base.version
    if not state:
        print(f'{base}: no port in progress')
    elif state['state'] == DONE:
        print(f'{base}: ported from {state["from"]}; next: scripts/pep433 '
              f'--base {base} export')
    else:
        src = worktree_path(paths)
        conflicts = _conflicts(src) if _rebase_in_progress(src) else []
        print(f'{base}: port from {state["from"]} in progress in {src}')
        if conflicts:
            print('conflicts:\n  ' + '\n  '.join(conflicts))
        print(f'next: scripts/pep433 --base {base} rebase --continue '
              '(or --abort)')
    return 0


def run_rebase(paths, source=None, action=None):
    """Implement the ``rebase`` subcommand; return the exit code."""
    if action == 'continue':
        return continue_(paths)
    if action == 'abort':
        return abort(paths)
    if action == 'status':
        return status(paths)
    old = bases.get(source) if source else default_source(paths)
    return start(paths, old)


# --- the command line --------------------------------------------------------

SUMMARY = 'port the series to this base from another one'


def add_arguments(parser):
    """``rebase``'s options, and its hidden ``regen-commit``."""
    parser.add_argument('--from', dest='source', metavar='VERSION',
                        help='the base to port from (default: the newest '
                             'older one)')
    group = parser.add_mutually_exclusive_group()
    for action, text in (('continue', 'go on after resolving a conflict'),
                         ('abort', 'abandon the port in progress'),
                         ('status', 'show the state of the port')):
        group.add_argument(f'--{action}', dest='action',
                           action='store_const', const=action, help=text)
    parser.set_defaults(func=handle)
    # what git rebase --exec runs after each replayed commit: plumbing,
    # hidden from --help
    hidden = parser.add_subparsers(dest='rebase_step', help=argparse.SUPPRESS)
    hidden.add_parser('regen-commit').set_defaults(
        func=lambda args, paths: run_regen_commit(paths))


def handle(args, paths):
    return run_rebase(paths, source=args.source, action=args.action)
