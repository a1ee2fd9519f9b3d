"""apt source parsing, private apt configuration, tarball checksums."""

import hashlib

import pytest

from pep433tool import config, fetch
from pep433tool.errors import PreconditionError
from pep433tool.util import Paths

from conftest import git, write_tarball

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""

ONE_LINE = """\
# comment
deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://other.example/debian bookworm-updates main
"""


def make_etc(tmp_path, sources_list=None, parts=None):
    etc = tmp_path / 'etc-apt'
    (etc / 'sources.list.d').mkdir(parents=True)
    if sources_list is not None:
        (etc / 'sources.list').write_text(sources_list)
    for name, text in (parts or {}).items():
        (etc / 'sources.list.d' / name).write_text(text)
    return etc


def test_parse_deb822():
    entries = fetch.parse_deb822_sources(DEB822)
    assert len(entries) == 2           # the disabled stanza is skipped
    assert entries[0]['uris'] == ['http://mirror.example/debian']
    assert entries[0]['suites'] == ['bookworm', 'bookworm-updates']


def test_parse_one_line():
    entries = fetch.parse_one_line_sources(ONE_LINE)
    assert [e['types'] for e in entries] == [['deb'], ['deb-src'], ['deb']]
    assert entries[0]['uris'] == ['http://one.example/debian']
    assert entries[0]['suites'] == ['bookworm']
    assert entries[0]['components'] == ['main']


def test_archive_uri_deb822(tmp_path):
    etc = make_etc(tmp_path, parts={'debian.sources': DEB822,
                                    'x.list.disabled': ONE_LINE})
    entries = fetch.system_sources(etc)
    assert fetch.archive_uri(entries, 'bookworm') == \
        'http://mirror.example/debian'


def test_archive_uri_one_line_skips_security_and_deb_src(tmp_path):
    etc = make_etc(tmp_path, sources_list=(
        'deb http://sec.example/debian-security bookworm-security main\n'
        'deb-src http://src.example/debian bookworm main\n' + ONE_LINE))
    entries = fetch.system_sources(etc)
    assert fetch.archive_uri(entries, 'bookworm') == \
        'http://one.example/debian'
    assert fetch.archive_uri(entries, 'trixie') is None


def test_os_codename(tmp_path):
    path = tmp_path / 'os-release'
    path.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    assert fetch.os_codename(path) == 'bookworm'
    assert fetch.os_codename(tmp_path / 'missing') is None


def test_private_apt_config(tmp_path):
    options = fetch.private_apt_config(tmp_path / 'apt',
                                       'http://mirror.example/debian')
    sources = tmp_path / 'apt' / 'sources.list.d' / 'pep433-trixie-src.sources'
    assert sources.read_text() == (
        'Types: deb-src\nURIs: http://mirror.example/debian\n'
        'Suites: trixie\nComponents: main\n'
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n')
    text = ' '.join(options)
    assert f'Dir::State::Lists={tmp_path / "apt" / "lists"}' in text
    assert f'Dir::Cache={tmp_path / "apt" / "cache"}' in text
    assert f'Dir::Etc::SourceParts={tmp_path / "apt" / "sources.list.d"}' \
        in text
    assert '/etc/apt' not in text
    # the generated file parses as the deb-src entry we want
    (entry,) = fetch.parse_deb822_sources(sources.read_text())
    assert entry['types'] == ['deb-src'] and entry['suites'] == ['trixie']


def test_download_without_archive_is_a_precondition(tmp_path):
    etc = make_etc(tmp_path, sources_list='')
    release = tmp_path / 'os-release'
    release.write_text('VERSION_CODENAME=bookworm\n')
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path)
    with pytest.raises(PreconditionError, match='--tarball'):
        fetch.download_debian_tarball(paths, etc, release)


def test_verify_tarball(tmp_path):
    path = tmp_path / 'x.tar.xz'
    path.write_bytes(b'not the release')
    good = hashlib.sha256(b'not the release').hexdigest()
    fetch.verify_tarball(path, good)
    with pytest.raises(PreconditionError, match='sha256'):
        fetch.verify_tarball(path)


def test_corrupt_cached_tarball_is_removed(tmp_path, caplog):
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path)
    paths.cache.mkdir(parents=True)
    cached = paths.cache / config.TARBALL_NAME
    cached.write_bytes(b'corrupt')
    assert fetch.cached_tarball(paths) is None
    assert not cached.exists()
    assert 'corrupt' in caplog.text
    cached.write_bytes(b'ok')
    good = hashlib.sha256(b'ok').hexdigest()
    assert fetch.cached_tarball(paths, good) == cached


def fake_tarball(tmp_path, version='3.13.5'):
    return write_tarball(tmp_path / 'Python.tar.xz', 'Python-3.13.5', {
        'Include/patchlevel.h': f'#define PY_VERSION "{version}"\n',
        'Lib/os.py': 'pass\n',
        'Lib/__pycache__/os.cpython-313.pyc': 'x'})


def test_unpack_and_commit_is_reproducible(tmp_path):
    tarball = fake_tarball(tmp_path)
    fetch.unpack_and_commit(tarball, tmp_path / 'a' / 'cpython')
    fetch.unpack_and_commit(tarball, tmp_path / 'b' / 'cpython')
    heads = [git(tmp_path / d / 'cpython', 'rev-parse', 'v3.13.5')
             for d in 'ab']
    assert heads[0] == heads[1]
    repo = tmp_path / 'a' / 'cpython'
    assert git(repo, 'log', '--format=%s|%an|%cn|%ad', '--date=iso-strict') \
        == ('Python 3.13.5 (release tarball)|PEP 433 tooling|'
            'PEP 433 tooling|2025-06-11T12:00:00+00:00')
    # every file of the tarball is in the commit, even ignored ones
    assert 'Lib/__pycache__/os.cpython-313.pyc' in git(repo, 'ls-files')
    exclude = (repo / '.git' / 'info' / 'exclude').read_text()
    assert '__pycache__/' in exclude and '*.py[co]' in exclude
    assert git(repo, 'status', '--porcelain') == ''
    assert fetch.checkout_ok(repo)


def test_fetch_cli(tmp_path, monkeypatch):
    from conftest import Project
    proj = Project(tmp_path / 'p')
    tarball = fake_tarball(tmp_path)
    # a wrong checksum is refused (exit 3) and nothing is created
    assert proj.run('fetch', '--tarball', str(tarball)) == 3
    assert not proj.cpython.exists()
    monkeypatch.setattr(config, 'TARBALL_SHA256',
                        fetch.sha256_of(tarball))
    monkeypatch.setattr(fetch.verify_tarball, '__defaults__',
                        (config.TARBALL_SHA256,))
    monkeypatch.setattr(fetch.store_in_cache, '__defaults__',
                        (config.TARBALL_SHA256,))
    assert proj.run('fetch', '--tarball', str(tarball)) == 0
    assert fetch.checkout_ok(proj.cpython)
    assert (proj.workdir / 'baseline-src' / 'Lib' / 'os.py').exists()
    assert (proj.workdir / 'cache' / config.TARBALL_NAME).exists()
    assert proj.run('fetch') == 0                # no-op
    # something else at cpython/ is refused and left alone
    proj2 = Project(tmp_path / 'q')
    (proj2.cpython / 'junk').mkdir(parents=True)
    assert proj2.run('fetch', '--tarball', str(tarball)) == 3
    assert [p.name for p in proj2.cpython.iterdir()] == ['junk']


def test_fetch_checkout(tmp_path):
    from conftest import Project, make_base
    proj = Project(tmp_path / 'p')
    mine = make_base(tmp_path / 'my-cpython')
    git(mine, 'checkout', '-q', '-b', 'feature')
    assert proj.run('fetch', '--checkout', str(mine)) == 0
    assert proj.paths.cpython == mine
    assert git(mine, 'branch', '--show-current') == 'feature'
    assert (proj.workdir / 'baseline-src' / 'Lib' / 'os.py').exists()
    bad = make_base(tmp_path / 'other')
    (bad / 'Include' / 'patchlevel.h').write_text(
        '#define PY_VERSION "3.12.0"\n')
    git(bad, 'commit', '-qam', 'wrong')
    git(bad, 'tag', '-f', 'v3.13.5')
    assert Project(tmp_path / 'r').run('fetch', '--checkout', str(bad)) == 3
