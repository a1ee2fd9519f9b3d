"""``review DIR``: the bundle, its versions, and nothing of the user's lost."""

import json

from conftest import commit_all, git, make_base, write


def files(directory):
    return sorted(p.relative_to(directory).as_posix()
                  for p in directory.rglob('*') if p.is_file())


def test_bundle_is_numbered_and_applies(exported, tmp_path):
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    assert files(review) == [
        'pep433-combined.diff', 'review.json',
        'v1-0000-cover-letter.patch', 'v1-0001-Add-cloexec-to-os.patch',
        'v1-0002-Add-cloexec-to-posix.patch']
    first = (review / 'v1-0001-Add-cloexec-to-os.patch').read_text()
    assert 'Subject: [PATCH v1 1/2] Add cloexec to os' in first
    cover = (review / 'v1-0000-cover-letter.patch').read_text()
    assert 'Subject: [PATCH v1 0/2] PEP 433 for CPython 3.13.5' in cover
    for heading in ('Why PEP 433, against stock CPython (PEP 446)',
                    'The patches', 'Evidence', 'Not tested',
                    'How to apply'):
        assert heading in cover
    assert ' 1/2 Add cloexec to os\n 2/2 Add cloexec to posix\n' in cover
    assert 'Range-diff' not in cover            # no earlier version
    # the bundle's patches apply on their own, like patches/
    mine = make_base(tmp_path / 'mine')
    git(mine, 'am', '-q', str(review / 'v1-0001-Add-cloexec-to-os.patch'),
        str(review / 'v1-0002-Add-cloexec-to-posix.patch'))
    assert git(mine, 'rev-parse', 'HEAD^{tree}') == \
        git(exported.cpython, 'rev-parse', 'pep433^{tree}')


def test_default_flip_comes_first(exported, tmp_path):
    repo = exported.cpython
    write(repo, 'Lib/os.py', 'flipped\n')
    commit_all(repo, 'bpo-17036: Make file descriptors inheritable by '
               'default (PEP 433)\n\nWhy.\n\nBug: bpo-17036\n')
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    cover = (review / 'v1-0000-cover-letter.patch').read_text()
    flip = cover.index('Read this first: patch 3/3 changes the default.')
    assert flip < cover.index('Why PEP 433')
    assert flip < cover.index('The patches')


def test_evidence_is_read_from_committed_reports(exported, tmp_path):
    write(exported.repo, 'docs/results/3.13.5/summary.txt',
          '# test (subset, 19 test modules, modes baseline, patched)\n'
          '# base 3.13.5, branch pep433 at 0123456789ab, 2026-12-02 10:00 '
          'UTC\nregrtest results (test cases; whole-module problems count '
          'as errors):\n  baseline     3033 pass, 0 fail, 0 error, 9 skip\n'
          '  patched      3040 pass, 0 fail, 0 error, 9 skip\n\n'
          'patched: no new failure\n')
    write(exported.repo, 'docs/audit-latest.md',
          '`scripts/pep433 audit` on the 3.13.5 series (2026-12-01; x).\n\n'
          '| file | function | callee | lines | asks (static) | dynamic '
          '| kind | verdict |\n|---|---|---|---|---|---|---|---|\n'
          '| a.py | f | open | 1 | cloexec=True | - | own | ok |\n'
          '| b.py | g | open | 2 | follows default | - | default | ok |\n')
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    cover = (review / 'v1-0000-cover-letter.patch').read_text()
    assert '2026-12-02 10:00 UTC' in cover
    assert 'patched      3040 pass' in cover
    assert 'patched: no new failure' in cover
    assert ('(docs/audit-latest.md; base 3.13.5, 2026-12-01): 2 fd-creating '
            'call sites, 1 default, 1 own; 0 problems.') in cover
    assert 'Third-party code:\n- no committed report in docs/' in cover
    assert ('- test --tsan: no report in docs/results/3.13.5/ for this '
            'series') in cover


def test_next_version_keeps_the_users_files(exported, tmp_path):
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    notes = write(review, 'my-notes.txt', 'what I think of v1\n')
    repo = exported.cpython
    write(repo, 'Lib/os.py', 'changed after review\n')
    git(repo, 'commit', '-q', '--amend', '-a', '--no-edit')
    assert exported.run('review', str(review)) == 0
    assert notes.read_text() == 'what I think of v1\n'
    assert files(review) == [
        'my-notes.txt', 'pep433-combined.diff', 'review.json',
        'v2-0000-cover-letter.patch', 'v2-0001-Add-cloexec-to-os.patch',
        'v2-0002-Add-cloexec-to-posix.patch']
    cover = (review / 'v2-0000-cover-letter.patch').read_text()
    assert 'Subject: [PATCH v2 0/2]' in cover
    assert 'Range-diff against v1:' in cover
    marker = json.loads((review / 'review.json').read_text())
    assert marker['version'] == 2 and 'my-notes.txt' not in marker['files']


def test_refuses_a_directory_it_did_not_write(exported, tmp_path, caplog):
    review = tmp_path / 'notes'
    mine = write(review, 'notes.txt', 'mine\n')
    assert exported.run('review', str(review)) == 3
    assert 'holds no review bundle of this tool' in caplog.text
    assert files(review) == ['notes.txt']
    assert mine.read_text() == 'mine\n'
    # a clone's own top: refused, nothing removed
    assert exported.run('review', str(exported.cpython)) == 3
    assert (exported.cpython / '.git').is_dir()
    assert git(exported.cpython, 'status', '--porcelain') == ''


def test_refuses_to_overwrite_a_file_of_the_users(exported, tmp_path,
                                                  caplog):
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    mine = write(review, 'pep433-combined.diff', 'my own\n')
    marker = json.loads((review / 'review.json').read_text())
    marker['files'].remove('pep433-combined.diff')
    (review / 'review.json').write_text(json.dumps(marker))
    assert exported.run('review', str(review)) == 3
    assert 'files of yours' in caplog.text
    assert mine.read_text() == 'my own\n'
    assert (review / 'v1-0001-Add-cloexec-to-os.patch').exists()


def test_refuses_a_file(exported, tmp_path, caplog):
    afile = write(tmp_path, 'afile', 'mine\n')
    assert exported.run('review', str(afile)) == 3
    assert 'is not a directory' in caplog.text
    assert afile.read_text() == 'mine\n'
