"""ThreadSanitizer reports: which of them are in code the series changes.

``test --tsan`` runs the series' test modules on the ThreadSanitizer build
(``build --tsan``: free-threaded, ``--with-thread-sanitizer``) with
CPython's own suppression file (``Tools/tsan/suppressions_free_threading.txt``)
and ``log_path`` set, so that every process writes its reports to a file of
its own.  A report counts against the series when one of the top frames of
either access is on a line that the series adds or changes
(``git diff -U0 <tag>..pep433``); the others are CPython's, and are listed
but not counted.  What is common to the sanitizers (the report model, the
changed lines, which reports count) is in ``sanitizers.py``.
"""

import re

from . import config, sanitizers
from .sanitizers import Report, Tier, changed_lines, in_series, options

__all__ = ('TIER', 'parse', 'read_logs', 'changed_lines', 'in_series')

_HEADER = re.compile(r'^WARNING: ThreadSanitizer: (.+?)(?: \(pid=\d+\))?$')
_FRAME = re.compile(r'^\s+#(\d+) (\S+) (\S+?):(\d+)(?::\d+)? ')
_STACK = re.compile(r'^  (Write|Read|Previous write|Previous read|Atomic)'
                    r'|^  (Location|Mutex|Thread)')


def parse(text):
    """The reports of a ThreadSanitizer log (one or more processes)."""
    reports, current, stack = [], None, None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            current = Report(match.group(1), tool='ThreadSanitizer')
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


def read_logs(directory):
    """The text of every TSan log file (``log_path``) in *directory*."""
    return sanitizers.read_logs(directory, ('tsan',))


def environment(logdir, src):
    """TSAN_OPTIONS for the processes of one mode: every report to
    *logdir*, none stops a process, CPython's suppressions."""
    items = [f'log_path={logdir / "tsan"}', 'halt_on_error=0',
             'second_deadlock_stack=1', 'handle_segv=0']
    suppressions = src / 'Tools' / 'tsan' / 'suppressions_free_threading.txt'
    if suppressions.exists():
        items.append(f'suppressions={suppressions}')
    return {'TSAN_OPTIONS': options(*items)}


TIER = Tier(name='tsan', title='ThreadSanitizer', tools=('ThreadSanitizer',),
            modes=config.TSAN_MODES, log_prefixes=('tsan',),
            environment=environment, parse=parse)
