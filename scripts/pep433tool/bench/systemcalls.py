"""System calls per call: pep433tool.syscalls under strace, counted.

The second of two calls of each function, on each of plan.SYSCALL_SERIES;
exact, so noise cannot blur it.
"""

import logging
from collections import Counter

from .. import syscalls
from ..errors import ExternalError
from .plan import SYSCALL_SERIES
from .pyperfio import write_json

log = logging.getLogger(__name__)


def syscall_counts(traces_by_series, round_='second'):
    """{(call, series): [syscall names]} of round *round_*.

    *traces_by_series* maps a series name to (traces, mode) where traces is
    what syscalls.run() returns ({(name, mode, round): Trace}).
    """
    counts = {}
    for series, (traces, mode) in traces_by_series.items():
        for (name, trace_mode, trace_round), trace in traces.items():
            if trace_mode == mode and trace_round == round_:
                counts[name, series] = trace.syscalls
    return counts


def syscall_diff(reference, other):
    """'+fcntl -ioctl': what *other* makes more and fewer than *reference*."""
    more = Counter(other) - Counter(reference)
    fewer = Counter(reference) - Counter(other)
    parts = [f'+{n}' + (f'x{c}' if c > 1 else '')
             for n, c in sorted(more.items())]
    parts += [f'-{n}' + (f'x{c}' if c > 1 else '')
              for n, c in sorted(fewer.items())]
    return ' '.join(parts)


def run_syscalls(bench):
    """System call names per call and series (second round)."""
    log.info('counting system calls under strace')
    traces = {}
    for name, build, args, mode in SYSCALL_SERIES:
        try:
            found, _ = syscalls.run(bench.python(build), (mode,), args)
        except RuntimeError as exc:
            raise ExternalError(str(exc)) from exc
        traces[name] = (found, mode)
    counts = syscall_counts(traces)
    write_json(bench.output / 'syscalls.json',
               {f'{call} {series}': calls
                for (call, series), calls in sorted(counts.items())})
    return counts
