"""``fetch``: the pristine CPython 3.13.5 source as a git repository.

Sources, in order: a user's own checkout (``--checkout``), a tarball given
with ``--tarball``, the cache, and finally Debian's source package (whose
``.orig.tar.xz`` is the python.org release tarball), downloaded with a
private apt configuration that reuses the machine's own Debian mirror.
"""

import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import config, gitutil
from .errors import ExternalError, PreconditionError
from .util import run

log = logging.getLogger(__name__)


# --- checksums --------------------------------------------------------------

def sha256_of(path):
    """Hex sha256 of the file at *path*."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_tarball(path, expected=config.TARBALL_SHA256):
    """Raise PreconditionError unless *path* has the expected sha256."""
    actual = sha256_of(path)
    if actual != expected:
        raise PreconditionError(
            f'{path} has sha256 {actual}, expected {expected} '
            f'(the CPython {config.VERSION} release tarball)',
            hint='pass the right file with --tarball, or remove it and let '
                 'fetch download it')


def cached_tarball(paths, expected=config.TARBALL_SHA256):
    """The verified tarball in the cache, or None.

    A cached file with a wrong checksum is removed (it would be used again
    otherwise) and None is returned.
    """
    path = paths.cache / config.TARBALL_NAME
    if not path.exists():
        return None
    actual = sha256_of(path)
    if actual != expected:
        log.error('cached tarball %s is corrupt or not the %s release '
                  '(sha256 %s, expected %s): removing it', path,
                  config.VERSION, actual, expected)
        path.unlink()
        return None
    return path


def store_in_cache(paths, source, expected=config.TARBALL_SHA256):
    """Verify *source* and copy it into the cache; return the cached path."""
    verify_tarball(source, expected)
    paths.cache.mkdir(parents=True, exist_ok=True)
    target = paths.cache / config.TARBALL_NAME
    if Path(source).resolve() != target.resolve():
        tmp = target.with_suffix('.part')
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return target


# --- apt sources ------------------------------------------------------------

def parse_one_line_sources(text):
    """Entries of a one-line-style sources.list.

    Each entry is a dict with keys types, uris, suites, components.
    """
    entries = []
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        words = line.split()
        kind = words.pop(0)
        if kind not in ('deb', 'deb-src'):
            continue
        if words and words[0].startswith('['):
            # options: [ arch=amd64 signed-by=... ]
            while words and not words[0].endswith(']'):
                words.pop(0)
            if words:
                words.pop(0)
        if len(words) < 2:
            continue
        entries.append({'types': [kind], 'uris': [words[0]],
                        'suites': [words[1]], 'components': words[2:]})
    return entries


def parse_deb822_sources(text):
    """Entries of a deb822 ``.sources`` file (disabled stanzas skipped)."""
    entries = []
    stanzas = re.split(r'\n\s*\n', text)
    for stanza in stanzas:
        fields = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith('#') or not raw.strip():
                continue
            if raw[0] in ' \t' and key:
                fields[key] += ' ' + raw.strip()
                continue
            key, sep, value = raw.partition(':')
            if not sep:
                key = None
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields or fields.get('enabled', 'yes').lower() == 'no':
            continue
        if 'types' not in fields or 'uris' not in fields:
            continue
        entries.append({
            'types': fields['types'].split(),
            'uris': fields['uris'].split(),
            'suites': fields.get('suites', '').split(),
            'components': fields.get('components', '').split(),
        })
    return entries


def system_sources(etc_apt='/etc/apt'):
    """All entries of the machine's apt sources."""
    etc_apt = Path(etc_apt)
    entries = []
    main = etc_apt / 'sources.list'
    if main.is_file():
        entries += parse_one_line_sources(main.read_text(errors='replace'))
    parts = etc_apt / 'sources.list.d'
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == '.list':
                entries += parse_one_line_sources(
                    path.read_text(errors='replace'))
            elif path.suffix == '.sources':
                entries += parse_deb822_sources(
                    path.read_text(errors='replace'))
    return entries


def os_codename(os_release='/etc/os-release'):
    """VERSION_CODENAME from os-release (None if absent)."""
    try:
        text = Path(os_release).read_text()
    except FileNotFoundError:
        return None
    match = re.search(r'^VERSION_CODENAME="?([^"\n]*)"?$', text, re.M)
    return match.group(1) if match and match.group(1) else None


def archive_uri(entries, codename):
    """URI of the machine's Debian archive: a ``deb`` entry for *codename*.

    Entries for ``<codename>-security``/``-updates`` do not count.
    """
    for entry in entries:
        if 'deb' in entry['types'] and codename in entry['suites']:
            return entry['uris'][0].rstrip('/')
    return None


def private_apt_config(aptdir, uri, suite=config.DEBIAN_SUITE):
    """Write a private apt configuration under *aptdir*.

    Return the list of ``-o`` options that make apt-get use it instead of
    the system's sources, lists and cache.
    """
    aptdir = Path(aptdir)
    for sub in ('lists/partial', 'cache/archives/partial', 'sources.list.d'):
        (aptdir / sub).mkdir(parents=True, exist_ok=True)
    sources = aptdir / 'sources.list.d' / f'pep433-{suite}-src.sources'
    sources.write_text(
        'Types: deb-src\n'
        f'URIs: {uri}\n'
        f'Suites: {suite}\n'
        'Components: main\n'
        f'Signed-By: {config.DEBIAN_KEYRING}\n')
    empty = aptdir / 'empty.list'
    empty.write_text('')
    return [
        '-o', f'Dir::Etc::SourceList={empty}',
        '-o', f'Dir::Etc::SourceParts={aptdir / "sources.list.d"}',
        '-o', f'Dir::State::Lists={aptdir / "lists"}',
        '-o', f'Dir::Cache={aptdir / "cache"}',
        '-o', 'Dir::Cache::pkgcache=',
        '-o', 'Dir::Cache::srcpkgcache=',
        '-o', 'APT::Get::List-Cleanup=0',
    ]


def download_debian_tarball(paths, etc_apt='/etc/apt',
                            os_release='/etc/os-release'):
    """Download Debian's orig tarball into the cache; return its path."""
    codename = os_codename(os_release)
    uri = archive_uri(system_sources(etc_apt), codename) if codename else None
    if not uri:
        raise PreconditionError(
            'cannot find the Debian archive this machine uses (no "deb" '
            f'entry for suite {codename!r} in {etc_apt}/sources.list*)',
            hint=f'download Python-{config.VERSION}.tar.xz yourself and run '
                 'scripts/pep433 fetch --tarball PATH')
    if shutil.which('apt-get') is None:
        raise PreconditionError(
            'apt-get is not available on this machine',
            hint='scripts/pep433 fetch --tarball PATH (or --checkout PATH)')
    options = private_apt_config(paths.apt, uri)
    log.info('downloading the Debian source package %s (suite %s, from %s)',
             config.DEBIAN_SOURCE, config.DEBIAN_SUITE, uri)
    run(['apt-get', *options, '-q', 'update'])
    with tempfile.TemporaryDirectory(prefix='pep433-apt-') as tmp:
        os.chmod(tmp, 0o755)   # apt's _apt sandbox user must write here
        run(['apt-get', *options, '-q', 'source', '--download-only',
             config.DEBIAN_SOURCE], cwd=tmp,
            hint=f'check that suite {config.DEBIAN_SUITE} of {uri} has '
                 f'{config.DEBIAN_SOURCE}, or use fetch --tarball PATH')
        downloaded = Path(tmp) / config.TARBALL_NAME
        if not downloaded.exists():
            raise ExternalError(
                f'apt-get source did not produce {config.TARBALL_NAME} '
                f'(got: {", ".join(sorted(os.listdir(tmp)))})')
        return store_in_cache(paths, downloaded)


# --- the git repository -----------------------------------------------------

def checkout_ok(repo):
    """True if *repo* is a git repo whose tag v3.13.5 is CPython 3.13.5."""
    if not gitutil.is_repo(repo):
        return False
    if gitutil.rev_parse(repo, config.BASE_TAG) is None:
        return False
    return gitutil.version_at(repo, config.BASE_TAG) == config.VERSION


def exclude_generated(repo):
    """Make git ignore what regrtest and builds write into the source tree."""
    common = Path(gitutil.out(repo, 'rev-parse', '--git-common-dir'))
    if not common.is_absolute():
        common = Path(repo) / common
    exclude = common / 'info' / 'exclude'
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text() if exclude.exists() else ''
    missing = [pat for pat in ('__pycache__/', '*.py[co]')
               if pat not in text.splitlines()]
    if missing:
        if text and not text.endswith('\n'):
            text += '\n'
        text += '# pep433 tooling: files that builds and tests generate\n'
        text += ''.join(pat + '\n' for pat in missing)
        exclude.write_text(text)


def unpack_and_commit(tarball, target):
    """Unpack *tarball* into *target* and make it a git repository."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='unpack-', dir=target.parent))
    try:
        log.info('unpacking %s', tarball)
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter='data')
        top = tmp / config.TARBALL_TOPDIR
        if not top.is_dir():
            raise PreconditionError(
                f'{tarball} has no top directory {config.TARBALL_TOPDIR}/')
        version = gitutil.parse_patchlevel(
            (top / 'Include' / 'patchlevel.h').read_text())
        if version != config.VERSION:
            raise PreconditionError(
                f'{tarball} contains Python {version}, not {config.VERSION}')
        gitutil.git(top, 'init', '--quiet', '-b', config.BRANCH,
                    isolated=True)
        exclude_generated(top)
        gitutil.git(top, 'add', '--all', '--force', '.', isolated=True,
                    quiet=True)
        name, email = config.BASE_IDENTITY
        env = {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
               'GIT_AUTHOR_DATE': config.BASE_DATE,
               'GIT_COMMITTER_DATE': config.BASE_DATE}
        gitutil.git(top, 'commit', '--quiet', '--no-verify', '-m',
                    config.BASE_MESSAGE, isolated=True, env=env)
        gitutil.git(top, 'tag', config.BASE_TAG, isolated=True)
        top.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info('created %s (base commit %s, tag %s)', target,
             gitutil.rev_parse(target, config.BASE_TAG)[:12],
             config.BASE_TAG)


def ensure_baseline_src(paths, repo):
    """Create the detached worktree baseline-src/ at v3.13.5."""
    target = paths.baseline_src
    base = gitutil.rev_parse(repo, config.BASE_TAG)
    if target.exists():
        if gitutil.is_repo(target) and gitutil.rev_parse(
                target, 'HEAD') == base:
            log.info('%s is already a worktree at %s', target,
                     config.BASE_TAG)
            return
        raise PreconditionError(
            f'{target} exists but is not a worktree of {repo} at '
            f'{config.BASE_TAG}',
            hint='move it away, then run scripts/pep433 fetch again')
    gitutil.git(repo, 'worktree', 'prune', quiet=True)
    gitutil.git(repo, 'worktree', 'add', '--detach', str(target), base)


def run_fetch(paths, tarball=None, checkout=None):
    """Implement the ``fetch`` subcommand; return the exit code."""
    if checkout:
        checkout = Path(checkout).resolve()
        if not gitutil.is_repo(checkout):
            raise PreconditionError(f'{checkout} is not a git checkout')
        if gitutil.rev_parse(checkout, config.BASE_TAG) is None:
            raise PreconditionError(
                f'{checkout} has no tag {config.BASE_TAG}',
                hint=f'git -C {checkout} fetch --tags')
        version = gitutil.version_at(checkout, config.BASE_TAG)
        if version != config.VERSION:
            raise PreconditionError(
                f'Include/patchlevel.h at {config.BASE_TAG} in {checkout} '
                f'says {version!r}, not {config.VERSION!r}')
        exclude_generated(checkout)
        paths.update_state(checkout=str(checkout))
        log.info('using the CPython checkout %s', checkout)
        ensure_baseline_src(paths, checkout)
        return 0

    repo = paths.workdir / 'cpython'
    if paths.load_state().get('checkout'):
        log.info('forgetting the checkout %s recorded earlier; using %s',
                 paths.load_state()['checkout'], repo)
        paths.update_state(checkout=None)
    if repo.exists():
        if checkout_ok(repo):
            log.info('%s already has %s (Python %s)', repo, config.BASE_TAG,
                     config.VERSION)
            if tarball:
                store_in_cache(paths, tarball)
            ensure_baseline_src(paths, repo)
            return 0
        raise PreconditionError(
            f'{repo} exists but is not a git repository with tag '
            f'{config.BASE_TAG} of Python {config.VERSION}; not touching it',
            hint=f'move it away (mv {repo} {repo}.old) and run '
                 'scripts/pep433 fetch again')

    if tarball:
        path = store_in_cache(paths, tarball)
    else:
        path = cached_tarball(paths)
        if path is None:
            path = download_debian_tarball(paths)
    unpack_and_commit(path, repo)
    ensure_baseline_src(paths, repo)
    return 0
