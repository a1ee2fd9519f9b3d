"""System calls of the fd-creating functions, counted and checked with strace.

probes/syscalls.py makes each call of probes/fdcalls.py twice between
markers; this module runs it under strace, splits the trace by marker and
checks PEP 433's Rule 1 on it: with the flag wanted, the creating system
call carries the atomic flag and no fcntl(F_GETFD/F_SETFD) or
ioctl(FIOCLEX/FIONCLEX) follows (after the first round, which may probe);
with the flag not wanted, neither the flag nor any of those calls.
"""

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PreconditionError

PROBE = Path(__file__).resolve().parent / 'probes' / 'syscalls.py'
FLAG_CALLS = re.compile(r'^(fcntl\(\d+, F_[GS]ETFD|ioctl\(\d+, FIO(N)?CLEX)')
SYSCALL = re.compile(r'^(\w+)\(')
BEGIN = re.compile(r'^write\(-1, "@@begin (\S+) (\S+) (\S+)"')
END = re.compile(r'^write\(-1, "@@end"')


@dataclass
class Trace:
    """The system calls of one marked call."""

    name: str
    mode: str
    round: str
    lines: list = field(default_factory=list)

    @property
    def syscalls(self):
        """The names of the system calls, in order."""
        return [m.group(1) for m in map(SYSCALL.match, self.lines) if m]

    def flag_calls(self):
        """The fcntl/ioctl calls that read or change the close-on-exec flag."""
        return [line for line in self.lines if FLAG_CALLS.match(line)]

    def creating(self, syscalls):
        """The lines of the creating system call (one of *syscalls*)."""
        starts = tuple(name + '(' for name in syscalls.split())
        return [line for line in self.lines if line.startswith(starts)]


def parse(text):
    """Split an strace log into {(name, mode, round): Trace}."""
    traces = {}
    current = None
    for line in text.splitlines():
        begin = BEGIN.match(line)
        if begin:
            current = Trace(*begin.groups())
            traces[begin.groups()] = current
        elif END.match(line):
            current = None
        elif current is not None:
            current.lines.append(line)
    return traces


def run(python, modes=('default', 'True', 'False'), interpreter_args=()):
    """Run the probe under strace; return (traces, {name: [syscalls, flag]})."""
    if shutil.which('strace') is None:
        raise PreconditionError('strace is not installed',
                                hint='apt-get install strace')
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / 'strace.log'
        proc = subprocess.run(
            ['strace', '-qq', '-s', '256', '-o', str(log), str(python),
             *interpreter_args, '-I', str(PROBE), *modes],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f'{python} {PROBE} failed:\n{proc.stderr}')
        calls = json.loads(proc.stdout.splitlines()[-1])
        return parse(log.read_text()), calls


def check(traces, calls, expect):
    """Problems with Rule 1, as a list of strings.

    *expect* maps a mode to whether the flag is wanted in that mode (e.g.
    {'True': True, 'False': False, 'default': False}).
    """
    problems = []
    for (name, mode, round_), trace in sorted(traces.items()):
        syscalls, flag = calls[name]
        wanted = expect[mode]
        creating = trace.creating(syscalls)
        syscall = syscalls.split()[0]
        where = f'{name} ({mode}, {round_} call)'
        if not creating:
            problems.append(f'{where}: no {syscall}() call')
            continue
        if wanted and flag and not any(flag in line for line in creating):
            problems.append(f'{where}: {syscall}() without {flag}: '
                            f'{creating[0]}')
        if not wanted and flag and any(flag in line for line in creating):
            problems.append(f'{where}: {syscall}() with {flag}: '
                            f'{creating[0]}')
        extra = trace.flag_calls()
        if extra and (not wanted or (flag and round_ != 'first')):
            problems.append(f'{where}: extra system call: {extra[0]}')
    return problems
