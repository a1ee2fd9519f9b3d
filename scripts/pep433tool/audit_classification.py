"""``audit``'s classification file: each site's kind, read and checked.

``audit/stdlib-fd-sites.toml`` has a ``[[site]]`` per key (file, function,
callee): whether the fd follows the default, is the module's own or is no
fd at all, why, and whether the site passes the flag to an object the
caller can supply or replace, with the compatibility test that covers it.
A site the file does not classify gets a stub to paste (toml_stub()).
"""

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import PreconditionError

CLASSIFICATION = Path('audit') / 'stdlib-fd-sites.toml'
KINDS = ('default', 'own', 'not-fd')
#: The keys of a [[site]]: required (non-empty strings), then optional.
REQUIRED = ('file', 'function', 'call', 'kind', 'reason')
OPTIONAL = ('replaceable', 'compat_test')


@dataclass
class Entry:
    """One ``[[site]]`` of the classification file."""

    file: str
    function: str
    call: str
    kind: str
    reason: str
    #: the site passes the flag to an object the caller can supply or
    #: replace, and compat_tests (module.Class.test_method) cover that
    replaceable: bool = False
    compat_tests: tuple = ()

    @property
    def key(self):
        return (self.file, self.function, self.call)


def load_classification(path):
    """{key: Entry} of the classification file *path* (exit 3 if it is
    missing or invalid)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise PreconditionError(
            f'no classification file {path}',
            hint=f'create it (an empty file will do: touch {path}), run '
                 'scripts/pep433 audit --static-only and paste the stubs '
                 'it prints') from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PreconditionError(
            f'cannot read the classification file {path}: {exc}',
            hint=f'fix the TOML syntax of {path}') from None
    sites = data.get('site', [])
    if not isinstance(sites, list):
        raise PreconditionError(f'{path}: "site" must be an array of '
                                'tables ([[site]])',
                                hint=f'fix {path}')
    entries = {}
    errors = []
    for number, item in enumerate(sites, 1):
        where = f'{path}: [[site]] #{number}'
        if not isinstance(item, dict):
            errors.append(f'{where}: not a table')
            continue
        missing = [name for name in REQUIRED
                   if not isinstance(item.get(name), str) or not item[name]]
        if missing:
            errors.append(f'{where}: missing or empty: {", ".join(missing)}')
            continue
        entry = Entry(*(item[name] for name in REQUIRED))
        where = f'{where} ({entry.file} {entry.function} {entry.call})'
        unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            errors.append(f'{where}: unknown keys: {", ".join(unknown)}')
        if entry.kind not in KINDS:
            errors.append(f'{where}: kind must be one of '
                          f'{", ".join(KINDS)}, not {entry.kind!r}')
        entry.replaceable, entry.compat_tests, problems = (
            _read_replaceable(item, where))
        errors += problems
        if entry.key in entries:
            errors.append(f'{where}: a second entry for this site')
        entries[entry.key] = entry
    if errors:
        raise PreconditionError('invalid classification file:\n  '
                                + '\n  '.join(errors), hint=f'fix {path}')
    return entries


def _read_replaceable(item, where):
    """(replaceable, compat tests, errors) of the [[site]] *item*."""
    replaceable = item.get('replaceable', False)
    tests = item.get('compat_test', ())
    if isinstance(tests, str):
        tests = (tests,)
    if not isinstance(replaceable, bool):
        return False, (), [f'{where}: replaceable must be true or false']
    if not isinstance(tests, (list, tuple)) or not all(
            isinstance(test, str) and test for test in tests):
        return False, (), [f'{where}: compat_test must be a test name '
                           '(module.Class.test_method) or an array of them']
    if tests and not replaceable:
        return False, (), [f'{where}: compat_test without replaceable = true']
    return replaceable, tuple(tests), []


def compat_tests(entries):
    """The compatibility tests the entries name, sorted."""
    return sorted({test for entry in entries.values()
                   for test in entry.compat_tests})


def toml_string(text):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def toml_stub(row):
    """A ``[[site]]`` to paste into the classification file."""
    file, function, call = row.key
    asks = ('; '.join(dict.fromkeys(s.detail for s in row.static))
            or 'not seen statically')
    lines = ', '.join(map(str, row.lines))
    return (f'[[site]]  # line {lines}; asks: {asks}\n'
            f'file = {toml_string(file)}\n'
            f'function = {toml_string(function)}\n'
            f'call = {toml_string(call)}\n'
            'kind = "TODO"  # "default", "own" or "not-fd"\n'
            'reason = "TODO"\n'
            + ('replaceable = true\n'
               'compat_test = "TODO"  # module.Class.test_method of Lib/test\n'
               if row.replaceable_calls() else ''))
