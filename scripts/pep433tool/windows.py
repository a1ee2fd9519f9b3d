"""``check`` (g): compile the Windows code of every commit with mingw-w64.

The series edits ``MS_WINDOWS`` code (``O_NOINHERIT``, handle inheritance,
``WSA_FLAG_NO_HANDLE_INHERIT``, the Windows ``os.pipe`` and ``dup``) that no
Linux build compiles.  This step compiles, with the cross-compiler
``x86_64-w64-mingw32-gcc`` (Debian's ``gcc-mingw-w64-x86-64``, installed
with apt-get when missing and the tool runs as root) and ``-fsyntax-only``
(nothing is written), each C file the series changes that the Windows build
compiles (the ``PCbuild/*.vcxproj`` that lists it gives its macros), at the
base tag and at every commit of ``<base tag>..pep433``:

- the tree's own ``PC/pyconfig.h.in`` (``pyconfig.h`` of the Windows build:
  it defines ``MS_WINDOWS``, ``MS_WINDOWS_DESKTOP`` and the rest), copied as
  ``pyconfig.h`` into a directory of the step's, ``-I Include -I
  Include/internal -I Include/internal/mimalloc -I PC``, as PCbuild does;
- the macros of the project (``pythoncore``: ``Py_BUILD_CORE``,
  ``Py_BUILD_CORE_BUILTIN``, ``Py_ENABLE_SHARED``...; an extension module's
  file defines ``Py_BUILD_CORE_MODULE`` itself) and of pyproject.props;
- ``-Wall`` (PCbuild builds with ``/W3``), less ``-Wunknown-pragmas``
  (MSVC's ``#pragma warning`` is unknown to gcc);
- the SHIMS below, first in the include path: what the stock files need
  that mingw-w64 does not give as MSVC's SDK does.

A diagnostic (error or warning) of a commit's file that the base's same file
does not have is a problem; diagnostics are compared on file, kind and
message text (normalised), not line numbers, and counted.  A file whose
includes did not change since the previous commit is not compiled again.

At the tip, the step also records which of the series' changed lines a
compiler now sees: the preprocessed output (``-E``) of each file tells
which lines survive the Windows configuration; the series' changed code
lines that do not (``#ifndef MS_WINDOWS`` code, ``MS_WINDOWS_APP``-only
branches, macOS-only code...) are written, block by block with their
conditions, to ``<workdir>/windows-coverage.txt``.
"""

import collections
import logging
import os
import posixpath
import re
import shutil
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from . import config, deps, gitutil
from .diagnostics import new_diagnostics, parse_diagnostics, plural, summary
from .errors import PreconditionError
from .util import format_cmd, run

log = logging.getLogger(__name__)

#: The report of the changed lines the Windows compile does not see
COVERAGE_REPORT = 'windows-coverage.txt'

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

#: Macros whose test in an #if marks Windows code
WINDOWS_MACRO_RE = re.compile(
    r'\b(MS_WIN\w*|_?WIN32|_?WIN64|__MINGW\w*|HAVE_WINDOWS_CONSOLE_IO)\b')

#: The project whose macros a file gets when several projects list it: the
#: interpreter's own, before the bootstrap _freeze_module (built with
#: Py_NO_ENABLE_SHARED)
PREFERRED_PROJECT = 'pythoncore'
LAST_PROJECT = '_freeze_module'

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
            'Written by scripts/pep433 check (g) (pep433tool/windows.py). '
            + why, 76, initial_indent='/* ', subsequent_indent='   ')
        text = comment + ' */\n' + '\n'.join(lines) + '\n'
        (directory / name).write_text(text)
    return directory


# --- which files, and their macros ------------------------------------------

DIRECTIVE_RE = re.compile(r'^\s*#\s*(\w+)\s*(.*)$')
CONDITIONALS = ('if', 'ifdef', 'ifndef', 'elif', 'else', 'endif')


def _strip_comments(line, in_comment):
    """*line* without its comments; return (code, in_comment after it)."""
    out = []
    i, n = 0, len(line)
    quote = None
    while i < n:
        c = line[i]
        if in_comment:
            end = line.find('*/', i)
            if end < 0:
                return ''.join(out), True
            i, in_comment = end + 2, False
            out.append(' ')
            continue
        if quote:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(line[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if line.startswith('/*', i):
            in_comment = True
            i += 2
            continue
        if line.startswith('//', i):
            break
        if c in '"\'':
            quote = c
        out.append(c)
        i += 1
    return ''.join(out), in_comment


Line = collections.namedtuple('Line', 'kind stack segment')


def scan(text):
    """Each line of the C *text*, classified.

    Return a list of Line, one per line (index 0 is line 1): *kind* is
    ``'code'``, ``'directive'`` (a preprocessor line or its continuation)
    or ``'blank'`` (blank or comment only); *stack* is the tuple of the
    conditional branches the line is in, outermost first, each
    ``(opening, branch)`` directive texts (``('#ifdef MS_WINDOWS',
    '#else')``); *segment* numbers the runs of lines between two
    conditional directives, which the preprocessor keeps or drops whole.
    """
    result = []
    stack = []
    segment = 0
    in_comment = False
    continued = False
    pending = None      # the directive being read (continuation lines)
    for line in text.split('\n'):
        code, in_comment_after = _strip_comments(line, in_comment)
        if continued:
            kind = 'directive'
            pending[1].append(code.rstrip('\\'))
        elif not in_comment and DIRECTIVE_RE.match(code):
            kind = 'directive'
            pending = (DIRECTIVE_RE.match(code), [code.rstrip('\\')])
        else:
            kind = 'code' if code.strip() else 'blank'
        result.append(Line(kind, tuple(stack), segment))
        in_comment = in_comment_after
        continued = kind == 'directive' and line.rstrip().endswith('\\')
        if kind == 'directive' and not continued:
            match, parts = pending
            pending = None
            name = match[1]
            if name not in CONDITIONALS:
                continue
            segment += 1
            whole = DIRECTIVE_RE.match(' '.join(' '.join(parts).split()))
            cond = f'#{name} {whole[2]}'.strip() if whole else f'#{name}'
            if name in ('if', 'ifdef', 'ifndef'):
                stack.append((cond, cond))
            elif name in ('elif', 'else') and stack:
                stack[-1] = (stack[-1][0], cond)
            elif name == 'endif' and stack:
                stack.pop()
    return result


def windows_conditions(text):
    """The conditional directives of *text* that test a Windows macro."""
    found = []
    in_comment = False
    for line in text.split('\n'):
        code, in_comment_next = _strip_comments(line, in_comment)
        if not in_comment:
            match = DIRECTIVE_RE.match(code)
            if (match and match[1] in ('if', 'ifdef', 'ifndef', 'elif')
                    and WINDOWS_MACRO_RE.search(match[2])):
                found.append(' '.join(code.split()))
        in_comment = in_comment_next
    return found


def has_windows_code(text):
    """True if the C *text* has code for Windows (or not for Windows)."""
    return bool(windows_conditions(text))


MSBUILD = '{http://schemas.microsoft.com/developer/msbuild/2003}'
MSBUILD_VAR_RE = re.compile(r'\$\((\w+)\)')


def _defines(element):
    """The macros of a ``PreprocessorDefinitions`` element's text."""
    result = []
    for item in (element.text or '').split(';'):
        item = item.strip()
        if not item or item.startswith('%('):
            continue
        # $(SysWinVer), $(PyVPath)...: MSBuild properties; their name
        # stands for their value (the step only parses)
        result.append(MSBUILD_VAR_RE.sub(lambda m: m[1], item))
    return result


def _unconditional(element):
    return 'Condition' not in element.attrib


def parse_project(text):
    """The sources a PCbuild project compiles, with their macros.

    Return ``{path in the tree: [macro, ...]}`` from the text of
    ``PCbuild/<name>.vcxproj``: the project's unconditional ClCompile
    macros, then the item's own.
    """
    root = ET.fromstring(text)
    common = []
    for group in root.iter(MSBUILD + 'ItemDefinitionGroup'):
        if not _unconditional(group):
            continue
        for compile_ in group.iter(MSBUILD + 'ClCompile'):
            for defs in compile_.findall(MSBUILD + 'PreprocessorDefinitions'):
                if _unconditional(defs):
                    common += _defines(defs)
    sources = {}
    for group in root.iter(MSBUILD + 'ItemGroup'):
        for item in group.findall(MSBUILD + 'ClCompile'):
            include = item.get('Include', '')
            if not include.endswith('.c'):
                continue
            path = posixpath.normpath(
                posixpath.join('PCbuild', include.replace('\\', '/')))
            own = []
            for defs in item.findall(MSBUILD + 'PreprocessorDefinitions'):
                if _unconditional(defs):
                    own += _defines(defs)
            sources[path] = common + own
    return sources


def windows_sources(tree):
    """``{path: [(project, macros), ...]}``: the C files the Windows build
    compiles, from the ``PCbuild/*.vcxproj`` of *tree*; the preferred
    project first."""
    result = collections.defaultdict(list)
    for project in sorted(Path(tree, 'PCbuild').glob('*.vcxproj')):
        try:
            sources = parse_project(project.read_text(errors='replace'))
        except ET.ParseError as exc:
            log.warning('check (g): cannot read %s: %s', project, exc)
            continue
        for path, macros in sources.items():
            result[path].append((project.stem, macros))

    def rank(entry):
        name = entry[0]
        return (name != PREFERRED_PROJECT, name == LAST_PROJECT, name)
    return {path: sorted(entries, key=rank)
            for path, entries in result.items()}


Source = collections.namedtuple('Source', 'path project macros windows_code')


def select_sources(changed, projects, read):
    """The files of *changed* (paths the series changes) to compile.

    *projects* is windows_sources()'s map, *read(path)* the text of a file
    at the tip (None if it is missing there).  Return (sources, skipped):
    the Source of each changed ``.c`` file a PCbuild project compiles, and
    ``(path, why)`` of the other changed C files.
    """
    sources, skipped = [], []
    for path in sorted(changed):
        if not path.endswith(('.c', '.h')):
            continue
        text = read(path)
        if text is None:
            skipped.append((path, 'removed by the series'))
            continue
        windows = has_windows_code(text)
        if path.endswith('.h'):
            skipped.append((path, 'a header: compiled in the files that '
                            'include it' + (' (has Windows code)'
                                            if windows else '')))
            continue
        entries = projects.get(path)
        if not entries:
            skipped.append((path, 'no PCbuild project compiles it'
                            + (' (though it has Windows code)'
                               if windows else '')))
            continue
        project, macros = entries[0]
        sources.append(Source(path, project, tuple(macros), windows))
    return sources, skipped


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


# --- what the compiler sees -------------------------------------------------

LINEMARKER_RE = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"((?: \d)*)$')


def seen_lines(preprocessed, tree):
    """``{file: set of line numbers}`` that gave tokens in the output of
    ``gcc -E`` *preprocessed*, for the files under *tree* (paths relative
    to it)."""
    seen = collections.defaultdict(set)
    name, number = None, 0
    tree = str(tree).rstrip('/') + '/'
    for line in preprocessed.split('\n'):
        match = LINEMARKER_RE.match(line)
        if match:
            path = match[2].replace('\\\\', '\\')
            if path.startswith(tree):
                path = path[len(tree):]
            name = (None if os.path.isabs(path) or path.startswith('<')
                    else posixpath.normpath(path))
            number = int(match[1])
            continue
        if name is not None and line.strip():
            seen[name].add(number)
        number += 1
    return seen


HUNK_RE = re.compile(r'^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@')


def added_lines(diff):
    """The line numbers (in the new file) that the ``-U0`` *diff* adds."""
    lines = set()
    for line in diff.splitlines():
        match = HUNK_RE.match(line)
        if match:
            start, count = int(match[1]), int(match[2] or 1)
            lines.update(range(start, start + count))
    return lines


def branch_text(entry):
    """``#ifdef X``, or ``#if A ... #elif B`` for a later branch."""
    opening, branch = entry
    return opening if opening == branch else f'{opening} ... {branch}'


NEGATED_RE = re.compile(r'!\s*(?:defined\s*\(?\s*)?$')


def _polarity(directive):
    """'+' if *directive* (``#if...``) holds only for Windows, '-' only
    for other systems, '?' if it tests Windows otherwise, None if not."""
    match = DIRECTIVE_RE.match(directive)
    if not match:
        return None
    name, expr = match[1], match[2]
    hits = list(WINDOWS_MACRO_RE.finditer(expr))
    if not hits:
        return None
    if name == 'ifdef':
        return '+'
    if name == 'ifndef':
        return '-'
    if '||' in expr:
        return '?'
    negated = [bool(NEGATED_RE.search(expr[:hit.start()])) for hit in hits]
    if all(negated):
        return '-'
    return '+' if not any(negated) else '?'


def branch_polarity(entry):
    """Whether the branch *entry* of a conditional holds only for Windows
    ('+'), only elsewhere ('-'), or tests Windows in another way ('?');
    None when neither its opening nor its branch tests Windows."""
    opening, branch = entry
    first = _polarity(opening)
    if opening == branch:
        return first
    if branch.startswith('#elif'):
        own = _polarity('#if ' + branch[len('#elif'):].strip())
        if own is not None:
            return own
    return {'+': '-', '-': '+'}.get(first, first)


def block_kind(stack):
    """``'windows'`` code (a branch that holds only for Windows), code for
    the ``'other'`` systems, or ``'neither'`` (no branch tests Windows:
    a feature macro the Windows build does not define)."""
    polarities = [branch_polarity(entry) for entry in stack]
    if '-' in polarities:
        return 'other'
    if '+' in polarities:
        return 'windows'
    return 'neither'


Block = collections.namedtuple('Block', 'first last lines conditions kind')


def unseen_blocks(text, changed, seen):
    """The changed code lines of a file that the compiler did not see.

    *text* is the file at the tip, *changed* the line numbers the series
    adds or changes, *seen* those the preprocessor gave tokens for.  A
    line is seen when a line of its segment is (a function-like macro's
    arguments on several lines give tokens on the first one only).  Return
    (code lines changed, how many were seen, [Block]): consecutive unseen
    changed code lines under the same conditions are one Block.
    """
    lines = scan(text)
    live = {lines[n - 1].segment for n in seen if 0 < n <= len(lines)}
    code = sorted(n for n in changed
                  if 0 < n <= len(lines) and lines[n - 1].kind == 'code')
    seen_count = sum(1 for n in code if lines[n - 1].segment in live)
    blocks = []
    for number in code:
        line = lines[number - 1]
        if line.segment in live:
            continue
        conditions = tuple(branch_text(entry) for entry in line.stack)
        last = blocks[-1] if blocks else None
        if (last and last.conditions == conditions
                and not any(lines[n - 1].kind == 'code'
                            and lines[n - 1].segment in live
                            for n in range(last.last + 1, number))):
            blocks[-1] = last._replace(last=number, lines=last.lines + 1)
        else:
            blocks.append(Block(number, number, 1, conditions,
                                block_kind(line.stack)))
    return len(code), seen_count, blocks


KIND_MARKS = {'windows': '[windows]', 'other': '[not windows]',
              'neither': '[feature]'}


def coverage_report(repo, base, tip, tree, seen, version=''):
    """The text of COVERAGE_REPORT, and its summary lines.

    *seen* is seen_lines() merged over the files compiled at *tip*
    (checked out in *tree*).
    """
    names = gitutil.out(repo, 'diff', '--name-only', base, tip, '--',
                        '*.c', '*.h').split()
    out = ['# What the Windows compile of check (g) (mingw-w64, gcc -E) '
           'sees of the series\' changed C code lines',
           f'# {version} {base}..{tip[:12]}.  Each block not seen is '
           'marked [windows] (a branch',
           '# only Windows takes, in a configuration not compiled), '
           '[not windows] (#ifndef',
           '# MS_WINDOWS and the like) or [feature] (a macro the Windows '
           'build does not',
           '# define: HAVE_EPOLL, CMSG_LEN...), with its conditions, '
           'outermost first.', '']
    summaries = []
    for name in names:
        path = Path(tree, name)
        if not path.is_file():
            continue
        text = path.read_text(errors='replace')
        changed = added_lines(gitutil.out(repo, 'diff', '-U0', base, tip,
                                          '--', name))
        if name not in seen:
            total, _, _ = unseen_blocks(text, changed, set())
            line = (f'{name}: {total} changed code lines; no file compiled '
                    'for Windows includes it')
            out.append(line)
            summaries.append(line)
            continue
        total, count, blocks = unseen_blocks(text, changed, seen[name])
        kinds = collections.Counter()
        for block in blocks:
            kinds[block.kind] += block.lines
        scanned = scan(text)
        windows_only = sum(
            1 for n in changed if 0 < n <= len(scanned)
            and scanned[n - 1].kind == 'code'
            and block_kind(scanned[n - 1].stack) == 'windows')
        line = (f'{name}: {total} changed code lines ({windows_only} in '
                f'Windows-only branches), {count} seen; not seen: '
                f'{kinds["windows"]} Windows, {kinds["other"]} not '
                f'Windows, {kinds["neither"]} under a feature macro')
        out.append(line)
        summaries.append(line)
        for block in blocks:
            span = (f'{block.first}' if block.first == block.last
                    else f'{block.first}-{block.last}')
            out.append(f'    {KIND_MARKS[block.kind]} {name}:{span} '
                       f'({plural(block.lines, "line")}): '
                       + (' / '.join(block.conditions) or 'no condition'))
    return '\n'.join(out) + '\n', summaries


# --- the step ---------------------------------------------------------------

def problems_of(what, path, result, baseline, limit=15):
    """The problems of one compile: diagnostics *baseline* lacks."""
    new = new_diagnostics(baseline.diagnostics if baseline else [],
                          result.diagnostics)
    if not new:
        if result.returncode != 0 and (baseline is None
                                       or baseline.returncode == 0):
            return [f'the Windows compile of {path} fails at {what}:\n    '
                    + '\n    '.join(result.output.splitlines()[-limit:])]
        return []
    return [f'the Windows compile of {path} has '
            f'{plural(len(new), "new diagnostic")} at {what} (not in the '
            'base\'s file):\n    '
            + '\n    '.join(str(d) for d in new[:limit])]


def run_step(repo, base, tip, worktree, scratch, report=None, label=''):
    """Compile the series' Windows files at *base* and each commit of
    *base*..*tip*; return (problems, results).

    *worktree(commit)* checks *commit* out and returns the tree; *scratch*
    is a directory of the step's own.  *results* maps each commit (and
    *base*) to ``{path: CompileResult}``.  The coverage of the series'
    changed lines at *tip* is written to *report* when given.
    """
    tip = gitutil.rev_parse(repo, tip) or tip
    commits = gitutil.commits(repo, f'{base}..{tip}')
    if not commits:
        return [], {}
    start = time.monotonic()
    scratch = Path(scratch)
    shim_dir = write_shims(scratch / 'shim')
    pyconfig_dir = scratch / 'pyconfig'
    depfile = scratch / 'deps.d'
    changed = gitutil.out(repo, 'diff', '--name-only', base, tip).split()

    tree = worktree(tip)
    projects = windows_sources(tree)

    def read(path):
        file = Path(tree, path)
        return file.read_text(errors='replace') if file.is_file() else None
    sources, skipped = select_sources(changed, projects, read)
    for path, why in skipped:
        log.info('check (g)%s: %s: not compiled: %s', label, path, why)
    if not sources:
        log.info('check (g)%s: the series changes no C file the Windows '
                 'build compiles', label)
        return [], {}
    cc = ensure_mingw()
    log.info('check (g)%s: compiling for Windows with %s: %s', label, cc,
             ', '.join(f'{s.path} ({s.project}'
                       + (', Windows code)' if s.windows_code else ')')
                       for s in sources))
    roots = ((shim_dir, '<shim>/'), (pyconfig_dir, '<pyconfig>/'))

    def compile_all(commit, previous, tree):
        pyconfig = write_pyconfig(tree, pyconfig_dir)
        projects = windows_sources(tree)
        results = {}
        for source in sources:
            if not Path(tree, source.path).is_file():
                continue
            entries = projects.get(source.path)
            if entries:
                source = source._replace(macros=tuple(entries[0][1]))
            before = previous.get(source.path)
            if before is not None and before[1] == source.macros:
                moved = set(gitutil.out(
                    repo, 'diff', '--name-only', before[2], commit).split())
                if before[0].deps is not None and not (
                        moved & (before[0].deps | {pyconfig})):
                    results[source.path] = (before[0], source.macros,
                                            before[2], True)
                    continue
            cmd = compile_command(cc, source, shim_dir, pyconfig_dir,
                                  depfile)
            log.debug('check (g): $ %s (in %s)', format_cmd(cmd), tree)
            result = compile_file(cmd, tree, roots, depfile)
            results[source.path] = (result, source.macros, commit, False)
        return results

    problems = []
    tree = worktree(base)
    base_results = compile_all(base, {}, tree)
    all_results = {base: {p: r[0] for p, r in base_results.items()}}
    for path, (result, _, _, _) in base_results.items():
        log.info('check (g)%s base %s: %s: %s (%.1fs)', label, base, path,
                 summary(result), result.seconds)
        if result.returncode != 0:
            errors = [str(d) for d in result.diagnostics
                      if d.kind == 'error'][:15]
            problems.append(
                f'the Windows compile of {path} fails at the base {base} (a '
                'shim is missing: see SHIMS in pep433tool/windows.py):\n    '
                + '\n    '.join(errors or result.output.splitlines()[-15:]))
    previous = base_results
    for number, commit in enumerate(commits, 1):
        subject = gitutil.out(repo, 'log', '-1', '--format=%s', commit)
        tree = worktree(commit)
        results = compile_all(commit, previous, tree)
        log.info('check (g)%s commit %d/%d %s "%s":', label, number,
                 len(commits), commit[:12], subject)
        for path, (result, _, since, reused) in results.items():
            baseline = base_results.get(path, (None,))[0]
            empty = CompileResult(0, [], '', 0.0, None)
            text = summary(result, baseline or empty)
            if reused:
                text += f' (its includes unchanged since {since[:12]})'
            else:
                text += f' ({result.seconds:.1f}s)'
            log.info('    %s: %s', path, text)
            if not reused:
                problems += problems_of(
                    f'commit {number} ({commit[:12]} "{subject}")', path,
                    result, baseline)
        all_results[commit] = {p: r[0] for p, r in results.items()}
        previous = {**previous, **results}

    # what the compiler sees of the series' changed lines, at the tip
    seen = collections.defaultdict(set)
    for source in sources:
        if not Path(tree, source.path).is_file():
            continue
        cmd = compile_command(cc, source, shim_dir, pyconfig_dir,
                              preprocess=True)
        proc = run(cmd, cwd=tree, env=compiler_env(), check=False,
                   quiet=True)
        for name, numbers in seen_lines(proc.stdout, tree).items():
            seen[name] |= numbers
    text, summaries = coverage_report(repo, base, tip, tree, seen, label)
    for line in summaries:
        log.info('check (g)%s seen at the tip: %s', label, line)
    if report:
        Path(report).write_text(text)
        log.info('check (g)%s: the blocks not seen are listed in %s', label,
                 report)
    if not problems:
        log.info('check (g)%s: the Windows files compile at each of the %d '
                 'commits with no new diagnostic (%.0fs)', label,
                 len(commits), time.monotonic() - start)
    return problems, all_results


def check_windows(paths, repo, worktree):
    """(g) Compile the series' Windows code at each commit; return problems.

    *worktree(commit)* returns the detached worktree checked out at
    *commit* (check.py's check-src/).
    """
    with tempfile.TemporaryDirectory(prefix='pep433-windows-') as scratch:
        problems, _ = run_step(
            repo, paths.base.tag, config.BRANCH, worktree, scratch,
            report=paths.workdir / COVERAGE_REPORT)
    return problems
