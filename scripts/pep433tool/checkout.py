"""The CPython checkout of a base and its refs: the layer every command
that touches the checkout stands on.

Branch ``pep433`` is the series; ``refs/pep433/applied`` is its tip as the
last ``apply`` made it or the last ``export`` wrote it to patches/ (the
one record of "what patches/ holds"); ``refs/pep433/backup/<n>`` keep the
tips ``apply`` and ``rebase`` moved the branch away from.  Nothing here
removes a branch or work the tool did not create.
"""

import logging
import shutil
from pathlib import Path

from . import config, gitutil
from .errors import PreconditionError
from .util import tool_command

log = logging.getLogger(__name__)


def require_checkout(paths):
    """Return the CPython checkout, checking it was fetched."""
    repo = paths.cpython
    if not gitutil.is_repo(repo) or gitutil.rev_parse(
            repo, paths.base.tag) is None:
        raise PreconditionError(
            f'no CPython checkout with tag {paths.base.tag} at {repo}',
            hint=tool_command('fetch', base=paths.base.version))
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


def remove_worktree(repo, worktree):
    """Remove a worktree the tool made (locked or not), and its folder."""
    # Twice --force: the worktree is locked.  unlock + prune clean up what
    # remove could not (e.g. the directory is already gone).
    gitutil.git(repo, 'worktree', 'remove', '--force', '--force',
                str(worktree), check=False, quiet=True)
    shutil.rmtree(worktree, ignore_errors=True)
    gitutil.git(repo, 'worktree', 'unlock', str(worktree), check=False,
                quiet=True)
    gitutil.git(repo, 'worktree', 'prune', check=False, quiet=True)


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
                     'status), then run the command again')


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


def applied_tip(repo):
    """The branch tip patches/ was last applied from or exported to."""
    return gitutil.rev_parse(repo, config.APPLIED_REF)


def record_applied(paths, repo, tip, fingerprint, why):
    """Remember *tip* as the tip patches/ holds, and *fingerprint* (see
    series.fingerprint) as what patches/ held then: the state keeps the
    pair, so that a fingerprint is never read against another tip."""
    paths.update_state(applied={'tip': tip, 'patches_sha256': fingerprint})
    gitutil.git(repo, 'update-ref', '-m', f'pep433 {why}',
                config.APPLIED_REF, tip, quiet=True)


def recorded_fingerprint(paths, repo, tip):
    """The fingerprint of patches/ recorded with *tip*, if *tip* is still
    the applied tip (None otherwise: nothing recorded, or another tip)."""
    record = paths.load_state().get('applied') or {}
    if record.get('tip') != tip or applied_tip(repo) != tip:
        return None
    return record.get('patches_sha256')


def unexported(paths, repo):
    """The tip of branch pep433 if it has commits that neither apply made
    nor export wrote to patches/ (None otherwise)."""
    tip = gitutil.rev_parse(repo, f'refs/heads/{config.BRANCH}')
    base = gitutil.rev_parse(repo, paths.base.tag)
    if tip in (None, base, applied_tip(repo)):
        return None
    return tip


def keep_backup(repo, tip, why):
    """Keep *tip* as a refs/pep433/backup/<n> ref (once); return its name."""
    kept = gitutil.out(repo, 'for-each-ref', '--points-at', tip,
                       '--format=%(refname)', config.BACKUP_REF_PREFIX)
    if kept:
        return kept.split()[0]
    backup = next_backup_ref(repo)
    gitutil.git(repo, 'update-ref', '-m', f'pep433 {why}', backup, tip,
                quiet=True)
    return backup
