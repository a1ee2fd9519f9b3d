"""The mingw-w64 compile of one C file of the tree, as the Windows build would.

The cross-compiler (installed with apt-get when missing), the headers that
stand in for what MSVC's SDK gives and mingw-w64 does not (SHIMS), the
tree's Windows ``pyconfig.h``, the command with PCbuild's include path and
macros, and its result: the diagnostics and the files it included.
"""

import collections
import os
import posixpath
import shutil
import textwrap
import time
from pathlib import Path

from . import config, deps
from .diagnostics import parse_diagnostics
from .errors import PreconditionError
from .util import format_cmd, run

#: The include directories of PCbuild/pyproject.props, in its order (its
#: generated pyconfig.h directory is the step's own, before them)
INCLUDE_DIRS = ('Include', 'Include/internal', 'Include/internal/mimalloc',
                'PC')
#: pyconfig.h of the Windows build, in the tree (PC/pyconfig.h before 3.13)
PYCONFIG_SOURCES = ('PC/pyconfig.h.in', 'PC/pyconfig.h')

#: The macros of PCbuild/pyproject.props for x64 release builds (mingw-w64
#: defines _WIN32 and _WIN64 itself)
COMMON_DEFINES = ('WIN32', 'NDEBUG', 'PY3_DLLNAME=L"python3"')
#: The options: no object (-fsyntax-only), warnings as PCbuild's /W3 would
#: roughly give, less MSVC's own #pragma warning(...)
FLAGS = ('-fsyntax-only', '-Wall', '-Wno-unknown-pragmas')

#: The names socketmodule.c (3.13.5, 3.13.15) turns into macros of
#: themselves (``#define IPPROTO_ICMP IPPROTO_ICMP``, bpo-29515): in MSVC's
#: SDK they are enum constants, in mingw-w64's winsock2.h macros, which the
#: self-definition hides.  The Rpc.h shim turns each into an enum constant
#: of the same value.
IPPROTO_NAMES = (
    'ICMP', 'IGMP', 'GGP', 'TCP', 'PUP', 'UDP', 'IDP', 'ND', 'RAW', 'MAX',
    'HOPOPTS', 'IPV4', 'IPV6', 'ROUTING', 'FRAGMENT', 'ESP', 'AH', 'ICMPV6',
    'NONE', 'DSTOPTS', 'EGP', 'PIM', 'ICLFXBM', 'ST', 'CBT', 'IGP', 'RDP',
    'PGM', 'L2TP', 'SCTP')


def _rpc_shim():
    lines = ['#include <rpc.h>', '']
    for name in IPPROTO_NAMES:
        macro = f'IPPROTO_{name}'
        lines += [f'#ifdef {macro}',
                  f'enum {{ pep433_{macro} = {macro} }};',
                  f'#  undef {macro}',
                  f'enum {{ {macro} = pep433_{macro} }};',
                  '#endif']
    return lines


#: The headers the stock files need that mingw-w64 does not give as MSVC and
#: its SDK do: (name, why, lines).  They are written into a directory first
#: in the include path; FORCED_INCLUDES says which files get one with
#: ``-include``.
SHIMS = (
    ('Rpc.h',
     'socketmodule.c includes <Rpc.h>; mingw-w64 has rpc.h (Windows file '
     'names are case-insensitive, Linux\'s are not).  Right after it, '
     'socketmodule.c defines each IPPROTO_* name as itself (in MSVC\'s SDK '
     'they are enum constants), which hides mingw-w64\'s macros of them: '
     'after rpc.h the shim makes each an enum constant of the same value.',
     _rpc_shim()),
    ('ProcessSnapshot.h',
     'posixmodule.c\'s Windows getppid() (under HAVE_GETPPID, which the '
     'posixmodule shim defines) uses the Process Snapshotting API of the '
     'SDK\'s ProcessSnapshot.h, which mingw-w64 (Debian 12) lacks: the '
     'declarations it uses, and of PSS_PROCESS_INFORMATION the members up to '
     'the one it reads (the SDK\'s struct has more after them).',
     ['#include <windows.h>',
      'DECLARE_HANDLE(HPSS);',
      'typedef enum { PSS_CAPTURE_NONE = 0x00000000 } PSS_CAPTURE_FLAGS;',
      'typedef enum { PSS_QUERY_PROCESS_INFORMATION = 0 }',
      '    PSS_QUERY_INFORMATION_CLASS;',
      'typedef struct {',
      '    DWORD ExitStatus;',
      '    void *PebBaseAddress;',
      '    ULONG_PTR AffinityMask;',
      '    LONG BasePriority;',
      '    DWORD ProcessId;',
      '    DWORD ParentProcessId;',
      '} PSS_PROCESS_INFORMATION;',
      'DWORD WINAPI PssCaptureSnapshot(HANDLE ProcessHandle,',
      '    PSS_CAPTURE_FLAGS CaptureFlags, DWORD ThreadContextFlags,',
      '    HPSS *SnapshotHandle);',
      'DWORD WINAPI PssQuerySnapshot(HPSS SnapshotHandle,',
      '    PSS_QUERY_INFORMATION_CLASS InformationClass, void *Buffer,',
      '    DWORD BufferLength);',
      'DWORD WINAPI PssFreeSnapshot(HANDLE ProcessHandle,',
      '    HPSS SnapshotHandle);']),
    ('pep433-msvc-posixmodule.h',
     'posixmodule.c declares what the Windows C runtime has in two blocks '
     'for MSVC alone ("#elif defined(_MSC_VER)": HAVE_PIPE, HAVE_EXECV, ...; '
     '"#ifdef _MSC_VER": its headers), which mingw-w64\'s gcc does not take: '
     'without them the Windows os.pipe(), getppid(), spawn*() and exec*() '
     'are not compiled.  Forced first into posixmodule.c, this is what '
     'those blocks give with MS_WINDOWS_DESKTOP (which PC/pyconfig.h '
     'defines here, as for a desktop MSVC build).',
     ['#include <direct.h>',
      '#include <io.h>',
      '#include <process.h>',
      '#include <malloc.h>',
      '#define HAVE_GETPPID    1',
      '#define HAVE_GETLOGIN   1',
      '#define HAVE_SPAWNV     1',
      '#define HAVE_EXECV      1',
      '#define HAVE_WSPAWNV    1',
      '#define HAVE_WEXECV     1',
      '#define HAVE_SYSTEM     1',
      '#define HAVE_CWAIT      1',
      '#define HAVE_PIPE       1',
      '#define HAVE_FSYNC      1',
      '#define fsync _commit']),
)

#: The SHIMS forced (``-include``) into a file, before its first line
FORCED_INCLUDES = {
    'Modules/posixmodule.c': ('pep433-msvc-posixmodule.h',),
}


# --- the cross-compiler -----------------------------------------------------

def ensure_mingw():
    """The cross-compiler's path; install it (as root) when missing.

    Otherwise raise PreconditionError naming the ``apt-get install`` command
    (deps.py's way for the build dependencies).
    """
    cc = shutil.which(config.WINDOWS_CC)
    if cc:
        return cc
    fix = ('sudo ' + format_cmd(deps.install_command(
        [config.WINDOWS_PACKAGE])) + ', or skip this step with '
        'scripts/pep433 check --no-windows')
    try:
        deps.ensure_packages((config.WINDOWS_PACKAGE,),
                             'Windows cross-compiler of check (g)')
    except PreconditionError as exc:
        raise PreconditionError(exc.message, hint=fix) from exc
    cc = shutil.which(config.WINDOWS_CC)
    if not cc:
        raise PreconditionError(
            f'{config.WINDOWS_CC} is not available on this machine (it is '
            f'in Debian\'s {config.WINDOWS_PACKAGE})', hint=fix)
    return cc


def write_shims(directory):
    """Write the SHIMS headers into *directory*; return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, why, lines in SHIMS:
        comment = textwrap.fill(
            'Written by scripts/pep433 check (g) '
            '(pep433tool/windows_mingw.py). '
            + why, 76, initial_indent='/* ', subsequent_indent='   ')
        text = comment + ' */\n' + '\n'.join(lines) + '\n'
        (directory / name).write_text(text)
    return directory


# --- the compile command ----------------------------------------------------

def compile_command(cc, source, shim_dir, pyconfig_dir, depfile=None,
                    preprocess=False):
    """The command compiling *source* (a Source), run in the tree."""
    cmd = [cc, *(('-E',) if preprocess else FLAGS)]
    if depfile:
        cmd += ['-MMD', '-MF', str(depfile)]
    cmd += [f'-I{shim_dir}', f'-I{pyconfig_dir}',
            *(f'-I{d}' for d in INCLUDE_DIRS)]
    for name in FORCED_INCLUDES.get(source.path, ()):
        cmd += ['-include', str(Path(shim_dir, name))]
    cmd += [f'-D{macro}' for macro in (*COMMON_DEFINES, *source.macros)]
    cmd.append(source.path)
    return cmd


def compiler_env():
    """C messages (ASCII quotes), no ccache or make of the caller's."""
    env = dict(os.environ, LC_ALL='C')
    for key in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'CCACHE_PREFIX'):
        env.pop(key, None)
    return env


def write_pyconfig(tree, directory):
    """Copy the tree's Windows pyconfig.h into *directory*; return the
    path it came from (relative to the tree)."""
    for name in PYCONFIG_SOURCES:
        path = Path(tree, name)
        if path.is_file():
            data = path.read_bytes()
            target = Path(directory, 'pyconfig.h')
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != data:
                target.write_bytes(data)
            return name
    raise PreconditionError(f'{tree} has no Windows pyconfig.h (none of '
                            + ', '.join(PYCONFIG_SOURCES) + ')')


def read_depfile(path, tree):
    """The files (relative to *tree* where under it) a make depfile lists."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    words = text.replace('\\\n', ' ').split(':', 1)[-1].split()
    result = set()
    for word in words:
        if os.path.isabs(word):
            rel = os.path.relpath(word, tree)
            if rel.startswith('..'):
                continue
            word = rel
        result.add(posixpath.normpath(word))
    return result


# --- the compile ------------------------------------------------------------

CompileResult = collections.namedtuple(
    'CompileResult', 'returncode diagnostics output seconds deps')


def compile_file(cmd, tree, roots, depfile=None):
    """Run the compile command *cmd* in *tree*; return a CompileResult."""
    start = time.monotonic()
    if depfile:
        Path(depfile).unlink(missing_ok=True)
    proc = run(cmd, cwd=tree, env=compiler_env(), check=False, quiet=True)
    output = proc.stdout + proc.stderr
    found = read_depfile(depfile, tree) if depfile else None
    return CompileResult(proc.returncode,
                         parse_diagnostics(output, roots, normalized=True),
                         output, time.monotonic() - start, found)
