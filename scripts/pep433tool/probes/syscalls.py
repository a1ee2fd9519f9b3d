"""Make each fd-creating call between markers that strace shows.

Usage: python syscalls.py [MODE ...]; MODE is ``default`` (no cloexec
argument), ``True`` or ``False`` (cloexec=True/False).  Every call is made
twice, as rounds ``first`` and ``second``: the first may probe whether the
kernel honours the atomic flag.  The markers are writes to fd -1, which fail
with EBADF and print nothing: ``write(-1, "@@begin NAME MODE ROUND", ...)``
and ``write(-1, "@@end", ...)``.  stdout gets one JSON line describing the
calls: {name: [creating syscalls, atomic flag]}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdcalls import CALLS, HAVE_PEP433, Fixture  # noqa: E402


def mark(text):
    try:
        os.write(-1, text.encode())
    except OSError:
        pass


def main(modes):
    fx = Fixture()
    try:
        for name, (prepare, call, _, _) in CALLS.items():
            for mode in modes:
                if mode == 'default' or not HAVE_PEP433:
                    kwargs = {}
                else:
                    kwargs = {'cloexec': mode == 'True'}
                for round_ in ('first', 'second'):
                    state = prepare(fx)
                    mark(f'@@begin {name} {mode} {round_}')
                    fds, closers = call(fx, state, **kwargs)
                    mark('@@end')
                    for close in closers:
                        close()
    finally:
        fx.close()
    print(json.dumps({name: [entry[2], entry[3]]
                      for name, entry in CALLS.items()}))


if __name__ == '__main__':
    main(sys.argv[1:] or ['default', 'True', 'False'])
