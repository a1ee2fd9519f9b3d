"""The checks CPython's CI runs on a pull request, at one commit.

``check`` runs them at every commit of the series, in its own build of
that commit (``<workdir>/check``), which for them is a shared build with
debug information, as CPython's ABI job builds:

- **ABI**: libabigail's ``abidiff`` of the commit's ``libpython`` against
  the base's ``Doc/data/python3.13.abi``, with the options of ``make
  check-abidump``.  The base's own build does not come out clean either
  (libabigail's version, the internal structures the dump records), so
  what counts is a change that the base tag's report does not have.
- **c-globals**: ``Tools/c-analyzer/check-c-globals.py``, run in the
  source tree as CI runs it in-tree, with the build's ``pyconfig.h`` and
  generated frozen modules put there for the run (and removed after).
  Any failure counts: the base has none.
"""

import logging
import os
import re
import shutil
from pathlib import Path

from . import config
from .errors import PreconditionError
from .util import run

log = logging.getLogger(__name__)

#: Configure arguments of the check builds when the CI checks run: a shared
#: libpython with debug information, which abidiff reads.
ABI_CONFIGURE = ('--enable-shared', 'CFLAGS=-g -Og')
ABIDIFF_OPTIONS = ('--drop-private-types', '--no-architecture',
                   '--no-added-syms')
#: Debian packages the checks need
PACKAGES = config.ABI_PACKAGES

_LOCATION = re.compile(r' at [\w./-]+:\d+:\d+')
_FILTERED = re.compile(r'\s*\(\d+ filtered\)')
_COUNTED = re.compile(r'^\d+ (\w+?)s? (?=with )')


def python_env(builddir):
    """The environment in which the shared build's ./python runs."""
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.pathsep.join(
        filter(None, [str(builddir), env.get('LD_LIBRARY_PATH')]))
    return env


def abi_dump(src):
    """The base's ABI dump in *src*, or None if the tree has none."""
    dumps = sorted((Path(src) / 'Doc' / 'data').glob('python*.abi'))
    return dumps[0] if dumps else None


def shared_library(builddir):
    """The libpython of the shared build in *builddir*."""
    found = sorted(Path(builddir).glob('libpython3*.so'))
    if not found:
        raise PreconditionError(
            f'no libpython3*.so in {builddir}: the check build is not a '
            'shared build', hint='scripts/pep433 check (it configures it)')
    return found[0]


def abidiff(src, builddir):
    """abidiff's report of *builddir*'s libpython against *src*'s dump."""
    dump = abi_dump(src)
    if dump is None:
        return ''
    proc = run(['abidiff', dump, shared_library(builddir),
                *ABIDIFF_OPTIONS], check=False, quiet=True,
               hint='apt-get install abigail-tools')
    # abidiff's exit status is a bit field: 1 error, 2 usage error; 4 and 8
    # are ABI changes, which the report lists.
    if proc.returncode & 3:
        raise PreconditionError(
            f'abidiff failed (exit {proc.returncode}): '
            f'{(proc.stderr or proc.stdout).strip()[-1000:]}',
            hint='apt-get install abigail-tools')
    return proc.stdout


def changes(report):
    """{change: internal} of an abidiff report.

    A change is the path of headings that leads to a line, each without what
    moves from one build to another (source locations, counts of filtered
    changes), so that the same detail under two types counts twice.  It is
    internal when a type on its path is declared in an internal header
    (``pycore_*.h``) or is ``_PyRuntime``'s: CPython's own dump records
    those too, but they are not the API an extension or embedder uses.
    """
    result = {}
    stack = []
    for raw in report.splitlines():
        if not raw.strip() or 'changes summary' in raw:
            continue
        indent = len(raw) - len(raw.lstrip())
        internal = 'pycore_' in raw or '_PyRuntime' in raw
        text = _LOCATION.sub('', raw.strip())
        text = _FILTERED.sub('', text).strip()
        # "1 function with ..." and "2 functions with ...": one heading
        text = _COUNTED.sub(r'\1', text)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        internal = internal or any(part[2] for part in stack)
        stack.append((indent, text, internal))
        result[' > '.join(part[1] for part in stack)] = internal
    return result


def new_abi_changes(base_report, report):
    """(public, internal): the changes of *report* that *base_report* does
    not have, leaves only (a heading that only leads to known changes is
    not one)."""
    base, new = changes(base_report), changes(report)
    fresh = sorted(set(new) - set(base))
    leaves = [line for line in fresh
              if not any(other != line and other.startswith(line + ' > ')
                         for other in fresh)]
    return ([line for line in leaves if not new[line]],
            [line for line in leaves if new[line]])


def insertions(lines):
    """The members that *lines* (changes) say were inserted or deleted."""
    found = []
    for line in lines:
        head, _, last = line.rpartition(' > ')
        if re.search(r'data member (insertion|deletion)', head.rsplit(
                ' > ', 1)[-1]):
            found.append(last.split("'")[1] if "'" in last else last)
    return sorted(set(found))


def c_globals(src, builddir, python, files=()):
    """Run the c-analyzer's check-c-globals in *src* (on *files* only, when
    given: the whole tree takes minutes a run); return (failures, the
    report's tail)."""
    src, builddir = Path(src), Path(builddir)
    added = []
    try:
        for rel in ['pyconfig.h'] + [
                p.relative_to(builddir).as_posix() for p in
                (builddir / 'Python' / 'frozen_modules').glob('*.h')]:
            target = src / rel
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(builddir / rel, target)
                added.append(target)
        proc = run([python, 'Tools/c-analyzer/check-c-globals.py',
                    '--format', 'summary', *files], cwd=src, check=False,
                   quiet=True, env=python_env(builddir))
    finally:
        for path in added:
            path.unlink(missing_ok=True)
    text = proc.stdout + proc.stderr
    match = re.search(r'total failures: (\d+)', text)
    if match is None:
        raise PreconditionError(
            'check-c-globals did not run to its end:\n    '
            + '\n    '.join(text.strip().splitlines()[-12:]),
            hint='apt-get install ' + ' '.join(PACKAGES))
    return int(match.group(1)), '\n'.join(text.strip().splitlines()[-30:])


#: Python files that have tabs by design (patchcheck's own list).
_PYTHON_FILES_WITH_TABS = frozenset({'Tools/c-analyzer/cpython/_parser.py'})

_REINDENT = '''
import sys
sys.path.insert(0, 'Tools/patchcheck')
import reindent
reindent.makebackup = False
reindent.dryrun = True
for path in sys.argv[1:]:
    if reindent.check(path):
        print(path)
'''


def patchcheck(src, python, changed, tabs_before, env=None):
    """Tools/patchcheck's whitespace checks on the files one commit
    changes, in *src*: a .py file that reindent.py would fix, a .c or .h
    file with more tab characters than before the commit (*tabs_before*:
    {path: count}).  Return the problems."""
    src = Path(src)
    problems = []
    py_files = [path for path in changed if path.endswith('.py')
                and path not in _PYTHON_FILES_WITH_TABS
                and (src / path).is_file()]
    if py_files:
        proc = run([python, '-c', _REINDENT, *py_files], cwd=src,
                   check=False, quiet=True, env=env)
        if proc.returncode != 0:
            raise PreconditionError('reindent.py failed: '
                                    + proc.stderr.strip()[-800:])
        problems += [f'{path}: reindent.py would change it (patchcheck)'
                     for path in proc.stdout.split()]
    for path in changed:
        if path.endswith(('.c', '.h')) and (src / path).is_file():
            tabs = (src / path).read_bytes().count(b'\t')
            if tabs > tabs_before.get(path, 0):
                problems.append(f'{path}: {tabs - tabs_before.get(path, 0)} '
                                'tab characters added (patchcheck)')
    return problems
