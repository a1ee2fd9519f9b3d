"""Shared fixtures: a small fake CPython repository and a project tree."""

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))

#: The work directory given by the environment (selftest sets it); saved
#: before the fixtures below remove it for the fast tests.
ORIGINAL_WORKDIR = os.environ.get('PEP433_WORKDIR')

from pep433tool import bases, cli  # noqa: E402
from pep433tool.util import Paths  # noqa: E402


def pytest_addoption(parser):
    parser.addoption('--run-slow', action='store_true', default=False,
                     help='also run the slow end-to-end test')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--run-slow'):
        return
    skip = pytest.mark.skip(reason='slow: needs --run-slow')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def git_identity(monkeypatch, tmp_path_factory):
    """Make git independent of the user's configuration."""
    monkeypatch.setenv('GIT_CONFIG_GLOBAL', os.devnull)
    monkeypatch.setenv('GIT_CONFIG_NOSYSTEM', '1')
    for key, value in {'GIT_AUTHOR_NAME': 'A U Thor',
                       'GIT_AUTHOR_EMAIL': 'author@example.org',
                       'GIT_COMMITTER_NAME': 'C O Mitter',
                       'GIT_COMMITTER_EMAIL': 'committer@example.org'
                       }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv('PEP433_WORKDIR', raising=False)
    monkeypatch.delenv('PEP433_REPO', raising=False)
    # The fake releases the tests make are not the real ones: the bases
    # table they use is the real one without its release_tree ids.
    table = tmp_path_factory.getbasetemp() / 'bases-without-trees.toml'
    if not table.exists():
        text = bases.DEFAULT_TABLE.read_text()
        table.write_text(''.join(line for line in text.splitlines(True)
                                 if not line.startswith('release_tree')))
    monkeypatch.setenv('PEP433_BASES', str(table))


def git(repo, *args, env=None, **kwargs):
    """Run git in *repo* and return stdout."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(['git', '-C', str(repo), *args], env=full_env,
                          check=True, capture_output=True, text=True,
                          **kwargs).stdout.strip()


BASE_FILES = {
    'README.rst': 'This is Python version 3.13.5\n',
    'Include/patchlevel.h': '#define PY_VERSION "3.13.5"\n',
    'Lib/os.py': ''.join(f'line {i}\n' for i in range(1, 31)),
    'Modules/posixmodule.c': ''.join(f'/* {i} */\n' for i in range(1, 31)),
    'Lib/test/test_os.py': 'import unittest\n',
}


def write(root, rel, text):
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_base(path):
    """A fake CPython 3.13.5 repo with branch pep433 at tag v3.13.5."""
    path = Path(path)
    path.mkdir(parents=True)
    git(path, 'init', '-q', '-b', 'pep433')
    for rel, text in BASE_FILES.items():
        write(path, rel, text)
    git(path, 'add', '-A')
    date = {'GIT_AUTHOR_DATE': '2025-06-11T12:00:00Z',
            'GIT_COMMITTER_DATE': '2025-06-11T12:00:00Z'}
    git(path, 'commit', '-q', '-m', 'Python 3.13.5 (release tarball)',
        env=date)
    git(path, 'tag', 'v3.13.5')
    return path


def fake_checkout(tmp_path, files):
    """A work dir (Paths, base 3.13.5) whose cpython/ is a git repository
    of *files* ({path: text}), committed and tagged v3.13.5, on branch
    pep433; return (paths, repo)."""
    from pep433tool import config
    paths = Paths(workdir=tmp_path / 'work', repo=tmp_path / 'project',
                  base='3.13.5')
    repo = paths.workdir / 'cpython'
    repo.mkdir(parents=True)
    git(repo, 'init', '-q', '-b', config.BRANCH)
    for rel, text in files.items():
        write(repo, rel, text)
    commit_all(repo, 'Python 3.13.5')
    git(repo, 'tag', 'v3.13.5')
    return paths, repo


def commit_all(repo, message, date='2026-01-02T03:04:05+01:00'):
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', message,
        env={'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date})


def make_series_commits(repo):
    """Two commits; the first adds a test file and a NEWS entry."""
    text = (repo / 'Lib/os.py').read_text().replace('line 5\n',
                                                    'line five\n')
    write(repo, 'Lib/os.py', text)
    write(repo, 'Lib/test/test_x.py', 'import unittest\n\n# test_x\n')
    write(repo, 'Misc/NEWS.d/next/Library/x.rst',
          'Add the *cloexec* parameter.\n')
    commit_all(repo, 'Add cloexec to os\n\nWhy: PEP 433.\n\n'
               'Bug: bpo-17036\n')
    text = (repo / 'Modules/posixmodule.c').read_text().replace(
        '/* 20 */', '/* twenty */')
    write(repo, 'Modules/posixmodule.c', text)
    write(repo, 'Lib/test/test_x.py',
          (repo / 'Lib/test/test_x.py').read_text() + '# more\n')
    commit_all(repo, 'Add cloexec to posix\n\nThe C part.\n\n'
               'Bug: bpo-17036\n', date='2026-01-03T00:00:00Z')


#: The base of the fake repositories the fast tests make.
BASE = '3.13.5'


class Project:
    """A project repository + work directory, driven through cli.main().

    ``workroot`` is the work directory given to the tool; ``workdir`` is the
    fake base's own directory in it (``workroot/3.13.5``).
    """

    def __init__(self, root, base=BASE):
        self.root = Path(root)
        self.base = base
        self.repo = self.root / 'project'
        self.workroot = self.root / 'work'
        self.repo.mkdir(parents=True, exist_ok=True)
        self.workroot.mkdir(parents=True, exist_ok=True)
        self.paths = Paths(workdir=self.workroot, repo=self.repo, base=base)
        self.workdir = self.paths.workdir

    @property
    def cpython(self):
        return self.workdir / 'cpython'

    @property
    def patches(self):
        return self.paths.patches

    def run(self, *args, base=None):
        return cli.main(['--workdir', str(self.workroot), '--repo',
                         str(self.repo), '--base', base or self.base, *args])

    def snapshot(self):
        """{relpath: bytes} of every file of the project repo."""
        return {str(p.relative_to(self.repo)): p.read_bytes()
                for p in sorted(self.repo.rglob('*')) if p.is_file()}


BASE_ENTRY = """
[[base]]
version = "{version}"
sha256 = "{sha256}"
tarball = "python3.13_{version}.orig.tar.xz"
url = "{url}"
release_date = "{date}"
debian_package = "python3.13"
debian_suites = ["trixie"]
"""


def bases_table(path, *entries):
    """Write a bases table with *entries* (dicts of the fields that differ
    from a fake 3.13.5 entry) to *path*; return the path."""
    text = ''
    for entry in entries:
        fields = {'version': BASE, 'sha256': '0' * 64,
                  'url': 'http://127.0.0.1:9/none.tar.xz',
                  'date': '2025-06-11T12:00:00+00:00', **entry}
        text += BASE_ENTRY.format(**fields)
    path = Path(path)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / 'p1')


def exported_project(tmp_path, make_commits):
    """A project whose patches/ was exported from the commits that
    *make_commits* adds to a fake base."""
    proj = Project(tmp_path / 'p1')
    make_base(proj.cpython)
    make_commits(proj.cpython)
    assert proj.run('export') == 0
    return proj


@pytest.fixture
def exported(tmp_path):
    """A project whose patches/ was exported from two commits."""
    return exported_project(tmp_path, make_series_commits)


def fake_source(tmp_path, configure_text):
    """A source directory whose ``configure`` is the shell script
    *configure_text* (``{src}`` in it becomes the directory)."""
    src = tmp_path / 'src'
    src.mkdir()
    configure = src / 'configure'
    configure.write_text(configure_text.format(src=src))
    configure.chmod(0o755)
    return src


def write_tarball(path, top, files):
    """Write *files* ({name: text}) under *top*/ into the .tar.xz *path*."""
    with tarfile.open(path, 'w:xz') as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f'{top}/{name}')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# --- the slow tests: one real ``scripts/pep433 all`` per base and session ----

SCRIPT = SCRIPTS / 'pep433'
#: The real work directory (root), and the newest base's own directory in
#: it: the slow tests run on the default base (the newest), and the
#: subset on the others.
WORKDIR = Path(ORIGINAL_WORKDIR or SCRIPTS.parent / 'build')
_BASES = [base.version for base in __import__(
    'pep433tool.bases', fromlist=['load']).load()]
NEWEST = _BASES[-1]
OTHER_BASES = _BASES[:-1]
BASEDIR = WORKDIR / NEWEST


def run_tool(*args, **kwargs):
    """Run a command with the real work dir and no PYTHON*/PEP433_* vars."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PYTHON', 'PEP433_'))}
    env['PEP433_WORKDIR'] = str(WORKDIR)
    return subprocess.run([str(a) for a in args], env=env, text=True,
                          **kwargs)


def _logged(*args):
    proc = run_tool(sys.executable, SCRIPT, *args,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(f'$ scripts/pep433 {" ".join(args)}  (exit {proc.returncode})')
    print(proc.stdout[-20000:])
    return proc


@pytest.fixture(scope='session')
def all_run():
    """Run ``scripts/pep433 all --full`` once; return its CompletedProcess.

    On the newest base: it fetches the release, applies the series, builds
    both interpreters and runs the full regrtest tier in the three modes
    (about 20 minutes on two cores the first time, less with ccache warm).
    """
    return _logged('all', '--full')


@pytest.fixture(scope='session')
def other_bases_run(all_run):
    """``scripts/pep433 --base VERSION all`` (the subset) on every other
    base; {version: CompletedProcess}."""
    return {version: _logged('--base', version, 'all')
            for version in OTHER_BASES}


@pytest.fixture(scope='session')
def free_threading_run(all_run):
    """The free-threaded builds of the newest base and the subset on them:
    (build CompletedProcess, test CompletedProcess)."""
    build = _logged('build', '--free-threading')
    test = _logged('test', '--free-threading') if build.returncode == 0 \
        else build
    return build, test


@pytest.fixture(scope='session')
def patched(all_run):
    """The newest base's patched/python, built by ``all_run``."""
    python = BASEDIR / 'patched' / 'python'
    if not python.exists():
        pytest.fail(f'{python} was not built:\n{all_run.stdout[-3000:]}')
    return python
