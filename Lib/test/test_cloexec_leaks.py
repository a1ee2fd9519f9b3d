"""PEP 433: what a child process inherits, and what bad input does.

The leak matrix: every function that creates a file descriptor (CALLS) is
called in four modes (MODES: the default, -e, cloexec=True, cloexec=False),
and a child is started by four launchers (LAUNCHERS: subprocess with
close_fds=False, os.posix_spawn(), os.fork() + os.execv(), multiprocessing's
spawn start method).  The child lists every fd it holds and tells which of
the parent's fds it has, identified by (st_dev, st_ino), not by number; the
expected table (EXPECTED) is asserted, the parent's fds 0-2 included.  One
child is started per (launcher, mode), covering all the functions at once.
A new fd that lands on 0 is inherited even with cloexec=True (Rule 2).

Bad input: a cloexec object whose __bool__ raises propagates the exception
and creates no fd; sys.setdefaultcloexec() rejects bad arguments and keeps
the default; PYTHONCLOEXEC is read as SPEC.md says.
"""

import _pyio
import array
import contextlib
import fcntl
import io
import json
import os
import select
import socket
import stat
import subprocess
import sys
import tempfile
import unittest
import warnings
from test import support
from test.support import cloexec_helper, script_helper, socket_helper
from test.support.cloexec_helper import BadBool, get_flag

if sys.platform == 'win32' or not hasattr(os, 'fork'):
    raise unittest.SkipTest('POSIX fd inheritance only')


# The identity of an open file, the same in the parent and in the child.
# The two ends of a pipe share an inode, so the access mode tells them
# apart; pseudo-terminal masters all share the inode of /dev/ptmx, so the
# pty name does.  The source is shared with the child script.
_FD_KEY_SOURCE = '''\
def fd_key(fd):
    st = os.fstat(fd)
    key = [st.st_dev, st.st_ino]
    if stat.S_ISFIFO(st.st_mode):
        key.append(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE)
    if stat.S_ISCHR(st.st_mode) and hasattr(os, 'ptsname'):
        try:
            key.append(os.ptsname(fd))
        except OSError:
            pass
    return tuple(key)


def open_fds(maxfd=1024):
    """Return {fd: fd_key(fd)} for every open fd of this process."""
    if os.path.isdir('/proc/self/fd'):
        fds = [int(name) for name in os.listdir('/proc/self/fd')]
    else:
        fds = range(maxfd)
    keys = {}
    for fd in fds:
        try:
            keys[fd] = fd_key(fd)
        except OSError:
            pass    # not open, or the fd that listed the directory
    return keys
'''
exec(_FD_KEY_SOURCE)

# The child: it gets a JSON list of [label, key, fd] for the parent's fds
# and writes {label: [the child's fds with that key]} to a report file.
_CHILD_SCRIPT = '''\
import fcntl, json, os, stat, sys
%s

def report(path, wanted):
    held = {}
    for fd, key in open_fds().items():
        held.setdefault(key, []).append(fd)
    result = {label: held.get(tuple(key), []) for label, key, fd in wanted}
    with open(path, 'w') as f:
        json.dump({'held': result,
                   'cloexec': getattr(sys.flags, 'cloexec', None)}, f)

if 'ARGS' in globals():     # multiprocessing: exec(_CHILD_SCRIPT, globals)
    report(*ARGS)
else:
    report(sys.argv[1], json.loads(sys.argv[2]))
''' % _FD_KEY_SOURCE


# --- The launchers -------------------------------------------------------

def _child_argv(report, wanted):
    return [sys.executable, '-I', '-S', '-c', _CHILD_SCRIPT,
            report, json.dumps(wanted)]


def launch_subprocess(report, wanted):
    # close_fds=False, and stdin, stdout and stderr are None: the child gets
    # the parent's fds 0-2 as they are (subprocess only dup2()s something on
    # them when asked to), so a new fd created on 0 reaches the child like
    # the others.  With stdin=PIPE or DEVNULL, fd 0 would be replaced and
    # could not be checked.
    subprocess.run(_child_argv(report, wanted), close_fds=False, check=True,
                   timeout=support.SHORT_TIMEOUT)


def launch_posix_spawn(report, wanted):
    argv = _child_argv(report, wanted)
    pid = os.posix_spawn(argv[0], argv, os.environ)
    support.wait_process(pid, exitcode=0)


def launch_fork_execv(report, wanted):
    argv = _child_argv(report, wanted)
    with warnings.catch_warnings():
        # "This process is multi-threaded, use of fork() may lead to
        # deadlocks": the child only calls execv().
        warnings.simplefilter('ignore', DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    support.wait_process(pid, exitcode=0)


def launch_multiprocessing_spawn(report, wanted):
    import multiprocessing
    ctx = multiprocessing.get_context('spawn')
    # exec is pickled by name: the child needs no importable test module.
    namespace = {'__name__': '_cloexec_child', 'ARGS': (report, wanted)}
    proc = ctx.Process(target=exec, args=(_CHILD_SCRIPT, namespace))
    proc.start()
    proc.join(support.SHORT_TIMEOUT)
    if proc.exitcode != 0:
        proc.kill()
        proc.join()
        raise AssertionError(f'spawned child failed: {proc.exitcode}')


LAUNCHERS = {
    'subprocess': launch_subprocess,
    'posix_spawn': launch_posix_spawn,
    'fork+execv': launch_fork_execv,
    'multiprocessing spawn': launch_multiprocessing_spawn,
}
if not hasattr(os, 'posix_spawn'):
    del LAUNCHERS['posix_spawn']


# --- The fd-creating functions -------------------------------------------

class Fixture:
    """What the calls need, and what closes the fds they create.

    Its own fds (the listening socket, the unix pair, the sources of dup())
    are close-on-exec, so that the child cannot hold the file of a tested
    fd through another fd.  Each call opens its own file, so that no two
    tested fds share a key.
    """

    def __init__(self):
        self._outer = contextlib.ExitStack()
        self.stack = self._outer
        self.dir = self._outer.enter_context(tempfile.TemporaryDirectory())
        self._count = 0
        self.listener = self.obj(socket.socket(cloexec=True))
        self.listener.bind((socket_helper.HOST, 0))
        self.listener.listen()
        self.sender, self.receiver = map(self.obj, socket.socketpair(
            socket.AF_UNIX, socket.SOCK_DGRAM, cloexec=True))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._outer.close()

    @contextlib.contextmanager
    def scope(self):
        """Close, at the end of the block, what was created in it."""
        saved = self.stack
        with contextlib.ExitStack() as self.stack:
            try:
                yield
            finally:
                self.stack = saved

    def new_path(self, suffix=''):
        self._count += 1
        path = os.path.join(self.dir, f'{self._count}{suffix}')
        with open(path, 'xb', cloexec=True):
            pass
        return path

    def fd(self, fd):
        self.stack.callback(os.close, fd)
        return fd

    def obj(self, obj):
        self.stack.callback(obj.close)
        return obj

    def source(self):
        return self.fd(os.open(self.new_path(), os.O_RDONLY, cloexec=True))


# Each entry: prepare(fx, flag) -> state, made before the call is measured
# (flag is the close-on-exec flag an already existing fd is given), and
# call(fx, state, **kw) -> the list of the new fds.

def _nothing(fx, flag):
    return None


def _new_path(fx, flag):
    return fx.new_path()


def _os_open(fx, path, **kw):
    return [fx.fd(os.open(path, os.O_RDONLY, **kw))]


def _open(fx, path, **kw):
    return [fx.obj(open(path, 'rb', buffering=0, **kw)).fileno()]


def _fileio(fx, path, **kw):
    return [fx.obj(io.FileIO(path, **kw)).fileno()]


def _pyio_open(fx, path, **kw):
    return [fx.obj(_pyio.open(path, 'rb', buffering=0, **kw)).fileno()]


def _pyio_fileio(fx, path, **kw):
    return [fx.obj(_pyio.FileIO(path, **kw)).fileno()]


def _pipe(fx, state, **kw):
    return [fx.fd(fd) for fd in os.pipe(**kw)]


def _source(fx, flag):
    return fx.source()


def _dup(fx, source, **kw):
    return [fx.fd(os.dup(source, **kw))]


def _dup2_prepare(fx, flag):
    # The target is a free number (the highest open one + 1): nothing else
    # is opened before the call.
    return [fx.source(), max(open_fds()) + 1]


def _dup2(fx, state, **kw):
    source, target = state
    os.dup2(source, target, **kw)
    return [fx.fd(target)]


def _openpty(fx, state, **kw):
    return [fx.fd(fd) for fd in os.openpty(**kw)]


def _forkpty(fx, state, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        pid, fd = os.forkpty(**kw)
    if pid == 0:
        os._exit(0)
    support.wait_process(pid, exitcode=0)
    return [fx.fd(fd)]      # the master fd, in the parent


def _existing_fd(fx, flag):
    return fx.fd(os.open(fx.new_path(), os.O_RDONLY, cloexec=flag))


def _fdopen(fx, fd, **kw):
    fx.obj(os.fdopen(fd, 'rb', buffering=0, closefd=False, **kw))
    return [fd]


def _open_fd(fx, fd, **kw):
    fx.obj(open(fd, 'rb', buffering=0, closefd=False, **kw))
    return [fd]


def _existing_socket(fx, flag):
    return fx.fd(socket.socket(cloexec=flag).detach())


def _socket_fileno(fx, fd, **kw):
    sock = socket.socket(fileno=fd, **kw)
    fx.stack.callback(sock.detach)
    return [fd]


def _socket(fx, state, **kw):
    return [fx.obj(socket.socket(**kw)).fileno()]


def _accept_prepare(fx, flag):
    client = fx.obj(socket.socket(cloexec=True))
    client.connect(fx.listener.getsockname())
    return client


def _accept(fx, client, **kw):
    conn, addr = fx.listener.accept(**kw)
    return [fx.obj(conn).fileno()]


def _socket_source(fx, flag):
    return fx.obj(socket.socket(cloexec=True))


def _socket_dup(fx, sock, **kw):
    return [fx.obj(sock.dup(**kw)).fileno()]


def _fromfd(fx, sock, **kw):
    new = socket.fromfd(sock.fileno(), sock.family, sock.type, **kw)
    return [fx.obj(new).fileno()]


def _socketpair(fx, state, **kw):
    return [fx.obj(sock).fileno() for sock in socket.socketpair(**kw)]


def _send_fd(fx, flag):
    # One datagram with one fd in SCM_RIGHTS; the sent fd is closed, so the
    # file is only held by the message, then by the received fd.
    fd = os.open(fx.new_path(), os.O_RDONLY, cloexec=True)
    try:
        socket.send_fds(fx.sender, [b'x'], [fd])
        return fd_key(fd)
    finally:
        os.close(fd)


def _rights(ancdata):
    fds = array.array('i')
    for level, type_, data in ancdata:
        if level == socket.SOL_SOCKET and type_ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return list(fds)


def _recvmsg(fx, state, **kw):
    msg, ancdata, flags, addr = fx.receiver.recvmsg(
        1, socket.CMSG_SPACE(array.array('i').itemsize), **kw)
    return [fx.fd(fd) for fd in _rights(ancdata)]


def _recvmsg_into(fx, state, **kw):
    nbytes, ancdata, flags, addr = fx.receiver.recvmsg_into(
        [bytearray(1)], socket.CMSG_SPACE(array.array('i').itemsize), **kw)
    return [fx.fd(fd) for fd in _rights(ancdata)]


def _recv_fds(fx, state, **kw):
    msg, fds, flags, addr = socket.recv_fds(fx.receiver, 1, 1, **kw)
    return [fx.fd(fd) for fd in fds]


def _epoll(fx, state, **kw):
    return [fx.obj(select.epoll(**kw)).fileno()]


def _kqueue(fx, state, **kw):
    return [fx.obj(select.kqueue(**kw)).fileno()]


def _devpoll(fx, state, **kw):
    return [fx.obj(select.devpoll(**kw)).fileno()]


# name: (prepare, call, how the fd comes)
NEW, EXISTING, RECEIVED = 'new', 'existing', 'received'
CALLS = {
    'os.open': (_new_path, _os_open, NEW),
    'open': (_new_path, _open, NEW),
    'io.FileIO': (_new_path, _fileio, NEW),
    '_pyio.open': (_new_path, _pyio_open, NEW),
    '_pyio.FileIO': (_new_path, _pyio_fileio, NEW),
    'os.pipe': (_nothing, _pipe, NEW),
    'os.dup': (_source, _dup, NEW),
    'os.dup2': (_dup2_prepare, _dup2, NEW),
    'os.openpty': (_nothing, _openpty, NEW),
    'os.forkpty': (_nothing, _forkpty, NEW),
    'os.fdopen': (_existing_fd, _fdopen, EXISTING),
    'open(fd)': (_existing_fd, _open_fd, EXISTING),
    'socket.socket': (_nothing, _socket, NEW),
    'socket(fileno=)': (_existing_socket, _socket_fileno, EXISTING),
    'socket.accept': (_accept_prepare, _accept, NEW),
    'socket.dup': (_socket_source, _socket_dup, NEW),
    'socket.fromfd': (_socket_source, _fromfd, NEW),
    'socket.socketpair': (_nothing, _socketpair, NEW),
    'socket.recvmsg': (_send_fd, _recvmsg, RECEIVED),
    'socket.recvmsg_into': (_send_fd, _recvmsg_into, RECEIVED),
    'socket.recv_fds': (_send_fd, _recv_fds, RECEIVED),
    'select.epoll': (_nothing, _epoll, NEW),
    'select.kqueue': (_nothing, _kqueue, NEW),
    'select.devpoll': (_nothing, _devpoll, NEW),
}
for _name, _module, _attr in (('os.openpty', os, 'openpty'),
                              ('os.forkpty', os, 'forkpty'),
                              ('socket.recvmsg', socket.socket, 'recvmsg'),
                              ('socket.recvmsg_into', socket.socket,
                               'recvmsg_into'),
                              ('socket.recv_fds', socket, 'recv_fds'),
                              ('select.epoll', select, 'epoll'),
                              ('select.kqueue', select, 'kqueue'),
                              ('select.devpoll', select, 'devpoll')):
    if not hasattr(_module, _attr):
        del CALLS[_name]
if not hasattr(socket, 'AF_UNIX'):
    for _name in ('socket.recvmsg', 'socket.recvmsg_into', 'socket.recv_fds'):
        CALLS.pop(_name, None)


# --- The expected table ---------------------------------------------------

# mode: (sys.getdefaultcloexec() during the call, the keyword arguments).
# An explicit cloexec is tested against the opposite default, to show that
# it wins.
MODES = {
    'default': (False, {}),
    '-e': (True, {}),
    'cloexec=True': (False, {'cloexec': True}),
    'cloexec=False': (True, {'cloexec': False}),
}


def new_fd_flag(mode):
    """The close-on-exec flag a new fd gets in mode."""
    default, kw = MODES[mode]
    return bool(kw.get('cloexec', default))


# An existing fd (os.fdopen(fd), open(fd), socket(fileno=fd)) is given the
# flag a new fd would NOT get in the mode before the call: with cloexec
# omitted, its flag must not move, so the default column reads the other
# way round.

# Does a child started by exec() hold the fd?  Rows: how the fd comes;
# columns: MODES.  The parent's fds 0-2 are held by every child, with
# every launcher (Rule 2: no creating function leaves the flag on them).
#              default  -e     cloexec=True  cloexec=False
_EXEC_ROWS = {
    NEW:      (True,    False, False,        True),
    RECEIVED: (True,    False, False,        True),
    EXISTING: (False,   True,  False,        True),
}
# multiprocessing's spawn starts its child with _posixsubprocess and
# close_fds=True (util.spawnv_passfds()): every fd above 2 but the ones it
# passes on purpose is closed, whatever its flag, so none of the tested fds
# is inherited in any mode.  0-2 are passed on as they are (see StdFdTests).
_SPAWN_ROW = (False, False, False, False)

EXPECTED = {
    launcher: {
        name: dict(zip(MODES, _SPAWN_ROW if launcher == 'multiprocessing spawn'
                       else _EXEC_ROWS[kind]))
        for name, (prepare, call, kind) in CALLS.items()
    }
    for launcher in LAUNCHERS
}
STD_FDS = {0: 'stdin (fd 0)', 1: 'stdout (fd 1)', 2: 'stderr (fd 2)'}

# 22 functions x 4 modes x 4 launchers = 352 cells on Linux.
MATRIX_CELLS = len(CALLS) * len(MODES) * len(LAUNCHERS)


def observe(launcher, entries):
    """Start a child by launcher and tell which of the parent's fds it holds.

    entries is a list of (label, fd, expected).  Return the dicts
    ({label: held}, {label: expected}) and the child's sys.flags.cloexec.
    """
    parent = open_fds()
    wanted = [(label, parent[fd], fd) for label, fd, expected in entries]
    # The key must name one file of the parent that the child may inherit,
    # or the child could hold it through another fd.
    tested = [key for label, key, fd in wanted if fd not in STD_FDS]
    if len(set(tested)) != len(tested):
        raise RuntimeError(f'two tested fds share a key: {wanted}')
    ours = {fd for label, key, fd in wanted}
    for fd, key in parent.items():
        if fd not in ours and key in tested and not get_flag(fd):
            raise RuntimeError(f'inheritable fd {fd} has the key {key} '
                               f'of a tested fd')
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, 'report.json')
        LAUNCHERS[launcher](report, wanted)
        with open(report, cloexec=True) as f:
            result = json.load(f)
    held = result['held']
    observed = {f'{label} = fd {fd}': bool(held[label])
                for label, key, fd in wanted}
    expected = {f'{label} = fd {fd}': expected
                for label, fd, expected in entries}
    return observed, expected, result['cloexec']


def matrix_column(launcher, mode, set_default=True):
    """Create the fds of every function in mode and observe a child.

    With set_default false, sys.getdefaultcloexec() is used as it is (the
    real -e run).
    """
    default, kw = MODES[mode]
    table = EXPECTED[launcher]
    with Fixture() as fx, contextlib.ExitStack() as stack:
        if set_default:
            stack.enter_context(cloexec_helper.default_cloexec(default))
        elif sys.getdefaultcloexec() != default:
            raise RuntimeError(f'{mode} needs the default {default}')
        entries = []
        for name, (prepare, call, kind) in CALLS.items():
            state = prepare(fx, not new_fd_flag(mode))
            fds = call(fx, state, **kw)
            if min(fds) in STD_FDS:
                raise RuntimeError(f'{name} created fd {min(fds)}: '
                                   f'0-2 must be open in the test process')
            for i, fd in enumerate(fds):
                label = name if len(fds) == 1 else f'{name}[{i}]'
                entries.append((label, fd, table[name][mode]))
        open_now = open_fds()
        for fd, label in STD_FDS.items():
            if fd in open_now:
                # Rule 2 for the parent's own standard streams: they are
                # inheritable and every launcher passes them on as they are.
                entries.append((label, fd, True))
        return observe(launcher, entries)


def check_real_e():
    """Run in a child started with -e: the columns whose default is True."""
    assert sys.flags.cloexec == 1 and sys.getdefaultcloexec() is True
    failures = []
    for launcher in LAUNCHERS:
        for mode in [mode for mode, (default, kw) in MODES.items()
                     if default]:
            observed, expected, child_cloexec = matrix_column(
                launcher, mode, set_default=False)
            if observed != expected:
                diff = {label: held for label, held in observed.items()
                        if held != expected[label]}
                failures.append(f'{launcher}, {mode}: held is not as '
                                f'expected for {diff}')
            if launcher == 'multiprocessing spawn' and child_cloexec != 1:
                # spawn passes -e on (_args_from_interpreter_flags())
                failures.append(f'spawned child: sys.flags.cloexec '
                                f'{child_cloexec}')
    if failures:
        raise AssertionError('\n'.join(failures))


def _requires_launcher(launcher):
    if launcher not in LAUNCHERS:
        return unittest.skip(f'{launcher} is not available')
    return lambda func: func


# --- The tests -------------------------------------------------------------

@support.requires_subprocess()
class LeakMatrixTests(unittest.TestCase):
    """EXPECTED is what each launcher's child holds, cell by cell."""

    maxDiff = None

    def test_matrix_size(self):
        self.assertEqual(MATRIX_CELLS,
                         sum(len(row) for table in EXPECTED.values()
                             for row in table.values()))
        if sys.platform.startswith('linux'):
            # no kqueue, no devpoll
            self.assertEqual(MATRIX_CELLS, 22 * 4 * 4)

    def check_launcher(self, launcher):
        for mode in MODES:
            with self.subTest(launcher=launcher, mode=mode):
                observed, expected, child_cloexec = matrix_column(launcher,
                                                                  mode)
                self.assertEqual(observed, expected)

    @_requires_launcher('subprocess')
    def test_subprocess(self):
        self.check_launcher('subprocess')

    @_requires_launcher('posix_spawn')
    def test_posix_spawn(self):
        self.check_launcher('posix_spawn')

    @_requires_launcher('fork+execv')
    def test_fork_execv(self):
        self.check_launcher('fork+execv')

    def test_multiprocessing_spawn(self):
        support.skip_if_broken_multiprocessing_synchronize()
        self.check_launcher('multiprocessing spawn')

    def test_real_e_option(self):
        # The -e columns once more, in a child started with -e, where
        # sys.getdefaultcloexec() is True from start-up, not set by a test.
        code = ('import importlib.util\n'
                f'spec = importlib.util.spec_from_file_location('
                f'"_cloexec_leaks", {__file__!r})\n'
                'mod = importlib.util.module_from_spec(spec)\n'
                'spec.loader.exec_module(mod)\n'
                'mod.check_real_e()\n')
        script_helper.assert_python_ok('-e', '-c', code)


@support.requires_subprocess()
class StdFdTests(unittest.TestCase):
    """A new fd on 0 is inherited even with cloexec=True (Rule 2)."""

    maxDiff = None

    def check_fd0(self, launcher, names=CALLS):
        with Fixture() as fx:
            for name in names:
                prepare, call, kind = CALLS[name]
                for mode in ('-e', 'cloexec=True'):
                    default, kw = MODES[mode]
                    with (self.subTest(launcher=launcher, name=name,
                                       mode=mode),
                          cloexec_helper.default_cloexec(default),
                          fx.scope()):
                        if kind != EXISTING:
                            state = prepare(fx, False)
                        with cloexec_helper.std_fd_free(0), fx.scope():
                            if kind == EXISTING:
                                # Made inheritable on 0, it stays so.
                                state = prepare(fx, False)
                            if name == 'os.dup2':
                                state[1] = 0
                            fds = call(fx, state, **kw)
                            self.assertEqual(fds[0], 0)
                            # The other fds (the other end of a pipe, the
                            # pty slave) get the flag.
                            observed, expected, child_cloexec = observe(
                                launcher, [(f'{name}[{i}]', fd, fd == 0)
                                           for i, fd in enumerate(fds)])
                        self.assertEqual(observed, expected)

    @_requires_launcher('subprocess')
    def test_subprocess(self):
        self.check_fd0('subprocess')

    @_requires_launcher('posix_spawn')
    def test_posix_spawn(self):
        self.check_fd0('posix_spawn')

    @_requires_launcher('fork+execv')
    def test_fork_execv(self):
        self.check_fd0('fork+execv')

    def test_multiprocessing_spawn(self):
        support.skip_if_broken_multiprocessing_synchronize()
        # spawnv_passfds() keeps 0-2 (only the fds above are closed), so
        # fd 0 reaches the spawned child too.  One function is enough: the
        # launcher does not depend on it.  Start the resource tracker now,
        # or it would keep the tested fd 0 for the rest of the run.
        from multiprocessing import resource_tracker
        resource_tracker.ensure_running()
        self.check_fd0('multiprocessing spawn', ['os.open', 'os.pipe'])


class BadInputTests(unittest.TestCase):

    def test_bad_bool(self):
        # cloexec=BadBool() raises and creates no fd; what the call would
        # have consumed (a pending connection, a queued fd) is still there.
        for default in (False, True):
            for name, (prepare, call, kind) in CALLS.items():
                with (self.subTest(name=name, default=default),
                      cloexec_helper.default_cloexec(default),
                      Fixture() as fx):
                    state = prepare(fx, False)
                    before = open_fds()
                    with self.assertRaises(ZeroDivisionError):
                        call(fx, state, cloexec=BadBool())
                    self.assertEqual(open_fds(), before)
                    if kind == EXISTING:
                        self.assertFalse(get_flag(state))
                    fds = call(fx, state, cloexec=True)
                    if kind == RECEIVED:
                        self.assertEqual([fd_key(fd) for fd in fds], [state])
                    for fd in fds:
                        self.assertIs(get_flag(fd), fd not in STD_FDS)

    def test_setdefaultcloexec_bad_arguments(self):
        cases = [
            ((), {}, TypeError),
            ((True, False), {}, TypeError),
            ((BadBool(),), {}, ZeroDivisionError),
            ((), {'value': True}, TypeError),
            ((True,), {'flag': True}, TypeError),
        ]
        for default in (False, True):
            for args, kwargs, exc in cases:
                with (self.subTest(default=default, args=args, kwargs=kwargs),
                      cloexec_helper.default_cloexec(default)):
                    with self.assertRaises(exc):
                        sys.setdefaultcloexec(*args, **kwargs)
                    self.assertIs(sys.getdefaultcloexec(), default)

    @support.requires_subprocess()
    def test_pythoncloexec(self):
        code = ('import os, sys\n'
                'fd = os.open(os.devnull, os.O_RDONLY)\n'
                'print(sys.getdefaultcloexec(), sys.flags.cloexec, '
                'os.get_cloexec(fd))')
        on, off = b'True 1 True', b'False 0 False'
        cases = [
            ((), None, off),
            ((), '', off),          # empty: not set
            ((), '0', on),          # any non-empty string, even "0"
            ((), ' ', on),
            ((), '1', on),
            (('-E',), '1', off),    # ignored, like every PYTHON* variable
            (('-I',), ' ', off),
            (('-e',), '', on),      # -e does not need it
            (('-E', '-e'), '0', on),
        ]
        # The environment without its PYTHON* variables, so that a run
        # under -e (PYTHONCLOEXEC=1) does not set it; the others are kept
        # (a sanitizer's options, for one)
        clean = {name: value for name, value in os.environ.items()
                 if not name.startswith('PYTHON')}
        for options, value, expected in cases:
            with self.subTest(options=options, PYTHONCLOEXEC=value):
                env = dict(clean)
                if value is not None:
                    env['PYTHONCLOEXEC'] = value
                rc, out, err = script_helper.assert_python_ok(
                    *options, '-c', code, __cleanenv=True, **env)
                self.assertEqual(out.strip(), expected)


if __name__ == "__main__":
    unittest.main()
