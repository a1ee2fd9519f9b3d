"""``rebase``: porting the series to another base, on small git repos.

Two fake bases, 3.13.5 and 3.13.6, each a repository made from a "tarball"
with a fake Argument Clinic (``Tools/clinic/clinic.py`` writes
``Modules/clinic/posixmodule.c.h`` from the ``clinic:`` lines of
``Modules/posixmodule.c``), so that regenerating instead of merging shows.
"""

import json

import pytest

from conftest import (Project, bases_table, commit_all, git, make_base,
                      write)
from pep433tool import rebase

FAKE_CLINIC = '''\
import pathlib
src = pathlib.Path('Modules/posixmodule.c').read_text().splitlines()
out = [line for line in src if 'clinic:' in line]
pathlib.Path('Modules/clinic').mkdir(exist_ok=True)
pathlib.Path('Modules/clinic/posixmodule.c.h').write_text(
    '/* generated */\\n' + ''.join(line + '\\n' for line in out))
'''


POSIX = ''.join(f'int a{i};\n' for i in range(5)) + \
    '/* clinic: os.open({open}) */\n' + \
    ''.join(f'int b{i};\n' for i in range(5)) + \
    '/* clinic: os.stat({stat}) */\n'


def regen(repo):
    import subprocess
    import sys
    subprocess.run([sys.executable, 'Tools/clinic/clinic.py'], cwd=repo,
                   check=True)


@pytest.fixture
def two_bases(tmp_path, monkeypatch):
    """A project with the 3.13.5 series exported, and a 3.13.6 checkout."""
    monkeypatch.setenv('PEP433_BASES', str(bases_table(
        tmp_path / 'bases.toml', {'version': '3.13.5'},
        {'version': '3.13.6'})))
    proj = Project(tmp_path / 'p', base='3.13.5')
    old = make_base(proj.cpython)
    write(old, 'Tools/clinic/clinic.py', FAKE_CLINIC)
    write(old, 'Modules/posixmodule.c', POSIX.format(open='path',
                                                     stat='path'))
    regen(old)
    commit_all(old, 'the fake clinic')
    git(old, 'tag', '-f', 'v3.13.5')
    # the series: a Python change and a clinic change (source + output)
    text = (old / 'Lib/os.py').read_text().replace('line 5\n', 'line 5 + '
                                                   'cloexec\n')
    write(old, 'Lib/os.py', text)
    write(old, 'Lib/test/test_cloexec_x.py', 'import unittest\n')
    commit_all(old, 'Add cloexec to os\n\nWhy: PEP 433.\n\nBug: bpo-17036\n'
               'Origin: vendor, PEP 433 patch set for CPython 3.13.5\n')
    write(old, 'Modules/posixmodule.c', POSIX.format(
        open='path, *, cloexec=None', stat='path'))
    regen(old)
    commit_all(old, 'Add cloexec to os.open\n\nThe C part.\n\n'
               'Bug: bpo-17036\n', date='2026-01-03T00:00:00Z')
    assert proj.run('export') == 0
    new = proj.workroot / '3.13.6' / 'cpython'
    make_base(new)
    write(new, 'Include/patchlevel.h', '#define PY_VERSION "3.13.6"\n')
    write(new, 'Tools/clinic/clinic.py', FAKE_CLINIC)
    # 3.13.6 changed other lines of both files, and the clinic block
    text = (new / 'Lib/os.py').read_text().replace('line 20\n', 'line 20 '
                                                   '(fixed in 3.13.6)\n')
    write(new, 'Lib/os.py', text)
    write(new, 'Modules/posixmodule.c', POSIX.format(
        open='path', stat='path, *, dir_fd'))
    regen(new)
    commit_all(new, 'Python 3.13.6')
    git(new, 'tag', 'v3.13.6')
    return proj, old, new


def port(proj, *args):
    return proj.run('rebase', *args, base='3.13.6')


def new_state(proj):
    path = proj.workroot / '3.13.6' / 'state.json'
    return json.loads(path.read_text()) if path.exists() else {}


def test_clean_port_then_export(two_bases, caplog):
    proj, old, new = two_bases
    assert port(proj, '--from', '3.13.5') == 0
    assert git(new, 'log', '--format=%s', 'v3.13.6..pep433').splitlines() \
        == ['Add cloexec to os.open', 'Add cloexec to os']
    # both sides of each file: the patch's change and 3.13.6's
    os_py = git(new, 'show', 'pep433:Lib/os.py')
    assert 'line 5 + cloexec' in os_py and '(fixed in 3.13.6)' in os_py
    posix = git(new, 'show', 'pep433:Modules/posixmodule.c')
    assert 'cloexec=None' in posix and 'dir_fd' in posix
    # the generated file was regenerated from the merged source
    assert git(new, 'show', 'pep433:Modules/clinic/posixmodule.c.h') == (
        '/* generated */\n/* clinic: os.open(path, *, cloexec=None) */\n'
        '/* clinic: os.stat(path, *, dir_fd) */')
    # the DEP-3 Origin trailer names the new base
    assert git(new, 'log', '-1', '--format=%B', 'pep433~1').endswith(
        'Origin: vendor, PEP 433 patch set for CPython 3.13.6')
    assert not (proj.workroot / '3.13.6' / 'rebase-src').exists()
    assert git(new, 'branch', '--list', rebase.PORT_BRANCH) == ''
    assert new_state(proj)['rebase'] == {'state': 'done', 'from': '3.13.5'}
    # export writes patches/3.13.6/ and shows the port, patch by patch
    caplog.clear()
    assert proj.run('export', base='3.13.6') == 0
    series = (proj.repo / 'patches' / '3.13.6' / 'series').read_text()
    assert series.split() == ['0001-Add-cloexec-to-os.patch',
                              '0002-Add-cloexec-to-os.open.patch']
    assert 'ported from' in caplog.text
    assert 'Add cloexec to os.open' in caplog.text
    # the new file is shared, once, at the top of the project
    assert (proj.repo / 'Lib/test/test_cloexec_x.py').exists()
    assert proj.run('export', '--check', base='3.13.6') == 0
    assert proj.run('export', '--check', base='3.13.5') == 0


def conflicting_new_base(new):
    """3.13.6 changed the very line the first patch changes."""
    text = (new / 'Lib/os.py').read_text().replace('line 5\n',
                                                   'line 5 (3.13.6)\n')
    write(new, 'Lib/os.py', text)
    commit_all(new, 'Python 3.13.6, again')
    git(new, 'tag', '-f', 'v3.13.6')


def test_conflict_stops_then_continue(two_bases, caplog):
    proj, old, new = two_bases
    conflicting_new_base(new)
    assert port(proj, '--from', '3.13.5') == 3
    assert 'Lib/os.py' in caplog.text and '--continue' in caplog.text
    assert '--abort' in caplog.text
    assert new_state(proj)['rebase']['state'] == 'in-progress'
    assert git(new, 'branch', '--list', 'pep433') in ('', '* pep433')
    assert git(new, 'rev-parse', 'pep433') == git(new, 'rev-parse',
                                                    'v3.13.6')
    src = proj.workroot / '3.13.6' / 'rebase-src'
    assert port(proj, '--continue') == 3         # not resolved yet
    text = (src / 'Lib/os.py').read_text()
    head, rest = text.split('<<<<<<<', 1)
    _, tail = rest.split('>>>>>>>', 1)
    tail = tail.split('\n', 1)[1]
    write(src, 'Lib/os.py', head + 'line 5 (3.13.6) + cloexec\n' + tail)
    git(src, 'add', 'Lib/os.py')
    assert port(proj, '--continue') == 0
    assert 'line 5 (3.13.6) + cloexec' in git(new, 'show', 'pep433:Lib/os.py')
    assert len(git(new, 'log', '--format=%s', 'v3.13.6..pep433')
               .splitlines()) == 2


def test_abort_leaves_everything_as_it_was(two_bases):
    proj, old, new = two_bases
    conflicting_new_base(new)
    refs = git(new, 'for-each-ref')
    worktrees = git(new, 'worktree', 'list')
    state = new_state(proj)
    old_refs = git(old, 'for-each-ref')
    assert port(proj, '--from', '3.13.5') == 3
    assert port(proj, '--status') == 0
    assert port(proj, '--abort') == 0
    assert git(new, 'for-each-ref') == refs
    assert git(new, 'worktree', 'list') == worktrees
    assert new_state(proj) == state
    assert git(old, 'for-each-ref') == old_refs
    assert git(new, 'status', '--porcelain') == ''
    assert port(proj, '--continue') == 3         # nothing in progress


def test_generated_conflict_is_regenerated(two_bases):
    proj, old, new = two_bases
    # 3.13.6 changed the clinic line the second patch changes: the source
    # conflicts (the user resolves it), the generated file is regenerated
    write(new, 'Modules/posixmodule.c', POSIX.format(open='path, mode',
                                                     stat='path'))
    regen(new)
    commit_all(new, 'Python 3.13.6, again')
    git(new, 'tag', '-f', 'v3.13.6')
    assert port(proj, '--from', '3.13.5') == 3
    src = proj.workroot / '3.13.6' / 'rebase-src'
    conflicts = git(src, 'diff', '--name-only', '--diff-filter=U').split()
    assert sorted(conflicts) == ['Modules/clinic/posixmodule.c.h',
                                 'Modules/posixmodule.c']
    write(src, 'Modules/posixmodule.c', POSIX.format(
        open='path, mode, *, cloexec=None', stat='path'))
    git(src, 'add', 'Modules/posixmodule.c')
    assert port(proj, '--continue') == 0
    assert git(new, 'show', 'pep433:Modules/clinic/posixmodule.c.h') == (
        '/* generated */\n/* clinic: os.open(path, mode, *, cloexec=None) '
        '*/\n/* clinic: os.stat(path) */')


def test_refuses_unexported_work_on_the_new_base(two_bases, caplog):
    proj, old, new = two_bases
    git(new, 'checkout', '-q', '-B', 'pep433', 'v3.13.6')
    write(new, 'Lib/mine.py', 'my work\n')
    commit_all(new, 'my own work')
    mine = git(new, 'rev-parse', 'pep433')
    assert port(proj, '--from', '3.13.5') == 3
    assert 'not in patches/3.13.6/' in caplog.text
    assert git(new, 'rev-parse', 'pep433') == mine
    assert 'rebase' not in new_state(proj)


def test_refuses_a_source_that_is_not_exported(two_bases, caplog):
    proj, old, new = two_bases
    write(old, 'Lib/os.py', 'unexported\n')
    commit_all(old, 'not exported')
    assert port(proj, '--from', '3.13.5') == 3
    assert '--base 3.13.5 export' in caplog.text
    assert git(new, 'for-each-ref', 'refs/pep433') == ''


def test_default_source_is_the_newest_older_base(two_bases):
    proj, old, new = two_bases
    assert rebase.default_source(proj.paths.for_base('3.13.6')).version \
        == '3.13.5'


def test_a_shared_new_file_exists_once(two_bases, caplog):
    proj, old, new = two_bases
    assert port(proj, '--from', '3.13.5') == 0
    shared = proj.repo / 'Lib/test/test_cloexec_x.py'
    before = shared.read_bytes()
    first, second = git(new, 'rev-list', '--reverse',
                        'v3.13.6..pep433').split()
    # A second version of the file in the commit that adds it: refused
    git(new, 'reset', '-q', '--keep', first)
    write(new, 'Lib/test/test_cloexec_x.py', 'import unittest  # 3.13.6\n')
    git(new, 'commit', '-q', '--amend', '-a', '--no-edit')
    git(new, 'cherry-pick', second)
    assert proj.run('export', base='3.13.6') == 3
    assert 'other versions of new files' in caplog.text
    assert 'a commit of its own' in caplog.text
    assert shared.read_bytes() == before
    assert not (proj.repo / 'patches' / '3.13.6').exists()
    # The same difference as a commit of its own: exported as a patch
    git(new, 'reset', '-q', '--keep', second)
    write(new, 'Lib/test/test_cloexec_x.py', 'import unittest  # 3.13.6\n')
    commit_all(new, 'Adapt test_cloexec_x to 3.13.6\n\nWhy.\n\n'
               'Bug: bpo-17036\n')
    assert proj.run('export', base='3.13.6') == 0
    assert shared.read_bytes() == before
    third = (proj.repo / 'patches' / '3.13.6' /
             '0003-Adapt-test_cloexec_x-to-3.13.6.patch').read_text()
    assert '+import unittest  # 3.13.6' in third
