"""Thin wrappers around git.

Commands that create objects or patches (commit, am, format-patch) run with
an isolated configuration (no global or system config, no hooks, fixed
committer), so that their result is the same on every machine.
"""

import os
import re
from pathlib import Path

from . import config
from .errors import PreconditionError
from .util import run


def isolated_env(extra=None):
    """Environment for git commands whose output must be reproducible."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith('GIT_') and key not in ('GIT_EXEC_PATH',):
            del env[key]
    name, email = config.COMMITTER
    env.update({
        'GIT_CONFIG_NOSYSTEM': '1',
        'GIT_CONFIG_GLOBAL': os.devnull,
        'GIT_COMMITTER_NAME': name,
        'GIT_COMMITTER_EMAIL': email,
        'LC_ALL': 'C',
        'TZ': 'UTC',
    })
    if extra:
        env.update(extra)
    return env


#: Options given to every git command run by the tool.
BASE_OPTS = ('-c', 'core.hooksPath=' + os.devnull,
             '-c', 'core.autocrlf=false',
             '-c', 'core.safecrlf=false',
             '-c', 'advice.detachedHead=false',
             '-c', 'gc.auto=0')


def git(repo, *args, isolated=False, env=None, **kwargs):
    """Run ``git -C repo args...`` and return the CompletedProcess.

    The command is logged at DEBUG level (shown with ``-v``) unless
    ``quiet=False`` is given.
    """
    kwargs.setdefault('quiet', True)
    if isolated:
        env = isolated_env(env)
    elif env is not None:
        env = {**os.environ, **env}
    return run(['git', '-C', str(repo), *BASE_OPTS, *args], env=env,
               display=['git', '-C', str(repo), *args], **kwargs)


def out(repo, *args, **kwargs):
    """Return the stripped stdout of a git command."""
    kwargs.setdefault('quiet', True)
    return git(repo, *args, **kwargs).stdout.strip()


def rev_parse(repo, rev):
    """Return the full hash of *rev*, or None if it does not exist."""
    proc = git(repo, 'rev-parse', '--verify', '--quiet', rev + '^{commit}',
               check=False, quiet=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def refs_with_messages(repo, *refs):
    """Map of those of *refs* (full names) that exist -> (the commit each
    points at, a tag peeled; the tag's message, '' for a ref that points
    at a commit), in one ``git for-each-ref``."""
    text = out(repo, 'for-each-ref',
               '--format=%(refname)%00%(objecttype)%00%(objectname)%00'
               '%(*objectname)%00%(contents)%00', *refs)
    result = {}
    fields = text.split('\0')
    for i in range(0, len(fields) - 1, 5):
        name, kind, obj, peeled, message = fields[i:i + 5]
        name = name.strip()
        if name in refs:
            result[name] = (peeled or obj,
                            message.strip() if kind == 'tag' else '')
    return result


def make_tag_object(repo, commit, name, message):
    """Write an annotated tag object for *commit* (no ref names it) and
    return its hash: a record that a ref can carry with the commit."""
    who, email = config.COMMITTER
    when = out(repo, 'log', '-1', '--format=%ct', commit)
    text = (f'object {commit}\ntype commit\ntag {name}\n'
            f'tagger {who} <{email}> {when} +0000\n\n{message}\n')
    return git(repo, 'mktag', input=text, isolated=True).stdout.strip()


def is_repo(path):
    """True if *path* is the top of a git work tree or a bare repository."""
    path = Path(path)
    if not path.is_dir():
        return False
    proc = git(path, 'rev-parse', '--show-toplevel', check=False, quiet=True)
    return (proc.returncode == 0
            and Path(proc.stdout.strip()).resolve() == path.resolve())


def git_dir(repo):
    """The repository's (per-worktree) git directory."""
    return Path(out(repo, 'rev-parse', '--absolute-git-dir'))


def current_branch(repo):
    """Name of the checked-out branch, or None when HEAD is detached."""
    proc = git(repo, 'symbolic-ref', '--quiet', '--short', 'HEAD',
               check=False, quiet=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def dirty_files(repo):
    """Tracked files with uncommitted changes (``git status --porcelain``)."""
    text = out(repo, 'status', '--porcelain', '--untracked-files=no')
    return text.splitlines()


def am_in_progress(repo):
    """True if a ``git am`` or a rebase is in progress in *repo*."""
    gdir = git_dir(repo)
    return (gdir / 'rebase-apply').exists() or (gdir / 'rebase-merge').exists()


def worktrees(repo):
    """Map of worktree path -> checked-out ref (or None when detached)."""
    text = out(repo, 'worktree', 'list', '--porcelain')
    result = {}
    path = None
    for line in text.splitlines():
        if line.startswith('worktree '):
            path = line[len('worktree '):]
            result[path] = None
        elif line.startswith('branch ') and path is not None:
            result[path] = line[len('branch '):]
    return result


def commits(repo, rev_range):
    """Commits of *rev_range* (oldest first)."""
    text = out(repo, 'rev-list', '--reverse', '--topo-order', rev_range)
    return text.split()


def show_bytes(repo, spec):
    """Return the raw bytes of a git object (e.g. ``rev:path``)."""
    import subprocess
    proc = subprocess.run(['git', '-C', str(repo), 'cat-file', '-p', spec],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False)
    if proc.returncode != 0:
        raise PreconditionError(
            f'git cannot read {spec} in {repo}: '
            f'{proc.stderr.decode(errors="replace").strip()}')
    return proc.stdout


def added_files(repo, commit, prefixes=config.NEW_FILE_DIRS):
    """Regular files *commit* adds (vs its first parent) under *prefixes*.

    Return a sorted list of (path, mode) tuples.
    """
    text = out(repo, 'diff-tree', '-r', '--no-renames', '--no-commit-id',
               '--diff-filter=A', '--no-ext-diff', '-z', commit + '^',
               commit)
    result = []
    fields = text.split('\0')
    # Raw format with -z: ":oldmode newmode oldsha newsha status\0path\0"
    for meta, path in zip(fields[0::2], fields[1::2]):
        if not meta.startswith(':'):
            continue
        newmode = meta[1:].split()[1]
        if newmode not in ('100644', '100755'):
            continue
        if path.startswith(prefixes):
            result.append((path, newmode))
    return sorted(result)


def release_tree(repo, rev, scratch):
    """The git tree id of *rev* without what a release tarball and a clone
    at the release's tag legitimately differ by: every path with a part
    that starts with a dot (.gitignore, .github/, ...: release tarballs
    drop some), and Misc/NEWS and Misc/NEWS.d/ (``blurb export`` replaces
    the one with the other in a tarball).  *scratch* is a directory for a
    temporary index."""
    env = {'GIT_INDEX_FILE': str(Path(scratch) / 'release-tree-index')}
    git(repo, 'read-tree', rev + '^{tree}', env=env)
    names = out(repo, 'ls-files', '-z', env=env).split('\0')
    drop = [name for name in names if name and (
        any(part.startswith('.') for part in name.split('/'))
        or name == 'Misc/NEWS' or name.startswith('Misc/NEWS.d/'))]
    for start in range(0, len(drop), 500):
        git(repo, 'update-index', '--force-remove', '--',
            *drop[start:start + 500], env=env)
    tree = out(repo, 'write-tree', env=env)
    Path(env['GIT_INDEX_FILE']).unlink(missing_ok=True)
    return tree


TRAILER_RE = re.compile(r'^([A-Za-z0-9-]+):\s*(.*)$')


def commit_message(repo, commit):
    """Raw commit message of *commit*."""
    return out(repo, 'log', '-1', '--format=%B', commit) + '\n'


def version_at(repo, rev):
    """PY_VERSION from Include/patchlevel.h at *rev* (None if unreadable)."""
    try:
        text = show_bytes(repo, f'{rev}:Include/patchlevel.h').decode()
    except PreconditionError:
        return None
    return parse_patchlevel(text)


def parse_patchlevel(text):
    """Return PY_VERSION from the text of Include/patchlevel.h."""
    match = re.search(r'^#define\s+PY_VERSION\s+"([^"]+)"', text, re.M)
    return match.group(1) if match else None
