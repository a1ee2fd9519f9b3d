"""The CPython checkout of a base and its refs: the layer every command
that touches the checkout stands on.

Branch ``pep433`` is the series; ``refs/pep433/applied`` is its tip as the
last ``apply`` made it or the last ``export`` wrote it to patches/ (the
one record of "what patches/ holds": an annotated tag object whose message
is the series' fingerprint then); ``refs/pep433/backup/<n>`` keep the
tips ``apply`` and ``rebase`` moved the branch away from.  Nothing here
removes a branch or work the tool did not create.
"""

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import config, gitutil
from .errors import PreconditionError
from .util import tool_command

log = logging.getLogger(__name__)

#: How the message of refs/pep433/applied's tag object starts.
FINGERPRINT = 'patches sha256:'


@dataclass(frozen=True)
class Checkout:
    """A base's CPython checkout and the refs the tool keeps there, read
    in one git call: what a command knows of it when it starts."""

    repo: Path
    base: str                   # the commit of the base's tag
    tip: str = None             # branch pep433 (None: no branch)
    applied: str = None         # refs/pep433/applied, peeled
    #: series.fingerprint() of patches/ when apply or export set
    #: refs/pep433/applied (None: set by hand, or by an older tool)
    applied_fingerprint: str = None

    @property
    def unexported(self):
        """The tip of branch pep433 if it has commits that neither apply
        made nor export wrote to patches/ (None otherwise)."""
        if self.tip in (None, self.base, self.applied):
            return None
        return self.tip


def open_checkout(paths):
    """The base's checkout and its refs, checking it was fetched."""
    repo = paths.cpython
    refs = {}
    if gitutil.is_repo(repo):
        refs = gitutil.refs_with_messages(
            repo, f'refs/tags/{paths.base.tag}',
            f'refs/heads/{config.BRANCH}', config.APPLIED_REF)
    base, _ = refs.get(f'refs/tags/{paths.base.tag}', (None, None))
    if base is None:
        raise PreconditionError(
            f'no CPython checkout with tag {paths.base.tag} at {repo}',
            hint=tool_command('fetch', base=paths.base.version))
    tip, _ = refs.get(f'refs/heads/{config.BRANCH}', (None, None))
    applied, message = refs.get(config.APPLIED_REF, (None, ''))
    fingerprint = message[len(FINGERPRINT):].strip() if (
        message.startswith(FINGERPRINT)) else None
    return Checkout(repo, base, tip, applied, fingerprint or None)


def require_checkout(paths):
    """Return the CPython checkout's path, checking it was fetched."""
    return open_checkout(paths).repo


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


#: Reason of the lock put on a temporary worktree, followed by the pid of
#: the process that made it: how a later run knows a leftover worktree is
#: one of ours, abandoned by a run that was killed.
LOCK_REASON = 'pep433 apply temporary worktree, pid'


@contextlib.contextmanager
def temporary_worktree(repo, parent, commit):
    """A detached worktree of *repo* at *commit*, ``apply-*`` in *parent*,
    locked with our pid while it is used and removed afterwards (first
    removing those a killed run left: remove_stale_worktrees())."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_worktrees(repo, parent)
    worktree = Path(tempfile.mkdtemp(prefix='apply-', dir=parent))
    worktree.rmdir()
    gitutil.git(repo, 'worktree', 'add', '--detach', '--lock', '--reason',
                f'{LOCK_REASON} {os.getpid()}', str(worktree), commit,
                quiet=True)
    try:
        yield worktree
    finally:
        remove_worktree(repo, worktree)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_worktrees(repo, tmp_parent):
    """Remove temporary worktrees left by a run that was killed.

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
            remove_worktree(repo, path)
    for path in tmp_parent.glob('apply-*'):
        if path not in registered and path.is_dir():
            try:
                path.rmdir()            # only if empty
            except OSError:
                pass


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


def record_applied(cpython, tip, fingerprint, why):
    """Point refs/pep433/applied of *cpython* (a Checkout) at *tip*,
    through a tag object that keeps *fingerprint* (see
    series.fingerprint): what patches/ held when it did, so that the
    fingerprint is never read against another tip.  Nothing to write when
    the ref already records both."""
    if (cpython.applied, cpython.applied_fingerprint) == (tip, fingerprint):
        return
    record = gitutil.make_tag_object(cpython.repo, tip, 'pep433-applied',
                                     f'{FINGERPRINT} {fingerprint}')
    gitutil.git(cpython.repo, 'update-ref', '-m', f'pep433 {why}',
                config.APPLIED_REF, record, quiet=True)


def recorded_fingerprint(cpython):
    """The fingerprint of patches/ recorded with the tip of branch pep433
    in *cpython* (a Checkout), if that tip is still the applied one (None
    otherwise: nothing recorded, or recorded with another tip)."""
    if cpython.tip is None or cpython.applied != cpython.tip:
        return None
    return cpython.applied_fingerprint


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
