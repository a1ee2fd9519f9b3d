"""``export``: write patches/ and the new-file tree back from the branch.

Each commit of <base tag>..pep433 becomes one ``NNNN-subject.patch`` made by
``git format-patch`` with fixed flags and an isolated git configuration, so
that exporting an unchanged branch changes no byte.  A regular file that a
commit *adds* under Lib/, Modules/, Doc/ or Misc/ is left out of the patch
and written whole into the project repository; the patch's commit message
lists it in a ``New-File: <path>`` trailer, which ``apply`` reads to put the
file back into that commit.
"""

import difflib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import bases, config, gitutil, rebase, series as seriesmod
from .errors import PreconditionError, ProblemFound
from .util import write_if_changed

log = logging.getLogger(__name__)

FORMAT_PATCH_CONFIG = (
    '-c', 'core.abbrev=12',
    '-c', 'diff.noprefix=false',
    '-c', 'diff.mnemonicPrefix=false',
    '-c', 'core.quotePath=true',
    '-c', 'format.forceInBodyFrom=false',
)
FORMAT_PATCH_FLAGS = (
    '--always', '--no-signature', '--zero-commit', '--full-index',
    '--no-renames', '--diff-algorithm=myers', '--no-numbered',
    '--subject-prefix=PATCH', '--no-attach', '--no-thread',
    '--encoding=UTF-8', '--no-signoff', '--no-to', '--no-cc',
    '--no-notes', '--no-base', '--no-relative', '-U3',
    '--inter-hunk-context=0', '--no-ext-diff', '--no-textconv',
    '--suffix=.patch', '--filename-max-length=64', '--no-from',
    '-O' + os.devnull,
)


@dataclass
class ExportResult:
    """What an export produces, in memory."""

    patches: dict = field(default_factory=dict)     # name -> bytes
    names: list = field(default_factory=list)       # order of the series
    new_files: dict = field(default_factory=dict)   # path -> (bytes, mode)
    tip: str = ''


def _author_env(repo, commit):
    fmt = '%an%x00%ae%x00%ad'
    name, email, date = gitutil.out(repo, 'log', '-1', '--date=raw',
                                    f'--format={fmt}', commit).split('\0')
    return {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
            'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date}


def _tree_without(repo, commit, paths, tmpdir):
    """Hash of the tree of *commit* with *paths* removed."""
    if not paths:
        return gitutil.out(repo, 'rev-parse', commit + '^{tree}')
    env = {'GIT_INDEX_FILE': str(Path(tmpdir) / 'index')}
    gitutil.git(repo, 'read-tree', commit + '^{tree}', env=env, quiet=True)
    gitutil.git(repo, 'update-index', '--force-remove', '--', *paths,
                env=env, quiet=True)
    return gitutil.out(repo, 'write-tree', env=env)


def compute(repo, base, branch=config.BRANCH):
    """Compute the export of base..branch in *repo* (writes nothing).

    Git objects for the rewritten commits are created in *repo* (they are
    unreferenced and harmless).
    """
    if gitutil.rev_parse(repo, branch) is None:
        raise PreconditionError(
            f'branch {branch} does not exist in {repo}',
            hint='scripts/pep433 apply')
    merges = gitutil.out(repo, 'rev-list', '--merges', f'{base}..{branch}')
    if merges:
        raise PreconditionError(
            f'{base}..{branch} contains merge commits ({merges.split()[0]}'
            '...); a patch series must be linear',
            hint=f'git -C {repo} rebase {base} {branch}')
    result = ExportResult(tip=gitutil.rev_parse(repo, branch))
    with tempfile.TemporaryDirectory(prefix='pep433-export-') as tmpdir:
        for number, commit in enumerate(
                gitutil.commits(repo, f'{base}..{branch}'), 1):
            added = gitutil.added_files(repo, commit)
            added_paths = [path for path, _ in added]
            for path, mode in added:
                data = gitutil.show_bytes(repo, f'{commit}:{path}')
                result.new_files[path] = (data, mode)
            message = seriesmod.with_new_file_trailers(
                gitutil.commit_message(repo, commit), added_paths,
                config.NEW_FILE_TRAILER)
            tree = _tree_without(repo, commit, added_paths, tmpdir)
            shadow = gitutil.out(
                repo, 'commit-tree', tree, '-p', commit + '^', '-F', '-',
                input=message, isolated=True,
                env=_author_env(repo, commit))
            outdir = Path(tmpdir) / f'out{number}'
            gitutil.git(repo, *FORMAT_PATCH_CONFIG, 'format-patch',
                        *FORMAT_PATCH_FLAGS, f'--start-number={number}',
                        '-o', str(outdir), '-1', shadow,
                        isolated=True, quiet=True)
            (produced,) = outdir.iterdir()
            result.names.append(produced.name)
            result.patches[produced.name] = produced.read_bytes()
    return result


def previous_outputs(paths):
    """Patches and new files that the base's current series lists."""
    old = seriesmod.load(paths, check_files=False)
    patches = [name for name in old.names
               if (paths.patches / name).is_file()]
    new_files = set()
    for name in patches:
        text = (paths.patches / name).read_text(encoding='utf-8',
                                                errors='replace')
        new_files.update(seriesmod.new_file_trailers(
            text, config.NEW_FILE_TRAILER))
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
            clashes.append(f'{path} (used as it is by the series of '
                           f'{", ".join(users[path])})')
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


def run_export(paths, check=False, review=None):
    """Implement the ``export`` subcommand; return the exit code."""
    repo = paths.cpython
    result = compute(repo, paths.base.tag)
    if check:
        report = differences(paths, result)
        if report:
            raise ProblemFound(
                'patches/ is not up to date with the branch '
                f'{config.BRANCH} in {repo}:\n' + '\n'.join(report),
                hint='scripts/pep433 export')
        log.info('export --check: patches/%s matches %s (%d patches)',
                 paths.base.version, config.BRANCH, len(result.names))
        return 0
    check_shared_new_files(paths, result)
    if review:
        write_review(paths, repo, Path(review))
    changed = write(paths, result)
    if changed:
        log.info('export: updated %d files:\n  %s', len(changed),
                 '\n  '.join(changed))
    else:
        log.info('export: patches/ already up to date (%d patches)',
                 len(result.names))
    previous = gitutil.rev_parse(repo, config.APPLIED_REF)
    if previous and previous != result.tip:
        log.info('range-diff against the previous series (%s):\n%s',
                 config.APPLIED_REF,
                 range_diff(repo, previous, result.tip, paths.base.tag))
    ported = rebase.ported_from(paths)
    if ported:
        log.info('range-diff of the %s series against the %s series it was '
                 'ported from:\n%s', paths.base.version, ported.version,
                 rebase.port_range_diff(paths, ported))
    gitutil.git(repo, 'update-ref', '-m', 'pep433 export',
                config.APPLIED_REF, result.tip, quiet=True)
    paths.update_state(applied_tip=result.tip)
    return 0


def write_review(paths, repo, outdir):
    """Write a review folder: cover letter + series + combined diff, and
    the rendered docs of the changed pages when they have been built."""
    base, branch = paths.base.tag, config.BRANCH
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    stat = gitutil.out(repo, 'diff', '--stat=100', '--summary',
                       f'{base}..{branch}', isolated=True)
    previous = gitutil.rev_parse(repo, config.APPLIED_REF)
    tip = gitutil.rev_parse(repo, branch)
    if previous and previous != tip:
        rdiff = range_diff(repo, previous, tip, base)
    else:
        rdiff = '(no previous series recorded, or no change)\n'
    gitutil.git(repo, *FORMAT_PATCH_CONFIG, 'format-patch',
                *[f for f in FORMAT_PATCH_FLAGS if f != '--always'],
                '--cover-letter', '-o', str(outdir), f'{base}..{branch}',
                isolated=True, quiet=True)
    covers = sorted(outdir.glob('0000-*.patch'))
    if covers:
        cover = covers[0]
        text = cover.read_text(encoding='utf-8')
        body = ('PEP 433 (cloexec= keyword and -e option) on CPython '
                f'{paths.base.version}.\n\nDiffstat of {base}..{branch}:\n\n'
                f'{stat}\n\nRange-diff against the last series '
                f'({config.APPLIED_REF}):\n\n{rdiff}')
        text = text.replace('*** SUBJECT HERE ***',
                            f'PEP 433 series for CPython {paths.base.version}')
        text = text.replace('*** BLURB HERE ***', body)
        cover.write_text(text, encoding='utf-8')
    combined = gitutil.git(repo, 'diff', '--full-index', '--no-renames',
                           '--no-ext-diff', '--no-color',
                           f'{base}..{branch}', isolated=True,
                           quiet=True).stdout
    (outdir / 'pep433-combined.diff').write_text(combined, encoding='utf-8')
    from .docs import write_review_docs  # docs -> apply -> export
    write_review_docs(paths, repo, outdir / 'docs')
    log.info('review folder written: %s', outdir)
