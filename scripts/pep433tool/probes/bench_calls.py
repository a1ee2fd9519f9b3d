"""Benchmark one fd-creating call plus its close with pyperf.

Usage (pyperf's options follow, e.g. ``-o FILE.json -p 1 -n 3 -l LOOPS``)::

    python [-e] bench_calls.py --name NAME [--cloexec MODE]

MODE is default, True, False or noninheritable.

NAME is a call of fdcalls.CALLS (``os.open``, ``open``, ``os.pipe``, ...),
the control ``os.fstat`` (a call the series does not change), or a row of
the PEP's "Performances" table:

* ``pep.none``: ``os.open()`` without the close-on-exec flag;
* ``pep.atomic``: ``os.open(..., O_RDONLY | O_CLOEXEC)``;
* ``pep.ioctl``: no flag, then ``ioctl(fd, FIOCLEX)``;
* ``pep.fcntl``: no flag, then ``fcntl(fd, F_GETFD)`` and
  ``fcntl(fd, F_SETFD, flags | FD_CLOEXEC)``.

"No flag" needs ``cloexec=False``, so the ``pep.*`` rows are meant for the
patched interpreter (stock 3.13 always adds O_CLOEXEC to ``os.open``).

The timed block is the call and the closing of what it created (for accept,
the client end too, which the untimed preparation connected); the
preparations of fdcalls.CALLS are made in batches of BATCH outside it.
``--cloexec default`` passes no keyword; True/False pass ``cloexec=`` (which
the baseline, without PEP 433, does not accept); ``noninheritable`` asks for
a close-on-exec fd the way stock 3.13 can, for the calls of STOCK_CLOEXEC
only (``os.dup2(fd, fd2, False)``: positionally, so that it does not pay
for a keyword argument), on either interpreter.  The benchmark's metadata
records the call, the mode and the interpreter's default
(``cloexec_default``).  pyperf is imported from PYTHONPATH, which pyperf
passes on to its worker processes; ``-e`` is passed on explicitly.
"""

import fcntl
import os
import select
import socket
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdcalls import CALLS, HAVE_PEP433, PATH, Fixture  # noqa: E402

import pyperf  # noqa: E402

#: Calls prepared at once, outside the timed block (accept() needs a
#: connected client each, within the listener's backlog of 64).
BATCH = 16

#: The timed statement of each call: the call and the closing of what it
#: created.  ``{kw}`` becomes ``, cloexec=X`` (``{kw0}`` the same without
#: the comma) or nothing, so that the keyword is a literal keyword argument:
#: fdcalls' ``**kw`` would add the cost of building a dict to the
#: cloexec=True/False series only.  ``state`` is what the prepare() of
#: fdcalls.CALLS returned.
STATEMENTS = {
    'os.open': 'os.close(os.open(PATH, os.O_RDONLY{kw}))',
    'open': "open(PATH, 'rb', buffering=0{kw}).close()",
    'os.pipe': 'r, w = os.pipe({kw0}); os.close(r); os.close(w)',
    'os.dup': 'os.close(os.dup(fx.fd{kw}))',
    'os.dup2': 'os.dup2(fx.fd, state{kw}); os.close(state)',
    'socket.socket': 'socket.socket({kw0}).close()',
    'socket.socketpair': 'a, b = socket.socketpair({kw0}); a.close(); '
                         'b.close()',
    'socket.accept': 'conn = fx.listener.accept({kw0})[0]; conn.close(); '
                     'state.close()',
    'socket.dup': 'fx.listener.dup({kw0}).close()',
    'select.epoll': 'select.epoll({kw0}).close()',
    'socket.recv_fds': 'for fd in socket.recv_fds(fx.pair[1], 1, 1{kw})[1]: '
                       'os.close(fd)',
    'os.openpty': 'm, s = os.openpty({kw0}); os.close(m); os.close(s)',
    # control: no fd made, code the series does not change (default only)
    'os.fstat': 'os.fstat(fx.fd)',
}

#: The PEP's table: each row makes the fd without the flag (cloexec=False,
#: passed in every row so that the rows differ only in the flag's cost).
PEP_ROWS = {
    'pep.none': 'os.close(os.open(PATH, os.O_RDONLY, cloexec=False))',
    'pep.atomic': 'os.close(os.open(PATH, os.O_RDONLY | os.O_CLOEXEC, '
                  'cloexec=False))',
    'pep.ioctl': 'fd = os.open(PATH, os.O_RDONLY, cloexec=False); '
                 'fcntl.ioctl(fd, termios.FIOCLEX); os.close(fd)',
    'pep.fcntl': 'fd = os.open(PATH, os.O_RDONLY, cloexec=False); '
                 'fcntl.fcntl(fd, fcntl.F_SETFD, '
                 'fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC); '
                 'os.close(fd)',
}

#: The calls that stock 3.13 makes inheritable by default but can make
#: close-on-exec with the same system call as PEP 433's cloexec=True: the
#: like-for-like reference of ``-e`` (``--cloexec noninheritable``).
STOCK_CLOEXEC = {
    'os.dup2': 'os.dup2(fx.fd, state, False); os.close(state)',
}

NAMES = list(STATEMENTS) + list(PEP_ROWS)


def _nothing(fx):
    return None


def make_call(statement):
    """A function ``call(fx, state)`` that runs *statement*."""
    namespace = {'os': os, 'socket': socket, 'select': select,
                 'fcntl': fcntl, 'termios': termios, 'PATH': PATH}
    exec(f'def call(fx, state):\n    {statement}\n', namespace)
    return namespace['call']


def call_of(name, mode):
    """(prepare, call) for call *name* in *mode*."""
    if name in PEP_ROWS:
        if not HAVE_PEP433:
            raise SystemExit(f'{name} needs a PEP 433 interpreter '
                             '(cloexec=False)')
        return _nothing, make_call(PEP_ROWS[name])
    if mode == 'noninheritable':
        if name not in STOCK_CLOEXEC:
            raise SystemExit(f'--cloexec noninheritable: {name} has no '
                             'stock way to ask for close-on-exec')
        return CALLS[name][0], make_call(STOCK_CLOEXEC[name])
    if mode == 'default':
        kw = kw0 = ''
    elif not HAVE_PEP433:
        raise SystemExit(f'--cloexec {mode} needs a PEP 433 interpreter')
    else:
        kw0 = f'cloexec={mode}'
        kw = ', ' + kw0
    prepare = CALLS[name][0] if name in CALLS else _nothing
    return prepare, make_call(STATEMENTS[name].format(kw=kw, kw0=kw0))


def time_func(loops, name, mode):
    """Make *loops* calls of *name*; return the time spent in them."""
    prepare, call = call_of(name, mode)
    perf_counter = pyperf.perf_counter
    fx = Fixture()
    total = 0.0
    try:
        done = 0
        while done < loops:
            states = [prepare(fx) for _ in range(min(BATCH, loops - done))]
            t0 = perf_counter()
            for state in states:
                call(fx, state)
            total += perf_counter() - t0
            done += len(states)
    finally:
        fx.close()
    return total


def add_cmdline_args(cmd, args):
    """Pass our options on to pyperf's worker processes."""
    cmd.extend(('--name', args.name, '--cloexec', args.cloexec))


def main():
    program_args = (sys.argv[0],)
    if getattr(sys.flags, 'cloexec', 0):
        program_args = ('-e',) + program_args
    runner = pyperf.Runner(add_cmdline_args=add_cmdline_args,
                           program_args=program_args)
    runner.argparser.add_argument('--name', required=True, choices=NAMES)
    runner.argparser.add_argument('--cloexec', default='default',
                                  choices=('default', 'True', 'False',
                                           'noninheritable'))
    args = runner.parse_args()
    default = sys.getdefaultcloexec() if HAVE_PEP433 else None
    runner.bench_time_func(
        args.name, time_func, args.name, args.cloexec,
        metadata={'fdcall': args.name, 'cloexec_mode': args.cloexec,
                  'cloexec_default': str(default)})


if __name__ == '__main__':
    main()
