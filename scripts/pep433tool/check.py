"""``check``: is the series in a shape to be shared?"""

import logging
import shutil

from . import apply, build, checkout, cichecks, config, deps, export, gitutil
from . import options, patchset
from . import kqueue as kqueuemod, series as seriesmod
from . import windows as windowsmod
from .errors import ProblemFound, ToolError
from .util import run

log = logging.getLogger(__name__)


def check_applies(paths, repo):
    """(a) The series applies in order onto the base tag (git am alone)
    and gives the tree of branch pep433."""
    series = seriesmod.load(paths)
    tip = apply.build_series(paths, repo, series)
    branch = gitutil.rev_parse(repo, f'refs/heads/{config.BRANCH}')
    # Where the patches are the branch's export (else (e) says so), git am
    # of them must give its very tree: the patches lose nothing.
    if (branch and patchset.matches(paths.patches, series.names,
                                    patchset.compute(repo, paths.base.tag))
            and gitutil.out(repo, 'rev-parse', tip + '^{tree}')
            != gitutil.out(repo, 'rev-parse', branch + '^{tree}')):
        raise ProblemFound(
            f'git am of patches/{paths.base.version}/ does not give the '
            f'tree of branch {config.BRANCH}, of which it is the export',
            hint='report it: a change format-patch cannot carry')
    log.info('check (a): the %d patches apply onto %s', len(series.names),
             paths.base.tag)
    return tip


def check_worktree(paths, repo, commit, quiet=False):
    """Move the detached worktree check-src/ to *commit*; return its path.

    It is created (at *commit*) when missing.
    """
    src = paths.workdir / 'check-src'
    if not gitutil.is_repo(src):
        shutil.rmtree(src, ignore_errors=True)
        gitutil.git(repo, 'worktree', 'prune', quiet=True)
        gitutil.git(repo, 'worktree', 'add', '--detach', str(src), commit,
                    quiet=quiet)
    else:
        gitutil.git(src, 'checkout', '--quiet', '--detach', '--force',
                    commit, quiet=quiet)
    return src


def check_builds(paths, repo, jobs=None, ci=True):
    """(b) Each commit of <tag>..pep433 builds; with *ci*, (h) the checks
    CPython's CI runs on a pull request pass at each one (cichecks.py):
    the build is then a shared one with debug information, the base tag is
    built first for the reference ABI report.  Return problems."""
    builddir = paths.workdir / 'check'
    commits = gitutil.commits(repo, f'{paths.base.tag}..{config.BRANCH}')
    if not commits:
        return []
    flags = build.configure_flags(paths)
    problems = []
    base_report = None
    if ci:
        deps.ensure_packages(cichecks.PACKAGES, 'the CI checks\' tools')
        flags = flags + list(cichecks.ABI_CONFIGURE)
        src = check_worktree(paths, repo, paths.base.tag)
        build.build_tree(f'check {paths.base.tag}', src, builddir, flags,
                         jobs)
        base_report = cichecks.abidiff(src, builddir)
    for number, commit in enumerate(commits, 1):
        subject = gitutil.out(repo, 'log', '-1', '--format=%s', commit)
        src = check_worktree(paths, repo, commit)
        label = f'check {number}/{len(commits)}'
        where = f'commit {number} ({commit[:12]} "{subject}")'
        try:
            build.build_tree(label, src, builddir, flags, jobs)
        except ToolError as exc:
            return problems + [f'{where} does not build: {exc}']
        if ci:
            problems += ci_checks(where, src, builddir, base_report, repo,
                                  commit, paths.base.tag)
    log.info('check (b): each of the %d commits builds', len(commits))
    if ci and not problems:
        log.info('check (h): the ABI keeps its public types and '
                 'check-c-globals passes at each of the %d commits',
                 len(commits))
    return problems


def ci_checks(where, src, builddir, base_report, repo, commit, base_tag):
    """(h) at one commit: problems of the ABI, c-globals and patchcheck's
    whitespace checks."""
    problems = []
    changed = gitutil.out(repo, 'diff-tree', '-r', '--no-commit-id',
                          '--name-only', '--diff-filter=AM', commit
                          ).splitlines()
    tabs_before = {}
    for path in changed:
        if path.endswith(('.c', '.h')):
            proc = gitutil.git(repo, 'show', f'{commit}^:{path}',
                               check=False)
            tabs_before[path] = (proc.stdout.count('\t')
                                 if proc.returncode == 0 else 0)
    problems += [f'{where}: {problem}' for problem in cichecks.patchcheck(
        src, builddir / 'python', changed, tabs_before,
        env=cichecks.python_env(builddir))]
    public, internal = cichecks.new_abi_changes(
        base_report, cichecks.abidiff(src, builddir))
    if public:
        problems.append(
            f'{where} changes the ABI of public types (abidiff against '
            'Doc/data/python3.13.abi, beyond what the base tag shows):\n    '
            + '\n    '.join(line[-300:] for line in public[:20]))
    if internal:
        members = cichecks.insertions(internal)
        log.info('%s: %d changes of internal structures in the ABI dump'
                 '%s', where, len(internal),
                 (' (members inserted or removed: ' + ', '.join(members)
                  + ')') if members else '')
    if not any(path.endswith(('.c', '.h')) for path in changed):
        return problems     # no C change: the last commit's result holds
    # The C files the series has changed so far (not their generated
    # clinic output): the globals it can have added are there.
    files = [path for path in gitutil.out(
        repo, 'diff', '--name-only', base_tag, commit, '--', '*.c'
        ).splitlines() if '/clinic/' not in path]
    failures, report = cichecks.c_globals(src, builddir,
                                          builddir / 'python', files)
    if failures:
        problems.append(f'{where}: check-c-globals reports {failures} '
                        'failures:\n    ' + report.replace('\n', '\n    '))
    return problems


def check_generated(paths, repo):
    """(c) clinic and global-objects output is up to date at the tip."""
    if not (paths.patched / 'Makefile').exists():
        return ['cannot check generated files: the patched build is not '
                'configured (run scripts/pep433 build --only patched)']
    if gitutil.current_branch(repo) != config.BRANCH:
        return [f'cannot check generated files: {repo} is not on branch '
                f'{config.BRANCH}']
    baseline_python = paths.baseline / 'python'
    python = (str(baseline_python) if baseline_python.exists()
              else shutil.which('python3') or 'python3')
    before = set(gitutil.dirty_files(repo))
    env = build.build_env()
    for target in ('clinic', 'regen-global-objects'):
        run(['make', target, f'PYTHON_FOR_REGEN={python}'],
            cwd=paths.patched, env=env)
    after = set(gitutil.dirty_files(repo))
    changed = sorted(after - before)
    if changed:
        return ['generated files are out of date at the tip; they were '
                f'regenerated in {repo} (commit them into the right patch, '
                'then export):\n    ' + '\n    '.join(changed)]
    log.info('check (c): generated files are up to date')
    return []


def check_hygiene(paths, repo):
    """(d) Whitespace and patch hygiene."""
    problems = []
    proc = gitutil.git(repo, 'diff', '--check', paths.base.tag,
                       config.BRANCH, check=False, quiet=True)
    if proc.returncode != 0:
        problems.append('whitespace errors (git diff --check):\n    '
                        + '\n    '.join(proc.stdout.splitlines()[:40]))
    commits = gitutil.commits(repo, f'{paths.base.tag}..{config.BRANCH}')
    for number, commit in enumerate(commits, 1):
        message = gitutil.commit_message(repo, commit)
        subject, body, trailers = seriesmod.split_message(message)
        where = f'patch {number} ("{subject}")'
        if config.BUG_TRAILER not in trailers:
            problems.append(f'{where} has no "{config.BUG_TRAILER}" trailer')
        if not body.strip():
            problems.append(f'{where} has no body explaining what and why')
        added = gitutil.out(repo, 'diff-tree', '-r', '--no-commit-id',
                            '--name-only', '--diff-filter=A', commit)
        if not any(path.startswith('Misc/NEWS.d/next/')
                   for path in added.splitlines()):
            problems.append(f'{where} adds no Misc/NEWS.d entry (blurb; '
                            'patchcheck asks for one)')
    return problems


def check_export(paths):
    """(e) The export round trip is clean."""
    result = patchset.compute(paths.cpython, paths.base.tag,
                              hint_base=paths.base.version)
    report = export.differences(paths, result)
    if report:
        return ['patches/ is not up to date with the branch (run '
                'scripts/pep433 export):\n    ' + '\n    '.join(report)]
    return []


def check_kqueue(paths, repo):
    """(f) The kqueue path of select compiles at each commit (kqueue.py)."""
    return kqueuemod.check_kqueue(
        paths, repo,
        lambda commit: check_worktree(paths, repo, commit, quiet=True))


def check_windows(paths, repo):
    """(g) The series' Windows code compiles at each commit (windows.py)."""
    return windowsmod.check_windows(
        paths, repo,
        lambda commit: check_worktree(paths, repo, commit, quiet=True))


def run_check(paths, build=True, jobs=None, kqueue=True, windows=True,
              ci=True):
    """Implement the ``check`` subcommand; return the exit code."""
    repo = checkout.require_checkout(paths)
    problems = []
    try:
        check_applies(paths, repo)
    except ToolError as exc:
        problems.append(f'the series does not apply: {exc}')
    if gitutil.rev_parse(repo, config.BRANCH) is None:
        problems.append(f'branch {config.BRANCH} does not exist (run '
                        'scripts/pep433 apply)')
    else:
        if build:
            problems += check_builds(paths, repo, jobs, ci=ci)
        problems += check_generated(paths, repo)
        problems += check_hygiene(paths, repo)
        problems += check_export(paths)
        for step, wanted, run_step in (('(f)', kqueue, check_kqueue),
                                       ('(g)', windows, check_windows)):
            if not wanted:
                continue
            try:
                problems += run_step(paths, repo)
            except ToolError:
                if problems:
                    log.error('check found %d problems before %s '
                              'stopped:\n- %s', len(problems), step,
                              '\n- '.join(problems))
                raise
    if problems:
        raise ProblemFound(f'{len(problems)} problems:\n- '
                           + '\n- '.join(problems))
    log.info('check: all good')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'check the series (applies, builds, ...)'


def add_arguments(parser):
    """``check``'s options."""
    for flag, what in (('--no-build', '(b), the per-commit builds'),
                       ('--no-kqueue', '(f), the kqueue compile'),
                       ('--no-windows', '(g), the Windows compile'),
                       ('--no-ci', "(h), CPython's CI checks")):
        parser.add_argument(flag, action='store_true', help='skip ' + what)
    options.add_jobs(parser, 'parallel make jobs')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_check(paths, build=not args.no_build, jobs=args.jobs,
                     kqueue=not args.no_kqueue,
                     windows=not args.no_windows, ci=not args.no_ci)
