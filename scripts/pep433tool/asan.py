"""AddressSanitizer and UndefinedBehaviorSanitizer reports.

``test --asan`` runs the regrtest subset and the series' test modules on
the ASan + UBSan build (``build --asan``), with and without ``-e``, with
``log_path`` in ``ASAN_OPTIONS`` and ``UBSAN_OPTIONS`` so that every
process writes its reports to a file of its own, ``asan.<pid>``.

Both options name the same file, because the runtimes share it whatever
they are told: with clang, one runtime reads both variables, the UBSan one
last; with gcc, ASan (libasan) and UBSan (libubsan) are two libraries, and
the report path libubsan sets at start-up is libasan's (the function is
interposed): without a ``log_path`` in ``UBSAN_OPTIONS`` the ASan reports
go to stderr.  And with gcc libubsan prints its own reports to stderr
whatever its options say: only their ``SUMMARY:`` line (written through
libasan) reaches the log file.  Hence:

- An ASan report (``==PID==ERROR: AddressSanitizer: <kind> ...``) counts
  its first stack (the faulty access, or the bad free) and the stack of a
  "freed by" (who freed the memory too early); the stacks of "allocated
  by" and "created by" say where the memory or the thread came from, and
  are not looked at.  ASan stops the process at its first error: a regrtest
  worker that dies of it is a crashed test module, a failure whatever its
  report says.
- A UBSan report (``file:line:col: runtime error: <what>``, clang) counts
  its own place and, with ``print_stacktrace=1``, the top of the stack
  after it.  A UBSan ``SUMMARY:`` line on its own (gcc: the report itself
  went to the process's stderr) is a report of its place alone, of the
  kind ``report_error_type=1`` names (``signed-integer-overflow``...).
  UBSan goes on after an error (``halt_on_error=0``).

Which reports are the series' is decided in ``sanitizers.py``, as for
``test --tsan``.
"""

import re

from . import config, sanitizers
from .sanitizers import Report, Tier, options

ASAN = 'AddressSanitizer'
UBSAN = 'UndefinedBehaviorSanitizer'
#: The file name (before ``.<pid>``) of the logs of both sanitizers
LOG_NAME = 'asan'

_ASAN_HEADER = re.compile(r'^==\d+==ERROR: AddressSanitizer: (.+)$')
#: the kind of an ASan error: its header up to the address or the pc
_ASAN_KIND = re.compile(r'^(.+?)(?: on (?:unknown )?address\b| on 0x'
                        r'| at pc | \(|:|$)')
#: "Objects/x.c:12:5: runtime error: <what>"; "<unknown>" when UBSan has
#: no place for it
_UBSAN_HEADER = re.compile(r'^(?:(\S+?):(\d+):\d+|<unknown>): '
                           r'runtime error: (.+)$')
#: "SUMMARY: UndefinedBehaviorSanitizer: signed-integer-overflow
#: /src/Objects/x.c:12:5 in func" (the function is often left out)
_UBSAN_SUMMARY = re.compile(r'^SUMMARY: UndefinedBehaviorSanitizer: (\S+) '
                            r'(\S+?):(\d+)(?::\d+)?(?: in ?(\S*))?\s*$')
#: "    #1 0x55d0c5 in func /path/file.c:12:5"; a frame without a source
#: place ("in func (/lib/libc.so.6+0x29d8f)") is not kept
_FRAME = re.compile(r'^\s*#\d+ 0x[0-9a-fA-F]+ in (\S+) (\S+?):(\d+)(?::\d+)?'
                    r'\s*$')
#: the sanitizer runtime's own frames (an interceptor with debug info)
_RUNTIME = ('/libsanitizer/', '/compiler-rt/')


def _frame(line):
    match = _FRAME.match(line)
    if not match or any(part in match.group(2) for part in _RUNTIME):
        return None
    return (match.group(1), match.group(2), int(match.group(3)))


def parse(text):
    """The reports of ASan and UBSan logs (one or more processes)."""
    reports, current, stack = [], None, None
    for line in text.splitlines():
        asan, ubsan = _ASAN_HEADER.match(line), _UBSAN_HEADER.match(line)
        if asan:
            kind = _ASAN_KIND.match(asan.group(1)).group(1)
            # the first stack is the faulty access (or the bad free)
            stack = []
            current = Report(kind, [stack], tool=ASAN)
            reports.append(current)
        elif ubsan:
            path, number, what = ubsan.groups()
            # the place of the error is a frame of its own, even when the
            # stack is not printed; the stack, if any, follows the notes
            stack = []
            place = [('', path, int(number))] if path else []
            current = Report(what, [place, stack], tool=UBSAN)
            reports.append(current)
        elif line.startswith('SUMMARY: '):
            summary = _UBSAN_SUMMARY.match(line)
            if summary and (current is None or current.tool != UBSAN):
                # a report of which the log has only this line
                kind, path, number, func = summary.groups()
                reports.append(Report(kind, [[(func or '', path,
                                               int(number))]],
                                      text=line + '\n', tool=UBSAN))
            elif current is not None:
                current.text += line + '\n'
            current = stack = None
            continue
        if current is None:
            continue
        current.text += line + '\n'
        if asan or ubsan:
            continue
        if current.tool == ASAN and line.rstrip().endswith(' here:'):
            # "freed by thread T1 here:" counts; "previously allocated by"
            # and "Thread T1 created by T0 here:" do not
            stack = [] if line.startswith('freed by') else None
            if stack is not None:
                current.stacks.append(stack)
            continue
        if current.tool == UBSAN and not line.strip() and stack:
            stack = None            # the end of the UBSan stack
            continue
        frame = _frame(line)
        if frame and stack is not None:
            stack.append(frame)
    for report in reports:
        report.stacks = [stack for stack in report.stacks if stack]
    return reports


def read_logs(directory):
    """The text of every ASan and UBSan log file (``log_path``) in
    *directory*."""
    return sanitizers.read_logs(directory, (LOG_NAME,))


def environment(logdir, src):
    """ASAN_OPTIONS and UBSAN_OPTIONS for the processes of one mode: every
    report to one file per process in *logdir*; CPython's UBSan
    suppressions if the tree has them."""
    log_path = f'log_path={logdir / LOG_NAME}'
    ubsan = [log_path, *config.UBSAN_OPTIONS]
    suppressions = src / 'Tools' / 'ubsan' / 'suppressions.txt'
    if suppressions.exists():
        ubsan.append(f'suppressions={suppressions}')
    return {'ASAN_OPTIONS': options(log_path, *config.ASAN_OPTIONS),
            'UBSAN_OPTIONS': options(*ubsan)}


def plain_mode(mode):
    """The mode without the sanitizers: ``patched-asan-e`` -> ``patched-e``."""
    return mode.replace('-asan', '', 1)


TIER = Tier(name='asan', title='AddressSanitizer and UBSan',
            tools=(ASAN, UBSAN), modes=config.ASAN_MODES,
            log_prefixes=(LOG_NAME,), environment=environment,
            parse=parse,
            plain={mode: plain_mode(mode) for mode in config.ASAN_MODES},
            crash_note='its worker died: ASan stops a process at its first '
                       'error (see the reports of this mode), or a signal '
                       'killed it',
            output_note='a UBSan report on its stderr: gcc\'s UBSan prints '
                        'there, not to the log')
