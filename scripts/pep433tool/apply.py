"""``apply``: build the branch pep433 from the base tag and patches/<version>/.

What a core developer would do by hand: ``git am`` of each patch of
``patches/<version>/series`` in order, nothing added after it (the patches
are self-contained), in a temporary worktree so that the user's work tree
is never used for the work.  Committer identity and dates are fixed, so the
same series gives the same commit hashes on every machine.  Only then is
the branch moved; its previous tip is kept as a backup ref.
"""

import logging

from . import checkout, config, gitutil, patchset, series as seriesmod
from .errors import PreconditionError
from .util import tool_command

log = logging.getLogger(__name__)

AM_FLAGS = ('--committer-date-is-author-date', '--no-3way',
            '--whitespace=nowarn', '--empty=stop', '--no-message-id',
            '--no-scissors', '--no-signoff', '--quiet')

#: Lines of git am's own output that tell the user to run a git am command;
#: the tool has already aborted it and removed its worktree.
AM_ADVICE = ('hint:', 'When you have resolved', 'If you prefer to skip',
             'To restore the original', 'Use \'git am --show-current-patch')


def build_series(paths, repo, series, tmp_parent=None):
    """Apply *series* onto the base tag in a temporary worktree.

    Return the tip commit.  Raise PreconditionError (exit 3) naming the
    patch that does not apply; the repository's branches are untouched and
    the worktree is removed.
    """
    base = gitutil.rev_parse(repo, paths.base.tag)
    if not series.names:
        return base
    with checkout.temporary_worktree(repo, tmp_parent or paths.workdir,
                                     base) as worktree:
        for number, name in enumerate(series.names, 1):
            patch = paths.patches / name
            log.info('applying %s', name)
            proc = gitutil.git(worktree, 'am', *AM_FLAGS, str(patch),
                               isolated=True, check=False, quiet=True)
            if proc.returncode != 0:
                gitutil.git(worktree, 'am', '--abort', isolated=True,
                            check=False, quiet=True)
                raise _does_not_apply(paths, number, name, proc)
        return gitutil.rev_parse(worktree, 'HEAD')


def _does_not_apply(paths, number, name, proc):
    """The error for patch *name* (the *number*th) that git am refused."""
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip() and not line.startswith(AM_ADVICE)
             and not line.startswith('Patch failed at ')]
    version = paths.base.version
    return PreconditionError(
        f'patch {number} of patches/{version}/series, {name}, does not '
        f'apply onto {paths.base.tag} plus the {number - 1} patches before '
        'it (git am, no fuzz, no 3-way merge):\n'
        + '\n'.join('    ' + line for line in lines[-25:])
        + '\nNothing was changed: the tool aborted git am, removed its '
        f'temporary worktree, and branch {config.BRANCH} is as it was.',
        hint=f'make patches/{version}/ from a branch where the series '
             f'applies ({tool_command("export", base=version)}), or fix '
             f'the order in patches/{version}/series')


def _up_to_date(paths, cpython, series, fingerprint):
    """True if branch pep433 is the series already.

    Known without exporting when its tip is the applied tip and patches/
    is what it was (*fingerprint*) when apply made it or export wrote it.
    Otherwise (no record: a branch made by hand with git am, or by an
    older tool) the branch's export is compared with patches/.
    """
    if not series.names:
        return cpython.tip == cpython.base
    if cpython.tip == cpython.base:
        return False
    if checkout.recorded_fingerprint(cpython) == fingerprint:
        return True
    return patchset.matches(
        paths.patches, series.names,
        patchset.compute(cpython.repo, paths.base.tag,
                         hint_base=paths.base.version))


def run_apply(paths):
    """Implement the ``apply`` subcommand; return the exit code."""
    cpython = checkout.open_checkout(paths)
    repo, tip = cpython.repo, cpython.tip
    checkout.require_clean(repo)
    series = seriesmod.load(paths)
    fingerprint = seriesmod.fingerprint(paths, series)
    version = paths.base.version
    if tip is not None and _up_to_date(paths, cpython, series, fingerprint):
        log.info('apply: branch %s already is patches/%s/ (%d patches); '
                 'nothing to do', config.BRANCH, version, len(series.names))
        new = tip
    else:
        if cpython.unexported:
            raise PreconditionError(
                f'branch {config.BRANCH} in {repo} has commits that are not '
                f'in patches/{version}/ and that apply did not create (tip '
                f'{tip[:12]})',
                hint=f'save them into patches/{version}/ with '
                     f'{tool_command("export", base=version)}, or move the '
                     f'branch away (git -C {repo} branch -m {config.BRANCH} '
                     'my-work), then run apply again')
        new = build_series(paths, repo, series)
        if tip != new:
            checkout.check_holders(repo, new)  # refuse before a ref changes
            if tip is not None and tip != cpython.base:
                # A run killed after this point already kept *tip*: once.
                backup = checkout.keep_backup(repo, tip, 'apply')
                log.info('apply: the series changed; previous branch tip %s '
                         'kept as %s', tip[:12], backup)
            checkout.move_branch(repo, tip, new)
        log.info('apply: %s is at %s (%d patches on %s)', config.BRANCH,
                 new[:12], len(series.names), paths.base.tag)
    checkout.record_applied(cpython, new, fingerprint, 'apply')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'build branch pep433 from patches/<version>/'


def add_arguments(parser):
    """``apply`` has no option."""
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_apply(paths)
