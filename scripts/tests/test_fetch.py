"""apt source parsing, private apt configuration, tarball checksums."""

import hashlib
import http.server
import threading
from dataclasses import replace

import pytest

from pep433tool import bases, fetch, privateapt
from pep433tool.errors import PreconditionError
from pep433tool.util import Paths, sha256_of

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
    entries = privateapt.parse_deb822_sources(DEB822)
    assert len(entries) == 2           # the disabled stanza is skipped
    assert entries[0]['uris'] == ['http://mirror.example/debian']
    assert entries[0]['suites'] == ['bookworm', 'bookworm-updates']


def test_parse_one_line():
    entries = privateapt.parse_one_line_sources(ONE_LINE)
    assert [e['types'] for e in entries] == [['deb'], ['deb-src'], ['deb']]
    assert entries[0]['uris'] == ['http://one.example/debian']
    assert entries[0]['suites'] == ['bookworm']
    assert entries[0]['components'] == ['main']


def test_archive_uri_deb822(tmp_path):
    etc = make_etc(tmp_path, parts={'debian.sources': DEB822,
                                    'x.list.disabled': ONE_LINE})
    entries = privateapt.system_sources(etc)
    assert privateapt.archive_uri(entries, 'bookworm') == \
        'http://mirror.example/debian'


def test_archive_uri_one_line_skips_security_and_deb_src(tmp_path):
    etc = make_etc(tmp_path, sources_list=(
        'deb http://sec.example/debian-security bookworm-security main\n'
        'deb-src http://src.example/debian bookworm main\n' + ONE_LINE))
    entries = privateapt.system_sources(etc)
    assert privateapt.archive_uri(entries, 'bookworm') == \
        'http://one.example/debian'
    assert privateapt.archive_uri(entries, 'trixie') is None


def test_os_codename(tmp_path):
    path = tmp_path / 'os-release'
    path.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    assert privateapt.os_codename(path) == 'bookworm'
    assert privateapt.os_codename(tmp_path / 'missing') is None


def test_private_apt_config(tmp_path):
    options = privateapt.private_apt_config(tmp_path / 'apt',
                                            'http://mirror.example/debian',
                                            ('trixie', 'forky'))
    sources = tmp_path / 'apt' / 'sources.list.d' / 'pep433-src.sources'
    assert sources.read_text() == (
        'Types: deb-src\nURIs: http://mirror.example/debian\n'
        'Suites: trixie forky\nComponents: main\n'
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n')
    text = ' '.join(options)
    assert f'Dir::State::Lists={tmp_path / "apt" / "lists"}' in text
    assert f'Dir::Cache={tmp_path / "apt" / "cache"}' in text
    assert f'Dir::Etc::SourceParts={tmp_path / "apt" / "sources.list.d"}' \
        in text
    assert '/etc/apt' not in text
    # the generated file parses as the deb-src entry we want
    (entry,) = privateapt.parse_deb822_sources(sources.read_text())
    assert entry['types'] == ['deb-src']
    assert entry['suites'] == ['trixie', 'forky']


def test_download_without_archive_is_a_precondition(tmp_path):
    etc = make_etc(tmp_path, sources_list='')
    release = tmp_path / 'os-release'
    release.write_text('VERSION_CODENAME=bookworm\n')
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path, base='3.13.5')
    with pytest.raises(PreconditionError, match='--tarball'):
        fetch.download_debian_tarball(paths, etc, release)


def test_verify_tarball(tmp_path):
    path = tmp_path / 'x.tar.xz'
    path.write_bytes(b'not the release')
    good = hashlib.sha256(b'not the release').hexdigest()
    fetch.verify_tarball(path, replace(bases.get('3.13.5'), sha256=good))
    with pytest.raises(PreconditionError, match='sha256'):
        fetch.verify_tarball(path, bases.get('3.13.5'))


def test_corrupt_cached_tarball_is_removed(tmp_path, caplog, monkeypatch):
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path, base='3.13.5')
    paths.cache.mkdir(parents=True)
    cached = paths.cache / paths.base.tarball
    cached.write_bytes(b'corrupt')
    assert fetch.cached_tarball(paths) is None
    assert not cached.exists()
    assert 'corrupt' in caplog.text
    cached.write_bytes(b'ok')
    good = hashlib.sha256(b'ok').hexdigest()
    paths.base = replace(paths.base, sha256=good)
    assert fetch.cached_tarball(paths) == cached


def fake_tarball(tmp_path, version='3.13.5'):
    return write_tarball(tmp_path / 'Python.tar.xz', 'Python-3.13.5', {
        'Include/patchlevel.h': f'#define PY_VERSION "{version}"\n',
        'Lib/os.py': 'pass\n',
        'Lib/__pycache__/os.cpython-313.pyc': 'x'})


def test_unpack_and_commit_is_reproducible(tmp_path):
    tarball = fake_tarball(tmp_path)
    base = bases.get('3.13.5')
    fetch.unpack_and_commit(tarball, tmp_path / 'a' / 'cpython', base)
    fetch.unpack_and_commit(tarball, tmp_path / 'b' / 'cpython', base)
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
    assert fetch.checkout_ok(repo, base)


def test_fetch_cli(tmp_path, monkeypatch):
    from conftest import Project, bases_table
    proj = Project(tmp_path / 'p')
    tarball = fake_tarball(tmp_path)
    # a wrong checksum is refused (exit 3) and nothing is created
    assert proj.run('fetch', '--tarball', str(tarball)) == 3
    assert not proj.cpython.exists()
    monkeypatch.setenv('PEP433_BASES', str(bases_table(
        tmp_path / 'bases.toml', {'sha256': sha256_of(tarball)})))
    assert proj.run('fetch', '--tarball', str(tarball)) == 0
    assert fetch.checkout_ok(proj.cpython, bases.get('3.13.5'))
    assert (proj.workdir / 'baseline-src' / 'Lib' / 'os.py').exists()
    assert (proj.workroot / 'cache' / 'python3.13_3.13.5.orig.tar.xz'
            ).exists()
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


# --- the release URL, against a local HTTP server ---------------------------

@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yield its base URL."""
    root = tmp_path / 'www'
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', root
    finally:
        server.shutdown()
        server.server_close()


def url_project(tmp_path, monkeypatch, url, sha256):
    from conftest import Project, bases_table
    monkeypatch.setenv('PEP433_BASES', str(bases_table(
        tmp_path / 'bases.toml', {'sha256': sha256, 'url': url})))
    return Project(tmp_path / 'p')


def test_fetch_downloads_the_release_url(tmp_path, monkeypatch, http_server):
    url, root = http_server
    tarball = fake_tarball(tmp_path)
    (root / 'Python-3.13.5.tar.xz').write_bytes(tarball.read_bytes())
    proj = url_project(tmp_path, monkeypatch, f'{url}/Python-3.13.5.tar.xz',
                       sha256_of(tarball))

    def no_debian(paths):
        raise AssertionError('Debian must not be asked: the URL worked')

    monkeypatch.setattr(fetch, 'download_debian_tarball', no_debian)
    assert proj.run('fetch') == 0
    assert fetch.checkout_ok(proj.cpython, proj.paths.base)
    cached = proj.workroot / 'cache' / 'python3.13_3.13.5.orig.tar.xz'
    assert cached.read_bytes() == tarball.read_bytes()
    assert not list((proj.workroot / 'cache').glob('*.part'))


def test_url_with_wrong_checksum_falls_back_to_debian(
        tmp_path, monkeypatch, http_server, caplog):
    url, root = http_server
    tarball = fake_tarball(tmp_path)
    (root / 'Python-3.13.5.tar.xz').write_bytes(b'a truncated download')
    proj = url_project(tmp_path, monkeypatch, f'{url}/Python-3.13.5.tar.xz',
                       sha256_of(tarball))
    asked = []

    def debian(paths):
        asked.append(paths.base.version)
        return fetch.store_in_cache(paths, tarball)

    monkeypatch.setattr(fetch, 'download_debian_tarball', debian)
    assert proj.run('fetch') == 0
    assert asked == ['3.13.5']
    assert 'gave a file with sha256' in caplog.text
    assert not list((proj.workroot / 'cache').glob('*.part'))


def test_unreachable_url_and_no_debian_names_tarball(
        tmp_path, monkeypatch, http_server):
    url, _ = http_server
    proj = url_project(tmp_path, monkeypatch, f'{url}/missing.tar.xz',
                       '1' * 64)

    def no_archive(paths):
        raise PreconditionError('no Debian archive here',
                                hint='scripts/pep433 fetch --tarball PATH')

    monkeypatch.setattr(fetch, 'download_debian_tarball', no_archive)
    assert proj.run('fetch') == 3
    assert not proj.cpython.exists()


def test_cache_comes_first(tmp_path, monkeypatch):
    tarball = fake_tarball(tmp_path)
    proj = url_project(tmp_path, monkeypatch, 'http://127.0.0.1:9/x',
                       sha256_of(tarball))
    fetch.store_in_cache(proj.paths, tarball)

    def nothing(*args, **kwargs):
        raise AssertionError('no download: the cache has the tarball')

    monkeypatch.setattr(fetch, 'download_url', nothing)
    monkeypatch.setattr(fetch, 'download_debian_tarball', nothing)
    assert proj.run('fetch') == 0


# --- Debian: any revision of the upstream version ---------------------------

SHOWSRC = """\
Package: python3.13
Binary: python3.13, idle-python3.13
Version: 3.13.5-2+deb13u5

Package: python3.13
Version: 3.13.15-1

Package: python3.13-doc
Version: 3.13.5-9

Package: python3.13
Version: 1:3.13.5-3
"""


def test_debian_versions():
    versions = fetch.source_versions(SHOWSRC, 'python3.13')
    assert versions == ['3.13.5-2+deb13u5', '3.13.15-1', '1:3.13.5-3']
    assert [v for v in versions if fetch.upstream_version(v) == '3.13.5'] \
        == ['3.13.5-2+deb13u5', '1:3.13.5-3']
    assert fetch.upstream_version('3.13.15') == '3.13.15'
