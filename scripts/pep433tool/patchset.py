"""The series as data: branch ``pep433`` turned into patch files, in memory.

Every command that asks "what are the patches of this branch?" comes here:
``export`` writes the answer, ``apply`` and ``check`` compare it with
``patches/<version>/``, ``review`` numbers it for a reviewer, ``rebase``
range-diffs two of them.  Nothing here writes to the project repository.

Each commit of ``<base tag>..pep433`` is one ``git format-patch`` of the
whole commit, the files it adds included, made with fixed flags and an
isolated git configuration: exporting an unchanged branch gives the same
bytes on every machine, and ``git am``, ``patch -p1`` or ``quilt`` apply
each file on its own.  The files a commit adds under Lib/, Modules/, Doc/
or Misc/ are also returned whole (``new_files``): the readable view at the
top of the project repository.
"""

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import config, gitutil
from .errors import PreconditionError
from .util import tool_command

log = logging.getLogger(__name__)

FORMAT_PATCH_CONFIG = (
    '-c', 'core.abbrev=12',
    '-c', 'diff.noprefix=false',
    '-c', 'diff.mnemonicPrefix=false',
    '-c', 'core.quotePath=true',
    '-c', 'format.forceInBodyFrom=false',
)
#: No hashes, dates or version strings that change from run to run.
FORMAT_PATCH_FLAGS = (
    '--no-signature', '--zero-commit', '--full-index',
    '--no-renames', '--diff-algorithm=myers', '--no-attach', '--no-thread',
    '--encoding=UTF-8', '--no-signoff', '--no-to', '--no-cc',
    '--no-notes', '--no-base', '--no-relative', '-U3',
    '--inter-hunk-context=0', '--no-ext-diff', '--no-textconv',
    '--suffix=.patch', '--filename-max-length=64', '--no-from',
    '-O' + os.devnull,
)
#: patches/<version>/ has plain "[PATCH]" subjects: a file's bytes do not
#: depend on how many patches the series has.  ``review`` numbers them.
SERIES_FLAGS = ('--no-numbered', '--subject-prefix=PATCH')


@dataclass
class ExportResult:
    """What an export of the branch produces, in memory."""

    patches: dict = field(default_factory=dict)     # name -> bytes
    names: list = field(default_factory=list)       # order of the series
    new_files: dict = field(default_factory=dict)   # path -> (bytes, mode)
    tip: str = ''


def linear_commits(repo, base, branch=config.BRANCH, hint_base=None):
    """The commits of base..branch, oldest first; refuse merges.

    *hint_base* is the ``--base`` the hints name (None: no ``--base``).
    """
    if gitutil.rev_parse(repo, branch) is None:
        raise PreconditionError(
            f'branch {branch} does not exist in {repo}',
            hint=tool_command('apply', base=hint_base))
    merges = gitutil.out(repo, 'rev-list', '--merges', f'{base}..{branch}')
    if merges:
        raise PreconditionError(
            f'{base}..{branch} contains merge commits ({merges.split()[0]}'
            '...); a patch series must be linear',
            hint=f'git -C {repo} rebase {base} {branch}')
    commits = gitutil.commits(repo, f'{base}..{branch}')
    # The series is linear: each commit's parent tree is the previous
    # commit's (the base's for the first), so one listing of trees does.
    trees = gitutil.out(repo, 'log', '--reverse', '--format=%T',
                        f'{base}..{branch}').split()
    previous = [gitutil.out(repo, 'rev-parse', base + '^{tree}')] + trees
    empty = [commit for commit, tree, before in zip(commits, trees, previous)
             if tree == before]
    if empty:
        raise PreconditionError(
            f'{base}..{branch} has commits that change nothing '
            f'({", ".join(c[:12] for c in empty)}): git am stops at an '
            'empty patch',
            hint=f'drop them (git -C {repo} rebase -i {base}), then export')
    return commits


def format_patches(repo, rev_range, outdir, *flags):
    """Run format-patch with the fixed flags; return the files, in order."""
    outdir = Path(outdir)
    gitutil.git(repo, *FORMAT_PATCH_CONFIG, 'format-patch',
                *FORMAT_PATCH_FLAGS, *flags, '-o', str(outdir), rev_range,
                isolated=True, quiet=True)
    return sorted(outdir.glob('*.patch'))


def compute(repo, base, branch=config.BRANCH, hint_base=None):
    """The export of base..branch in *repo* (writes nothing there)."""
    commits = linear_commits(repo, base, branch, hint_base)
    result = ExportResult(tip=gitutil.rev_parse(repo, branch))
    if not commits:
        return result
    with tempfile.TemporaryDirectory(prefix='pep433-export-') as tmpdir:
        files = format_patches(repo, f'{base}..{branch}', tmpdir,
                               *SERIES_FLAGS, '--start-number=1')
        for produced in files:
            result.names.append(produced.name)
            result.patches[produced.name] = produced.read_bytes()
    for commit in commits:
        for path, mode in gitutil.added_files(repo, commit):
            data = gitutil.show_bytes(repo, f'{commit}:{path}')
            result.new_files[path] = (data, mode)
    return result


def matches(patches_dir, names, result):
    """True if *names* (a series' order) and their files in *patches_dir*
    are exactly the patches of *result*."""
    if list(names) != result.names:
        return False
    for name in names:
        try:
            if ((Path(patches_dir) / name).read_bytes()
                    != result.patches[name]):
                return False
        except FileNotFoundError:
            return False
    return True


def range_diff(repo, old, new, base, new_base=None):
    """Text of ``git range-diff base..old new_base..new``.

    *new_base* (default: *base*) differs when the two series are on two
    bases: what a port changed, patch by patch.
    """
    ranges = ([base, old, new] if new_base in (None, base)
              else [f'{base}..{old}', f'{new_base}..{new}'])
    proc = gitutil.git(repo, '-c', 'color.ui=never', 'range-diff',
                       '--no-color', *ranges, isolated=True,
                       quiet=True, check=False)
    if proc.returncode != 0:
        log.warning('git range-diff %s failed: %s', ' '.join(ranges),
                    proc.stderr.strip()[-500:])
        return '(range-diff unavailable)\n'
    return proc.stdout

