"""Sanitizer reports, whichever sanitizer wrote them.

``test --tsan`` (``tsan.py``) and ``test --asan`` (``asan.py``) run regrtest
on a sanitizer build with ``log_path`` set, so that every process writes
its reports to a file of its own.  Each parser turns its sanitizer's text
into the same :class:`Report`; this module says which reports are in code
the series adds or changes (``git diff -U0 <tag>..pep433``): a report counts
when one of the top frames of one of its counted stacks is on such a line.
The other reports are CPython's own: listed, not counted.

A :class:`Tier` says how ``testcmd.run_sanitizer`` runs one of them.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import config, gitutil

#: How many frames of each counted stack are looked at: the faulty code
#: itself and its nearest callers, not the interpreter loop under them.
TOP_FRAMES = 4

#: The top directories of CPython's C code: a frame whose path has one of
#: them is in the source tree even when printed relative to a build
#: directory (``../cpython/Python/x.c``) or to the tree (``Python/x.c``).
SOURCE_DIRS = ('Python/', 'Modules/', 'Objects/', 'Include/', 'Parser/',
               'Programs/')


@dataclass
class Report:
    """One sanitizer report (a warning or an error of one process)."""

    kind: str                                      # "data race", ...
    stacks: list = field(default_factory=list)     # [[(func, file, line)]]
    text: str = ''
    tool: str = ''                                 # "ThreadSanitizer", ...

    def top_frames(self, count=TOP_FRAMES):
        """The frames looked at: the first *count* of each counted stack
        (a parser keeps only the stacks of the code at fault: not where
        the memory was allocated or a thread created)."""
        for stack in self.stacks:
            yield from stack[:count]

    def key(self):
        """What makes two reports the same one (addresses and values
        aside): every worker process reports the same problem again."""
        kind = re.sub(r'0x[0-9a-fA-F]+|\b\d+\b', 'N', self.kind)
        return (self.tool, kind, tuple(self.top_frames()))


def changed_lines(repo, tag, branch=config.BRANCH):
    """{path: set of line numbers} of the C code that *branch* adds or
    changes."""
    text = gitutil.out(repo, 'diff', '-U0', '--no-color', '--no-renames',
                       f'{tag}..{branch}', '--', '*.c', '*.h')
    changed, path = {}, None
    for line in text.splitlines():
        if line.startswith('+++ '):
            path = line[6:] if line.startswith('+++ b/') else None
        elif line.startswith('@@') and path:
            match = re.search(r'\+(\d+)(?:,(\d+))?', line)
            start, count = int(match.group(1)), int(match.group(2) or 1)
            changed.setdefault(path, set()).update(
                range(start, start + count))
    return changed


def relative(path, src):
    """*path* (as a sanitizer prints it) relative to the source tree, or
    None when it is not in it."""
    path = str(path)
    src = str(Path(src).resolve())
    if path.startswith(src + '/'):
        return path[len(src) + 1:]
    if path.startswith(SOURCE_DIRS):
        return path
    for marker in SOURCE_DIRS:
        if '/' + marker in path:
            return path[path.index('/' + marker) + 1:]
    return None


def in_series(report, changed, src):
    """The frames of *report* on lines the series adds or changes, each
    place once: [(func, path, line)]."""
    hits, seen = [], set()
    for func, path, line in report.top_frames():
        rel = relative(path, src)
        if rel and line in changed.get(rel, ()) and (rel, line) not in seen:
            seen.add((rel, line))
            hits.append((func, rel, line))
    return hits


def read_logs(directory, prefixes):
    """The text of every log file (``log_path``: ``<prefix>.<pid>``) in
    *directory* whose name starts with one of *prefixes*."""
    paths = {path for prefix in prefixes
             for path in Path(directory).glob(prefix + '*')}
    return ''.join(path.read_text(errors='replace') for path in sorted(paths))


def group(reports):
    """[(report, how many times)] of *reports*, the same one once, in the
    order of their first occurrence."""
    groups = {}
    for report in reports:
        key = report.key()
        if key in groups:
            groups[key][1] += 1
        else:
            groups[key] = [report, 1]
    return [tuple(item) for item in groups.values()]


def where(report, src, hits=None):
    """Where a report points, for a summary line: its frames on the
    series' lines (*hits*), else its top frame in the source tree, else its
    top frame."""
    def show(func, path, line):
        return f'{func} ({path}:{line})' if func else f'{path}:{line}'
    if hits:
        return ', '.join(show(*hit) for hit in hits)
    frames = list(report.top_frames())
    inside = [(func, relative(path, src), line)
              for func, path, line in frames if relative(path, src)]
    return show(*(inside or frames)[0]) if frames else 'no source frame'


def options(*items):
    """A ``*SAN_OPTIONS`` value: the options, space-separated."""
    return ' '.join(items)


@dataclass(frozen=True)
class Tier:
    """How ``test --<name>`` runs: its modes (builds of ``build
    --<name>``), the environment that points each process's reports to
    ``results/<name>/<mode>/``, and the parser of those logs."""

    name: str               # test --<name>, results/<name>/, summary-<name>
    title: str              # for the messages: "ThreadSanitizer", ...
    tools: tuple            # the Report.tool values its parser gives
    modes: tuple
    log_prefixes: tuple     # the log_path file names it sets
    environment: Callable   # (log directory, source tree) -> {var: value}
    parse: Callable         # log text -> [Report]
    #: for a mode, the mode without the sanitizer whose saved failures are
    #: known on this machine (listed, not counted); none: every failure
    #: counts
    plain: dict = field(default_factory=dict)
    #: what a crashed worker means here, said after its name
    crash_note: str = ''
    #: said after a failed test whose output has a UBSan report in it
    output_note: str = ''
