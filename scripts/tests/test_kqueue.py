"""check (f): the kqueue compile of select (pep433tool/kqueue.py).

The fast tests use fake apt-get, dpkg-deb and compiler scripts (no network,
no real compile); the slow one runs ``check --no-build`` on the real work
dir after the session's ``all`` run.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import SCRIPT, commit_all, fake_checkout, git, run_tool, write
from pep433tool import check, cli, config, kqueue, privateapt
from pep433tool.diagnostics import Diagnostic
from pep433tool.errors import PreconditionError
from pep433tool.util import Paths

MIRROR = 'http://mirror.example/debian'

def diag(text, line, option='-Wfoo', kind='warning',
         file='Modules/selectmodule.c'):
    return Diagnostic(kind, file, text, option, f'{file}:{line}:1')


def result(*diags, returncode=0, output=''):
    return kqueue.CompileResult(returncode, list(diags), output, 0.1)


def test_problems_and_summary():
    base = result(diag('a is odd', 10))
    same = result(diag('a is odd', 12))
    assert kqueue.problems_of('commit 1', same, base) == []
    assert kqueue.summary(same, base) == 'compiles, 1 warning (none new)'
    worse = result(diag('a is odd', 12), diag('b is odd', 30))
    (problem,) = kqueue.problems_of('commit 2', worse, base)
    assert problem.startswith('the kqueue path of select has 1 new warning '
                              'at commit 2')
    assert 'Modules/selectmodule.c:30:1: warning: b is odd [-Wfoo]' in problem
    assert 'a is odd' not in problem
    assert kqueue.summary(worse, base) == 'compiles, 2 warnings (1 new)'
    broken = result(diag('x undeclared', 5, option='', kind='error'),
                    returncode=1)
    (problem,) = kqueue.problems_of('commit 3', broken, base)
    assert 'does not compile at commit 3' in problem
    assert 'Modules/selectmodule.c:5:1: error: x undeclared' in problem
    silent = result(returncode=1, output='gcc: internal compiler error\n')
    (problem,) = kqueue.problems_of('commit 4', silent, base)
    assert 'gcc: internal compiler error' in problem


def test_compile_source_keeps_the_compilers_text(tmp_path):
    report = (f'{tmp_path}/Modules/selectmodule.c:3:1: warning: previous  '
              'definition at x.c:12:4 [-Wfoo]')
    cmd = [sys.executable, '-c', f'import sys; sys.exit({report!r})']
    compiled = kqueue.compile_source(cmd, tmp_path, ((tmp_path, ''),))
    assert compiled.returncode == 1
    assert compiled.diagnostics == [
        diag('previous  definition at x.c:12:4', 3)]


def test_compile_command():
    words = ['gcc', '-pthread', '-O3', '-Wsign-compare',
             '-I/src/Include/internal', '-IObjects', '-I.', '-I/src/Include',
             '-fPIC', '-c', '/src/Modules/selectmodule.c', '-o',
             'Modules/selectmodule.o']
    cmd = kqueue.compile_command(words, Path('/b/patched'), Path('/kq/inc'),
                                 Path('/kq/guards'))
    assert cmd == [
        'gcc', '-pthread', '-O3', '-Wsign-compare',
        '-I/src/Include/internal', '-I/b/patched/Objects', '-I/b/patched',
        '-I/src/Include', '-fPIC', '-Wall', '-DHAVE_KQUEUE=1',
        '-DHAVE_SYS_EVENT_H=1', '-I/kq/guards', '-isystem', '/kq/inc', '-c',
        '/src/Modules/selectmodule.c', '-o', os.devnull]
    # -Wall is not repeated
    cmd = kqueue.compile_command(['cc', '-Wall', '-c', 'x.c', '-o', 'x.o'],
                                 Path('/b'), Path('/i'), Path('/g'))
    assert cmd.count('-Wall') == 1


def fake_build(builddir, compiler):
    """A configured build dir whose Makefile compiles with *compiler*."""
    builddir.mkdir(parents=True)
    (builddir / 'pyconfig.h').write_text('#define HAVE_EPOLL 1\n')
    (builddir / 'Makefile').write_text(textwrap.dedent(f"""\
        srcdir=\t/nonexistent/src
        CC=\t{sys.executable} {compiler}
        PY_STDMODULE_CFLAGS= -O2 -Wall -I. -I$(srcdir)/Include
        Makefile: Makefile.pre
        \ttouch ran-makefile
        Modules/selectmodule.o: $(srcdir)/Modules/selectmodule.c
        \ttouch ran-rule
        \t$(CC) $(PY_STDMODULE_CFLAGS) -fPIC -c \\
        \t\t$(srcdir)/Modules/selectmodule.c -o Modules/selectmodule.o
        """))
    (builddir / 'Makefile.pre').write_text('')
    os.utime(builddir / 'Makefile', (0, 0))      # older than Makefile.pre
    return builddir


#: Reports "WARN: text" and "ERROR: text" lines of the file it compiles as
#: gcc would; fails without the kqueue macros.
FAKE_CC = """\
import sys
args = sys.argv[1:]
source = args[args.index('-c') + 1]
status = 0
if '-DHAVE_KQUEUE=1' not in args or '-isystem' not in args:
    print('cc1: error: no kqueue', file=sys.stderr)
    sys.exit(1)
with open(source) as f:
    for number, line in enumerate(f, 1):
        for kind in ('WARN', 'ERROR'):
            if kind + ':' in line:
                text = line.split(kind + ':', 1)[1].split('*/')[0].strip()
                name = 'warning' if kind == 'WARN' else 'error'
                print(f'{source}:{number}:5: {name}: {text} [-Wfake]',
                      file=sys.stderr)
                status = status or (kind == 'ERROR')
sys.exit(status)
"""


def test_module_command_reads_the_makefile_and_runs_nothing(tmp_path):
    builddir = fake_build(tmp_path / 'build', tmp_path / 'cc.py')
    src = tmp_path / 'src'
    write(src, 'Modules/selectmodule.c', 'int x;\n')
    words = kqueue.module_command(builddir, src)
    assert words[:2] == [sys.executable, str(tmp_path / 'cc.py')]
    assert words[-4:] == ['-c', f'{src}/Modules/selectmodule.c', '-o',
                          'Modules/selectmodule.o']
    assert f'-I{src}/Include' in words and '-I.' in words
    assert not (builddir / 'ran-rule').exists()
    assert not (builddir / 'ran-makefile').exists()


def test_private_apt_config_has_a_deb_entry(tmp_path):
    aptdir = tmp_path / 'apt' / 'kqueue'
    options = privateapt.private_apt_config(aptdir, MIRROR, ['experimental'],
                                            types='deb')
    parts = aptdir / 'sources.list.d'
    assert [p.name for p in parts.iterdir()] == ['pep433-deb.sources']
    (entry,) = privateapt.parse_deb822_sources(
        (parts / 'pep433-deb.sources').read_text())
    assert entry == {'types': ['deb'], 'uris': [MIRROR],
                     'suites': ['experimental'], 'components': ['main']}
    assert f'Dir::State::Lists={aptdir / "lists"}' in ' '.join(options)
    assert '/etc/apt' not in ' '.join(options)


def test_guards_survive_the_undef_of_libkqueue(tmp_path):
    # libkqueue defines NOTE_REVOKE and #undefs it: -DNOTE_REVOKE would be
    # lost, the wrapper header is not.
    cc = shutil.which('cc') or shutil.which('gcc')
    if cc is None:
        pytest.skip('needs a C compiler')
    include = tmp_path / 'inc'
    write(include, 'sys/event.h', '#define NOTE_REVOKE 0x0040\n'
          '#undef NOTE_REVOKE\n#define EVFILT_VNODE (-4)\n')
    guards = kqueue.write_guards(tmp_path)
    assert guards == tmp_path / 'kqueue' / 'pep433-guards'
    text = (guards / 'sys' / 'event.h').read_text()
    assert text.index('#include_next <sys/event.h>') < text.index(
        '#  define NOTE_REVOKE 0x0040')
    source = write(tmp_path, 'x.c', '#include <sys/event.h>\n'
                   'int revoke = NOTE_REVOKE, vnode = EVFILT_VNODE;\n')
    proc = subprocess.run([cc, '-E', '-P', f'-I{guards}', '-isystem',
                           str(include), str(source)],
                          capture_output=True, text=True, check=True)
    assert 'int revoke = 0x0040, vnode = (-4);' in proc.stdout


# --- getting libkqueue-dev, with fake apt-get and dpkg-deb -------------------

def fake_tools(bindir, download=True):
    """apt-get and dpkg-deb scripts in *bindir* that log their calls."""
    bindir.mkdir(parents=True, exist_ok=True)
    calls = bindir / 'calls'
    deb = 'libkqueue-dev_2.3.1-1.1~exp1_amd64.deb'
    scripts = {
        'apt-get': f"""\
            echo "apt-get $*" >> {calls}
            case " $* " in
              *" download "*) {'echo deb > ' + deb if download else
                               'echo "E: Unable to locate package"; exit 100'}
              ;;
            esac
            """,
        'dpkg-deb': f"""\
            echo "dpkg-deb $*" >> {calls}
            if [ "$1" = -x ]; then
              mkdir -p "$3/usr/include/kqueue/sys"
              echo '#define EV_ADD 1' > "$3/usr/include/kqueue/sys/event.h"
            else
              echo 2.3.1-1.1~exp1
            fi
            """,
    }
    for name, body in scripts.items():
        path = bindir / name
        path.write_text('#!/bin/sh\n' + textwrap.dedent(body))
        path.chmod(0o755)
    return calls


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """An /etc/apt and os-release naming a Debian mirror, fake tools first
    in PATH; returns (paths, etc_apt, os_release, calls file)."""
    etc = tmp_path / 'etc-apt'
    write(etc, 'sources.list.d/debian.sources',
          f'Types: deb\nURIs: {MIRROR}\nSuites: bookworm\n'
          'Components: main\n')
    release = write(tmp_path, 'os-release', 'VERSION_CODENAME=bookworm\n')
    calls = fake_tools(tmp_path / 'bin')
    monkeypatch.setenv('PATH', f'{tmp_path / "bin"}{os.pathsep}'
                       + os.environ['PATH'])
    paths = Paths(workdir=tmp_path / 'work', repo=tmp_path, base='3.13.5')
    return paths, etc, release, calls


def test_libkqueue_is_downloaded_once_and_shared(machine):
    paths, etc, release, calls = machine
    kqueue.write_guards(paths.root)     # a <root>/kqueue/ without libkqueue
    include = kqueue.ensure_libkqueue(paths, etc, release)
    assert include == paths.root / 'kqueue' / 'usr' / 'include' / 'kqueue'
    assert (include / 'sys' / 'event.h').is_file()
    stamp = json.loads((paths.root / 'kqueue' / kqueue.STAMP).read_text())
    assert stamp['version'] == '2.3.1-1.1~exp1'
    log = calls.read_text()
    assert 'update' in log and f'download {config.KQUEUE_PACKAGE}' in log
    assert f'Dir::State::Lists={paths.apt / "kqueue" / "lists"}' in log
    assert 'install' not in log
    sources = paths.apt / 'kqueue' / 'sources.list.d' / 'pep433-deb.sources'
    assert 'Suites: experimental' in sources.read_text()
    calls.unlink()
    other = paths.for_base('3.13.15')
    assert kqueue.ensure_libkqueue(other, etc, release) == include
    assert not calls.exists()            # reused: no apt-get this time


def test_libkqueue_that_cannot_be_had_is_a_precondition(machine, tmp_path):
    paths, etc, release, calls = machine
    fake_tools(tmp_path / 'bin', download=False)
    with pytest.raises(PreconditionError, match='cannot be had') as info:
        kqueue.ensure_libkqueue(paths, etc, release)
    assert 'Unable to locate package' in str(info.value)
    assert '--no-kqueue' in str(info.value)
    assert not (paths.root / 'kqueue').exists()


def test_libkqueue_without_archive_is_a_precondition(machine, tmp_path):
    paths, etc, release, calls = machine
    (etc / 'sources.list.d' / 'debian.sources').unlink()
    with pytest.raises(PreconditionError, match='no Debian archive'):
        kqueue.ensure_libkqueue(paths, etc, release)
    assert not calls.exists()


# --- the check on a fake series ---------------------------------------------

SELECT_BASE = """\
#include "Python.h"
int kqueue_tracking;   /* WARN: cast between incompatible function types */
"""


def fake_series(tmp_path):
    """Work dir with a fake 3.13.5 checkout, series and patched build."""
    paths, repo = fake_checkout(tmp_path,
                                {'Modules/selectmodule.c': SELECT_BASE})
    write(repo, 'Modules/selectmodule.c', '/* moved */\n' + SELECT_BASE)
    commit_all(repo, 'Same warning, another line')
    write(repo, 'Modules/selectmodule.c',
          SELECT_BASE + 'int cloexec;  /* WARN: unused variable cloexec */\n')
    commit_all(repo, 'A new warning')
    write(repo, 'Modules/selectmodule.c',
          SELECT_BASE + 'x = 1;  /* ERROR: x undeclared */\n')
    commit_all(repo, 'An error')
    write(repo, 'Modules/selectmodule.c', SELECT_BASE)
    commit_all(repo, 'Fixed')
    compiler = write(tmp_path, 'cc.py', FAKE_CC)
    fake_build(paths.patched, compiler)
    write(paths.root / 'kqueue' / kqueue.INCLUDE, 'sys/event.h', '')
    return paths, repo


def test_check_kqueue_reports_errors_and_new_warnings(tmp_path, caplog):
    caplog.set_level('INFO', logger='pep433tool')
    paths, repo = fake_series(tmp_path)
    problems = check.check_kqueue(paths, repo)
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        'the kqueue path of select has 1 new warning at commit 2 (')
    assert 'Modules/selectmodule.c:3:5: warning: unused variable cloexec ' \
        '[-Wfake]' in problems[0]
    assert 'incompatible' not in problems[0]
    assert 'does not compile at commit 3' in problems[1]
    assert 'Modules/selectmodule.c:3:5: error: x undeclared' in problems[1]
    # one line for the base, one per commit
    lines = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith('check (f) ')]
    assert len(lines) == 5
    assert lines[0].startswith('check (f) base v3.13.5: compiles, 1 warning')
    tip = git(repo, 'rev-parse', 'pep433')
    assert lines[4].startswith(f'check (f) commit 4/4 {tip[:12]} "Fixed": '
                               'compiles, 1 warning (none new)')
    assert 'compiles, 2 warnings (1 new)' in lines[2]
    assert 'does not compile (1 error)' in lines[3]
    # the worktree is left at the tip, the checkout untouched
    src = paths.workdir / 'check-src'
    assert git(src, 'rev-parse', 'HEAD') == git(repo, 'rev-parse', 'pep433')
    assert git(repo, 'status', '--porcelain') == ''


def test_check_kqueue_needs_the_patched_build(tmp_path):
    paths, repo = fake_series(tmp_path)
    (paths.patched / 'pyconfig.h').unlink()
    (problem,) = check.check_kqueue(paths, repo)
    assert 'not configured' in problem
    assert 'scripts/pep433 build' in problem


def test_check_kqueue_base_that_does_not_compile(tmp_path):
    paths, repo = fake_series(tmp_path)
    git(repo, 'tag', '-d', 'v3.13.5')
    git(repo, 'tag', 'v3.13.5', 'pep433~1')      # the commit with the error
    (problem,) = check.check_kqueue(paths, repo)
    assert 'does not compile at the base v3.13.5 (a guard is missing' \
        in problem


def test_cli_no_kqueue():
    args = cli.build_parser().parse_args(['check', '--no-build',
                                          '--no-kqueue'])
    assert args.no_kqueue and args.no_build
    assert not cli.build_parser().parse_args(['check']).no_kqueue


# --- the real thing ---------------------------------------------------------

@pytest.mark.slow
def test_check_compiles_the_kqueue_path_on_the_real_workdir(all_run):
    proc = run_tool(sys.executable, SCRIPT, 'check', '--no-build',
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout
    assert proc.returncode in (0, 1), out[-5000:]
    assert 'check (f) base v' in out, out[-5000:]
    assert 'the kqueue path of select compiles at each of the' in out, \
        out[-5000:]
    assert 'the kqueue path of select has' not in out
    assert 'the kqueue path of select does not compile' not in out
