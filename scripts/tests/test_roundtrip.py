"""apply/export round trip on a small fake CPython repository."""

from conftest import Project, fake_checkout, git, make_base, write


def tree(repo, rev='pep433'):
    return git(repo, 'rev-parse', rev + '^{tree}')


def test_export_writes_whole_patches_and_the_new_file_tree(exported):
    proj = exported
    series = (proj.patches / 'series').read_text().split()
    assert series == ['0001-Add-cloexec-to-os.patch',
                      '0002-Add-cloexec-to-posix.patch']
    first = (proj.patches / series[0]).read_text()
    # the files the commit adds are in its patch: self-contained
    assert ('diff --git a/Lib/test/test_x.py b/Lib/test/test_x.py\n'
            'new file mode 100644\n') in first
    assert '+Add the *cloexec* parameter.' in first
    assert 'New-File' not in first
    assert 'Bug: bpo-17036\n---\n' in first
    assert '+line five' in first
    assert first.startswith('From 0000000000000000000000000000000000000000')
    assert 'Subject: [PATCH] Add cloexec to os' in first
    second = (proj.patches / series[1]).read_text()
    assert '+# more' in second and 'b/Lib/test/test_x.py' in second
    # the new-file tree: each file as the commit that adds it has it
    assert (proj.repo / 'Lib/test/test_x.py').read_text() == \
        'import unittest\n\n# test_x\n'
    assert (proj.repo / 'Misc/NEWS.d/next/Library/x.rst').exists()


def test_export_check_fails_on_an_edited_new_file_tree(exported, caplog):
    write(exported.repo, 'Lib/test/test_x.py', 'edited by hand\n')
    assert exported.run('export', '--check') == 1
    assert 'would change Lib/test/test_x.py' in caplog.text
    assert exported.run('export') == 0
    assert exported.run('export', '--check') == 0


def test_export_refuses_an_empty_commit(exported, caplog):
    git(exported.cpython, 'commit', '-q', '--allow-empty', '-m', 'Nothing')
    before = exported.snapshot()
    assert exported.run('export') == 3
    assert 'commits that change nothing' in caplog.text
    assert exported.snapshot() == before


def test_second_export_changes_no_byte(exported):
    before = exported.snapshot()
    assert exported.run('export') == 0
    assert exported.snapshot() == before
    assert exported.run('export', '--check') == 0


def test_apply_recreates_branch_on_fresh_base(exported, tmp_path):
    other = Project(tmp_path / 'p2')
    other.repo = exported.repo
    other.paths.repo = exported.repo
    make_base(other.cpython)
    assert other.run('apply') == 0
    assert tree(other.cpython) == tree(exported.cpython)
    assert git(other.cpython, 'rev-list', '--count', 'v3.13.5..pep433') \
        == '2'
    # checked-out branch: the work tree follows
    assert (other.cpython / 'Lib/test/test_x.py').read_text().endswith(
        '# more\n')
    # reproducible hashes: a second fresh base gives the same commits
    third = Project(tmp_path / 'p3')
    third.paths.repo = exported.repo
    third.repo = exported.repo
    make_base(third.cpython)
    assert third.run('apply') == 0
    assert git(third.cpython, 'rev-parse', 'pep433') == \
        git(other.cpython, 'rev-parse', 'pep433')
    # apply twice: no-op
    tip = git(other.cpython, 'rev-parse', 'pep433')
    assert other.run('apply') == 0
    assert git(other.cpython, 'rev-parse', 'pep433') == tip
    assert git(other.cpython, 'rev-parse',
               'refs/pep433/applied^{commit}') == tip
    # and exporting the applied branch changes nothing
    before = exported.snapshot()
    assert other.run('export', '--check') == 0
    assert other.run('export') == 0
    assert exported.snapshot() == before


def test_apply_refuses_dirty_tree(exported):
    repo = exported.cpython
    write(repo, 'Lib/os.py', 'my edit\n')
    status = git(repo, 'status', '--porcelain')
    head = git(repo, 'rev-parse', 'HEAD')
    assert exported.run('apply') == 3
    assert (repo / 'Lib/os.py').read_bytes() == b'my edit\n'
    assert git(repo, 'status', '--porcelain') == status
    assert git(repo, 'rev-parse', 'HEAD') == head


def test_apply_refuses_foreign_commits(exported):
    repo = exported.cpython
    write(repo, 'Lib/os.py', 'my new work\n')
    git(repo, 'commit', '-qam', 'work in progress')
    head = git(repo, 'rev-parse', 'HEAD')
    assert exported.run('apply') == 3
    assert git(repo, 'rev-parse', 'pep433') == head
    assert (repo / 'Lib/os.py').read_text() == 'my new work\n'


def test_export_check_detects_new_commit(exported):
    repo = exported.cpython
    write(repo, 'Modules/posixmodule.c', 'changed\n')
    git(repo, 'commit', '-qam', 'Third\n\nBody.\n\nBug: bpo-17036')
    before = exported.snapshot()
    assert exported.run('export', '--check') == 1
    assert exported.snapshot() == before
    assert exported.run('export') == 0
    assert (exported.patches / '0003-Third.patch').exists()
    assert exported.run('export', '--check') == 0


def test_failed_patch_leaves_branch_alone(exported, tmp_path):
    patch = exported.patches / '0002-Add-cloexec-to-posix.patch'
    patch.write_text(patch.read_text().replace(' /* 19 */', ' /* XIX */'))
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    base = git(other.cpython, 'rev-parse', 'pep433')
    assert other.run('apply') == 3
    assert git(other.cpython, 'rev-parse', 'pep433') == base
    assert git(other.cpython, 'status', '--porcelain') == ''
    assert git(other.cpython, 'worktree', 'list').count('\n') == 0
    assert not (other.cpython / '.git' / 'rebase-apply').exists()


def test_series_change_rebuilds_and_keeps_backup(exported, tmp_path):
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    assert other.run('apply') == 0
    old_tip = git(other.cpython, 'rev-parse', 'pep433')
    # "git pull" brought a series without the second patch
    series = exported.patches / 'series'
    series.write_text('# only one\n0001-Add-cloexec-to-os.patch\n')
    assert other.run('apply') == 0
    assert git(other.cpython, 'rev-list', '--count', 'v3.13.5..pep433') \
        == '1'
    assert git(other.cpython, 'rev-parse', 'refs/pep433/backup/1') == old_tip


def test_apply_knows_an_unchanged_series_without_exporting(
        exported, tmp_path, monkeypatch):
    from pep433tool import patchset
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    assert other.run('apply') == 0
    tip = git(other.cpython, 'rev-parse', 'pep433')

    def no_export(*args, **kwargs):
        raise AssertionError('apply exported the branch')
    monkeypatch.setattr(patchset, 'compute', no_export)
    assert other.run('apply') == 0          # recorded by apply
    assert exported.run('apply') == 0       # recorded by export
    assert git(other.cpython, 'rev-parse', 'pep433') == tip
    # the record is the ref, in git: the state file does not repeat it
    record = git(other.cpython, 'cat-file', 'tag', 'refs/pep433/applied')
    assert f'object {tip}' in record and 'patches sha256: ' in record
    assert 'applied' not in other.paths.load_state()
    # a patch that changed since: not up to date, whatever the record says
    patch = exported.patches / '0002-Add-cloexec-to-posix.patch'
    patch.write_text(patch.read_text().replace('Add cloexec to posix',
                                               'Add cloexec to posix.'))
    monkeypatch.undo()
    assert other.run('apply') == 0
    assert git(other.cpython, 'rev-parse', 'pep433') != tip
    assert git(other.cpython, 'rev-parse', 'refs/pep433/backup/1') == tip


def test_checkout_refs_are_read_through_an_annotated_tag(tmp_path):
    from pep433tool import checkout, config
    paths, repo = fake_checkout(tmp_path, {'Lib/os.py': 'x\n'})
    commit = git(repo, 'rev-parse', 'HEAD')
    # a clone of CPython's own repository: its release tags are annotated
    git(repo, 'tag', '-f', '-a', '-m', 'Python 3.13.5', 'v3.13.5')
    git(repo, 'update-ref', config.APPLIED_REF, commit)
    git(repo, 'branch', f'{config.BRANCH}-other')   # a prefix, not the branch
    found = checkout.open_checkout(paths)
    assert (found.repo, found.base, found.tip, found.applied) == \
        (repo, commit, commit, commit)
    assert found.unexported is None
    # set by hand to a commit: no fingerprint, apply exports to compare
    assert checkout.recorded_fingerprint(found) is None
    checkout.record_applied(found, commit, 'f00d', 'test')
    found = checkout.open_checkout(paths)
    assert (found.applied, checkout.recorded_fingerprint(found)) == \
        (commit, 'f00d')
    git(repo, 'update-ref', '-d', config.APPLIED_REF)
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'mine')
    found = checkout.open_checkout(paths)
    assert found.applied is None
    assert found.unexported == git(repo, 'rev-parse', 'HEAD')


def test_apply_with_other_branch_checked_out(exported, tmp_path):
    other = Project(tmp_path / 'p2')
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    git(other.cpython, 'checkout', '-q', '-b', 'mine')
    write(other.cpython, 'untracked.txt', 'keep me\n')
    assert other.run('apply') == 0
    assert git(other.cpython, 'branch', '--show-current') == 'mine'
    assert (other.cpython / 'untracked.txt').read_text() == 'keep me\n'
    assert tree(other.cpython) == tree(exported.cpython)
    assert git(other.cpython, 'rev-parse', 'mine') == \
        git(other.cpython, 'rev-parse', 'v3.13.5')


def test_export_removes_stale_files_only(exported):
    proj = exported
    unrelated = write(proj.repo, 'Lib/test/unrelated.py', 'mine\n')
    repo = proj.cpython
    # drop the first commit's new files: rebuild the branch without them
    git(repo, 'rebase', '-q', '--exec',
        'git rm -q --cached --ignore-unmatch Misc/NEWS.d/next/Library/x.rst'
        ' && git commit -q --amend --no-edit --allow-empty', 'v3.13.5')
    assert proj.run('export') == 0
    assert not (proj.repo / 'Misc/NEWS.d/next/Library/x.rst').exists()
    assert (proj.repo / 'Lib/test/test_x.py').exists()
    assert unrelated.read_text() == 'mine\n'
    first = (proj.patches / '0001-Add-cloexec-to-os.patch'
             ).read_text()
    assert 'x.rst' not in first


def test_empty_series_apply(project):
    make_base(project.cpython)
    assert project.run('apply') == 0
    assert git(project.cpython, 'rev-parse', 'pep433') == \
        git(project.cpython, 'rev-parse', 'v3.13.5')
    assert project.run('export', '--check') == 0
