"""The data file of ``impact``: ``impact/packages.toml``, read and checked.

The file's own header documents its schema.  Every problem names the
entry and the field, and is a PreconditionError (exit 3) whose hint is to
fix the file: the tool runs nothing from a file it does not fully accept.
"""

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PreconditionError

SCHEMA = 1
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
#: An exact version (PEP 440 public version, no wildcard or range).
VERSION_RE = re.compile(r'^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$')
NAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$')
#: The interpreters a suite runs on (not audit's cloexec resolutions).
BUILD_MODES = ('baseline', 'patched', 'patched-e')
#: tests.local: a directory of this repository, under impact/.
LOCAL_RE = re.compile(r'^impact(/[A-Za-z0-9_.-]+)+$')
PLACEHOLDERS = ('python', 'src', 'site')
CWDS = ('src', 'empty')


@dataclass
class Pin:
    """One pinned wheel."""

    name: str
    version: str
    sha256: str

    def requirement(self):
        """The requirements-file line of the pin (hash-checked)."""
        return f'{self.name}=={self.version} --hash=sha256:{self.sha256}'


@dataclass
class Deselect:
    test: str
    reason: str


@dataclass
class Explanation:
    """Why a test behaves differently in some modes."""

    tests: list
    modes: list
    fd: str
    created: str
    inherited_by: str
    why: str
    evidence: str = ''

    def matches(self, mode, test_id):
        return mode in self.modes and any(
            fnmatch.fnmatchcase(test_id, pattern) for pattern in self.tests)


@dataclass
class Package:
    name: str
    version: str
    fd_behaviour: str
    tests_file: str
    tests_sha256: str
    deps: list                  # [Pin], the package's own wheel included
    command: list
    paths: list
    quick: bool = False
    cwd: str = 'src'
    env: dict = field(default_factory=dict)
    timeout: int = 1800
    case_timeout: int = 300
    deselect: list = field(default_factory=list)
    explain: list = field(default_factory=list)
    tests_local: str = ''       # tests.local: a directory of the repository

    @property
    def tests_from_wheel(self):
        return self.tests_file.endswith('.whl')

    @property
    def title(self):
        """"name version", or "name (local)" for tests of this repository
        that test no pinned release."""
        return (f'{self.name} {self.version}' if self.version
                else f'{self.name} (local)')

    def requirements(self):
        """The hash-checked requirements file that makes its venv."""
        return ''.join(pin.requirement() + '\n'
                       for pin in sorted(self.deps, key=lambda p: p.name))

    def explanation(self, mode, test_id):
        """The first explanation matching *test_id* in *mode*, or None."""
        for entry in self.explain:
            if entry.matches(mode, test_id):
                return entry
        return None


def _fail(where, message):
    raise PreconditionError(f'impact data file: {where}: {message}',
                            hint='fix impact/packages.toml (its header '
                                 'documents the fields)')


def _str(where, table, key, default=None, pattern=None):
    value = table.get(key, default)
    if value is None:
        _fail(where, f'missing field {key!r}')
    if not isinstance(value, str) or not value.strip():
        _fail(where, f'{key!r} must be a non-empty string, not {value!r}')
    if pattern is not None and not pattern.match(value):
        _fail(where, f'{key!r} = {value!r} is not valid')
    return value


def _str_list(where, table, key, default=None, empty=False):
    value = table.get(key, default)
    if value is None:
        _fail(where, f'missing field {key!r}')
    if (not isinstance(value, list) or not all(
            isinstance(v, str) and v for v in value)
            or (not value and not empty)):
        _fail(where, f'{key!r} must be a list of non-empty strings, not '
              f'{value!r}')
    return list(value)


def _check_keys(where, table, allowed):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        _fail(where, f'unknown field(s) {", ".join(unknown)} (known: '
              f'{", ".join(sorted(allowed))})')


def _placeholders(where, key, words):
    for word in words:
        for name in re.findall(r'{([^{}]*)}', word):
            if name not in PLACEHOLDERS:
                _fail(where, f'{key!r}: unknown placeholder {{{name}}} in '
                      f'{word!r} (known: '
                      + ', '.join(f'{{{p}}}' for p in PLACEHOLDERS) + ')')


def parse_pins(table):
    if not isinstance(table, dict) or not table:
        _fail('[pins]', 'missing or empty')
    pins = {}
    for name, entry in table.items():
        where = f'pins.{name}'
        if not NAME_RE.match(name):
            _fail(where, 'not a distribution name')
        if not isinstance(entry, dict):
            _fail(where, 'must be a table {version, sha256}')
        _check_keys(where, entry, ('version', 'sha256'))
        pins[name.lower()] = Pin(
            name, _str(where, entry, 'version', pattern=VERSION_RE),
            _str(where, entry, 'sha256', pattern=SHA256_RE))
    return pins


def parse_package(index, entry, pins):
    where = f'package #{index}'
    if not isinstance(entry, dict):
        _fail(where, 'must be a table')
    name = _str(where, entry, 'name', pattern=NAME_RE)
    where = f'package {name!r}'
    _check_keys(where, entry, (
        'name', 'version', 'quick', 'fd_behaviour', 'tests', 'deps',
        'command', 'paths', 'cwd', 'env', 'timeout', 'case_timeout',
        'deselect', 'explain'))
    tests = entry.get('tests')
    if not isinstance(tests, dict):
        _fail(where, "missing field 'tests' = {file, sha256} or {local}")
    tests_file = tests_sha = tests_local = ''
    if 'local' in tests:
        _check_keys(f'{where} tests', tests, ('local',))
        tests_local = _str(f'{where} tests', tests, 'local')
        if not LOCAL_RE.match(tests_local) or any(
                part in ('.', '..') for part in tests_local.split('/')):
            _fail(where, f'tests.local {tests_local!r} must be a directory '
                  'of this repository under impact/ (a relative path '
                  'without . or ..)')
    else:
        _check_keys(f'{where} tests', tests, ('file', 'sha256'))
        tests_file = _str(f'{where} tests', tests, 'file')
        tests_sha = _str(f'{where} tests', tests, 'sha256',
                         pattern=SHA256_RE)
    # a local package tests a pinned release (version given: its wheel is
    # in deps), or only this repository's files (no version)
    if tests_local and 'version' not in entry:
        version = ''
        if name.lower() in pins:
            _fail(where, f'[pins] has {name!r}: give its version (tests of '
                  'this repository without a version must not be named '
                  'after a pin)')
    else:
        version = _str(where, entry, 'version', pattern=VERSION_RE)
    if tests_file:
        if (not tests_file.endswith(('.tar.gz', '.zip', '.whl'))
                or '/' in tests_file):
            _fail(where, f'tests.file {tests_file!r} must be an sdist '
                  '(.tar.gz, .zip) or a wheel (.whl) file name')
        if version not in tests_file:
            _fail(where, f'tests.file {tests_file!r} is not of version '
                  f'{version}')
    deps = []
    for dep in _str_list(where, entry, 'deps'):
        pin = pins.get(dep.lower())
        if pin is None:
            _fail(where, f'dependency {dep!r} has no entry in [pins]')
        deps.append(pin)
    if version:
        own = pins.get(name.lower())
        if own is None or own not in deps:
            _fail(where, f'its own wheel must be in deps (and in [pins] as '
                  f'{name!r})')
        if own.version != version:
            _fail(where, f'version {version} but pins.{own.name} is '
                  f'{own.version}')
        if tests_file.endswith('.whl') and tests_sha != own.sha256:
            _fail(where, 'tests come from a wheel that is not the pinned '
                  f'wheel of {name} (sha256 differs)')
    command = _str_list(where, entry, 'command')
    if command[0] != '{python}':
        _fail(where, "'command' must start with \"{python}\"")
    _placeholders(where, 'command', command)
    paths = _str_list(where, entry, 'paths')
    _placeholders(where, 'paths', paths)
    cwd = entry.get('cwd', 'src')
    if cwd not in CWDS:
        _fail(where, f"'cwd' must be one of {', '.join(CWDS)}, not {cwd!r}")
    env = entry.get('env', {})
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in env.items()):
        _fail(where, "'env' must be a table of strings")
    if any(k.startswith('PYTHON') for k in env):
        _fail(where, "'env' must not set PYTHON* variables (the modes "
              'decide them)')
    numbers = {}
    for key, default in (('timeout', 1800), ('case_timeout', 300)):
        value = entry.get(key, default)
        if (not isinstance(value, int) or isinstance(value, bool)
                or value <= 0):
            _fail(where, f'{key!r} must be a positive integer (seconds), '
                  f'not {value!r}')
        numbers[key] = value
    quick = entry.get('quick', False)
    if not isinstance(quick, bool):
        _fail(where, "'quick' must be true or false")
    deselect = []
    for number, item in enumerate(entry.get('deselect', []), 1):
        here = f'{where} deselect #{number}'
        if not isinstance(item, dict):
            _fail(here, 'must be a table {test, reason}')
        _check_keys(here, item, ('test', 'reason'))
        deselect.append(Deselect(_str(here, item, 'test'),
                                 _str(here, item, 'reason')))
    explain = []
    for number, item in enumerate(entry.get('explain', []), 1):
        here = f'{where} explain #{number}'
        if not isinstance(item, dict):
            _fail(here, 'must be a table')
        _check_keys(here, item, ('tests', 'modes', 'fd', 'created',
                                 'inherited_by', 'why', 'evidence'))
        modes = _str_list(here, item, 'modes')
        bad = sorted(set(modes) - set(BUILD_MODES))
        if bad:
            _fail(here, f'unknown mode(s) {", ".join(bad)} (known: '
                  f'{", ".join(BUILD_MODES)})')
        explain.append(Explanation(
            _str_list(here, item, 'tests'), modes,
            _str(here, item, 'fd'), _str(here, item, 'created'),
            _str(here, item, 'inherited_by'), _str(here, item, 'why'),
            item.get('evidence', '')))
    return Package(name, version, _str(where, entry, 'fd_behaviour'),
                   tests_file, tests_sha, deps, command, paths, quick, cwd,
                   dict(env), numbers['timeout'], numbers['case_timeout'],
                   deselect, explain, tests_local)


def parse(text, source='impact/packages.toml'):
    """Parse and check the data file's *text*; return [Package]."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        _fail(source, f'not valid TOML: {exc}')
    if data.get('schema') != SCHEMA:
        _fail(source, f'schema must be {SCHEMA}, not {data.get("schema")!r}')
    _check_keys(source, data, ('schema', 'pins', 'package'))
    pins = parse_pins(data.get('pins'))
    entries = data.get('package')
    if not isinstance(entries, list) or not entries:
        _fail(source, 'no [[package]] entry')
    packages = [parse_package(i, e, pins) for i, e in enumerate(entries, 1)]
    seen = set()
    for package in packages:
        if package.name in seen:
            _fail(f'package {package.name!r}', 'listed twice')
        seen.add(package.name)
    return packages


def load(path):
    """Read the data file at *path*; return [Package]."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PreconditionError(f'impact data file {path} not found',
                                hint='restore impact/packages.toml from '
                                     'git') from None
    return parse(text, str(path))


def select(packages, names=None, quick=False):
    """The packages to run: *names* (a list, in the file's order), the
    quick ones, or all."""
    if names:
        known = {p.name: p for p in packages}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise PreconditionError(
                f'unknown package(s): {", ".join(unknown)} (known: '
                f'{", ".join(known)})',
                hint='scripts/pep433 impact --packages '
                     + ','.join(known))
        return [p for p in packages if p.name in names]
    if quick:
        return [p for p in packages if p.quick]
    return list(packages)
