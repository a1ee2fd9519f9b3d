"""The slow end-to-end tests: ``scripts/pep433 all`` on the real work dir.

The session fixture ``all_run`` (conftest.py) fetches the newest base,
applies the series, builds both interpreters and runs the full regrtest tier
(the subset plus multiprocessing and asyncio), once; ``other_bases_run``
does the same with the subset on every other base, and
``free_threading_run`` builds the newest base's free-threaded interpreters
and runs the subset on them.  The tests here check what they produced and
what the patched interpreter does.  The work directory is $PEP433_WORKDIR,
or <repo>/build.
"""

import json
import tarfile
import shutil
import subprocess
import sys

import pytest

from conftest import BASEDIR, NEWEST, SCRIPT, WORKDIR, run_tool as run
from pep433tool import syscalls

PROBES = SCRIPT.parent / 'pep433tool' / 'probes'

pytestmark = pytest.mark.slow


def test_all_builds_and_tests_the_series(all_run):
    for name in ('baseline', 'patched'):
        python = BASEDIR / name / 'python'
        assert python.exists(), f'{python} was not built'
        check = run(python, '-c', 'import sys; print(sys.version)',
                    capture_output=True)
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith(NEWEST + ' ')
    assert all_run.returncode == 0, 'scripts/pep433 all failed (output above)'


def test_every_other_base_builds_and_passes_the_subset(other_bases_run):
    for version, proc in other_bases_run.items():
        assert proc.returncode == 0, (
            f'scripts/pep433 --base {version} all failed (output above)')
        python = WORKDIR / version / 'patched' / 'python'
        check = run(python, '-e', '-c', 'import sys; print('
                    'sys.getdefaultcloexec(), sys.version)',
                    capture_output=True)
        assert check.stdout.startswith(f'True {version} '), check.stderr


def test_free_threaded_builds_pass_the_subset(free_threading_run):
    build, test = free_threading_run
    assert build.returncode == 0, 'build --free-threading failed (above)'
    python = BASEDIR / 'patched-ft' / 'python'
    check = run(python, '-c', 'import sys; print(sys._is_gil_enabled())',
                capture_output=True)
    assert check.stdout.strip() == 'False', check.stderr
    assert test.returncode == 0, 'test --free-threading failed (above)'


def test_export_round_trip(all_run, other_bases_run):
    for version in [NEWEST, *other_bases_run]:
        export = run(sys.executable, SCRIPT, '--base', version, 'export',
                     '--check', capture_output=True)
        assert export.returncode == 0, export.stdout + export.stderr


def flags(python, *args):
    proc = run(python, *args, '-c', 'import sys; print(sys.getdefaultcloexec(),'
               ' sys.flags.cloexec)', capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_default_and_e_option(patched):
    assert flags(patched, '-e') == 'True 1'
    assert flags(patched) == 'False 0'


def inherited(python, *args, mode='default'):
    proc = run(python, *args, PROBES / 'inherit.py', mode,
               capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize('args, mode, expected', [
    ((), 'default', 'all'),
    (('-e',), 'default', 'none'),
    ((), 'True', 'none'),
    ((), 'False', 'all'),
    (('-e',), 'False', 'all'),
])
def test_exec_inheritance(patched, args, mode, expected):
    # An exec'd child (subprocess, close_fds=False) holds every fd the
    # fd-creating functions made, or none of them.
    result = inherited(patched, *args, mode=mode)
    assert len(result) >= 12
    for name, (created, got) in result.items():
        assert got == (created if expected == 'all' else 0), (name, result)


@pytest.mark.skipif(shutil.which('strace') is None, reason='needs strace')
@pytest.mark.parametrize('args, modes, expect', [
    ((), ('default', 'True', 'False'),
     {'default': False, 'True': True, 'False': False}),
    (('-e',), ('default', 'False'), {'default': True, 'False': False}),
])
def test_atomic_flag_and_no_extra_syscall(patched, args, modes, expect):
    # Rule 1: the flag is set by the creating system call, and no
    # fcntl()/ioctl() follows; without the flag, no extra call either.
    traces, calls = syscalls.run(patched, modes, interpreter_args=args)
    assert len(traces) == 2 * len(modes) * len(calls)
    assert syscalls.check(traces, calls, expect) == []


def unpacked_release(tmp_path, name):
    """The newest base's release tarball (from the tool's cache, where
    ``all`` put it) unpacked into *tmp_path*/*name*: not the tool's
    checkout, what a core developer starts from."""
    from pep433tool import bases
    base = bases.get(NEWEST)
    target = tmp_path / name
    target.mkdir()
    with tarfile.open(WORKDIR / 'cache' / base.tarball) as tar:
        tar.extractall(target, filter='data')
    return target / base.topdir


def tree_of(path):
    run('git', '-C', path, 'init', '-q', check=True)
    run('git', '-C', path, 'add', '-A', '--force', check=True)
    return run('git', '-C', path, 'write-tree', check=True,
               capture_output=True).stdout.strip()


def branch_tree():
    return run('git', '-C', BASEDIR / 'cpython', 'rev-parse',
               'pep433^{tree}', check=True,
               capture_output=True).stdout.strip()


def test_git_am_of_the_patches_on_the_release_tarball(all_run, tmp_path):
    src = unpacked_release(tmp_path, 'am')
    pristine = tree_of(src)
    identity = ['-c', 'user.name=Core Dev', '-c', 'user.email=dev@example.org']
    run('git', '-C', src, *identity, 'commit', '-q', '-m', 'release',
        check=True)
    patches = sorted((SCRIPT.parent.parent / 'patches' / NEWEST)
                     .glob('*.patch'))
    proc = run('git', '-C', src, *identity, 'am', '-q', *patches,
               capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pristine != branch_tree()
    assert run('git', '-C', src, 'rev-parse', 'HEAD^{tree}', check=True,
               capture_output=True).stdout.strip() == branch_tree()


def test_patch_p1_in_series_order_on_the_release_tarball(all_run, tmp_path):
    src = unpacked_release(tmp_path, 'p1')
    folder = SCRIPT.parent.parent / 'patches' / NEWEST
    names = [line.split('#')[0].strip() for line in
             (folder / 'series').read_text().splitlines()]
    for name in filter(None, names):
        with open(folder / name) as patch:
            proc = run('patch', '-p1', '-s', '--no-backup-if-mismatch',
                       cwd=src, stdin=patch, capture_output=True)
        assert proc.returncode == 0, (name, proc.stdout + proc.stderr)
    assert tree_of(src) == branch_tree()


HOWTO = BASEDIR / 'cpython' / 'Doc' / 'howto' / 'fd-inheritance.rst'


def shell_sessions(text):
    """(command, expected output lines) of each ``$`` line of the page's
    shell sessions: ``.. code-block:: shell-session`` blocks, and ``text``
    blocks that start with ``$`` (Pygments cannot lex a quote that spans
    lines); a command goes on while a quote is open."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        if lines[i].strip() not in ('.. code-block:: shell-session',
                                    '.. code-block:: text') or not (
                i + 2 < len(lines) and lines[i + 2].startswith('   $ ')):
            i += 1
            continue
        i += 2
        body = []
        while i < len(lines) and (lines[i].startswith('   ')
                                  or not lines[i].strip()):
            body.append(lines[i][3:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        j = 0
        while j < len(body):
            assert body[j].startswith('$ '), body[j]
            command = body[j][2:]
            j += 1
            while command.count("'") % 2:
                command += '\n' + body[j]
                j += 1
            expected = []
            while j < len(body) and not body[j].startswith('$ '):
                expected.append(body[j])
                j += 1
            found.append((command, expected))
    return found


def test_howto_examples_run_on_the_patched_interpreter(patched, tmp_path):
    # The HOWTO the series adds (patch "Add a file descriptor inheritance
    # HOWTO"): its doctest blocks in the default mode, then its shell
    # sessions (-e, PYTHONCLOEXEC) with the patched python as `python`.
    doctests = run(patched, '-m', 'doctest', HOWTO, cwd=tmp_path,
                   capture_output=True)
    assert doctests.returncode == 0, doctests.stdout + doctests.stderr
    sessions = shell_sessions(HOWTO.read_text())
    assert len(sessions) >= 5
    env = {'PATH': f'{patched.parent}:/usr/bin:/bin', 'HOME': str(tmp_path),
           'LANG': 'C.UTF-8'}
    for command, expected in sessions:
        proc = subprocess.run(['bash', '-c', command], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        assert proc.stdout.rstrip('\n').splitlines() == expected, command


LAYOUT_PROBE = r'''
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
int main(void)
{
    printf("sizeof(PyConfig)=%zu\n", sizeof(PyConfig));
    printf("offsetof(PyConfig, cpu_count)=%zu\n",
           offsetof(PyConfig, cpu_count));
    printf("offsetof(PyConfig, int_max_str_digits)=%zu\n",
           offsetof(PyConfig, int_max_str_digits));
    printf("offsetof(PyConfig, safe_path)=%zu\n",
           offsetof(PyConfig, safe_path));
    return 0;
}
'''


def pyconfig_layout(tmp_path, build, source):
    """PyConfig's size and offsets, compiled against *build*'s pyconfig.h
    and *source*'s headers."""
    probe = tmp_path / 'layout.c'
    probe.write_text(LAYOUT_PROBE)
    exe = tmp_path / f'layout-{build.name}'
    run('gcc', '-I', build, '-I', source / 'Include', probe, '-o', exe,
        check=True)
    return run(exe, check=True, capture_output=True).stdout


@pytest.mark.parametrize('variant', ['', '-ft'])
def test_pyconfig_layout_is_stock(all_run, free_threading_run, tmp_path,
                                  variant):
    # A 3.13.x maintenance release keeps its ABI: the series adds no
    # PyConfig member (-e is -X cloexec), on the default and the
    # free-threaded builds.
    stock = pyconfig_layout(tmp_path, BASEDIR / f'baseline{variant}',
                            BASEDIR / 'baseline-src')
    patched = pyconfig_layout(tmp_path, BASEDIR / f'patched{variant}',
                              BASEDIR / 'cpython')
    assert 'sizeof(PyConfig)=' in stock
    assert patched == stock
