"""Benchmark one fd-creating call plus its close with pyperf.

Usage (pyperf's options follow, e.g. ``-o FILE.json -p 1 -n 3 -l LOOPS``)::

    python [-e] bench_calls.py --name NAME [--cloexec {default,True,False}]

NAME is a call of fdcalls.CALLS (``os.open``, ``open``, ``os.pipe``, ...) or
a row of the PEP's "Performances" table:

* ``pep.none``: ``os.open()`` without the close-on-exec flag;
* ``pep.atomic``: ``os.open(..., O_RDONLY | O_CLOEXEC)``;
* ``pep.ioctl``: no flag, then ``ioctl(fd, FIOCLEX)``;
* ``pep.fcntl``: no flag, then ``fcntl(fd, F_GETFD)`` and
  ``fcntl(fd, F_SETFD, flags | FD_CLOEXEC)``.

"No flag" needs ``cloexec=False``, so the ``pep.*`` rows are meant for the
patched interpreter (stock 3.13 always adds O_CLOEXEC to ``os.open``).

The timed block is the call and the closing of what it created (for accept,
the client end too, which the untimed preparation connected).  Preparations
are made in batches of BATCH outside the timed block.  ``--cloexec default``
passes no keyword; True/False pass ``cloexec=`` (which the baseline, without
PEP 433, does not accept: there only ``default`` is allowed).  The
benchmark's metadata records the call, the mode and the interpreter's
default (``cloexec_default``).  pyperf is imported from PYTHONPATH, which
pyperf passes on to its worker processes; ``-e`` is passed on explicitly.
"""

import fcntl
import os
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdcalls import CALLS, HAVE_PEP433, PATH, Fixture  # noqa: E402

import pyperf  # noqa: E402

#: Calls prepared at once, outside the timed block (accept() needs a
#: connected client each, within the listener's backlog of 64).
BATCH = 16


def _pep_none(fx, state, **kw):
    fd = os.open(PATH, os.O_RDONLY, **kw)
    return [fd], [lambda: os.close(fd)]


def _pep_atomic(fx, state, **kw):
    fd = os.open(PATH, os.O_RDONLY | os.O_CLOEXEC, **kw)
    return [fd], [lambda: os.close(fd)]


def _pep_ioctl(fx, state, **kw):
    fd = os.open(PATH, os.O_RDONLY, **kw)
    fcntl.ioctl(fd, termios.FIOCLEX)
    return [fd], [lambda: os.close(fd)]


def _pep_fcntl(fx, state, **kw):
    fd = os.open(PATH, os.O_RDONLY, **kw)
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
    return [fd], [lambda: os.close(fd)]


def _nothing(fx):
    return None


#: The PEP's table: each row makes the fd without the flag (cloexec=False).
PEP_ROWS = {
    'pep.none': _pep_none,
    'pep.atomic': _pep_atomic,
    'pep.ioctl': _pep_ioctl,
    'pep.fcntl': _pep_fcntl,
}

NAMES = list(CALLS) + list(PEP_ROWS)


def call_and_kwargs(name, mode):
    """(prepare, call, kwargs) for call *name* in *mode*."""
    if name in PEP_ROWS:
        if not HAVE_PEP433:
            raise SystemExit(f'{name} needs a PEP 433 interpreter '
                             '(cloexec=False)')
        return _nothing, PEP_ROWS[name], {'cloexec': False}
    prepare, call, _, _ = CALLS[name]
    if mode == 'default':
        return prepare, call, {}
    if not HAVE_PEP433:
        raise SystemExit(f'--cloexec {mode} needs a PEP 433 interpreter')
    return prepare, call, {'cloexec': mode == 'True'}


def time_func(loops, name, mode):
    """Make *loops* calls of *name*; return the time spent in them."""
    prepare, call, kwargs = call_and_kwargs(name, mode)
    perf_counter = pyperf.perf_counter
    fx = Fixture()
    total = 0.0
    try:
        done = 0
        while done < loops:
            states = [prepare(fx) for _ in range(min(BATCH, loops - done))]
            t0 = perf_counter()
            for state in states:
                fds, closers = call(fx, state, **kwargs)
                for close in closers:
                    close()
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
                                  choices=('default', 'True', 'False'))
    args = runner.parse_args()
    default = sys.getdefaultcloexec() if HAVE_PEP433 else None
    runner.bench_time_func(
        args.name, time_func, args.name, args.cloexec,
        metadata={'fdcall': args.name, 'cloexec_mode': args.cloexec,
                  'cloexec_default': str(default)})


if __name__ == '__main__':
    main()
