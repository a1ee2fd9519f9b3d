"""``apply``: build the branch pep433 from the base tag and patches/<version>/.

The series is applied with plain ``git am`` (no 3-way merge, no fuzz) in a
temporary worktree, so the user's work tree is never used for the work;
each patch's new files (its ``New-File`` trailers) are added to its commit.
Committer identity and dates are fixed, so the same series gives the same
commit hashes on every machine.  Only then is the branch moved.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from . import config, export, gitutil, series as seriesmod
from .errors import PreconditionError

log = logging.getLogger(__name__)

#: Reason of the lock put on the temporary worktree, followed by the pid of
#: the process that made it: how a later run knows a leftover worktree is
#: one of ours, abandoned by a run that was killed.
LOCK_REASON = 'pep433 apply temporary worktree, pid'

AM_FLAGS = ('--committer-date-is-author-date', '--no-3way',
            '--whitespace=nowarn', '--empty=keep', '--no-message-id',
            '--no-scissors', '--no-signoff', '--quiet')


def require_checkout(paths):
    """Return the CPython checkout, checking it was fetched."""
    repo = paths.cpython
    if not gitutil.is_repo(repo) or gitutil.rev_parse(
            repo, paths.base.tag) is None:
        raise PreconditionError(
            f'no CPython checkout with tag {paths.base.tag} at {repo}',
            hint='scripts/pep433 fetch')
    return repo


def require_clean(repo, what='the checkout'):
    """Refuse (exit 3) if *repo* has a git am in progress or is dirty."""
    if gitutil.am_in_progress(repo):
        raise PreconditionError(
            f'a git am or rebase is in progress in {repo}',
            hint=f'finish it (git -C {repo} am --continue / rebase '
                 '--continue) or abort it (git am --abort / rebase --abort)')
    dirty = gitutil.dirty_files(repo)
    if dirty:
        raise PreconditionError(
            f'{what} {repo} has uncommitted changes to tracked files:\n  '
            + '\n  '.join(dirty[:20]),
            hint=f'commit them (git -C {repo} commit -a) or stash them '
                 f'(git -C {repo} stash), then run the command again')


def check_new_files(paths, series):
    """Every New-File a patch lists must exist in the project repo."""
    missing = []
    for name in series.names:
        text = (paths.patches / name).read_text(encoding='utf-8',
                                                errors='replace')
        for path in seriesmod.new_file_trailers(text,
                                                config.NEW_FILE_TRAILER):
            if not (paths.repo / path).is_file():
                missing.append(f'{path} (listed by {name})')
    if missing:
        raise PreconditionError(
            'new files listed by the patches are missing from the project '
            'repository:\n  ' + '\n  '.join(missing),
            hint='restore them (git checkout -- <path>) or re-export the '
                 'series (scripts/pep433 export)')


def build_series(paths, repo, series, tmp_parent=None):
    """Apply *series* onto the base tag in a temporary worktree.

    Return the tip commit.  Raise PreconditionError (exit 3) naming the
    patch that does not apply; the repository's branches are untouched.
    """
    base = gitutil.rev_parse(repo, paths.base.tag)
    if not series.names:
        return base
    tmp_parent = Path(tmp_parent or paths.workdir)
    tmp_parent.mkdir(parents=True, exist_ok=True)
    remove_stale_worktrees(repo, tmp_parent)
    worktree = Path(tempfile.mkdtemp(prefix='apply-', dir=tmp_parent))
    worktree.rmdir()
    # Locked, with our pid in the reason: see remove_stale_worktrees().
    gitutil.git(repo, 'worktree', 'add', '--detach', '--lock', '--reason',
                f'{LOCK_REASON} {os.getpid()}', str(worktree), base,
                quiet=True)
    try:
        for name in series.names:
            patch = paths.patches / name
            log.info('applying %s', name)
            proc = gitutil.git(worktree, 'am', *AM_FLAGS, str(patch),
                               isolated=True, check=False)
            if proc.returncode != 0:
                output = (proc.stdout + proc.stderr).strip()
                gitutil.git(worktree, 'am', '--abort', isolated=True,
                            check=False)
                raise PreconditionError(
                    f'patch {name} does not apply onto {paths.base.tag} '
                    'plus the patches before it (git am, no fuzz):\n'
                    + '\n'.join('    ' + line
                                for line in output.splitlines()[-25:]),
                    hint='fix the patch (re-create it from a branch where '
                         'it applies, then scripts/pep433 export) or '
                         'remove it from patches/series')
            _add_new_files(paths, worktree, name)
        return gitutil.rev_parse(worktree, 'HEAD')
    finally:
        _remove_worktree(repo, worktree)


def _remove_worktree(repo, worktree):
    # Twice --force: the worktree is locked.  unlock + prune clean up what
    # remove could not (e.g. the directory is already gone).
    gitutil.git(repo, 'worktree', 'remove', '--force', '--force',
                str(worktree), check=False, quiet=True)
    shutil.rmtree(worktree, ignore_errors=True)
    gitutil.git(repo, 'worktree', 'unlock', str(worktree), check=False,
                quiet=True)
    gitutil.git(repo, 'worktree', 'prune', check=False, quiet=True)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_worktrees(repo, tmp_parent):
    """Remove temporary worktrees left by a build_series() that was killed.

    A run killed midway (SIGKILL, a closed terminal, a reboot) cannot clean
    up: its worktree stays registered in *repo*, maybe with a ``git am`` in
    progress.  Only worktrees that are ours are removed: named ``apply-*``
    in *tmp_parent* and locked with LOCK_REASON by a process that no longer
    exists (a live one may be a concurrent run).  Empty ``apply-*``
    directories (killed before git registered them) are removed too.
    """
    tmp_parent = Path(tmp_parent).resolve()
    text = gitutil.out(repo, 'worktree', 'list', '--porcelain')
    registered = set()
    for block in text.split('\n\n'):
        fields = dict(line.partition(' ')[::2] for line in block.splitlines())
        path = Path(fields.get('worktree', ''))
        registered.add(path.resolve())
        reason = fields.get('locked', '')
        if (path.parent.resolve() != tmp_parent
                or not path.name.startswith('apply-')
                or not reason.startswith(LOCK_REASON + ' ')):
            continue
        pid = reason[len(LOCK_REASON) + 1:]
        if pid.isdigit() and not _pid_alive(int(pid)):
            log.info('removing %s, left by an apply that was interrupted '
                     '(pid %s)', path, pid)
            _remove_worktree(repo, path)
    for path in tmp_parent.glob('apply-*'):
        if path not in registered and path.is_dir():
            try:
                path.rmdir()            # only if empty
            except OSError:
                pass


def _add_new_files(paths, worktree, name):
    message = gitutil.commit_message(worktree, 'HEAD')
    new_files = seriesmod.new_file_trailers(message, config.NEW_FILE_TRAILER)
    if not new_files:
        return
    for path in new_files:
        source = paths.repo / path
        target = worktree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        shutil.copymode(source, target)
    gitutil.git(worktree, 'add', '-f', '--', *new_files, quiet=True)
    date = gitutil.out(worktree, 'log', '-1', '--date=raw', '--format=%ad')
    gitutil.git(worktree, 'commit', '--amend', '--no-edit', '--no-verify',
                '--allow-empty', '--quiet', isolated=True,
                env={'GIT_COMMITTER_DATE': date}, quiet=True)
    log.info('  with new files: %s', ', '.join(new_files))


def next_backup_ref(repo):
    """A free refs/pep433/backup/<n> name."""
    text = gitutil.out(repo, 'for-each-ref', '--format=%(refname)',
                       config.BACKUP_REF_PREFIX)
    numbers = [int(ref.rsplit('/', 1)[1]) for ref in text.split()
               if ref.rsplit('/', 1)[1].isdigit()]
    return f'{config.BACKUP_REF_PREFIX}{max(numbers, default=0) + 1}'


def check_holders(repo, new):
    """Refuse (exit 3) if moving branch pep433 to *new* would fail in a
    worktree that has it checked out: uncommitted changes, a ``git am`` in
    progress, or untracked files that *new* would overwrite (``git reset
    --keep`` would refuse them only after the backup ref was written)."""
    ref = f'refs/heads/{config.BRANCH}'
    for holder, head in gitutil.worktrees(repo).items():
        if head != ref:
            continue
        require_clean(Path(holder), 'the worktree')
        # The two-tree merge that reset --keep does, as a dry run.
        proc = gitutil.git(holder, 'read-tree', '-n', '-m', '-u', 'HEAD',
                           new, check=False, quiet=True)
        if proc.returncode != 0:
            raise PreconditionError(
                f'moving branch {config.BRANCH} in {holder} to the new '
                'series would overwrite files there:\n  '
                + '\n  '.join((proc.stdout + proc.stderr).strip()
                               .splitlines()[:20]),
                hint=f'move the untracked files away (git -C {holder} '
                     'status), then run apply again')


def move_branch(repo, old, new):
    """Point branch pep433 at *new*, updating the work tree holding it."""
    ref = f'refs/heads/{config.BRANCH}'
    holders = [path for path, head in gitutil.worktrees(repo).items()
               if head == ref]
    if old is None:
        gitutil.git(repo, 'update-ref', '-m', 'pep433 apply', ref, new,
                    '0' * 40)
    elif not holders:
        gitutil.git(repo, 'update-ref', '-m', 'pep433 apply', ref, new, old)
    for holder in holders:
        require_clean(Path(holder), 'the worktree')
        # --keep refuses to lose local changes (there are none: checked).
        gitutil.git(holder, 'reset', '--quiet', '--keep', new)
    if old is None and not holders:
        log.info('created branch %s (not checked out; use git -C %s '
                 'switch %s)', config.BRANCH, repo, config.BRANCH)


def run_apply(paths):
    """Implement the ``apply`` subcommand; return the exit code."""
    repo = require_checkout(paths)
    require_clean(repo)
    series = seriesmod.load(paths)
    check_new_files(paths, series)
    base = gitutil.rev_parse(repo, paths.base.tag)
    tip = gitutil.rev_parse(repo, f'refs/heads/{config.BRANCH}')
    state = paths.load_state()
    if tip is not None:
        if tip != base:
            result = export.compute(repo, paths.base.tag)
            if not export.differences(paths, result):
                log.info('apply: branch %s already matches patches/ '
                         '(%d patches); nothing to do', config.BRANCH,
                         len(series.names))
                _record(paths, repo, tip)
                return 0
        elif not series.names:
            log.info('apply: the series is empty and %s is at %s; '
                     'nothing to do', config.BRANCH, paths.base.tag)
            _record(paths, repo, tip)
            return 0
        if tip not in (base, state.get('applied_tip')):
            raise PreconditionError(
                f'branch {config.BRANCH} in {repo} has commits that are not '
                'in patches/ and that apply did not create (tip '
                f'{tip[:12]})',
                hint='save them into patches/ with scripts/pep433 export, '
                     f'or move the branch away (git -C {repo} branch -m '
                     f'{config.BRANCH} my-work), then run apply again')
    new = build_series(paths, repo, series)
    if tip != new:
        check_holders(repo, new)    # refuse before any ref changes
    if tip is not None and tip != base and tip != new:
        # A run killed after this point already kept *tip*: keep it once.
        kept = gitutil.out(repo, 'for-each-ref', '--points-at', tip,
                           '--format=%(refname)', config.BACKUP_REF_PREFIX)
        backup = kept.split()[0] if kept else next_backup_ref(repo)
        if not kept:
            gitutil.git(repo, 'update-ref', backup, tip)
        log.info('apply: the series changed; previous branch tip %s kept '
                 'as %s', tip[:12], backup)
    if tip != new:
        move_branch(repo, tip, new)
    log.info('apply: %s is at %s (%d patches on %s)', config.BRANCH,
             new[:12], len(series.names), paths.base.tag)
    _record(paths, repo, new)
    return 0


def _record(paths, repo, tip):
    gitutil.git(repo, 'update-ref', '-m', 'pep433 apply', config.APPLIED_REF,
                tip, quiet=True)
    paths.update_state(applied_tip=tip)

