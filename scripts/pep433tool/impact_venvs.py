"""The venvs of ``impact``, one per build and package, and the test sources.

Venvs from uninstalled builds.  ``<build>/python -m venv DIR`` works on an
out-of-tree build that was never installed: venv symlinks ``DIR/bin/python``
to the build's ``python`` and writes ``home = <build dir>`` in
``pyvenv.cfg``; at start-up the venv's python follows ``home`` to the build
directory, where ``getpath`` recognises a build tree (``pybuilddir.txt``)
and takes the standard library from the source tree (``Lib/``, found from
the build's ``Makefile`` VPATH) and the extension modules from
``build/lib.*``, while ``sys.prefix`` is the venv.  ensurepip installs pip
from the source tree's bundled wheel, so no pip comes from the index.  The
build must stay where it is (the venv names it), and a rebuild is picked up
by the venv at once.  ``--copies`` is not used: a copied binary finds the
same build through ``home`` anyway, a symlink cannot go stale.

One venv per build and package (``<workdir>/impact/venvs/<build>/<name>``);
``patched`` and ``patched-e`` share the patched one.  Into each go exactly
the pinned wheels (``pip install --require-hashes --no-deps --only-binary
:all:``, then ``pip check``), and ``probes/impact/_pep433_impact*.py``: a
census that every Python process started from the venv runs at start-up
(the fds it inherited, its cloexec default, which test started it) and a
pytest plugin (test ids, the fds held at a failure).  The pip cache and the
downloaded test sources are shared by every base: ``<root>/impact-cache/``.
Tests of this repository (``tests.local``, under ``impact/``) are copied
for each run, as an sdist is unpacked.
"""

import logging
import shutil
import tarfile
import zipfile
from pathlib import Path

from . import venvs
from .errors import ExternalError, PreconditionError
from .util import clean_env, run, sha256_of, write_if_changed

log = logging.getLogger(__name__)

PROBES = Path(__file__).resolve().parent / 'probes' / 'impact'
CENSUS_MODULES = ('_pep433_impact.py', '_pep433_impact_plugin.py')
PTH = '_pep433_impact.pth'
STAMP = '.pep433-impact-requirements'


def impact_dir(paths):
    return paths.workdir / 'impact'


def cache_dir(paths):
    """Shared by every base: the pip cache and the test sources."""
    return paths.root / 'impact-cache'


def pip_env(paths):
    """The environment of pip: no PYTHON* variable, the shared cache."""
    return clean_env({'PIP_CACHE_DIR': str(cache_dir(paths) / 'pip'),
                      'PIP_DISABLE_PIP_VERSION_CHECK': '1'})


# --- venvs -------------------------------------------------------------------

def build_python(paths, build):
    python = paths.workdir / build / 'python'
    if not python.exists():
        raise PreconditionError(
            f'{python} does not exist: the {build} interpreter of base '
            f'{paths.base.version} is not built',
            hint=f'scripts/pep433 --base {paths.base.version} build')
    return python


def ensure_venv(paths, build, package):
    """The venv of *package* for *build*, with exactly its pins; return
    (python, site-packages)."""
    venv = impact_dir(paths) / 'venvs' / build / package.name
    wanted = package.requirements()
    env = pip_env(paths)

    def install(python):
        requirements = venv / 'requirements.txt'
        requirements.write_text(wanted)
        log.info('%s/%s: installing %d pinned wheels', build, package.name,
                 len(package.deps))
        run([python, '-m', 'pip', 'install', '--quiet', '--require-hashes',
             '--no-deps', '--only-binary', ':all:', '-r', requirements],
            env=env, hint='check the pins in impact/packages.toml (a wheel '
                          'for this platform, its sha256)')
        check = run([python, '-m', 'pip', 'check'], env=env, check=False)
        if check.returncode != 0:
            raise PreconditionError(
                f'package {package.name!r}: its pinned wheels miss a '
                f'dependency:\n{check.stdout.strip()}',
                hint='add the missing distributions to [pins] and to the '
                     'package\'s deps in impact/packages.toml')

    python = venvs.ensure_venv(venv, wanted, install, stamp=STAMP,
                               maker=build_python(paths, build), env=env,
                               fresh=True)
    site = Path(run([python, '-c', 'import sysconfig; '
                     'print(sysconfig.get_path("purelib"))'], env=env,
                    quiet=True).stdout.strip())
    for name in CENSUS_MODULES:     # rewritten only when they changed
        write_if_changed(site / name, (PROBES / name).read_bytes())
    write_if_changed(site / PTH, b'import _pep433_impact\n')
    return python, site


# --- test sources ------------------------------------------------------------

def ensure_tests_file(paths, package, python):
    """The sdist or wheel the tests come from, downloaded once into the
    shared cache with *python*'s pip and checked by sha256; or the
    repository's directory of a package with local tests."""
    if package.tests_local:
        path = paths.repo / package.tests_local
        if not path.is_dir():
            raise PreconditionError(
                f'package {package.name!r}: its tests.local {path} is not '
                'a directory',
                hint='restore it from git, or fix tests.local in '
                     'impact/packages.toml')
        return path
    dist = cache_dir(paths) / 'dist'
    path = dist / package.tests_file
    if not path.exists():
        dist.mkdir(parents=True, exist_ok=True)
        kind = ('--only-binary' if package.tests_from_wheel
                else '--no-binary')
        run([python, '-m', 'pip', 'download', '--quiet', '--no-deps',
             kind, ':all:', '--dest', dist,
             f'{package.name}=={package.version}'], env=pip_env(paths))
        if not path.exists():
            raise ExternalError(
                f'pip download of {package.name}=={package.version} did '
                f'not give {package.tests_file} (in {dist}: '
                + ', '.join(sorted(p.name for p in dist.iterdir())) + ')')
    actual = sha256_of(path)
    if actual != package.tests_sha256:
        path.unlink()
        raise PreconditionError(
            f'{package.tests_file}: sha256 {actual}, the data file pins '
            f'{package.tests_sha256} (the file was removed)',
            hint='check tests.sha256 of ' + package.name
                 + ' in impact/packages.toml, then run again')
    return path


def unpack(archive, dest):
    """Unpack an sdist into *dest* (copy a directory of local tests);
    return its top directory."""
    if archive.is_dir():
        shutil.copytree(archive, dest, ignore=shutil.ignore_patterns(
            '__pycache__', '.pytest_cache'))
        return dest
    dest.mkdir(parents=True)
    if archive.name.endswith('.zip'):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter='data')
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
