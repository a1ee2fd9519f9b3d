"""PEP 433: cloexec=True is atomic, so no exec'd child ever gets the fd.

Threads create and close file descriptors with cloexec=True as fast as they
can while the main thread starts children (fork + exec, close_fds=False)
that list their open fds.  With the atomic flag (O_CLOEXEC, pipe2), no child
ever holds one of those fds.  With the atomic path switched off through
_testinternalcapi.set_cloexec_atomic(False), the flag is set by a second
system call and the children catch fds in between: the same check then
finds leaks, which shows that it can fail.

The process-wide default is read once per call and atomically: threads
that flip sys.setdefaultcloexec() while others create fds with cloexec=None
never make a pair of fds (os.pipe(), socket.socketpair()) with two
different flags, and never crash the interpreter (free-threaded builds
included).

With -u cpu the clean run and the race are ten times longer.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
from test import support
from test.support import import_helper, os_helper, threading_helper
from test.support.script_helper import assert_python_ok
from test.support.cloexec_helper import default_cloexec, get_flag

LS = '/bin/ls'
PROC_FD = '/proc/self/fd'

if not (os.path.isdir(PROC_FD) and os.path.exists(LS)):
    raise unittest.SkipTest(f'needs {PROC_FD} and {LS}')

LINK = re.compile(r' (\d+) -> (.*)$')


class Creators:
    """Threads that create and close fds with cloexec=True."""

    def __init__(self, path, nthreads=2):
        self.path = path
        self.pipe_inodes = set()
        self.stop = threading.Event()
        self.created = 0
        self.threads = [threading.Thread(target=self.run)
                        for _ in range(nthreads)]

    def run(self):
        created = 0
        while not self.stop.is_set():
            fd = os.open(self.path, os.O_RDONLY, cloexec=True)
            os.close(fd)
            r, w = os.pipe(cloexec=True)
            self.pipe_inodes.add(os.fstat(r).st_ino)
            os.close(r)
            os.close(w)
            created += 3
        self.created += created

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


def held_by_child():
    """(fd, link target) of every fd > 2 that an exec'd child holds."""
    out = subprocess.run([LS, '-l', PROC_FD], close_fds=False,
                         stdout=subprocess.PIPE, check=True,
                         text=True).stdout
    held = []
    for line in out.splitlines():
        match = LINK.search(line)
        if match and int(match.group(1)) > 2:
            held.append((int(match.group(1)), match.group(2)))
    return held


@threading_helper.requires_working_threading()
@support.requires_subprocess()
class AtomicityStressTest(unittest.TestCase):

    def setUp(self):
        self.path = os.path.abspath(os_helper.TESTFN)
        os_helper.create_empty_file(self.path)
        self.addCleanup(os_helper.unlink, self.path)

    def stress(self, execs, stop_at_first_leak=False):
        """Start *execs* children while the creators run; return the leaks."""
        path = self.path
        leaks = []
        with Creators(path) as creators:
            for _ in range(execs):
                for fd, target in held_by_child():
                    pipe = re.fullmatch(r'pipe:\[(\d+)\]', target)
                    if target == path or (pipe and int(pipe.group(1))
                                          in creators.pipe_inodes):
                        leaks.append((fd, target))
                if leaks and stop_at_first_leak:
                    break
        self.assertGreater(creators.created, 0)
        return leaks

    def test_no_leak(self):
        execs = 10_000 if support.is_resource_enabled('cpu') else 1000
        self.assertEqual(self.stress(execs), [])

    @support.cpython_only
    def test_the_check_sees_leaks_without_the_atomic_flag(self):
        _testinternalcapi = import_helper.import_module('_testinternalcapi')
        was = _testinternalcapi.set_cloexec_atomic(False)
        self.addCleanup(_testinternalcapi.set_cloexec_atomic, was)
        # Usually within a few dozen children; up to 20 seconds on a slow
        # or loaded machine.
        deadline = time.monotonic() + 20
        leaks = []
        while not leaks and time.monotonic() < deadline:
            leaks = self.stress(200, stop_at_first_leak=True)
        self.assertTrue(leaks, 'no leak seen without the atomic flag')


@support.cpython_only
class SwitchTest(unittest.TestCase):
    # The test-only switch changes how os.open() sets the flag, never
    # whether: O_CLOEXEC in flags still asks for it, and fd 0 (Rule 2)
    # stays inheritable.  Run in a child, which may close its fd 0.

    def test_switch_keeps_the_rules(self):
        import_helper.import_module('_testinternalcapi')
        code = """if 1:
            import os, _testinternalcapi
            _testinternalcapi.set_cloexec_atomic(False)
            os.close(0)
            flags = os.O_RDONLY | os.O_CLOEXEC
            fd = os.open(os.devnull, flags)
            assert fd == 0, fd
            print(os.get_cloexec(fd), end=' ')
            print(os.get_cloexec(os.open(os.devnull, flags)), end=' ')
            print(os.get_cloexec(os.open(os.devnull, os.O_RDONLY,
                                         cloexec=True)))
        """
        rc, out, err = assert_python_ok('-c', code)
        self.assertEqual(out.decode().split(), ['False', 'True', 'True'])


@threading_helper.requires_working_threading()
class DefaultRaceTest(unittest.TestCase):
    # Two threads flip the process-wide default while two others create
    # fds with cloexec=None and check each one's flag at once.

    def test_flipping_default(self):
        path = os.path.abspath(os_helper.TESTFN)
        os_helper.create_empty_file(path)
        self.addCleanup(os_helper.unlink, path)
        duration = 5.0 if support.is_resource_enabled('cpu') else 0.5
        stop = threading.Event()
        seen = {False: 0, True: 0}
        mixed = []
        flips = []

        def flip():
            value, count = False, 0
            while not stop.is_set():
                value = not value
                sys.setdefaultcloexec(value)
                count += 1
            flips.append(count)

        def check(*fds):
            flags = {get_flag(fd) for fd in fds}
            if len(flags) != 1:
                mixed.append(fds)
            seen[get_flag(fds[0])] += 1

        def create():
            while not stop.is_set():
                fd = os.open(path, os.O_RDONLY)
                check(fd)
                os.close(fd)
                r, w = os.pipe()
                check(r, w)
                os.close(r)
                os.close(w)
                a, b = socket.socketpair()
                with a, b:
                    check(a.fileno(), b.fileno())

        threads = ([threading.Thread(target=flip) for _ in range(2)]
                   + [threading.Thread(target=create) for _ in range(2)])
        with default_cloexec(sys.getdefaultcloexec()):
            with threading_helper.start_threads(threads):
                time.sleep(duration)
                stop.set()
        self.assertEqual(mixed, [])
        self.assertGreater(sum(flips), 0)
        # both defaults were in force for some of the calls
        self.assertGreater(seen[False], 0, seen)
        self.assertGreater(seen[True], 0, seen)


if __name__ == '__main__':
    unittest.main()
