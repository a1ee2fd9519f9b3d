"""What ``bench`` measures, and how much: the series, the calls, the plan.

The series are the ways of running each call (an interpreter, its options,
a cloexec mode); the calls are those of probes/bench_calls.py; the Plan is
how many rounds, values and pyperformance passes a run makes.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Series:
    """One way of running the calls: an interpreter, its options, a mode."""

    name: str
    build: str          # 'baseline' or 'patched'
    args: tuple = ()    # interpreter options, e.g. ('-e',)
    mode: str = 'default'   # no cloexec keyword, or cloexec=True/False
    label: str = ''
    calls: tuple = ()   # the calls it runs (empty: all of MICRO_CALLS)

    def runs(self, call):
        return not self.calls or call in self.calls

    @property
    def title(self):
        return self.label or self.name


REFERENCE = 'baseline'
SERIES = (
    Series('baseline', 'baseline', label='baseline (stock)'),
    Series('patched', 'patched', label='patched (default False)'),
    Series('patched-e', 'patched', ('-e',), label='patched -e'),
    Series('patched-True', 'patched', mode='True',
           label='patched cloexec=True'),
    Series('patched-False', 'patched', mode='False',
           label='patched cloexec=False'),
    Series('baseline-noninheritable', 'baseline', mode='noninheritable',
           label='baseline inheritable=False', calls=('os.dup2',)),
)
TITLES = {s.name: s.title for s in SERIES}

#: The series whose ratio to the baseline has a target (1.00 +- 0.02).
TARGET_SERIES = ('patched', 'patched-e')
#: The baseline and the target series: where the control runs and the
#: instructions are counted.
COMPARED_SERIES = (REFERENCE,) + TARGET_SERIES
#: Control: a call that the series does not change (no fd is made), run on
#: COMPARED_SERIES.  Its ratio is what two builds of the same code differ by
#: (code layout, alignment): the floor under every other ratio.  It has no
#: target.
CONTROL_CALLS = ('os.fstat',)
#: Like for like: where stock's default makes the fd with the other flag
#: than a target series does, but stock has a call of its own that makes
#: the same flag with the same system call, the target compares with that
#: call.  os.dup2() is inheritable by default in 3.13 (dup2()); under -e
#: the patched one makes a close-on-exec fd (dup3(O_CLOEXEC)), as stock's
#: os.dup2(fd, fd2, inheritable=False) does.  socket.recv_fds() has no
#: such pair: stock's ignores its flags argument (gh-107898), so it cannot
#: ask for MSG_CMSG_CLOEXEC, which the patched one passes under -e.
LIKE_FOR_LIKE = {('os.dup2', 'patched-e'): 'baseline-noninheritable'}

#: The calls timed (names of probes/fdcalls.CALLS).
MICRO_CALLS = ('os.open', 'open', 'os.pipe', 'os.dup', 'os.dup2',
               'socket.socket', 'socket.socketpair', 'socket.accept',
               'select.epoll', 'socket.recv_fds')

PEP_SERIES = Series('pep', 'patched', mode='False',
                    label='os.open() on patched, cloexec=False')
PEP_ROWS = (
    ('pep.none', 'no flag (cloexec=False)'),
    ('pep.atomic', 'O_CLOEXEC (atomic)'),
    ('pep.ioctl', 'no flag + ioctl(FIOCLEX)'),
    ('pep.fcntl', 'no flag + fcntl(F_GETFD) + fcntl(F_SETFD)'),
)
PEP_REFERENCE = 'pep.none'
#: What PEP 433 measured on Linux 3.6 (bench_cloexec.py).
PEP_PUBLISHED = {'pep.none': '7.8 us', 'pep.atomic': '+1% (7.9 us)',
                 'pep.ioctl': '+3% (8.0 us)', 'pep.fcntl': '+3% (8.0 us)'}

#: Series of the system call count table: (name, interpreter args, mode).
SYSCALL_SERIES = (
    ('baseline', 'baseline', (), 'default'),
    ('patched', 'patched', (), 'default'),
    ('patched-e', 'patched', ('-e',), 'default'),
    ('patched-True', 'patched', (), 'True'),
    ('patched-False', 'patched', (), 'False'),
)
#: On the baseline these calls create inheritable fds (no flag) by default,
#: so comparing them with cloexec=True compares different things.
BASELINE_INHERITABLE = ('os.dup2', 'socket.recv_fds')

#: Loops of the two callgrind runs of each (call, series): the cost of one
#: call is the difference of their counts over the difference of the loops.
INSTR_LOOPS = (200, 600)

#: pyperformance benchmarks: fd-heavy ones first, then a general set (the
#: README says why these).
BENCHMARKS_FD = ('dulwich_log', 'asyncio_tcp', 'python_startup')
BENCHMARKS_GENERAL = ('nbody', 'richards', 'json_dumps', 'float')
BENCHMARKS = BENCHMARKS_FD + BENCHMARKS_GENERAL
QUICK_BENCHMARKS = ('asyncio_tcp', 'nbody')

#: Passes of each build that --suite makes unless --passes says: ABBA.
SUITE_PASSES = 2


def interleaved(passes):
    """*passes* pyperformance passes of each build, in ABBA order.

    1 gives AB, 2 ABBA, 4 ABBAABBA: each baseline pass has a patched one
    beside it, and drift over the run hits both builds alike.
    """
    order = []
    for i in range(passes):
        order += (['baseline', 'patched'] if i % 2 == 0
                  else ['patched', 'baseline'])
    return tuple(order)


#: The order of a round's micro-benchmark runs, as results.json's plan
#: records it.  'by-call': each call's series run back to back (a block),
#: the blocks and the series within each in a shuffled order
#: (micro.round_order()), so that the runs a ratio divides are a second or
#: so apart, and what the machine drifts by over a round (about 30 s)
#: stays out of the ratio.  'shuffled': the order of older runs, all runs
#: of a round shuffled together, which their results.json does not name.
#: On this project's machine the two read alike (docs/performance.md, "The
#: clock of this machine").
MICRO_ORDER = 'by-call'
#: How a report says each order.
ORDER_TEXT = {
    'by-call': "each call's series back to back, the calls and the series "
               'within each in a shuffled order',
    'shuffled': 'all in a shuffled order',
}


def order_text(plan):
    """How a report says the order of *plan* (results.json's record of
    it): the runs that do not name theirs, all older, were 'shuffled'."""
    return ORDER_TEXT[plan.get('order', 'shuffled')]


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    rounds: int
    values: int
    min_time: float
    pyperformance_passes: tuple   # e.g. ('baseline', 'patched', ...)
    pyperformance_fast: bool

    @classmethod
    def make(cls, quick, passes=None):
        """The quick or the full plan; *passes* (of each build) replaces
        its pyperformance passes."""
        plan = cls._make(quick)
        if passes:
            plan = replace(plan, pyperformance_passes=interleaved(passes))
        return plan

    @classmethod
    def _make(cls, quick):
        if quick:
            return cls(rounds=3, values=2, min_time=0.02,
                       pyperformance_passes=('baseline', 'patched'),
                       pyperformance_fast=True)
        # Each (call, series) of a round is one process, and a process's
        # values agree with each other far better than processes do:
        # os.pipe() + close runs at 6.05 or 6.43 us depending on the
        # process, on either build.  So the full run spends its time on
        # processes (rounds), not on values within one.
        return cls(rounds=24, values=2, min_time=0.05,
                   pyperformance_passes=('baseline', 'patched', 'patched',
                                         'baseline') * 2,
                   pyperformance_fast=True)
