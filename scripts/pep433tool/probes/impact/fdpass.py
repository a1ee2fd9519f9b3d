"""PEP 433's "programs taking file descriptors from the parent".

Usage: python [-e] fdpass.py [PROGRAM ...]  (default: openssl valgrind)

For each program, an ``os.pipe()`` fd (created with the interpreter's
default, no ``cloexec`` argument) is named on the child's command line and
the child is started in each of these ways:

* ``subprocess``: ``Popen`` with the default ``close_fds=True``;
* ``close_fds=False``: ``Popen(..., close_fds=False)``;
* ``pass_fds``: ``Popen(..., pass_fds=[fd])``;
* ``posix_spawn``: ``os.posix_spawn()``;
* ``fork+execv``: ``os.fork()`` then ``os.execv()`` in the child.

``openssl enc -pass fd:N`` reads a passphrase from the read end (written
and closed before the start): it works when it exits 0.
``valgrind --log-fd=N /bin/true`` writes its log to the write end: it works
when the log arrives through the pipe (valgrind falls back to stderr when
N is not open: "failed to move log file descriptor").  stdout gets one
JSON line: {"default_cloexec": ..., "results": {program: {way: [works,
detail]}}}.
"""

import json
import os
import re
import shutil
import subprocess
import sys

WAYS = ('subprocess', 'close_fds=False', 'pass_fds', 'posix_spawn',
        'fork+execv')


def start(way, argv, fd):
    """Start *argv* (argv[0] an absolute path) the *way*; return
    (exit status, stderr text)."""
    errr, errw = os.pipe2(os.O_CLOEXEC)
    try:
        if way.startswith(('subprocess', 'close_fds', 'pass_fds')):
            kwargs = {'subprocess': {}, 'close_fds=False': {
                'close_fds': False}, 'pass_fds': {'pass_fds': [fd]}}[way]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL,
                                    stderr=errw, **kwargs)
            os.close(errw)
            errw = None
            err = _read_all(errr)
            return proc.wait(), err
        if way == 'posix_spawn':
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, errw, 2)])
        else:
            pid = os.fork()
            if pid == 0:
                try:
                    os.dup2(errw, 2)
                    os.execv(argv[0], argv)
                finally:
                    os._exit(127)
        os.close(errw)
        errw = None
        err = _read_all(errr)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), err
    finally:
        os.close(errr)
        if errw is not None:
            os.close(errw)


def _read_all(fd):
    chunks = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return b''.join(chunks).decode(errors='replace')
        chunks.append(data)


def openssl(way):
    path = shutil.which('openssl')
    r, w = os.pipe()
    try:
        os.write(w, b'secret passphrase\n')
        os.close(w)
        argv = [path, 'enc', '-aes-128-cbc', '-pbkdf2', '-pass', f'fd:{r}',
                '-in', os.devnull, '-out', os.devnull]
        status, err = start(way, argv, r)
    finally:
        os.close(r)
    ok = status == 0
    return ok, 'exit 0' if ok else f'exit {status}: {_first(err)}'


def valgrind(way):
    path = shutil.which('valgrind')
    r, w = os.pipe()
    try:
        argv = [path, f'--log-fd={w}', '/bin/true']
        status, err = start(way, argv, w)
        os.close(w)
        w = None
        log = _read_all(r)
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
    ok = 'Memcheck' in log
    if ok:
        return True, 'log received through the pipe'
    return False, f'exit {status}; no log in the pipe: {_first(err)}'


def _first(text):
    """The first line of *text*, without valgrind's ``==pid==`` prefix."""
    lines = [re.sub(r'^==\d+==\s*', '', line).strip()
             for line in text.splitlines()]
    lines = [line for line in lines if line]
    return lines[0][:160] if lines else '(no stderr)'


PROGRAMS = {'openssl': openssl, 'valgrind': valgrind}


def main(argv):
    names = argv or list(PROGRAMS)
    results = {}
    for name in names:
        if shutil.which(name) is None:
            results[name] = {way: [None, f'{name} is not installed']
                             for way in WAYS}
            continue
        results[name] = {way: list(PROGRAMS[name](way)) for way in WAYS}
    getdefault = getattr(sys, 'getdefaultcloexec', None)
    print(json.dumps({'default_cloexec': getdefault() if getdefault
                      else None, 'results': results}))


if __name__ == '__main__':
    main(sys.argv[1:])
