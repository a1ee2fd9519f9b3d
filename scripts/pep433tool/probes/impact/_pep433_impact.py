"""Census of inherited fds, for ``pep433 impact``.

Copied into an impact venv's site-packages together with
``_pep433_impact.pth`` (``import _pep433_impact``), so that every Python
process started from the venv runs it at start-up, whoever starts it.
When ``$PEP433_IMPACT_LOG`` is set, the process appends one JSON line to
that file: its pid, parent, command line, the cloexec default
(``sys.getdefaultcloexec()``, None on stock CPython), the test that was
running in the process that started it (``$PEP433_IMPACT_TEST``) and the
fds above 2 it holds at start-up, with what they point to.  At that point
the interpreter has opened nothing that is still open, so these fds were
inherited through exec.  Without the variable it only reads it.

The pytest plugin that goes with it is ``_pep433_impact_plugin.py``.

Nothing here creates an fd that outlives the call that opened it.
"""

import os
import sys

LOG_VAR = 'PEP433_IMPACT_LOG'
TEST_VAR = 'PEP433_IMPACT_TEST'


def open_fds(skip_std=True):
    """{fd: target} of the fds this process holds (above 2)."""
    fds = {}
    try:
        names = os.listdir('/proc/self/fd')
    except OSError:
        return fds
    for name in names:
        fd = int(name)
        if skip_std and fd <= 2:
            continue
        try:
            fds[fd] = os.readlink(f'/proc/self/fd/{name}')
        except OSError:
            pass        # the directory fd of listdir, closed by now
    return fds


def census():
    """Append this process's start-up record to $PEP433_IMPACT_LOG."""
    path = os.environ.get(LOG_VAR)
    if not path:
        return
    import json
    getdefault = getattr(sys, 'getdefaultcloexec', None)
    record = {
        'pid': os.getpid(), 'ppid': os.getppid(),
        'argv': list(getattr(sys, 'orig_argv', sys.argv))[:12],
        'default_cloexec': getdefault() if getdefault else None,
        'flag': getattr(sys.flags, 'cloexec', None),
        'env': os.environ.get('PYTHONCLOEXEC'),
        'test': os.environ.get(TEST_VAR),
        'fds': {str(fd): target for fd, target in open_fds().items()
                if not target.endswith('.pth')},
    }
    line = (json.dumps(record) + '\n').encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                     | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


try:
    census()
except Exception:       # never break the interpreter under test
    pass
