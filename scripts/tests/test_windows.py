"""check (g): the Windows compile of the series (pep433tool/windows.py).

The fast tests need no compiler; the ones marked ``mingw`` really run
x86_64-w64-mingw32-gcc on tiny files (skipped where it is missing).
"""

import shutil
import subprocess
import sys

import pytest

from conftest import commit_all, fake_checkout, git, write
from pep433tool import (check, cli, config, deps, windows, windows_coverage,
                        windows_ifdefs, windows_mingw, windows_pcbuild)
from pep433tool.diagnostics import Diagnostic
from pep433tool.errors import PreconditionError
from pep433tool.util import Paths

mingw = pytest.mark.skipif(shutil.which(config.WINDOWS_CC) is None,
                           reason=f'{config.WINDOWS_CC} is not installed')

def D(text, where='Modules/x.c:1:1', kind='warning', file='Modules/x.c',
      option=''):
    return Diagnostic(kind, file, text, option, where)


def result(diags, returncode=0, output=''):
    return windows_mingw.CompileResult(returncode, diags, output, 0.5, set())


def test_problems_of():
    base = result([D('a')])
    same = result([D('a', 'Modules/x.c:50:1')])
    worse = result([D('a'), D('b', 'Modules/x.c:7:3')])
    broken = result([D('a'), D('c', kind='error')], returncode=1)
    assert windows.problems_of('commit 1', 'Modules/x.c', same, base) == []
    (problem,) = windows.problems_of('commit 2', 'Modules/x.c', worse, base)
    assert problem.startswith('the Windows compile of Modules/x.c has 1 new '
                              'diagnostic at commit 2')
    assert 'Modules/x.c:7:3: warning: b' in problem
    (problem,) = windows.problems_of('commit 3', 'Modules/x.c', broken, base)
    assert 'error: c' in problem
    # a failure without a parsed error (the linker, a crash) is one too
    (problem,) = windows.problems_of(
        'commit 4', 'Modules/x.c', result([], 1, 'cc1: killed\n'),
        result([]))
    assert 'fails at commit 4' in problem and 'cc1: killed' in problem


def test_compile_file_compares_normalized_diagnostics(tmp_path):
    # a position in the text would make a moved line a new diagnostic
    report = ("./Modules/x.c:3:1: warning: 'x' redefined at x.c:12:4")
    cmd = [sys.executable, '-c', f'import sys; sys.exit({report!r})']
    compiled = windows_mingw.compile_file(cmd, tmp_path, ())
    assert compiled.returncode == 1
    assert compiled.diagnostics == [D("'x' redefined at x.c:N",
                                      'Modules/x.c:3:1')]


# --- which files ------------------------------------------------------------

WINDOWS_C = """\
#include "Python.h"
/* #ifdef MS_WINDOWS in a comment does not count */
#ifdef HAVE_FCNTL_H
#  include <fcntl.h>
#endif
# if defined(MS_WINDOWS) && \\
     !defined(MS_WINDOWS_APP)
int w;
#endif
"""


def test_windows_conditions():
    assert windows_ifdefs.windows_conditions(WINDOWS_C) == [
        '# if defined(MS_WINDOWS) && \\']
    assert windows_ifdefs.has_windows_code('#ifndef _WIN32\n#endif\n')
    assert windows_ifdefs.has_windows_code('#elif defined(MS_WIN64)\n')
    assert windows_ifdefs.has_windows_code('#ifdef HAVE_WINDOWS_CONSOLE_IO\n')
    assert not windows_ifdefs.has_windows_code('#ifdef HAVE_PIPE\n#endif\n')
    assert not windows_ifdefs.has_windows_code('/*\n#ifdef MS_WINDOWS\n*/\n')
    assert not windows_ifdefs.has_windows_code('int MS_WINDOWS_x;\n')


PROJECT = """\
<?xml version="1.0" encoding="utf-8"?>
<Project DefaultTargets="Build" ToolsVersion="4.0" \
xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <ItemDefinitionGroup>
    <ClCompile>
      <PreprocessorDefinitions>_USRDLL;Py_BUILD_CORE;\
MS_DLL_ID="$(SysWinVer)";%(PreprocessorDefinitions)</PreprocessorDefinitions>
      <PreprocessorDefinitions Condition="$(IncludeExternals)">\
_Py_HAVE_ZLIB;%(PreprocessorDefinitions)</PreprocessorDefinitions>
    </ClCompile>
  </ItemDefinitionGroup>
  <ItemDefinitionGroup Condition="'$(Configuration)'=='Debug'">
    <ClCompile><PreprocessorDefinitions>DEBUG_ONLY\
</PreprocessorDefinitions></ClCompile>
  </ItemDefinitionGroup>
  <ItemGroup>
    <ClInclude Include="..\\Include\\Python.h" />
    <ClCompile Include="..\\Modules\\posixmodule.c" />
    <ClCompile Include="..\\Python\\sysmodule.c">
      <PreprocessorDefinitions>VPATH="$(PyVPath)";\
%(PreprocessorDefinitions)</PreprocessorDefinitions>
    </ClCompile>
    <ClCompile Include="..\\PC\\_wmimodule.cpp" />
  </ItemGroup>
</Project>
"""


def test_parse_project():
    sources = windows_pcbuild.parse_project(PROJECT)
    core = ['_USRDLL', 'Py_BUILD_CORE', 'MS_DLL_ID="SysWinVer"']
    assert sources == {'Modules/posixmodule.c': core,
                       'Python/sysmodule.c': core + ['VPATH="PyVPath"']}


def test_windows_sources_prefers_pythoncore(tmp_path):
    write(tmp_path, 'PCbuild/pythoncore.vcxproj', PROJECT)
    write(tmp_path, 'PCbuild/_freeze_module.vcxproj', PROJECT.replace(
        '_USRDLL;Py_BUILD_CORE;', 'Py_NO_ENABLE_SHARED;'))
    write(tmp_path, 'PCbuild/_another.vcxproj', PROJECT.replace(
        '_USRDLL;', 'OTHER;'))
    write(tmp_path, 'PCbuild/broken.vcxproj', '<Project')
    found = windows_pcbuild.windows_sources(tmp_path)
    assert [name for name, _ in found['Modules/posixmodule.c']] == [
        'pythoncore', '_another', '_freeze_module']


def test_select_sources():
    projects = {'Modules/posixmodule.c': [('pythoncore', ['Py_BUILD_CORE'])],
                'Objects/fileobject.c': [('pythoncore', ['Py_BUILD_CORE'])]}
    texts = {'Modules/posixmodule.c': WINDOWS_C,
             'Objects/fileobject.c': 'int x;\n',
             'Modules/_posixsubprocess.c': '#ifndef MS_WINDOWS\n#endif\n',
             'Include/internal/pycore_fileutils.h': '#ifdef MS_WINDOWS\n',
             'Lib/os.py': 'import sys\n'}
    changed = [*texts, 'Modules/removed.c']
    sources, skipped = windows_pcbuild.select_sources(changed, projects, texts.get)
    assert sources == [
        windows_pcbuild.Source('Modules/posixmodule.c', 'pythoncore',
                       ('Py_BUILD_CORE',), True),
        windows_pcbuild.Source('Objects/fileobject.c', 'pythoncore',
                       ('Py_BUILD_CORE',), False)]
    assert dict(skipped) == {
        'Include/internal/pycore_fileutils.h':
            'a header: compiled in the files that include it '
            '(has Windows code)',
        'Modules/_posixsubprocess.c':
            'no PCbuild project compiles it (though it has Windows code)',
        'Modules/removed.c': 'removed by the series'}


# --- what the compiler sees -------------------------------------------------

SCANNED = """\
int a;
#ifdef MS_WINDOWS
/* a comment
#endif  (in the comment: not a directive) */
int w;
#else
int p;
#  if defined(HAVE_X) \\
      && 1
f(1,
  2);
#  endif
#endif
"""


def test_scan():
    lines = windows_ifdefs.scan(SCANNED)
    assert [line.kind for line in lines] == [
        'code', 'directive', 'blank', 'blank', 'code', 'directive', 'code',
        'directive', 'directive', 'code', 'code', 'directive', 'directive',
        'blank']
    assert lines[0].stack == ()
    assert lines[4].stack == (('#ifdef MS_WINDOWS', '#ifdef MS_WINDOWS'),)
    assert lines[6].stack == (('#ifdef MS_WINDOWS', '#else'),)
    assert lines[9].stack == (('#ifdef MS_WINDOWS', '#else'),
                              ('#if defined(HAVE_X) && 1',
                               '#if defined(HAVE_X) && 1'))
    assert lines[10].segment == lines[9].segment != lines[6].segment
    assert lines[4].segment != lines[6].segment
    assert lines[13].stack == ()


@pytest.mark.parametrize('stack, kind', [
    ([('#ifdef MS_WINDOWS', '#ifdef MS_WINDOWS')], 'windows'),
    ([('#ifdef MS_WINDOWS', '#else')], 'other'),
    ([('#ifndef MS_WINDOWS', '#ifndef MS_WINDOWS')], 'other'),
    ([('#ifndef MS_WINDOWS', '#else')], 'windows'),
    ([('#ifdef MS_WINDOWS', '#elif defined(O_CLOEXEC)')], 'other'),
    ([('#if !defined(MS_WINDOWS) && defined(F_DUPFD)',) * 2], 'other'),
    ([('#if defined(MS_WINDOWS_APP) && !defined(MS_WINDOWS_DESKTOP)',) * 2],
     '?'),
    ([('#if defined(MS_WINDOWS_GAMES) && defined(X)',) * 2], 'windows'),
    ([('#if defined(MS_WINDOWS) || defined(HAVE_DUP)',) * 2], 'neither'),
    ([('#ifdef HAVE_PIPE', '#ifdef HAVE_PIPE'),
      ('#ifdef MS_WINDOWS', '#ifdef MS_WINDOWS')], 'windows'),
    ([('#ifdef __APPLE__', '#ifdef __APPLE__')], 'neither'),
])
def test_block_kind(stack, kind):
    if kind == '?':     # Windows tested both ways: no side taken
        assert windows_ifdefs.branch_polarity(stack[0]) == '?'
        kind = 'neither'
    assert windows_ifdefs.block_kind(stack) == kind


PREPROCESSED = """\
# 1 "Modules/x.c"
# 1 "<built-in>"
# 1 "<command-line>"
# 1 "/tmp/pep433-windows-ab/pyconfig/pyconfig.h" 1
int from_pyconfig;
# 2 "Modules/x.c" 2
int a;


int w;
# 10 "Modules/x.c"
f(1,

  );
# 1 "/work/cpython/Include/y.h" 1
int y;
# 14 "./Modules/x.c" 2
"""


def test_seen_lines():
    seen = windows_coverage.seen_lines(PREPROCESSED, '/work/cpython')
    assert dict(seen) == {'Modules/x.c': {2, 5, 10, 12},
                          'Include/y.h': {1}}


def test_added_lines():
    diff = ('diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n'
            '@@ -3 +3 @@\n-old\n+new\n'
            '@@ -10,0 +11,2 @@\n+a\n+b\n'
            '@@ -20,2 +22,0 @@\n-gone\n-gone\n')
    assert windows_coverage.added_lines(diff) == {3, 11, 12}


def test_unseen_blocks():
    # the preprocessor gave tokens for lines 1 and 5 only: 7 and 10-11
    # (non-Windows) are not seen
    changed = {1, 3, 5, 7, 10, 11}
    total, seen, blocks = windows_coverage.unseen_blocks(SCANNED, changed, {1, 5})
    assert (total, seen) == (5, 2)    # line 3 is a comment: not code
    assert blocks == [
        windows_coverage.Block(7, 7, 1, ('#ifdef MS_WINDOWS ... #else',), 'other'),
        windows_coverage.Block(10, 11, 2, ('#ifdef MS_WINDOWS ... #else',
                                  '#if defined(HAVE_X) && 1'), 'other')]
    # a multi-line call: its second line gives no token, but its segment did
    total, seen, blocks = windows_coverage.unseen_blocks(SCANNED, {10, 11}, {10})
    assert (total, seen, blocks) == (2, 2, [])


# --- shims, the compiler, the command line ----------------------------------

def test_shims_are_written_with_their_reason(tmp_path):
    shim = windows_mingw.write_shims(tmp_path / 'shim')
    rpc = (shim / 'Rpc.h').read_text()
    assert rpc.startswith('/* Written by scripts/pep433 check (g)')
    assert '#include <rpc.h>' in rpc
    assert 'enum { IPPROTO_SCTP = pep433_IPPROTO_SCTP };' in rpc
    assert 'PssCaptureSnapshot' in (shim / 'ProcessSnapshot.h').read_text()
    forced = (shim / 'pep433-msvc-posixmodule.h').read_text()
    assert '#define HAVE_PIPE       1' in forced
    for name in windows_mingw.FORCED_INCLUDES['Modules/posixmodule.c']:
        assert (shim / name).is_file()


def test_compile_command(tmp_path):
    source = windows_pcbuild.Source('Modules/posixmodule.c', 'pythoncore',
                            ('Py_BUILD_CORE', 'MS_DLL_ID="SysWinVer"'), True)
    cmd = windows_mingw.compile_command('cc', source, '/s', '/p', '/d/deps.d')
    assert cmd[:4] == ['cc', '-fsyntax-only', '-Wall', '-Wno-unknown-pragmas']
    assert cmd[4:7] == ['-MMD', '-MF', '/d/deps.d']
    assert cmd.index('-I/s') < cmd.index('-I/p') < cmd.index('-IInclude')
    assert ['-include', '/s/pep433-msvc-posixmodule.h'] == \
        cmd[cmd.index('-include'):cmd.index('-include') + 2]
    assert '-DMS_DLL_ID="SysWinVer"' in cmd and '-DWIN32' in cmd
    assert cmd[-1] == 'Modules/posixmodule.c'
    pre = windows_mingw.compile_command('cc', source._replace(
        path='Python/x.c'), '/s', '/p', preprocess=True)
    assert pre[1] == '-E' and '-MMD' not in pre and '-include' not in pre


def test_read_depfile(tmp_path):
    depfile = write(tmp_path, 'deps.d', (
        f'x.o: Modules/x.c {tmp_path}/Include/Python.h \\\n'
        ' /tmp/elsewhere/pyconfig.h ./Include/y.h\n'))
    assert windows_mingw.read_depfile(depfile, tmp_path) == {
        'Modules/x.c', 'Include/Python.h', 'Include/y.h'}
    assert windows_mingw.read_depfile(tmp_path / 'missing.d', tmp_path) is None


def test_missing_mingw_names_the_apt_get_command(monkeypatch):
    monkeypatch.setattr(windows_mingw.shutil, 'which', lambda name: None)
    monkeypatch.setattr(deps, 'missing_packages',
                        lambda packages: list(packages))
    monkeypatch.setattr(deps.os, 'geteuid', lambda: 1000)
    with pytest.raises(PreconditionError) as info:
        windows_mingw.ensure_mingw()
    text = str(info.value)
    assert config.WINDOWS_PACKAGE in info.value.message
    assert ('apt-get install -y --no-install-recommends '
            f'{config.WINDOWS_PACKAGE}') in text
    assert '--no-windows' in text


def test_mingw_is_installed_as_root(monkeypatch):
    installed = []
    monkeypatch.setattr(windows_mingw.shutil, 'which', lambda name: (
        f'/usr/bin/{name}' if installed else None))
    monkeypatch.setattr(deps, 'ensure_packages',
                        lambda packages, what: installed.extend(packages))
    assert windows_mingw.ensure_mingw() == f'/usr/bin/{config.WINDOWS_CC}'
    assert installed == [config.WINDOWS_PACKAGE]


def test_cli_no_windows():
    args = cli.build_parser().parse_args(['check', '--no-windows'])
    assert args.no_windows and not args.no_kqueue
    assert not cli.build_parser().parse_args(['check']).no_windows


# --- the real compiler on a fake series -------------------------------------

PYCONFIG = """\
#ifndef Py_CONFIG_H
#define Py_CONFIG_H
#define MS_WIN32
#define MS_WINDOWS
#include <winapifamily.h>
#if WINAPI_FAMILY_PARTITION(WINAPI_PARTITION_DESKTOP)
#define MS_WINDOWS_DESKTOP
#endif
#endif
"""

FILEUTILS = """\
#include "pyconfig.h"
#ifndef Py_BUILD_CORE
#  error "Py_BUILD_CORE is the project's"
#endif
#ifdef MS_WINDOWS
#include <windows.h>
int stale(void) { int unused_in_base; return 0; }
int make_pipe(int cloexec)
{
    HANDLE r, w;
    SECURITY_ATTRIBUTES attr = {sizeof(attr), NULL, cloexec ? FALSE : TRUE};
    return CreatePipe(&r, &w, &attr, 0) ? 0 : -1;
}
#else
int make_pipe(int cloexec) { return undeclared_on_windows(cloexec); }
#endif
"""

def fake_windows_series(tmp_path):
    """A fake checkout whose series changes Windows code, commit by
    commit: a moved base warning, a new warning, an error, fixed."""
    paths, repo = fake_checkout(tmp_path, {
        'PC/pyconfig.h.in': PYCONFIG,
        'PCbuild/pythoncore.vcxproj': PROJECT.replace(
            '..\\Modules\\posixmodule.c', '..\\Python\\fileutils.c'),
        'Python/fileutils.c': FILEUTILS,
        'Lib/os.py': 'import sys\n'})
    write(repo, 'Python/fileutils.c', '/* moved */\n' + FILEUTILS)
    commit_all(repo, 'Same warning, another line')
    new_warning = FILEUTILS.replace('    HANDLE r, w;',
                                    '    HANDLE r, w, unused_handle;')
    write(repo, 'Python/fileutils.c', new_warning)
    commit_all(repo, 'A new warning')
    write(repo, 'Lib/os.py', 'import os\n')
    commit_all(repo, 'Only Python')
    write(repo, 'Python/fileutils.c', FILEUTILS.replace(
        'CreatePipe(&r, &w, &attr, 0)', 'CreatePipe(&r, &w, &attr)'))
    commit_all(repo, 'An error')
    write(repo, 'Python/fileutils.c', FILEUTILS.replace('? 0 : -1',
                                                        '? 0 : -2'))
    commit_all(repo, 'Fixed')
    return paths, repo


@mingw
def test_check_windows_compiles_each_commit(tmp_path, caplog):
    caplog.set_level('INFO', logger='pep433tool')
    paths, repo = fake_windows_series(tmp_path)
    problems = check.check_windows(paths, repo)
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        'the Windows compile of Python/fileutils.c has 1 new diagnostic at '
        'commit 2 (')
    assert "warning: unused variable 'unused_handle' [-Wunused-variable]" \
        in problems[0]
    assert 'unused_in_base' not in problems[0]
    assert 'at commit 4 (' in problems[1]
    assert "error: too few arguments to function 'CreatePipe'" \
        in problems[1]
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith('check (g) base v3.13.5: Python/fileutils.c: '
                               'compiles, 1 diagnostic') for line in lines)
    per_file = [line.strip() for line in lines
                if line.startswith('    Python/fileutils.c: ')]
    assert len(per_file) == 5
    assert per_file[0].startswith('Python/fileutils.c: compiles, 1 '
                                  'diagnostic (0 new) (')
    assert per_file[1].startswith('Python/fileutils.c: compiles, 2 '
                                  'diagnostics (1 new)')
    assert per_file[2].endswith('(its includes unchanged since '
                                f'{git(repo, "rev-parse", "pep433~3")[:12]})')
    assert '(0 new)' in per_file[4]
    # the coverage of the changed lines: the POSIX line is not seen
    report = (paths.workdir / windows_coverage.COVERAGE_REPORT).read_text()
    assert ('Python/fileutils.c: 1 changed code lines (1 in Windows-only '
            'branches), 1 seen; not seen: 0 Windows, 0 not Windows, 0 under '
            'a feature macro') in report
    # the worktree is left at the tip, the checkout untouched
    src = paths.workdir / 'check-src'
    assert git(src, 'rev-parse', 'HEAD') == git(repo, 'rev-parse', 'pep433')
    assert git(repo, 'status', '--porcelain') == ''


@mingw
def test_coverage_of_changed_lines(tmp_path, caplog):
    caplog.set_level('INFO', logger='pep433tool')
    paths, repo = fake_windows_series(tmp_path)
    write(repo, 'Python/fileutils.c', FILEUTILS.replace(
        'undeclared_on_windows(cloexec)', 'other(cloexec)').replace(
        'FALSE : TRUE', 'FALSE : 1'))
    commit_all(repo, 'A Windows line and a POSIX line')
    assert len(check.check_windows(paths, repo)) == 2
    report = (paths.workdir / windows_coverage.COVERAGE_REPORT).read_text()
    assert ('Python/fileutils.c: 2 changed code lines (1 in Windows-only '
            'branches), 1 seen; not seen: 0 Windows, 1 not Windows, 0 under '
            'a feature macro') in report
    assert ('    [not windows] Python/fileutils.c:15 (1 line): '
            '#ifdef MS_WINDOWS ... #else') in report


@mingw
def test_base_that_does_not_compile_is_a_problem(tmp_path):
    paths, repo = fake_windows_series(tmp_path)
    git(repo, 'tag', '-d', 'v3.13.5')
    git(repo, 'tag', 'v3.13.5', 'pep433~1')      # the commit with the error
    (problem,) = check.check_windows(paths, repo)
    assert 'at the base v3.13.5 (a shim is missing' in problem


@mingw
def test_rpc_shim_gives_socketmodule_what_msvc_does(tmp_path):
    # socketmodule.c's Windows includes: <Rpc.h>, then each IPPROTO_* name
    # defined as itself, then used
    names = windows_mingw.IPPROTO_NAMES
    source = write(tmp_path, 'sock.c', '#include <winsock2.h>\n'
                   '#include <Rpc.h>\n'
                   + ''.join(f'#define IPPROTO_{n} IPPROTO_{n}\n'
                             for n in names)
                   + 'int values[] = {'
                   + ', '.join(f'IPPROTO_{n}' for n in names) + '};\n'
                   '_Static_assert(IPPROTO_TCP == 6, "TCP");\n'
                   'int f(int p) { switch (p) { case IPPROTO_UDP: '
                   'return 1; } return 0; }\n')
    shim = windows_mingw.write_shims(tmp_path / 'shim')
    proc = subprocess.run(
        [config.WINDOWS_CC, *windows_mingw.FLAGS, f'-I{shim}', str(source)],
        capture_output=True, text=True, env=windows_mingw.compiler_env())
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr
    without = subprocess.run(
        [config.WINDOWS_CC, *windows_mingw.FLAGS, f'-I{tmp_path}', str(source)],
        capture_output=True, text=True, env=windows_mingw.compiler_env())
    assert without.returncode != 0     # Rpc.h: no such file


# --- the real thing ---------------------------------------------------------

@pytest.mark.slow
def test_check_windows_on_the_real_workdir(all_run, caplog):
    from conftest import NEWEST, WORKDIR
    caplog.set_level('INFO', logger='pep433tool')
    paths = Paths(workdir=WORKDIR, base=NEWEST)
    problems = check.check_windows(paths, paths.cpython)
    assert problems == [], problems
    text = caplog.text
    assert f'check (g) base v{NEWEST}: Modules/posixmodule.c: compiles' \
        in text
    assert 'with no new diagnostic' in text
    report = (paths.workdir / windows_coverage.COVERAGE_REPORT).read_text()
    assert 'Modules/posixmodule.c: ' in report
