"""The bases: the CPython releases the series exists for, as data.

The table is ``bases.toml`` beside this module (or the file named by
``$PEP433_BASES``, for tests).  Nothing else in the tool names a version:
every command works on one :class:`Base`, chosen with ``--base VERSION``
(default: the newest in the table).
"""

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import PreconditionError, UsageError

DEFAULT_TABLE = Path(__file__).with_name('bases.toml')

_FIELDS = ('version', 'sha256', 'tarball', 'url', 'release_date',
           'debian_package', 'debian_suites')
_OPTIONAL = ('release_tree',)


@dataclass(frozen=True)
class Base:
    """One CPython release the series is kept for."""

    version: str
    sha256: str
    tarball: str
    url: str
    release_date: str
    debian_package: str
    debian_suites: tuple
    release_tree: str = ''

    @property
    def tag(self):
        """The git tag of the pristine release in the checkout."""
        return f'v{self.version}'

    @property
    def topdir(self):
        """The top directory of the release tarball."""
        return f'Python-{self.version}'

    @property
    def commit_message(self):
        """The message of the base commit made from the tarball."""
        return f'Python {self.version} (release tarball)'

    @property
    def key(self):
        """A sort key: the version as a tuple of integers."""
        return version_key(self.version)


def version_key(version):
    """``'3.13.15'`` -> ``(3, 13, 15)``; raises ValueError if malformed."""
    if not re.fullmatch(r'\d+\.\d+\.\d+', version):
        raise ValueError(f'not a release version: {version!r}')
    return tuple(int(part) for part in version.split('.'))


def table_path():
    """The table in use: ``$PEP433_BASES`` or the one beside this module."""
    return Path(os.environ.get('PEP433_BASES') or DEFAULT_TABLE)


def load(path=None):
    """All bases of the table, oldest first."""
    path = Path(path or table_path())
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PreconditionError(f'cannot read the bases table {path}: {exc}',
                                hint=f'fix {path}') from exc
    bases = []
    for number, entry in enumerate(data.get('base', ()), 1):
        missing = [name for name in _FIELDS if name not in entry]
        unknown = sorted(set(entry) - set(_FIELDS) - set(_OPTIONAL))
        if missing or unknown:
            raise PreconditionError(
                f'{path}: base entry {number} '
                + (f'lacks {", ".join(missing)}' if missing else '')
                + ('; ' if missing and unknown else '')
                + (f'has unknown keys {", ".join(unknown)}' if unknown
                   else ''),
                hint=f'fix {path} (its header lists the keys)')
        try:
            version_key(entry['version'])
        except ValueError as exc:
            raise PreconditionError(f'{path}: {exc}',
                                    hint=f'fix {path}') from None
        if not re.fullmatch(r'[0-9a-f]{64}', entry['sha256']):
            raise PreconditionError(
                f'{path}: base {entry["version"]}: sha256 must be 64 hex '
                'digits', hint=f'fix {path}')
        bases.append(Base(**{**entry,
                             'debian_suites': tuple(entry['debian_suites'])}))
    if not bases:
        raise PreconditionError(f'{path} lists no base',
                                hint=f'add a [[base]] entry to {path}')
    versions = [b.version for b in bases]
    if len(set(versions)) != len(versions):
        raise PreconditionError(f'{path} lists a version twice',
                                hint=f'fix {path}')
    return sorted(bases, key=lambda b: b.key)


def get(version=None, path=None):
    """The base *version*, or the newest one when *version* is None."""
    bases = load(path)
    if version is None:
        return bases[-1]
    for base in bases:
        if base.version == version:
            return base
    raise UsageError(
        f'unknown base {version!r}; the bases are '
        f'{", ".join(b.version for b in bases)} ({path or table_path()})')
