"""check --no-build on the fake repository."""

from conftest import git, write


def test_check_reports_every_problem(exported, caplog):
    repo = exported.cpython
    write(repo, 'Lib/os.py', 'trailing space \n')
    git(repo, 'commit', '-qam', 'No body, no bug trailer')
    assert exported.run('check', '--no-build') == 1
    text = caplog.text
    assert 'whitespace errors' in text
    assert 'has no "Bug: bpo-17036" trailer' in text
    assert 'has no body' in text
    assert 'patch 3 ("No body, no bug trailer") adds no Misc/NEWS.d' in text
    assert 'patch 1 ("Add cloexec to os") adds no' not in text
    assert 'patches/ is not up to date' in text
    assert 'not configured' in text          # no patched build here
    assert 'does not apply' not in text


def test_check_reports_patch_that_does_not_apply(exported, caplog):
    patch = exported.patches / '0002-Add-cloexec-to-posix.patch'
    patch.write_text(patch.read_text().replace(' /* 19 */', ' /* XIX */'))
    assert exported.run('check', '--no-build') == 1
    assert ('patch 2 of patches/3.13.5/series, '
            '0002-Add-cloexec-to-posix.patch, does not apply') in caplog.text
    assert 'Patch failed at' not in caplog.text     # git am's numbering
    assert 'git am --continue' not in caplog.text   # already aborted
    assert 'branch pep433 is as it was' in caplog.text
