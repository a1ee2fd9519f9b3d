"""``export``: write patches/ and the new-file tree back from the branch.

Each commit of <base tag>..pep433 becomes one ``NNNN-subject.patch``, the
whole ``git format-patch`` of the commit (``patchset.compute``), so that
``git am``, ``patch -p1`` and ``quilt`` apply each file on its own.  The
files the series adds under Lib/, Modules/, Doc/ and Misc/ are also written
whole at their paths in the project repository, once for every base: a
readable view that ``export --check`` holds equal to what the patches
create.  The review bundle is ``review``'s.
"""

import difflib
import logging
import os
from pathlib import Path

from . import bases, checkout, config, gitutil, patchset, rebase
from . import series as seriesmod
from .errors import PreconditionError, ProblemFound
from .util import tool_command, write_if_changed

log = logging.getLogger(__name__)


def previous_outputs(paths):
    """Patches and new files that the base's current series lists."""
    old = seriesmod.load(paths, check_files=False)
    patches = [name for name in old.names
               if (paths.patches / name).is_file()]
    new_files = set()
    for name in patches:
        new_files.update(seriesmod.added_paths(
            (paths.patches / name).read_text(encoding='utf-8',
                                             errors='replace')))
    return old, patches, new_files


def other_bases_new_files(paths):
    """{path: [version, ...]}: the new files the other bases' series use."""
    users = {}
    for base in bases.load():
        if base.version == paths.base.version:
            continue
        other = paths.for_base(base)
        if not other.series.exists():
            continue
        for path in previous_outputs(other)[2]:
            users.setdefault(path, []).append(base.version)
    return users


def added_version(paths, path):
    """*path* as the commit of branch pep433 that adds it has it, in the
    checkout of the base of *paths* (None without one)."""
    repo = paths.cpython
    if not gitutil.is_repo(repo) or gitutil.rev_parse(
            repo, config.BRANCH) is None:
        return None
    commit = gitutil.out(repo, 'log', '--diff-filter=A', '--format=%H',
                         f'{paths.base.tag}..{config.BRANCH}', '--', path)
    if not commit:
        return None
    return gitutil.show_bytes(repo, f'{commit.split()[-1]}:{path}')


def check_shared_new_files(paths, result):
    """Refuse to write a second version of a new file another base uses.

    A new file exists once for every base; where one base needs it
    different, that difference must be a commit of its own in that base's
    series (a change to the file, not a second copy of it).
    """
    users = other_bases_new_files(paths)
    clashes = []
    for path, (data, _) in sorted(result.new_files.items()):
        target = paths.repo / path
        if path in users and target.exists() and target.read_bytes() != data:
            # The same change made in every other base's branch (not yet
            # exported there) is one version, not two.
            stale = [version for version in users[path]
                     if added_version(paths.for_base(version), path) != data]
            if stale:
                clashes.append(f'{path} (used as it is by the series of '
                               f'{", ".join(stale)})')
    if clashes:
        raise PreconditionError(
            f'the {paths.base.version} series adds other versions of new '
            'files that other bases share:\n  ' + '\n  '.join(clashes),
            hint='in the checkout, keep the file as the other bases have it '
                 'in the commit that adds it, and make the '
                 f'{paths.base.version} difference a commit of its own '
                 '(git rebase -i), then export again')


def planned_changes(paths, result):
    """Return (writes, deletes): {relpath: bytes} and [relpath] in the repo."""
    old, old_patches, old_new_files = previous_outputs(paths)
    patches_dir = paths.patches.relative_to(paths.repo).as_posix()
    writes = {}
    for name in result.names:
        writes[f'{patches_dir}/{name}'] = result.patches[name]
    if result.names or paths.series.exists():
        writes[f'{patches_dir}/series'] = seriesmod.render(
            result.names, old).encode('utf-8')
    for path, (data, _) in result.new_files.items():
        writes[path] = data
    deletes = [f'{patches_dir}/{name}' for name in old_patches
               if name not in result.patches]
    shared = other_bases_new_files(paths)
    deletes.extend(path for path in sorted(old_new_files)
                   if path not in result.new_files and path not in shared)
    deletes = [path for path in deletes if (paths.repo / path).exists()]
    return writes, deletes


def differences(paths, result):
    """Human-readable differences between *result* and the project tree."""
    writes, deletes = planned_changes(paths, result)
    report = []
    for rel, data in sorted(writes.items()):
        target = paths.repo / rel
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            report.append(f'would create {rel}')
            continue
        if current != data:
            diff = difflib.unified_diff(
                current.decode('utf-8', 'replace').splitlines(),
                data.decode('utf-8', 'replace').splitlines(),
                f'a/{rel}', f'b/{rel}', lineterm='', n=1)
            lines = list(diff)
            report.append(f'would change {rel} ({len(lines)} diff lines):')
            report.extend('    ' + line for line in lines[:40])
            if len(lines) > 40:
                report.append('    ...')
    for rel in deletes:
        report.append(f'would delete {rel}')
    for path, (_, mode) in sorted(result.new_files.items()):
        target = paths.repo / path
        if target.exists() and _mode_of(target) != mode and not any(
                line.endswith(' ' + path) for line in report):
            report.append(f'would change the mode of {path} to {mode}')
    return report


def _mode_of(path):
    return '100755' if os.access(path, os.X_OK) else '100644'


def write(paths, result):
    """Write *result* into the project repository; return changed paths."""
    writes, deletes = planned_changes(paths, result)
    changed = []
    for rel, data in sorted(writes.items()):
        if write_if_changed(paths.repo / rel, data):
            changed.append(rel)
    for path, (_, mode) in result.new_files.items():
        target = paths.repo / path
        want = 0o755 if mode == '100755' else 0o644
        if target.stat().st_mode & 0o777 != want:
            target.chmod(want)
            changed.append(path)
    for rel in deletes:
        (paths.repo / rel).unlink()
        changed.append(rel)
        _prune_empty_dirs(paths.repo, (paths.repo / rel).parent)
    return changed


def _prune_empty_dirs(root, directory):
    root = Path(root)
    while directory != root and directory.is_dir():
        try:
            directory.rmdir()
        except OSError:
            break
        directory = directory.parent


def run_export(paths, check=False):
    """Implement the ``export`` subcommand; return the exit code."""
    cpython = checkout.open_checkout(paths)
    repo = cpython.repo
    result = patchset.compute(repo, paths.base.tag,
                              hint_base=paths.base.version)
    if check:
        report = differences(paths, result)
        if report:
            raise ProblemFound(
                f'patches/{paths.base.version}/ or the new-file tree is not '
                f'up to date with the branch {config.BRANCH} in {repo}:\n'
                + '\n'.join(report),
                hint=tool_command('export', base=paths.base.version))
        log.info('export --check: patches/%s and the new-file tree match '
                 '%s (%d patches)', paths.base.version, config.BRANCH,
                 len(result.names))
        return 0
    check_shared_new_files(paths, result)
    changed = write(paths, result)
    if changed:
        log.info('export: updated %d files:\n  %s', len(changed),
                 '\n  '.join(changed))
    else:
        log.info('export: patches/%s already up to date (%d patches)',
                 paths.base.version, len(result.names))
    previous = cpython.applied
    if previous and previous != result.tip:
        log.info('range-diff against the previous series (%s):\n%s',
                 config.APPLIED_REF,
                 patchset.range_diff(repo, previous, result.tip,
                                     paths.base.tag))
    ported = rebase.ported_from(paths)
    if ported:
        log.info('range-diff of the %s series against the %s series it was '
                 'ported from:\n%s', paths.base.version, ported.version,
                 rebase.port_range_diff(paths, ported))
    checkout.record_applied(
        cpython, result.tip,
        seriesmod.fingerprint(paths, seriesmod.load(paths)), 'export')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'write patches/<version>/ back from branch pep433'


def add_arguments(parser):
    """``export``'s options."""
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 if anything would change')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_export(paths, check=args.check)
