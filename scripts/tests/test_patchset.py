"""The series as a patch set anyone can apply, without the tool.

A fresh copy of the fake base, made by hand (not the tool's checkout), and
patches/<version>/ applied the three ways a core developer would: ``git am``
of the files, ``patch -p1`` in series order, ``quilt push -a``.  Each must
give exactly the tree of branch pep433.  Then the bad inputs of issue 20:
each refused with a message, exit 3, nothing changed.
"""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import (BASE_FILES, Project, commit_all, git, make_base,
                      write)
from pep433tool import gitutil


def plain_tree(path):
    """A directory of the fake base's files, no git (a tarball unpacked)."""
    for rel, text in BASE_FILES.items():
        write(path, rel, text)
    return path


def tree_of_directory(path):
    """The git tree id of *path*'s files, as a commit of them would have."""
    git(path, 'init', '-q')
    git(path, 'add', '-A')
    return git(path, 'write-tree')


def series_names(proj):
    """The series file as a shell loop reads it: comments dropped."""
    text = (proj.patches / 'series').read_text()
    return [line.split('#')[0].strip() for line in text.splitlines()
            if line.split('#')[0].strip()]


@pytest.fixture
def commented(exported):
    """*exported*, with '#' comments in its series file, as the real one."""
    series = exported.patches / 'series'
    names = series.read_text().split()
    series.write_text(f'# the os part\n{names[0]}  # first\n'
                      f'# the C part\n{names[1]}\n')
    return exported


def test_git_am_alone_gives_the_branch(commented, tmp_path):
    mine = make_base(tmp_path / 'my-clone')
    patches = sorted(str(p) for p in commented.patches.glob('*.patch'))
    git(mine, 'am', '-q', *patches)
    assert git(mine, 'rev-parse', 'HEAD^{tree}') == \
        git(commented.cpython, 'rev-parse', 'pep433^{tree}')
    # commit by commit: one commit per patch
    assert git(mine, 'rev-list', '--count', 'v3.13.5..HEAD') == '2'


def test_patch_p1_in_series_order_gives_the_branch(commented, tmp_path):
    tree = plain_tree(tmp_path / 'unpacked')
    for name in series_names(commented):
        with open(commented.patches / name) as patch:
            subprocess.run(['patch', '-p1', '-s', '--no-backup-if-mismatch'],
                           stdin=patch, cwd=tree, check=True)
    assert tree_of_directory(tree) == \
        git(commented.cpython, 'rev-parse', 'pep433^{tree}')


@pytest.mark.skipif(shutil.which('quilt') is None, reason='needs quilt')
def test_quilt_reads_the_series_file_as_it_is(commented, tmp_path):
    tree = plain_tree(tmp_path / 'unpacked')
    env = dict(os.environ, QUILT_PATCHES=str(commented.patches))
    subprocess.run(['quilt', 'push', '-a', '-q'], cwd=tree, env=env,
                   check=True, capture_output=True)
    shutil.rmtree(tree / '.pc')
    assert tree_of_directory(tree) == \
        git(commented.cpython, 'rev-parse', 'pep433^{tree}')


def test_apply_is_git_am_and_nothing_else(exported, tmp_path):
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    # the new-file tree is not read: without it, the branch is the same
    shutil.rmtree(exported.repo / 'Lib')
    shutil.rmtree(exported.repo / 'Misc')
    assert other.run('apply') == 0
    assert git(other.cpython, 'rev-parse', 'pep433^{tree}') == \
        git(exported.cpython, 'rev-parse', 'pep433^{tree}')
    assert 'New-File' not in git(other.cpython, 'log', '--format=%B',
                                 'v3.13.5..pep433')


def test_git_commands_are_shown_with_v_only(exported, tmp_path, capfd):
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    assert other.run('apply') == 0
    assert '$ git' not in capfd.readouterr().err
    assert other.run('-v', 'apply') == 0     # a no-op, shown
    assert '$ git' in capfd.readouterr().err


# --- bad input: a message, exit 3, nothing changed ---------------------------

@pytest.mark.parametrize('command', [
    ['fetch'], ['apply'], ['export', '--check'], ['rebase', '--status'],
    ['review', 'somewhere']])
def test_workdir_that_is_a_file(tmp_path, caplog, command):
    afile = tmp_path / 'afile'
    afile.write_text('mine\n')
    from pep433tool import cli
    for workdir in (afile, afile / 'below'):
        caplog.clear()
        assert cli.main(['--workdir', str(workdir), *command]) == 3
        assert f'{afile} is not a directory' in caplog.text
        assert '--workdir DIR' in caplog.text
    assert afile.read_text() == 'mine\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['afile']


def table_with_release_tree(tmp_path, tree):
    from conftest import bases_table
    table = bases_table(tmp_path / 'bases.toml', {'version': '3.13.5'})
    table.write_text(table.read_text() + f'release_tree = "{tree}"\n')
    return table


def test_fetch_checkout_refuses_a_patched_tag(exported, tmp_path, caplog,
                                              monkeypatch):
    pristine = make_base(tmp_path / 'pristine')
    with tempfile.TemporaryDirectory() as scratch:
        tree = gitutil.release_tree(pristine, 'v3.13.5', scratch)
    monkeypatch.setenv('PEP433_BASES',
                       str(table_with_release_tree(tmp_path, tree)))
    # a clone whose tag is the release, dot-files and Misc/NEWS aside
    good = make_base(tmp_path / 'good')
    write(good, '.gitignore', '*.o\n')
    write(good, 'Misc/NEWS.d/next/x.rst', 'an entry\n')
    commit_all(good, 'the clone has these, the tarball not')
    git(good, 'tag', '-f', 'v3.13.5')
    assert Project(tmp_path / 'g').run('fetch', '--checkout', str(good)) == 0
    # a patched commit tagged as the release
    bad = make_base(tmp_path / 'bad')
    patch = sorted(exported.patches.glob('0001-*.patch'))[0]
    git(bad, 'am', '-q', str(patch))
    git(bad, 'tag', '-f', 'v3.13.5')
    proj = Project(tmp_path / 'b')
    before = sorted(p.name for p in bad.rglob('*') if '.git' not in p.parts)
    refs = git(bad, 'for-each-ref')
    caplog.clear()
    assert proj.run('fetch', '--checkout', str(bad)) == 3
    assert 'are not those of the Python 3.13.5 release' in caplog.text
    assert 'Lib/os.py' in caplog.text           # what differs
    assert sorted(p.name for p in bad.rglob('*')
                  if '.git' not in p.parts) == before
    assert git(bad, 'for-each-ref') == refs
    assert not (proj.workdir / 'baseline-src').exists()
    assert proj.paths.load_state() == {}


def test_rebase_continue_with_nothing_in_progress(project, caplog):
    make_base(project.cpython)
    assert project.run('rebase', '--continue') == 3
    assert 'no port to 3.13.5 is in progress' in caplog.text
    assert 'scripts/pep433 --base 3.13.5 rebase --status' in caplog.text


def test_export_without_checkout_names_fetch_with_base(project, caplog):
    assert project.run('export') == 3
    assert 'scripts/pep433 --base 3.13.5 fetch' in caplog.text
