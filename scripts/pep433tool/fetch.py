"""``fetch``: the pristine CPython release of a base as a git repository.

Sources, in order: a user's own checkout (``--checkout``) or a tarball given
with ``--tarball``; the cache; the python.org release URL; Debian's source
package (whose ``.orig.tar.xz`` is the python.org release tarball), looked
up in every suite the bases table names and downloaded with a private apt
configuration that reuses the machine's own Debian mirror.  Whatever the
source, the tarball must have the sha256 the bases table pins.
"""

import logging
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import config, gitutil, privateapt
from .errors import PreconditionError
from .util import run, sha256_of

log = logging.getLogger(__name__)


# --- checksums --------------------------------------------------------------

def verify_tarball(path, base):
    """Raise PreconditionError unless *path* has *base*'s sha256."""
    actual = sha256_of(path)
    if actual != base.sha256:
        raise PreconditionError(
            f'{path} has sha256 {actual}, expected {base.sha256} '
            f'(the CPython {base.version} release tarball)',
            hint='pass the right file with --tarball, or remove it and let '
                 'fetch download it')


def cached_tarball(paths):
    """The verified tarball of the base in the cache, or None.

    A cached file with a wrong checksum is removed (it would be used again
    otherwise) and None is returned.
    """
    base = paths.base
    path = paths.cache / base.tarball
    if not path.exists():
        return None
    actual = sha256_of(path)
    if actual != base.sha256:
        log.error('cached tarball %s is corrupt or not the %s release '
                  '(sha256 %s, expected %s): removing it', path,
                  base.version, actual, base.sha256)
        path.unlink()
        return None
    return path


def store_in_cache(paths, source):
    """Verify *source* and copy it into the cache; return the cached path."""
    verify_tarball(source, paths.base)
    paths.cache.mkdir(parents=True, exist_ok=True)
    target = paths.cache / paths.base.tarball
    if Path(source).resolve() != target.resolve():
        tmp = target.with_suffix('.part')
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return target


# --- the release URL --------------------------------------------------------

#: Seconds without an answer after which a download is abandoned.
URL_TIMEOUT = 30


def download_url(paths, url=None, timeout=URL_TIMEOUT):
    """Download the base's tarball from *url* into the cache.

    Return the cached path, or None (with the reason logged) when the URL
    cannot be reached or gives a file with another checksum: the next
    source is tried then.
    """
    base = paths.base
    url = url or base.url
    paths.cache.mkdir(parents=True, exist_ok=True)
    part = paths.cache / (base.tarball + '.part')
    log.info('downloading %s', url)
    try:
        with (urllib.request.urlopen(url, timeout=timeout) as response,
              open(part, 'wb') as out):
            total = int(response.headers.get('Content-Length') or 0)
            done, last = 0, time.monotonic()
            for chunk in iter(lambda: response.read(1 << 20), b''):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    log.info('  %d of %s MB', done >> 20,
                             total >> 20 if total else '?')
    except (OSError, urllib.error.URLError, ValueError) as exc:
        part.unlink(missing_ok=True)
        log.info('cannot download %s: %s', url, exc)
        return None
    actual = sha256_of(part)
    if actual != base.sha256:
        part.unlink()
        log.error('%s gave a file with sha256 %s, expected %s: ignoring it',
                  url, actual, base.sha256)
        return None
    target = paths.cache / base.tarball
    part.replace(target)
    return target


# --- Debian's source package -----------------------------------------------

def upstream_version(debian_version):
    """``1:3.13.5-2+deb13u5`` -> ``3.13.5``: no epoch, no Debian revision."""
    version = debian_version.split(':', 1)[-1]
    return version.rsplit('-', 1)[0] if '-' in version else version


def source_versions(showsrc, package):
    """The versions of source package *package* in ``apt-cache showsrc``."""
    versions, current = [], None
    for line in showsrc.splitlines():
        if line.startswith('Package:'):
            current = line.split(':', 1)[1].strip()
        elif line.startswith('Version:') and current == package:
            version = line.split(':', 1)[1].strip()
            if version not in versions:
                versions.append(version)
    return versions


def download_debian_tarball(paths, etc_apt='/etc/apt',
                            os_release='/etc/os-release'):
    """Download Debian's orig tarball of the base into the cache.

    Every suite of the base's ``debian_suites`` is looked up; any revision
    of the upstream version whose orig tarball has the pinned sha256 is
    taken.  Return the cached path.
    """
    base = paths.base
    fix = (f'download Python-{base.version}.tar.xz ({base.url}) yourself '
           'and run scripts/pep433 fetch --tarball PATH')
    codename, uri = privateapt.machine_archive(etc_apt, os_release)
    if not uri:
        raise PreconditionError(
            'cannot find the Debian archive this machine uses (no "deb" '
            f'entry for suite {codename!r} in {etc_apt}/sources.list*)',
            hint=fix)
    if shutil.which('apt-get') is None:
        raise PreconditionError('apt-get is not available on this machine',
                                hint=fix)
    options = privateapt.private_apt_config(paths.apt, uri,
                                            base.debian_suites)
    log.info('looking up Debian source package %s %s (suites %s, from %s)',
             base.debian_package, base.version,
             ', '.join(base.debian_suites), uri)
    run(['apt-get', *options, '-q', 'update'], hint=fix)
    showsrc = run(['apt-cache', *options, 'showsrc', base.debian_package],
                  check=False, quiet=True).stdout
    candidates = [v for v in source_versions(showsrc, base.debian_package)
                  if upstream_version(v) == base.version]
    if not candidates:
        raise PreconditionError(
            f'no revision of {base.debian_package} {base.version} in the '
            f'Debian suites {", ".join(base.debian_suites)} of {uri}',
            hint=fix)
    name = f'{base.debian_package}_{base.version}.orig.tar.xz'
    for version in candidates:
        spec = f'{base.debian_package}={version}'
        log.info('downloading the Debian source package %s', spec)
        with privateapt.download_dir() as tmp:
            proc = run(['apt-get', *options, '-q', 'source',
                        '--download-only', spec], cwd=tmp, check=False)
            downloaded = tmp / name
            if proc.returncode != 0 or not downloaded.exists():
                log.warning('apt-get source %s failed or gave no %s', spec,
                            name)
                continue
            actual = sha256_of(downloaded)
            if actual != base.sha256:
                log.warning('%s of %s has sha256 %s, not the pinned %s: '
                            'skipping it', name, spec, actual, base.sha256)
                continue
            return store_in_cache(paths, downloaded)
    raise PreconditionError(
        f'no revision of {base.debian_package} {base.version} '
        f'({", ".join(candidates)}) has an orig tarball with sha256 '
        f'{base.sha256}', hint=fix)


def obtain_tarball(paths):
    """The base's verified tarball: cache, release URL, then Debian."""
    path = cached_tarball(paths)
    if path is None:
        path = download_url(paths)
    if path is None:
        path = download_debian_tarball(paths)
    return path


# --- the git repository -----------------------------------------------------

def checkout_ok(repo, base):
    """True if *repo* is a git repo whose tag of *base* is that release."""
    if not gitutil.is_repo(repo):
        return False
    if gitutil.rev_parse(repo, base.tag) is None:
        return False
    return gitutil.version_at(repo, base.tag) == base.version


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


def unpack_and_commit(tarball, target, base):
    """Unpack *tarball* into *target* and make it a git repository."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='unpack-', dir=target.parent))
    try:
        log.info('unpacking %s', tarball)
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter='data')
        top = tmp / base.topdir
        if not top.is_dir():
            raise PreconditionError(
                f'{tarball} has no top directory {base.topdir}/')
        version = gitutil.parse_patchlevel(
            (top / 'Include' / 'patchlevel.h').read_text())
        if version != base.version:
            raise PreconditionError(
                f'{tarball} contains Python {version}, not {base.version}')
        gitutil.git(top, 'init', '--quiet', '-b', config.BRANCH,
                    isolated=True)
        exclude_generated(top)
        gitutil.git(top, 'add', '--all', '--force', '.', isolated=True,
                    quiet=True)
        name, email = config.BASE_IDENTITY
        env = {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
               'GIT_AUTHOR_DATE': base.release_date,
               'GIT_COMMITTER_DATE': base.release_date}
        gitutil.git(top, 'commit', '--quiet', '--no-verify', '-m',
                    base.commit_message, isolated=True, env=env)
        gitutil.git(top, 'tag', base.tag, isolated=True)
        check_release_tree(top, base, tmp)
        top.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info('created %s (base commit %s, tag %s)', target,
             gitutil.rev_parse(target, base.tag)[:12], base.tag)


def check_release_tree(repo, base, scratch):
    """Refuse (exit 3) a tag whose files are not the release's.

    bases.toml records each base's ``release_tree`` (gitutil.release_tree
    of the commit made from the tarball), so a clone is checked without
    the tarball: a tag on a patched or edited commit is refused here, not
    at the first patch that does not apply."""
    if not base.release_tree:
        log.warning('the bases table records no release_tree for %s: the '
                    'files at %s are not checked', base.version, base.tag)
        return
    Path(scratch).mkdir(parents=True, exist_ok=True)
    found = gitutil.release_tree(repo, base.tag, scratch)
    if found != base.release_tree:
        changed = gitutil.out(repo, 'diff', '--stat=80', '--no-renames',
                              base.release_tree, found, check=False)
        raise PreconditionError(
            f'the files at {base.tag} in {repo} are not those of the '
            f'Python {base.version} release (tree {found[:12]}, expected '
            f'{base.release_tree[:12]}, dot-files and Misc/NEWS* aside)'
            + (':\n' + changed if changed else '')
            + '\nNothing was changed.',
            hint=f'point the tag at the release commit (git -C {repo} tag '
                 f'-f {base.tag} <release commit>), or use the tarball: '
                 f'scripts/pep433 --base {base.version} fetch')


def ensure_baseline_src(paths, repo):
    """Create the detached worktree baseline-src/ at the base tag."""
    target = paths.baseline_src
    tag = paths.base.tag
    base = gitutil.rev_parse(repo, tag)
    if target.exists():
        if gitutil.is_repo(target) and gitutil.rev_parse(
                target, 'HEAD') == base:
            log.info('%s is already a worktree at %s', target, tag)
            return
        raise PreconditionError(
            f'{target} exists but is not a worktree of {repo} at {tag}',
            hint='move it away, then run scripts/pep433 fetch again')
    gitutil.git(repo, 'worktree', 'prune', quiet=True)
    gitutil.git(repo, 'worktree', 'add', '--detach', str(target), base)


def run_fetch(paths, tarball=None, checkout=None):
    """Implement the ``fetch`` subcommand; return the exit code."""
    base = paths.base
    if checkout:
        checkout = Path(checkout).resolve()
        if not gitutil.is_repo(checkout):
            raise PreconditionError(f'{checkout} is not a git checkout')
        if gitutil.rev_parse(checkout, base.tag) is None:
            raise PreconditionError(
                f'{checkout} has no tag {base.tag}',
                hint=f'git -C {checkout} fetch --tags')
        version = gitutil.version_at(checkout, base.tag)
        if version != base.version:
            raise PreconditionError(
                f'Include/patchlevel.h at {base.tag} in {checkout} '
                f'says {version!r}, not {base.version!r}')
        check_release_tree(checkout, base, paths.root)
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
        if checkout_ok(repo, base):
            log.info('%s already has %s (Python %s)', repo, base.tag,
                     base.version)
            if tarball:
                store_in_cache(paths, tarball)
            ensure_baseline_src(paths, repo)
            return 0
        raise PreconditionError(
            f'{repo} exists but is not a git repository with tag '
            f'{base.tag} of Python {base.version}; not touching it',
            hint=f'move it away (mv {repo} {repo}.old) and run '
                 'scripts/pep433 fetch again')

    if tarball:
        path = store_in_cache(paths, tarball)
    else:
        path = obtain_tarball(paths)
    unpack_and_commit(path, repo, base)
    ensure_baseline_src(paths, repo)
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'get the pristine source of the base as a git repo'


def add_arguments(parser):
    """``fetch``'s options."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--tarball', metavar='PATH',
                       help='the release tarball (checked by sha256)')
    group.add_argument('--checkout', metavar='PATH',
                       help='your own CPython clone, with the tag v<version>')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_fetch(paths, tarball=args.tarball, checkout=args.checkout)
