"""Helpers for the tests of PEP 433, the cloexec parameter.

The close-on-exec flag is read with fcntl(F_GETFD), not only through the
API under test, and children started with close_fds=False tell which file
descriptors really survive exec().
"""

import contextlib
import os
import subprocess
import sys

try:
    import fcntl
except ImportError:
    fcntl = None


__all__ = ['get_flag', 'default_cloexec', 'cloexec_cases', 'BadBool',
           'std_fd_free', 'inherited_fds']


def get_flag(fd):
    """Return True if fd has the close-on-exec flag, as the OS reports it.

    On POSIX, fcntl(F_GETFD) is asked directly; elsewhere (Windows) the
    inverse of os.get_inheritable() is returned.
    """
    if fcntl is None:
        return not os.get_inheritable(fd)
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


@contextlib.contextmanager
def default_cloexec(value):
    """Set sys.setdefaultcloexec(value) for the duration of the block."""
    old = sys.getdefaultcloexec()
    sys.setdefaultcloexec(value)
    try:
        yield
    finally:
        sys.setdefaultcloexec(old)


def cloexec_cases():
    """Yield (default, kwargs, expected) for each way of passing cloexec.

    For both process-wide defaults: the argument omitted, None, True, False,
    and non-bool objects, which are read for their truth value.  expected is
    whether the new file descriptor must be close-on-exec.
    """
    for default in (False, True):
        yield default, {}, default
        yield default, {'cloexec': None}, default
        yield default, {'cloexec': True}, True
        yield default, {'cloexec': False}, False
        yield default, {'cloexec': 1}, True
        yield default, {'cloexec': ''}, False


class BadBool:
    """A cloexec argument whose truth value cannot be computed."""

    def __bool__(self):
        raise ZeroDivisionError('BadBool.__bool__')


@contextlib.contextmanager
def std_fd_free(fd=0):
    """Close the standard stream fd (0 by default) for the block.

    The next file descriptor created in the block lands on fd, the lowest
    free number; the stream is restored afterwards.  The block must close
    what it created on fd.
    """
    saved = os.dup(fd)
    os.close(fd)
    try:
        yield fd
    finally:
        os.dup2(saved, fd, inheritable=True)
        os.close(saved)


_REPORT_FDS = '''\
import os, sys
for arg in sys.argv[1:]:
    try:
        os.fstat(int(arg))
    except OSError:
        pass
    else:
        print(arg)
'''


def inherited_fds(fds):
    """Return the subset of fds that a child process holds after exec().

    The child is started by subprocess with close_fds=False, so what it
    holds is decided by the close-on-exec flag alone.
    """
    out = subprocess.check_output(
        [sys.executable, '-I', '-c', _REPORT_FDS, *map(str, fds)],
        close_fds=False)
    return {int(line) for line in out.split()}
