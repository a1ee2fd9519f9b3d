"""Which fds of each fd-creating call does an exec'd child inherit?

Usage: python inherit.py MODE; MODE is ``default`` (no cloexec argument),
``True`` or ``False``.  For each call, the fds it creates are kept open
while a child is started by subprocess with close_fds=False; the child
reports the (st_dev, st_ino) of every fd it holds, and an fd counts as
inherited when the child holds one with the same identity under the same
number.  stdout gets one JSON line: {name: [created, inherited]}.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdcalls import CALLS, HAVE_PEP433, Fixture  # noqa: E402

REPORT = '''if 1:
    import json, os, sys
    held = {}
    for fd in map(int, sys.argv[1:]):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        held[fd] = [st.st_dev, st.st_ino]
    print(json.dumps(held))
'''


def identity(fd):
    st = os.fstat(fd)
    return [st.st_dev, st.st_ino]


def main(mode):
    kwargs = {}
    if mode != 'default' and HAVE_PEP433:
        kwargs = {'cloexec': mode == 'True'}
    fx = Fixture()
    result = {}
    try:
        for name, (prepare, call, _, _) in CALLS.items():
            fds, closers = call(fx, prepare(fx), **kwargs)
            try:
                out = subprocess.check_output(
                    [sys.executable, '-I', '-c', REPORT, *map(str, fds)],
                    close_fds=False)
                held = json.loads(out)
                inherited = [fd for fd in fds
                             if held.get(str(fd)) == identity(fd)]
                result[name] = [len(fds), len(inherited)]
            finally:
                for close in closers:
                    close()
    finally:
        fx.close()
    print(json.dumps(result))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'default')
