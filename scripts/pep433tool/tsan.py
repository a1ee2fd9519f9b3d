"""ThreadSanitizer reports: which of them are in code the series changes.

``test --tsan`` runs the series' test modules on the ThreadSanitizer build
(``build --tsan``: free-threaded, ``--with-thread-sanitizer``) with
CPython's own suppression file (``Tools/tsan/suppressions_free_threading.txt``)
and ``log_path`` set, so that every process writes its reports to a file of
its own.  A report counts against the series when one of the top frames of
either access is on a line that the series adds or changes
(``git diff -U0 <tag>..pep433``); the others are CPython's, and are listed
but not counted.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import config, gitutil

#: How many frames of each stack are looked at: the racing code itself and
#: its nearest callers, not the interpreter loop under them.
TOP_FRAMES = 4

_HEADER = re.compile(r'^WARNING: ThreadSanitizer: (.+?)(?: \(pid=\d+\))?$')
_FRAME = re.compile(r'^\s+#(\d+) (\S+) (\S+?):(\d+)(?::\d+)? ')
_STACK = re.compile(r'^  (Write|Read|Previous write|Previous read|Atomic)'
                    r'|^  (Location|Mutex|Thread)')


@dataclass
class Report:
    """One ThreadSanitizer warning."""

    kind: str                                      # "data race", ...
    stacks: list = field(default_factory=list)     # [[(func, file, line)]]
    text: str = ''

    def top_frames(self, count=TOP_FRAMES):
        for stack in self.stacks:
            yield from stack[:count]


def parse(text):
    """The reports of a ThreadSanitizer log (one or more processes)."""
    reports, current, stack = [], None, None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            current = Report(match.group(1))
            reports.append(current)
            stack = None
        if current is None:
            continue
        current.text += line + '\n'
        if line.startswith('SUMMARY: ThreadSanitizer'):
            current = stack = None
            continue
        kind = _STACK.match(line)
        if kind:
            # Only the accesses' stacks; a Location/Thread creation stack
            # says where the memory or thread came from, not who raced.
            stack = [] if kind.group(1) else None
            if stack is not None:
                current.stacks.append(stack)
            continue
        frame = _FRAME.match(line)
        if frame and stack is not None:
            stack.append((frame.group(2), frame.group(3),
                          int(frame.group(4))))
    return reports


def changed_lines(repo, tag, branch=config.BRANCH):
    """{path: set of line numbers} that *branch* adds or changes."""
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


def _relative(path, src):
    """*path* (as TSan prints it) relative to the source tree, or None."""
    path = str(path)
    src = str(Path(src).resolve())
    if path.startswith(src + '/'):
        return path[len(src) + 1:]
    # out-of-tree builds print paths like ../cpython/Python/x.c
    for marker in ('/Python/', '/Modules/', '/Objects/', '/Include/',
                   '/Parser/'):
        if marker in path:
            return path[path.index(marker) + 1:]
    return None


def in_series(report, changed, src):
    """The frames of *report* that are on lines the series changes."""
    hits = []
    for func, path, line in report.top_frames():
        rel = _relative(path, src)
        if rel and line in changed.get(rel, ()):
            hits.append((func, rel, line))
    return hits


def read_logs(directory):
    """The text of every TSan log file (``log_path``) in *directory*."""
    return ''.join(path.read_text(errors='replace')
                   for path in sorted(Path(directory).glob('tsan*')))
