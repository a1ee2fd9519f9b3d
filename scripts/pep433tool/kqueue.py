"""``check`` (f): compile the kqueue path of ``select`` for every commit.

``select.kqueue`` is built only on BSD and macOS, so the series' changes to
it (``Modules/selectmodule.c``: the ``cloexec=`` keyword) are compiled by no
Linux build.  This step compiles the file of each commit of
``<base tag>..pep433``, and of the base tag for comparison, with
``HAVE_KQUEUE`` and ``HAVE_SYS_EVENT_H`` against the ``sys/event.h`` of
libkqueue (a Linux implementation of kqueue): Debian's binary package
``libkqueue-dev``, from the suite ``experimental``, downloaded with
``apt-get download`` and a private apt configuration (under the work
directory's ``apt/``, reusing the machine's Debian mirror) and unpacked with
``dpkg-deb -x`` into ``<root>/kqueue/``, shared by the bases; nothing is
installed.

The compiler and its flags are the ones the patched build uses for the
module (``make -n`` in its directory), with the sources of the commit (the
detached worktree ``check-src/``, moved from commit to commit) and the
patched build's ``pyconfig.h``; the object goes to /dev/null.  A compile
error, or a warning the base's file does not have (compared on file, text
and option, not line numbers), is a problem.
"""

import collections
import json
import logging
import os
import shlex
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

from . import build, config, diagnostics, gitutil, privateapt
from .diagnostics import new_diagnostics, parse_diagnostics, plural
from .errors import ExternalError, PreconditionError
from .util import format_cmd, run, sha256_of, write_if_changed

log = logging.getLogger(__name__)

#: The file compiled, and the object the patched build's Makefile makes of it
SOURCE = 'Modules/selectmodule.c'
OBJECT = 'Modules/selectmodule.o'

#: Where libkqueue-dev is unpacked, in the root of the work directory, and
#: its headers in there (``<root>/kqueue/usr/include/kqueue/sys/event.h``)
LIBKQUEUE_DIR = 'kqueue'
INCLUDE = Path('usr/include/kqueue')
#: What the unpacked package was (package, version, .deb, sha256)
STAMP = 'pep433-kqueue.json'
#: The wrapper ``sys/event.h`` that supplies GUARDS, under <root>/kqueue/
GUARDS_DIR = 'pep433-guards'

#: Constants the stock selectmodule.c (3.13.5, 3.13.15) uses that libkqueue's
#: ``sys/event.h`` does not give: (name, value, why).  They cannot be -D
#: options: the header defines NOTE_REVOKE and then ``#undef``s it, which
#: would remove a command-line definition too.  So the command line puts a
#: wrapper ``sys/event.h`` (written from this table into
#: ``<root>/kqueue/pep433-guards/``) first in the include path; it includes
#: libkqueue's with ``#include_next`` and then defines what is missing.
GUARDS = (
    ('NOTE_REVOKE', '0x0040',
     'libkqueue defines it and then #undefs it ("Not supported on Linux"); '
     'selectmodule.c exports KQ_NOTE_REVOKE whenever EVFILT_VNODE is '
     'defined.  0x0040 is the BSD and macOS value (and libkqueue\'s '
     'before the #undef)'),
)

#: The macros that configure defines on BSD and macOS for the kqueue path
KQUEUE_DEFINES = ('-DHAVE_KQUEUE=1', '-DHAVE_SYS_EVENT_H=1')


# --- libkqueue-dev ----------------------------------------------------------

def libkqueue_fix(target):
    """The hint of the errors that say libkqueue-dev cannot be had."""
    return (f'download {config.KQUEUE_PACKAGE}_*.deb (Debian suite '
            f'{config.KQUEUE_SUITE}) yourself and unpack it with dpkg-deb '
            f'-x FILE.deb {target}, then run scripts/pep433 check again; '
            'or skip this step with scripts/pep433 check --no-kqueue')


def ensure_libkqueue(paths, etc_apt='/etc/apt',
                     os_release='/etc/os-release'):
    """libkqueue's include directory, downloaded and unpacked if needed.

    The package is unpacked into ``<root>/kqueue/`` once, for every base;
    a later run reuses it.  Raise PreconditionError if it cannot be had.
    """
    target = paths.root / LIBKQUEUE_DIR
    include = target / INCLUDE
    if (include / 'sys' / 'event.h').is_file():
        try:
            stamp = json.loads((target / STAMP).read_text())
            what = f'{stamp["package"]} {stamp["version"]}'
        except (OSError, ValueError, KeyError):
            what = 'libkqueue'
        log.info('check (f): using %s in %s', what, target)
        return include
    fix = libkqueue_fix(target)
    package, suite = config.KQUEUE_PACKAGE, config.KQUEUE_SUITE
    codename, uri = privateapt.machine_archive(etc_apt, os_release)
    if not uri:
        raise PreconditionError(
            f'cannot download {package}: no Debian archive for this machine '
            f'(no "deb" entry for suite {codename!r} in '
            f'{etc_apt}/sources.list*)', hint=fix)
    for tool in ('apt-get', 'dpkg-deb'):
        if shutil.which(tool) is None:
            raise PreconditionError(
                f'cannot download {package}: {tool} is not available on '
                'this machine', hint=fix)
    options = privateapt.private_apt_config(
        Path(paths.apt) / LIBKQUEUE_DIR, uri, [suite], types='deb')
    log.info('check (f): downloading %s from the Debian suite %s of %s',
             package, suite, uri)
    proc = run(['apt-get', *options, '-q', 'update'], check=False)
    if proc.returncode != 0:
        raise PreconditionError(
            f'cannot download {package}: apt-get update of the suite '
            f'{suite} of {uri} failed:\n  '
            + '\n  '.join((proc.stdout + proc.stderr).splitlines()[-10:]),
            hint=fix)
    target.parent.mkdir(parents=True, exist_ok=True)
    with privateapt.download_dir() as tmp:
        proc = run(['apt-get', *options, '-q', 'download', package],
                   cwd=tmp, check=False)
        debs = sorted(tmp.glob(f'{package}_*.deb'))
        if proc.returncode != 0 or not debs:
            raise PreconditionError(
                f'{package} cannot be had from the Debian suite {suite} of '
                f'{uri} (apt-get download failed):\n  '
                + '\n  '.join((proc.stdout + proc.stderr).splitlines()[-10:]),
                hint=fix)
        deb = debs[-1]
        unpacked = Path(tempfile.mkdtemp(prefix='kqueue-',
                                         dir=target.parent))
        try:
            run(['dpkg-deb', '-x', deb, unpacked], error_class=ExternalError,
                hint=fix)
            version = run(['dpkg-deb', '-f', deb, 'Version'],
                          quiet=True).stdout.strip()
            if not (unpacked / INCLUDE / 'sys' / 'event.h').is_file():
                raise PreconditionError(
                    f'{deb.name} has no {INCLUDE}/sys/event.h', hint=fix)
            (unpacked / STAMP).write_text(json.dumps(
                {'package': package, 'version': version, 'deb': deb.name,
                 'sha256': sha256_of(deb)}, indent=2) + '\n')
            if target.exists() and not (include / 'sys' / 'event.h').exists():
                shutil.rmtree(target)    # a broken one, ours: replace it
            try:
                unpacked.rename(target)
            except OSError:
                # another run unpacked it meanwhile: use that one
                if not (include / 'sys' / 'event.h').is_file():
                    raise
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
    log.info('check (f): unpacked %s %s into %s', package, version, target)
    return include


def write_guards(root):
    """Write the wrapper ``sys/event.h`` of GUARDS; return its directory."""
    guards = Path(root) / LIBKQUEUE_DIR / GUARDS_DIR
    lines = ['/* Written by scripts/pep433 check (f) (pep433tool/kqueue.py): '
             "libkqueue's sys/event.h",
             '   plus the constants the stock selectmodule.c needs that it '
             'lacks. */',
             '#include_next <sys/event.h>']
    for name, value, why in GUARDS:
        comment = textwrap.wrap(why, 72, initial_indent='/* ',
                                subsequent_indent='   ')
        comment[-1] += ' */'
        lines += ['', *comment, f'#ifndef {name}',
                  f'#  define {name} {value}', '#endif']
    write_if_changed(guards / 'sys' / 'event.h',
                     ('\n'.join(lines) + '\n').encode())
    return guards


# --- the compile command ----------------------------------------------------

def make_env():
    """Environment of make and the compiler: C messages, no outer make."""
    env = build.build_env()
    for key in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'):
        env.pop(key, None)
    env['LC_ALL'] = 'C'
    return env


def module_command(builddir, srcdir):
    """The command *builddir*'s Makefile compiles SOURCE of *srcdir* with.

    ``make -n`` prints it without running anything; ``-o Makefile`` keeps
    make from remaking its makefile first, ``-W`` makes it print the rule
    even when the object is up to date.  Return it as a list.
    """
    source = f'{srcdir}/{SOURCE}'
    cmd = ['make', '-n', '-o', 'Makefile', '-o', 'Modules/config.c',
           '-W', source, f'srcdir={srcdir}', OBJECT]
    proc = run(cmd, cwd=builddir, env=make_env(), quiet=True,
               hint='scripts/pep433 build --only patched')
    for line in reversed(proc.stdout.replace('\\\n', ' ').splitlines()):
        try:
            words = shlex.split(line)
        except ValueError:      # another command's shell syntax
            continue
        if source in words and '-c' in words and OBJECT in words:
            return words
    raise ExternalError(
        f'{format_cmd(cmd)} (in {builddir}) printed no command compiling '
        f'{source}:\n  ' + '\n  '.join(proc.stdout.splitlines()[-10:]),
        hint='scripts/pep433 build --only patched')


def compile_command(words, builddir, include, guards):
    """Turn the build's compile command *words* into the check's.

    The object goes to /dev/null; relative ``-I`` directories (the build
    directory's ``-I.``, with pyconfig.h) become absolute; -Wall is added if
    missing, then the kqueue macros, the GUARDS wrapper and libkqueue's
    include directory, before ``-c``.
    """
    cmd = []
    args = iter(words)
    for arg in args:
        if arg == '-o':
            next(args, None)
            cmd += ['-o', os.devnull]
        elif (arg.startswith('-I') and len(arg) > 2
                and not os.path.isabs(arg[2:])):
            cmd.append('-I' + os.path.normpath(Path(builddir) / arg[2:]))
        else:
            cmd.append(arg)
    extra = [] if '-Wall' in cmd else ['-Wall']
    extra += [*KQUEUE_DEFINES, f'-I{guards}', '-isystem', str(include)]
    at = cmd.index('-c')
    return cmd[:at] + extra + cmd[at:]


# --- the compile ------------------------------------------------------------

CompileResult = collections.namedtuple(
    'CompileResult', 'returncode diagnostics output seconds')


def compile_source(cmd, builddir, roots):
    """Run the compile command *cmd*; return a CompileResult."""
    start = time.monotonic()
    proc = run(cmd, cwd=builddir, env=make_env(), check=False, quiet=True)
    output = proc.stdout + proc.stderr
    return CompileResult(proc.returncode, parse_diagnostics(output, roots),
                         output, time.monotonic() - start)


def summary(result, baseline=None):
    """``compiles, 1 warning (none new)``: how one compile went.

    Only warnings are counted: an error fails the compile.
    """
    return diagnostics.summary(result, baseline, kind='warning',
                               no_new='none new')


def problems_of(what, result, baseline, limit=15):
    """The problems of one compile: errors, and warnings *baseline* lacks."""
    if result.returncode != 0:
        errors = [d for d in result.diagnostics if d.kind == 'error']
        shown = ([str(d) for d in errors[:limit]] if errors
                 else result.output.rstrip('\n').splitlines()[-limit:])
        return [f'the kqueue path of select does not compile at {what}:\n'
                '    ' + '\n    '.join(shown)]
    new = new_diagnostics(baseline.diagnostics if baseline else [],
                          result.diagnostics)
    if not new:
        return []
    return [f'the kqueue path of select has {plural(len(new), "new warning")}'
            f' at {what} (not in the base):\n    '
            + '\n    '.join(str(d) for d in new[:limit])]


# --- the check --------------------------------------------------------------

def check_kqueue(paths, repo, worktree):
    """(f) Compile the kqueue path of select at each commit; return problems.

    *worktree(commit)* returns the detached worktree checked out at
    *commit* (check.py's check-src/).
    """
    builddir = paths.patched
    if not ((builddir / 'Makefile').exists()
            and (builddir / 'pyconfig.h').exists()):
        return ['cannot compile the kqueue path of select: the patched '
                'build is not configured (run scripts/pep433 build --only '
                'patched)']
    commits = gitutil.commits(repo, f'{paths.base.tag}..{config.BRANCH}')
    if not commits:
        return []
    start = time.monotonic()
    include = ensure_libkqueue(paths)
    guards = write_guards(paths.root)
    src = worktree(paths.base.tag)
    cmd = compile_command(module_command(builddir, src), builddir, include,
                          guards)
    roots = ((src, ''), (builddir, '<build>/'),
             (paths.root / LIBKQUEUE_DIR, '<kqueue>/'))
    log.info('check (f): $ %s (in %s)', format_cmd(cmd), builddir)
    base = compile_source(cmd, builddir, roots)
    log.info('check (f) base %s: %s (%.1fs)', paths.base.tag, summary(base),
             base.seconds)
    if base.returncode != 0:
        return problems_of(f'the base {paths.base.tag} (a guard is missing: '
                           'see GUARDS in pep433tool/kqueue.py)', base, None)
    problems = []
    for number, commit in enumerate(commits, 1):
        subject = gitutil.out(repo, 'log', '-1', '--format=%s', commit)
        worktree(commit)
        result = compile_source(cmd, builddir, roots)
        what = f'commit {number}/{len(commits)} {commit[:12]} "{subject}"'
        log.info('check (f) %s: %s (%.1fs)', what, summary(result, base),
                 result.seconds)
        problems += problems_of(f'commit {number} ({commit[:12]} '
                                f'"{subject}")', result, base)
    if not problems:
        log.info('check (f): the kqueue path of select compiles at each of '
                 'the %d commits with no new warning (%.0fs)', len(commits),
                 time.monotonic() - start)
    return problems
