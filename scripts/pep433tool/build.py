"""``build``: out-of-tree builds of the baseline and patched interpreters."""

import hashlib
import json
import logging
import os
import re
import shlex
from pathlib import Path

from . import config, deps, gitutil, options, util
from .checkout import require_checkout
from .errors import ExternalError, PreconditionError
from .util import build_in_use, cpu_count, format_cmd

log = logging.getLogger(__name__)

STAMP = '.pep433-configure.json'
#: What a PGO build's profile was made from: the source tree's commit and
#: a digest of its uncommitted changes (forget_stale_profile()).
PGO_SOURCE = '.pep433-pgo-source.json'
#: The base Makefile's stamps of the PGO cycle: without them, ``make``
#: cleans the profile, builds instrumented, trains and rebuilds.
PGO_STAMPS = ('profile-run-stamp', 'profile-gen-stamp', 'profile-clean-stamp')
PROGRESS_INTERVAL = 10.0
CCACHE_DIR = '/usr/lib/ccache'


def build_env():
    """Environment for configure and make (ccache first in PATH if present).

    The builds are out of tree with relative source paths, so ccache is told
    not to hash the build directory: a work directory elsewhere (a fresh
    clone, CI) with the same layout then reuses the cached objects.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    if os.path.isdir(CCACHE_DIR):
        env['PATH'] = CCACHE_DIR + os.pathsep + env.get('PATH', '')
        env.setdefault('CCACHE_NOHASHDIR', '1')
    return env


def check_out_of_tree(src):
    """Refuse a source tree that holds an in-tree build."""
    src = Path(src)
    found = [name for name in ('Makefile', 'python', 'pyconfig.h',
                               'config.status')
             if (src / name).exists()]
    if found:
        raise PreconditionError(
            f'{src} contains an in-tree build ({", ".join(found)}); '
            'out-of-tree builds from it would fail',
            hint=f'make -C {src} distclean')


def _count_objects(builddir):
    count = 0
    for _, _, files in os.walk(builddir):
        count += sum(1 for name in files if name.endswith(('.o', '.so')))
    return count


def _last_line(path):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            lines = f.read().decode(errors='replace').splitlines()
    except FileNotFoundError:
        return ''
    line = lines[-1] if lines else ''
    target = re.findall(r' -o (\S+)', line)
    if target:
        return 'last target: ' + target[-1]
    return line if len(line) <= 80 else line[:77] + '...'


#: What make prints as a PGO build (configure --enable-optimizations: the
#: profile-opt target of Makefile.pre.in) enters each of its stages: the
#: instrumented build, the training run (PROFILE_TASK, regrtest --pgo),
#: the rebuild with the profile.  A line that *starts with* one of these.
PGO_STAGES = (
    ('Running code to generate profile data', 'profile-gen'),
    ('Building with support for profile generation', 'profile-gen'),
    ('touch profile-gen-stamp', 'run_profile_task'),
    ('Rebuilding with profile guided optimizations', 'profile-use'),
)
PGO_TITLES = {'profile-gen': 'PGO 1/3 profile-gen (instrumented build)',
              'run_profile_task': 'PGO 2/3 run_profile_task',
              'profile-use': 'PGO 3/3 profile-use (optimized rebuild)'}
#: regrtest's progress line: "0:01:02 load avg: 1.80 [ 12/44] test_bytes"
_REGRTEST_PROGRESS = re.compile(r'\[\s*(\d+)/(\d+)(?:/\d+)?\] (\S+)')


class PgoProgress:
    """The progress line of a PGO build, from its make.log.

    A PGO build makes the interpreter twice and, in between, runs the
    training task, minutes of regrtest that write no object: the last
    target alone would say nothing for that long, or name a target of the
    instrumented build.  This reads what the log gained since the last
    call (a PGO log is long) and says the stage: the instrumented build
    or the optimized rebuild with the objects built and the last target,
    the training run with the test it is at.
    """

    def __init__(self, builddir):
        self.builddir = builddir
        self.reset()

    def reset(self):
        """Forget what was read: the log is a new one."""
        self.offset = 0
        self.partial = b''
        self.stage = None
        self.test = None

    def feed(self, data):
        """Read the log's new bytes *data*."""
        lines = (self.partial + data).split(b'\n')
        self.partial = lines.pop()
        for raw in lines:
            line = raw.decode(errors='replace').strip()
            for marker, stage in PGO_STAGES:
                if line.startswith(marker):
                    if stage != self.stage:
                        self.test = None
                    self.stage = stage
            if self.stage == 'run_profile_task':
                match = _REGRTEST_PROGRESS.search(line)
                if match:
                    self.test = (match.group(3), int(match.group(1)),
                                 int(match.group(2)))

    def __call__(self, logfile):
        try:
            with open(logfile, 'rb') as f:
                f.seek(0, os.SEEK_END)
                if f.tell() < self.offset:      # make ran again
                    self.reset()
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            data = b''
        self.offset += len(data)
        self.feed(data)
        if self.stage == 'run_profile_task':
            if self.test is None:
                return PGO_TITLES[self.stage] + ': starting'
            name, index, total = self.test
            return f'{PGO_TITLES[self.stage]}: {name} ({index}/{total})'
        what = '%d objects built; %s' % (_count_objects(self.builddir),
                                         _last_line(logfile))
        if self.stage is None:
            return what
        return f'{PGO_TITLES[self.stage]}: {what}'


def run_logged(cmd, cwd, logfile, env, label, progress=None):
    """util.run_step() of *cmd* in build directory *cwd*; its progress by
    default: the objects built so far and the last line of the log."""
    def objects(logfile):
        return '%d objects built; %s' % (_count_objects(cwd),
                                         _last_line(logfile))

    util.run_step(cmd, logfile, label, progress or objects, cwd=cwd,
                  env=env, every=PROGRESS_INTERVAL, logger=log)


def source_identity(src):
    """{'head', 'changes'} of the git tree *src*: its commit and the
    sha256 of ``git diff HEAD`` (None outside a git tree)."""
    if not gitutil.is_repo(src):
        return None
    diff = gitutil.out(src, 'diff', 'HEAD')
    return {'head': gitutil.rev_parse(src, 'HEAD'),
            'changes': hashlib.sha256(diff.encode()).hexdigest()}


def forget_stale_profile(label, src, builddir):
    """Make a PGO build start its cycle again if *src* changed since
    its profile was made.

    The base's Makefile keeps profile-run-stamp, and with it the profile,
    across source changes; the rebuild then feeds gcc a profile of other
    code, which it refuses (-Werror=coverage-mismatch).  The tree the
    profile is of is recorded in PGO_SOURCE; on a change, or with no record
    beside a profile, the stamps go and ``make`` runs the whole cycle.
    """
    record = Path(builddir) / PGO_SOURCE
    now = source_identity(src)
    try:
        before = json.loads(record.read_text())
    except (OSError, ValueError):
        before = None
    if (Path(builddir) / PGO_STAMPS[0]).exists() and before != now:
        log.info('%s: the source changed since its profile was made: '
                 'instrumented build, training and rebuild again', label)
        for name in PGO_STAMPS:
            (Path(builddir) / name).unlink(missing_ok=True)
    record.write_text(json.dumps(now, indent=2) + '\n')


def build_tree(label, src, builddir, flags, jobs=None, extra_env=None):
    """Configure (when needed) and make *src* out of tree in *builddir*
    (with *extra_env* added to build_env()).

    A PGO build (--enable-optimizations) reports its stage as it goes
    (PgoProgress).  It keeps ccache: ccache hashes the working directory
    of a -fprofile-generate compile (where its profile goes) and the
    profile data of a -fprofile-use one, and hands a compile with an
    option it does not know (-fprofile-update=atomic, which recent
    configure scripts add) to the compiler uncached (docs/performance.md).
    """
    src, builddir = Path(src).resolve(), Path(builddir).resolve()
    with build_in_use(builddir, f'build of {label}', exclusive=True):
        env = configure_tree(label, src, builddir, flags, extra_env)
        pgo = '--enable-optimizations' in flags
        if pgo:
            forget_stale_profile(label, src, builddir)
        progress = PgoProgress(builddir) if pgo else None
        jobs = jobs or cpu_count()
        run_logged(['make', f'-j{jobs}'], builddir, builddir / 'make.log',
                   env, f'{label} make', progress=progress)
    python = builddir / 'python'
    if not python.exists():
        raise ExternalError(f'{label}: make succeeded but {python} is '
                            'missing; see ' + str(builddir / 'make.log'))
    return python


def configure_tree(label, src, builddir, flags, extra_env=None):
    """Configure *src* out of tree in *builddir* unless it is already,
    with these *flags* (the stamp says); return the environment of make."""
    src, builddir = Path(src).resolve(), Path(builddir).resolve()
    check_out_of_tree(src)
    builddir.mkdir(parents=True, exist_ok=True)
    env = {**build_env(), **(extra_env or {})}
    stamp = builddir / STAMP
    wanted = {'src': str(src), 'configure_args': list(flags)}
    try:
        current = json.loads(stamp.read_text())
    except (FileNotFoundError, ValueError):
        current = None
    if current != wanted or not (builddir / 'Makefile').exists():
        if current is not None and current != wanted:
            log.info('%s: configure flags or source changed (%s -> %s); '
                     're-running configure', label, current, wanted)
        stamp.unlink(missing_ok=True)
        run_logged([str(src / 'configure'), *flags], builddir,
                   builddir / 'configure.log', env, f'{label} configure')
        stamp.write_text(json.dumps(wanted, indent=2) + '\n')
    else:
        log.info('%s: already configured with %s', label,
                 format_cmd(flags) or 'no extra flags')
    return env


def require_branch(repo):
    """The checkout must have branch pep433 checked out."""
    branch = gitutil.current_branch(repo)
    if branch == config.BRANCH:
        return
    holders = [path for path, head in gitutil.worktrees(repo).items()
               if head == f'refs/heads/{config.BRANCH}']
    where = (f'; {config.BRANCH} is checked out in the worktree '
             f'{holders[0]}' if holders else '')
    raise PreconditionError(
        f'{repo} has {branch or "a detached HEAD"} checked out, not '
        f'{config.BRANCH}{where}; the patched build is made from {repo}',
        hint=f'git -C {repo} switch {config.BRANCH}'
             if not holders else f'git -C {holders[0]} switch --detach, '
             f'then git -C {repo} switch {config.BRANCH}')


def configure_flags(paths, configure_args=None):
    """The configure flags for both builds (remembered in the state)."""
    if configure_args is not None:
        flags = shlex.split(configure_args)
        paths.update_state(configure_args=flags)
        return flags
    return list(paths.load_state().get('configure_args', []))


def run_build(paths, only=None, jobs=None, configure_args=None,
              variant=None):
    """Implement the ``build`` subcommand; return the exit code.

    With a *variant* (a key of config.VARIANTS: debug, ft, tsan, asan,
    optimized), the builds go to baseline-<variant>/ and
    patched-<variant>/, with the variant's configure flags added to the
    usual ones and its environment (config.VARIANT_ENV) to configure's and
    make's.
    """
    deps.ensure_build_deps()
    if os.path.isdir(CCACHE_DIR):
        log.info('using ccache (%s first in PATH)', CCACHE_DIR)
    else:
        log.info('ccache not installed: building without it')
    flags = configure_flags(paths, configure_args)
    baseline_dir, patched_dir, suffix = paths.baseline, paths.patched, ''
    env = config.VARIANT_ENV.get(variant)
    if variant:
        flags = [*flags, *config.VARIANTS[variant]]
        suffix = '-' + variant
        baseline_dir = paths.workdir / ('baseline' + suffix)
        patched_dir = paths.workdir / ('patched' + suffix)
    repo = require_checkout(paths)
    if only in (None, 'baseline'):
        if not gitutil.is_repo(paths.baseline_src):
            raise PreconditionError(f'{paths.baseline_src} is missing',
                                    hint='scripts/pep433 fetch')
        build_tree('baseline' + suffix, paths.baseline_src, baseline_dir,
                   flags, jobs, extra_env=env)
    if only in (None, 'patched'):
        require_branch(repo)
        if gitutil.dirty_files(repo):
            log.warning('building %s with uncommitted changes', repo)
        build_tree('patched' + suffix, repo, patched_dir, flags, jobs,
                   extra_env=env)
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'build baseline and patched interpreters'


def add_arguments(parser):
    """``build``'s options."""
    options.add_only(parser, 'of the two builds')
    options.add_jobs(parser)
    parser.add_argument('--configure-args', metavar='ARGS',
                        help='extra configure arguments, one shell string')
    group = parser.add_mutually_exclusive_group()
    for flag, variant in (('--debug', 'debug'), ('--free-threading', 'ft'),
                          ('--tsan', 'tsan'), ('--asan', 'asan'),
                          ('--optimized', 'optimized')):
        group.add_argument(flag, dest='variant', action='store_const',
                           const=variant,
                           help=f'build baseline-{variant} and '
                                f'patched-{variant} instead')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_build(paths, only=args.only, jobs=args.jobs,
                     configure_args=args.configure_args,
                     variant=args.variant)
