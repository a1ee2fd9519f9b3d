"""PEP 433: the fallbacks of cloexec=True for kernels without the atomic flag.

When the close-on-exec flag is wanted, each fd creator asks the kernel for
it atomically (pipe2(O_CLOEXEC), dup3(O_CLOEXEC), SOCK_CLOEXEC,
accept4(SOCK_CLOEXEC)).  A kernel older than Linux 2.6.27 (2.6.28 for
accept4()) refuses these forms, and the creator falls back to the plain
system call followed by ioctl(FIOCLEX), or by fcntl(F_GETFD/F_SETFD) where
the ioctl fails with ENOTTY; most of them remember the refusal.  No
supported kernel runs these paths, so they are tested here by running
children under a seccomp filter that refuses only the atomic forms, and
the ioctl, with the errno that an old kernel gives.  Each child reads the
flag with fcntl(F_GETFD) after every call: cloexec=True still gives the
flag, cloexec=False and the default (False, True with -e) behave as asked,
fds 0, 1 and 2 stay inheritable, and later calls keep working.  The child
also makes the refused system calls itself through ctypes and reports the
errno, so that a filter which does nothing cannot make the tests pass.
Where strace is installed, the system calls of the fallback are checked too.

An ignored O_CLOEXEC (Linux older than 2.6.23) cannot be faked by a filter:
it is simulated by _testinternalcapi.set_open_cloexec_ignored(), when the
interpreter has it.  os.dup() and socket.dup() use F_DUPFD_CLOEXEC, which
has no fallback: the filter can only refuse the ioctl that clears the flag
again on fds 0, 1 and 2.
"""

import errno
import json
import os
import platform
import re
import shutil
import socket
import struct
import subprocess
import sys
import unittest
from test import support
from test.support import import_helper, os_helper


if not sys.platform.startswith('linux'):
    raise unittest.SkipTest('seccomp filters are Linux-only')
if not support.has_subprocess_support:
    raise unittest.SkipTest('needs subprocess')
# The filter is installed by the child, with ctypes.
import_helper.import_module('ctypes')
import_helper.import_module('fcntl')


# Per architecture: seccomp_data.arch (AUDIT_ARCH_*), the system call
# numbers, and the values the filter tests.  Both are little-endian, so the
# low 32 bits of argument i are at offset 16 + 8 * i of seccomp_data.  The
# generic syscall table of aarch64 has no pipe() or dup2(): glibc calls
# pipe2(fds, 0) and dup3(fd, fd2, 0) instead, which the filter lets through,
# as it only refuses the calls carrying the close-on-exec bit.
_ARCHES = {
    'x86_64': {
        'audit_arch': 0xC000003E,
        'nr': {'ioctl': 16, 'socket': 41, 'socketpair': 53,
               'accept4': 288, 'dup3': 292, 'pipe2': 293},
        'strace_names': ('pipe', 'pipe2', 'dup2', 'dup3', 'socket',
                         'socketpair', 'accept', 'accept4', 'open',
                         'openat', 'ioctl', 'fcntl', 'write'),
        'FIOCLEX': 0x5451,
        'FIONCLEX': 0x5450,
    },
    # Not run by the author: the numbers are those of asm-generic/unistd.h.
    'aarch64': {
        'audit_arch': 0xC00000B7,
        'nr': {'ioctl': 29, 'socket': 198, 'socketpair': 199,
               'accept4': 242, 'dup3': 24, 'pipe2': 59},
        'strace_names': ('pipe2', 'dup3', 'socket', 'socketpair', 'accept',
                         'accept4', 'openat', 'ioctl', 'fcntl', 'write'),
        'FIOCLEX': 0x5451,
        'FIONCLEX': 0x5450,
    },
}

_ARCH = None
if struct.calcsize('P') == 8 and sys.byteorder == 'little':
    _ARCH = _ARCHES.get(platform.machine())
if _ARCH is None:
    raise unittest.SkipTest(f'the seccomp filter does not handle '
                            f'{platform.machine()} ({struct.calcsize("P") * 8}'
                            f'-bit, {sys.byteorder}-endian)')

_BITS = {
    'O_CLOEXEC': os.O_CLOEXEC,
    'SOCK_CLOEXEC': socket.SOCK_CLOEXEC,
    'FIOCLEX': _ARCH['FIOCLEX'],
    'FIONCLEX': _ARCH['FIONCLEX'],
}

# The faults: name -> rules (syscall, argument index, value, test, errno),
# test being 'jset' (the argument has one of the bits of value) or 'jeq'.
_FAULTS = {
    # Linux < 2.6.28 has no accept4().  glibc's accept() is the accept
    # syscall, so refusing only accept4(SOCK_CLOEXEC) changes nothing.
    'accept4': [('accept4', 3, 'SOCK_CLOEXEC', 'jset', errno.ENOSYS)],
    # Linux < 2.6.27 has no pipe2().  glibc's pipe() is pipe2(fds, 0): only
    # the atomic form may fail, or the fallback would fail too.
    'pipe2': [('pipe2', 1, 'O_CLOEXEC', 'jset', errno.ENOSYS)],
    # Linux < 2.6.27 has no dup3().
    'dup3': [('dup3', 2, 'O_CLOEXEC', 'jset', errno.ENOSYS)],
    # Linux < 2.6.27 rejects the SOCK_CLOEXEC bit of the type with EINVAL.
    'sock_cloexec': [('socket', 1, 'SOCK_CLOEXEC', 'jset', errno.EINVAL),
                     ('socketpair', 1, 'SOCK_CLOEXEC', 'jset', errno.EINVAL)],
    # Where FIOCLEX is declared but not implemented (Illumos), or denied
    # (SELinux on Android, EACCES), set_inheritable() uses fcntl().
    'ioctl': [('ioctl', 1, 'FIOCLEX', 'jeq', errno.ENOTTY),
              ('ioctl', 1, 'FIONCLEX', 'jeq', errno.ENOTTY)],
}

# The system calls that the child makes itself through ctypes, to show in
# the parent which faults the filter really injects: (label, syscall,
# arguments, the fault that changes its errno, errnos without the fault).
# Each fails with or without the filter and has no side effect.
_PROBES = [
    ('accept4(SOCK_CLOEXEC)', 'accept4', (-1, 0, 0, 'SOCK_CLOEXEC'),
     'accept4', errno.EBADF),
    ('accept4(0)', 'accept4', (-1, 0, 0, 0), None, errno.EBADF),
    ('pipe2(O_CLOEXEC)', 'pipe2', (0, 'O_CLOEXEC'), 'pipe2', errno.EFAULT),
    ('pipe2(0)', 'pipe2', (0, 0), None, errno.EFAULT),
    ('dup3(O_CLOEXEC)', 'dup3', (-1, 100, 'O_CLOEXEC'), 'dup3', errno.EBADF),
    ('dup3(0)', 'dup3', (-1, 100, 0), None, errno.EBADF),
    ('socket(SOCK_CLOEXEC)', 'socket',
     (-1, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0),
     'sock_cloexec', errno.EAFNOSUPPORT),
    ('socket()', 'socket', (-1, socket.SOCK_STREAM, 0),
     None, errno.EAFNOSUPPORT),
    ('socketpair(SOCK_CLOEXEC)', 'socketpair',
     (-1, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0, 0),
     # Linux 4.x and later store the fds (EFAULT) before creating sockets
     'sock_cloexec', (errno.EFAULT, errno.EAFNOSUPPORT)),
    ('ioctl(FIOCLEX)', 'ioctl', (-1, 'FIOCLEX'), 'ioctl', errno.EBADF),
    ('ioctl(FIONCLEX)', 'ioctl', (-1, 'FIONCLEX'), 'ioctl', errno.EBADF),
]

# BPF and seccomp constants (linux/filter.h, linux/seccomp.h)
_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20
_BPF_JEQ_K = 0x05 | 0x10 | 0x00
_BPF_JSET_K = 0x05 | 0x40 | 0x00
_BPF_RET_K = 0x06 | 0x00
_SECCOMP_RET_ALLOW = 0x7fff0000
_SECCOMP_RET_ERRNO = 0x00050000
_OFFSET_NR = 0
_OFFSET_ARCH = 4


def _seccomp_program(faults):
    """Return the BPF program refusing the faults, as (code, jt, jf, k)."""
    allow = (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW)
    program = [
        # A system call of another ABI has other numbers: let it through.
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_BPF_JEQ_K, 1, 0, _ARCH['audit_arch']),
        allow,
    ]
    for fault in faults:
        for syscall, index, value, test, err in _FAULTS[fault]:
            jump = _BPF_JSET_K if test == 'jset' else _BPF_JEQ_K
            program += [
                (_BPF_LD_W_ABS, 0, 0, _OFFSET_NR),
                # another system call: skip the 3 instructions of this rule
                (_BPF_JEQ_K, 0, 3, _ARCH['nr'][syscall]),
                (_BPF_LD_W_ABS, 0, 0, 16 + 8 * index),
                (jump, 0, 1, _BITS[value]),
                (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | err),
            ]
    program.append(allow)
    return program


# The calls each child makes, in this order: (label, keyword arguments,
# whether the new fd must land on fd 0).  The first one is the probe of the
# atomic form; the std ones close fd 0 just before the call.
_CALLS = [
    ('first', {'cloexec': True}, False),
    ('second', {'cloexec': True}, False),
    ('third', {'cloexec': True}, False),
    ('false', {'cloexec': False}, False),
    ('default', {}, False),
    ('std-true', {'cloexec': True}, True),
    ('std-default', {}, True),
    ('std-false', {'cloexec': False}, True),
    ('last', {'cloexec': True}, False),
]

# The same, with the probe landing on fd 0.
_STD_FIRST_CALLS = [
    ('std-first', {'cloexec': True}, True),
    ('after-std', {'cloexec': True}, False),
    ('std-again', {'cloexec': True}, True),
    ('after-std-again', {'cloexec': True}, False),
    ('std-default', {}, True),
    ('default', {}, False),
]

_MODES = {'default': [], '-e': ['-e']}

# The child, run with the configuration as JSON in sys.argv[1].  It is
# self-contained (no test.support): children are many, and must be quick.
_CHILD = r'''
import contextlib
import ctypes
import fcntl
import json
import os
import socket
import sys

config = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_UNAVAILABLE = 77


class sock_filter(ctypes.Structure):
    _fields_ = [('code', ctypes.c_ushort), ('jt', ctypes.c_ubyte),
                ('jf', ctypes.c_ubyte), ('k', ctypes.c_uint32)]


class sock_fprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort),
                ('filter', ctypes.POINTER(sock_filter))]


def install_filter(program):
    insns = (sock_filter * len(program))(*[sock_filter(*i) for i in program])
    prog = sock_fprog(len(program), insns)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        print('prctl(PR_SET_NO_NEW_PRIVS):', os.strerror(err), file=sys.stderr)
        sys.exit(SECCOMP_UNAVAILABLE)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                  ctypes.addressof(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        print('prctl(PR_SET_SECCOMP):', os.strerror(err), file=sys.stderr)
        sys.exit(SECCOMP_UNAVAILABLE)


def raw_errno(nr, args):
    ctypes.set_errno(0)
    res = libc.syscall(ctypes.c_long(nr), *map(ctypes.c_long, args))
    return ctypes.get_errno() if res == -1 else 0


def mark(label):
    # write(-1, label): a marker in strace's output, and nothing else
    try:
        os.write(-1, label.encode())
    except OSError:
        pass


@contextlib.contextmanager
def on_fd0(std):
    # make 0 the lowest free fd for the call, if it must land there
    if std:
        os.close(0)
    yield


SRC = os.open(os.devnull, os.O_RDONLY, cloexec=False)
TARGETS = iter(range(100, 1000))


def new_pipe(kw, std):
    with on_fd0(std):
        fds = list(os.pipe(**kw))
    return fds, fds


def new_dup(kw, std):
    with on_fd0(std):
        fd = os.dup(SRC, **kw)
    return [fd], [fd]


def new_dup2(kw, std):
    # dup2() replaces fd 0 itself
    fd2 = 0 if std else next(TARGETS)
    os.dup2(SRC, fd2, **kw)
    return [fd2], [fd2]


def new_socket(kw, std):
    with on_fd0(std):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, **kw)
    return [sock.fileno()], [sock]


def new_socketpair(kw, std):
    with on_fd0(std):
        pair = socket.socketpair(**kw)
    return [s.fileno() for s in pair], list(pair)


def new_accept(kw, std):
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, cloexec=False)
    client.connect(LISTENER.getsockname())
    with on_fd0(std):
        conn, _ = LISTENER.accept(**kw)
    return [conn.fileno()], [conn, client]


def new_sock_dup(kw, std):
    with on_fd0(std):
        sock = SOCK.dup(**kw)
    return [sock.fileno()], [sock]


def new_openpty(kw, std):
    with on_fd0(std):
        fds = list(os.openpty(**kw))
    return fds, fds


def new_open(kw, std):
    with on_fd0(std):
        fd = os.open(os.devnull, os.O_RDONLY, **kw)
    return [fd], [fd]


def new_fileio(kw, std):
    with on_fd0(std):
        f = open(os.devnull, 'rb', buffering=0, **kw)
    return [f.fileno()], [f]


creator = config['creator']
if creator == 'accept':
    LISTENER = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                             cloexec=False)
    LISTENER.bind(('127.0.0.1', 0))
    LISTENER.listen()
elif creator == 'sock_dup':
    SOCK = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, cloexec=False)
create = globals()['new_' + creator] if creator else None

if config['program'] is not None:
    install_filter(config['program'])
probes = {label: raw_errno(nr, args) for label, nr, args in config['probes']}
if config['open_cloexec_ignored']:
    import _testinternalcapi
    _testinternalcapi.set_open_cloexec_ignored(True)
mark('start')

calls = []
for label, kw, std in config['calls']:
    mark('call ' + label)
    try:
        fds, objs = create(kw, std)
    except OSError as exc:
        mark('check ' + label)
        calls.append({'error': repr(exc)})
        continue
    mark('check ' + label)
    flags = [bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
             for fd in fds]
    calls.append({'fds': fds, 'flags': flags})
    if std:
        for obj in objs:
            if isinstance(obj, int):
                os.close(obj)
            else:
                obj.close()
        fd = os.open(os.devnull, os.O_RDONLY, cloexec=False)
        assert fd == 0, fd
mark('end')
print(json.dumps({'probes': probes, 'calls': calls}))
'''

_SECCOMP_UNAVAILABLE = 77


def _child_config(creator, faults, calls, *, open_cloexec_ignored=False,
                  use_filter=True):
    probes = [(label, _ARCH['nr'][syscall],
               [_BITS.get(arg, arg) for arg in args])
              for label, syscall, args, _, _ in _PROBES]
    return {
        'creator': creator,
        'program': _seccomp_program(faults) if use_filter else None,
        'probes': probes,
        'calls': calls,
        'open_cloexec_ignored': open_cloexec_ignored,
    }


def _run_child(config, mode, strace_args=()):
    cmd = [*strace_args, sys.executable, '-I', *_MODES[mode],
           '-c', _CHILD, json.dumps(config)]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=support.SHORT_TIMEOUT)


def setUpModule():
    proc = _run_child(_child_config(None, [], []), 'default')
    if proc.returncode == _SECCOMP_UNAVAILABLE:
        raise unittest.SkipTest(f'cannot install a seccomp filter: '
                                f'{proc.stderr.strip()}')


_STRACE = shutil.which('strace')
_strace_works = None


def _requires_strace():
    global _strace_works
    if _STRACE is None:
        raise unittest.SkipTest('needs strace')
    if _strace_works is None:
        proc = subprocess.run([_STRACE, '-f', '-qq', '-o', os.devnull,
                               sys.executable, '-I', '-c', 'pass'],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=support.SHORT_TIMEOUT)
        _strace_works = (proc.returncode == 0)
    if not _strace_works:
        raise unittest.SkipTest('strace cannot trace a child here')


_STRACE_LINE = re.compile(r'(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\((.*)\)'
                          r'\s+=\s+(-1 (\w+)|\S+)')
_MARKER = re.compile(r'-1, "(call|check|start|end) ?([\w-]*)"')


def _token(name, args):
    """Return a short name for a traced system call, or None to ignore it.

    The plain forms are named alike whatever the libc calls: pipe2(fds, 0)
    is 'pipe', dup3(fd, fd2, 0) 'dup2', accept4(..., 0) 'accept'.
    """
    args = args.split(', ')
    if name in ('pipe', 'pipe2'):
        return 'pipe2(O_CLOEXEC)' if 'O_CLOEXEC' in args[-1] else 'pipe'
    if name in ('dup2', 'dup3'):
        return 'dup3(O_CLOEXEC)' if 'O_CLOEXEC' in args[-1] else 'dup2'
    if name in ('accept', 'accept4'):
        return ('accept4(SOCK_CLOEXEC)' if 'SOCK_CLOEXEC' in args[-1]
                else 'accept')
    if name in ('socket', 'socketpair'):
        return (f'{name}(SOCK_CLOEXEC)' if 'SOCK_CLOEXEC' in args[1]
                else name)
    if name in ('open', 'openat'):
        flags = args[2] if name == 'openat' else args[1]
        return 'open(O_CLOEXEC)' if 'O_CLOEXEC' in flags else 'open'
    if name in ('ioctl', 'fcntl') and args[1] in ('FIOCLEX', 'FIONCLEX',
                                                  'F_GETFD', 'F_SETFD',
                                                  'F_DUPFD_CLOEXEC'):
        return f'{name}({args[1]})'
    return None


def _parse_strace(text, only_path=None):
    """Return {call label: [tokens]}, the system calls made by each call.

    A token is the name of the call with the flag that matters, followed by
    the errno name if it failed: 'pipe2(O_CLOEXEC) ENOSYS', 'pipe',
    'ioctl(FIOCLEX)', 'fcntl(F_SETFD)'.

    With only_path, only the open() of that path and the ioctl()/fcntl()
    calls on the fds it returned count: a debug build opens other files
    between the markers.
    """
    calls = {}
    current = None
    fds = set()
    for line in text.splitlines():
        m = _STRACE_LINE.match(line)
        if m is None:
            continue
        name, args, _, err = m.groups()
        if name == 'write':
            marker = _MARKER.match(args)
            if marker is not None:
                kind, label = marker.groups()
                current = label if kind == 'call' else None
                if current is not None:
                    calls[current] = []
            continue
        if current is None:
            continue
        token = _token(name, args)
        if token is None:
            continue
        if only_path is not None:
            if name in ('open', 'openat'):
                if f'"{only_path}"' not in args:
                    continue
                if not err:
                    fds.add(m.group(3))
            elif args.split(', ')[0] not in fds:
                continue
        calls[current].append(f'{token} {err}' if err else token)
    return calls


def _check_probes(testcase, probes, faults):
    """Check that the child saw the faults, and only them."""
    for label, _, _, fault, natural in _PROBES:
        if fault in faults:
            expected = {_FAULTS[fault][0][4]}
        elif isinstance(natural, tuple):
            expected = set(natural)
        else:
            expected = {natural}
        testcase.assertIn(errno.errorcode.get(probes[label], probes[label]),
                          {errno.errorcode[err] for err in expected},
                          f'errno of {label} in the child under {faults}')


class FallbackTests:
    """Mixin: the tests of one fd creator under the ioctl fault.

    Subclasses set creator, the name of new_<creator>() in the child, and
    nfds, the number of fds it creates.
    """

    creator = None
    nfds = 1
    atomic_fault = None

    def run_child(self, faults, mode, calls=_CALLS, **kwargs):
        """Run the calls in a child under faults; check them, and the probes.

        Return the child's report.
        """
        config = _child_config(self.creator, faults, calls, **kwargs)
        proc = _run_child(config, mode)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = json.loads(proc.stdout)
        self.check_probes(report['probes'], faults)
        self.check_calls(report['calls'], calls, mode)
        return report

    def check_probes(self, probes, faults):
        # The child saw the faults, and only them
        _check_probes(self, probes, faults)

    def check_calls(self, results, calls, mode):
        default = (mode == '-e')
        self.assertEqual(len(results), len(calls))
        for (label, kw, std), result in zip(calls, results):
            with self.subTest(call=label, kwargs=kw):
                self.assertNotIn('error', result)
                fds = result['fds']
                self.assertEqual(len(fds), self.nfds)
                if std:
                    self.assertIn(0, fds)
                want = kw.get('cloexec', default)
                # 0, 1 and 2 never get the flag
                expected = [want and fd > 2 for fd in fds]
                self.assertEqual(dict(zip(fds, result['flags'])),
                                 dict(zip(fds, expected)))

    def run_modes(self, faults, calls=_CALLS, **kwargs):
        for mode in _MODES:
            with self.subTest(mode=mode, faults=faults):
                self.run_child(faults, mode, calls, **kwargs)

    def test_ioctl_refused(self):
        # ioctl(FIOCLEX/FIONCLEX) fails with ENOTTY: fcntl() is used, here
        # to clear the flag again on fd 0 (and to set it in the fallbacks)
        self.run_modes(['ioctl'])

    def test_std_fd_first(self):
        # The first call (the probe of the atomic form, if any) lands on 0
        faults = ['ioctl']
        if self.atomic_fault is not None:
            faults.insert(0, self.atomic_fault)
        self.run_modes(faults, _STD_FIRST_CALLS)


class AtomicFallbackTests(FallbackTests):
    """Mixin: the tests of a creator whose atomic form can be refused.

    Subclasses also set atomic_fault (a key of _FAULTS), the tokens of the
    refused atomic call and of the plain call (see _parse_strace()), and
    remembers: whether the creator remembers the refusal, so that the later
    calls go straight to the plain form.
    """

    atomic_error = None
    plain = None
    remembers = True

    def test_atomic_refused(self):
        self.run_modes([self.atomic_fault])

    def test_atomic_and_ioctl_refused(self):
        self.run_modes([self.atomic_fault, 'ioctl'])

    def expected_trace(self, mode, ioctl_fault):
        """Return {label: tokens} that the fallback makes for _CALLS."""
        default = (mode == '-e')
        ioctl_failed = False
        refused = False
        expected = {}
        for label, kw, std in _CALLS:
            tokens = expected[label] = []
            want = kw.get('cloexec', default)
            if want and (not refused or not self.remembers):
                tokens.append(self.atomic_error)
                refused = True
            tokens.append(self.plain)
            if not want:
                continue
            # The flag is set on each new fd but 0, which is left alone
            for _ in range(self.nfds - std):
                if not ioctl_fault:
                    tokens.append('ioctl(FIOCLEX)')
                    continue
                if not ioctl_failed:
                    tokens.append('ioctl(FIOCLEX) ENOTTY')
                    ioctl_failed = True
                tokens += ['fcntl(F_GETFD)', 'fcntl(F_SETFD)']
        return expected

    def test_strace(self):
        _requires_strace()
        names = set(_ARCH['strace_names'])
        for mode, faults in [('default', [self.atomic_fault]),
                             ('-e', [self.atomic_fault, 'ioctl'])]:
            with self.subTest(mode=mode, faults=faults):
                path = os_helper.TESTFN + '.strace'
                self.addCleanup(os_helper.unlink, path)
                config = _child_config(self.creator, faults, _CALLS)
                strace = [_STRACE, '-f', '-qq', '-o', path, '-e',
                          'trace=' + ','.join(sorted(names & self.traced))]
                proc = _run_child(config, mode, strace)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                report = json.loads(proc.stdout)
                self.check_probes(report['probes'], faults)
                self.check_calls(report['calls'], _CALLS, mode)
                with open(path) as f:
                    trace = _parse_strace(f.read())
                expected = self.expected_trace(mode, 'ioctl' in faults)
                for label, tokens in expected.items():
                    self.assertEqual(trace.get(label), tokens,
                                     f'system calls of the {label!r} call')


class PipeTests(AtomicFallbackTests, unittest.TestCase):
    # pipe2(O_CLOEXEC) fails with ENOSYS: pipe(), then the flag on both
    # fds.  os.pipe() does not remember it (nor does 3.13): every call with
    # cloexec=True tries pipe2(O_CLOEXEC) again.
    creator = 'pipe'
    nfds = 2
    atomic_fault = 'pipe2'
    atomic_error = 'pipe2(O_CLOEXEC) ENOSYS'
    plain = 'pipe'
    remembers = False
    traced = {'pipe', 'pipe2', 'ioctl', 'fcntl', 'write'}


class Dup2Tests(AtomicFallbackTests, unittest.TestCase):
    # dup3(O_CLOEXEC) fails with ENOSYS: dup2(), then the flag; dup3_works
    # remembers it.  dup2() onto 0, 1 or 2 never tries dup3().
    creator = 'dup2'
    atomic_fault = 'dup3'
    atomic_error = 'dup3(O_CLOEXEC) ENOSYS'
    plain = 'dup2'
    traced = {'dup2', 'dup3', 'ioctl', 'fcntl', 'write'}


class SocketTests(AtomicFallbackTests, unittest.TestCase):
    # socket(SOCK_CLOEXEC) fails with EINVAL: socket() without it, then the
    # flag; sock_cloexec_works remembers it.
    creator = 'socket'
    atomic_fault = 'sock_cloexec'
    atomic_error = 'socket(SOCK_CLOEXEC) EINVAL'
    plain = 'socket'
    traced = {'socket', 'ioctl', 'fcntl', 'write'}


class SocketpairTests(AtomicFallbackTests, unittest.TestCase):
    # As socket(), with which it shares sock_cloexec_works.
    creator = 'socketpair'
    nfds = 2
    atomic_fault = 'sock_cloexec'
    atomic_error = 'socketpair(SOCK_CLOEXEC) EINVAL'
    plain = 'socketpair'
    traced = {'socketpair', 'ioctl', 'fcntl', 'write'}


class AcceptTests(AtomicFallbackTests, unittest.TestCase):
    # accept4(SOCK_CLOEXEC) fails with ENOSYS: accept(), then the flag;
    # accept4_works remembers it.
    creator = 'accept'
    atomic_fault = 'accept4'
    atomic_error = 'accept4(SOCK_CLOEXEC) ENOSYS'
    plain = 'accept'
    traced = {'accept', 'accept4', 'ioctl', 'fcntl', 'write'}


class DupTests(FallbackTests, unittest.TestCase):
    # fcntl(F_DUPFD_CLOEXEC) has no fallback (as in 3.13): only the ioctl
    # clearing the flag again on fd 0 can be refused.
    creator = 'dup'


class SocketDupTests(FallbackTests, unittest.TestCase):
    # socket.dup() uses F_DUPFD_CLOEXEC too: no atomic fault is possible.
    creator = 'sock_dup'


@unittest.skipUnless(hasattr(os, 'openpty'), 'needs os.openpty()')
class OpenptyTests(FallbackTests, unittest.TestCase):
    # openpty() has no atomic form: the flag is always set afterwards.
    creator = 'openpty'
    nfds = 2

    def setUp(self):
        try:
            master, slave = os.openpty()
        except OSError as exc:
            self.skipTest(f'os.openpty() fails: {exc}')
        os.close(master)
        os.close(slave)


class OpenCloexecIgnoredTests(FallbackTests):
    """Mixin: O_CLOEXEC ignored by the kernel (Linux older than 2.6.23).

    A filter cannot make the kernel ignore a flag:
    _testinternalcapi.set_open_cloexec_ignored(True) strips O_CLOEXEC from
    the flags given to open() and makes the next call probe again, so the
    probe of _Py_open_cloexec_works finds no flag and the later calls set
    it with ioctl(FIOCLEX), or fcntl().
    """

    def require_switch(self):
        _testinternalcapi = import_helper.import_module('_testinternalcapi')
        if not hasattr(_testinternalcapi, 'set_open_cloexec_ignored'):
            self.skipTest('needs _testinternalcapi.set_open_cloexec_ignored()')

    def test_open_cloexec_ignored(self):
        self.require_switch()
        self.run_modes([], open_cloexec_ignored=True)

    def test_open_cloexec_ignored_and_ioctl_refused(self):
        self.require_switch()
        self.run_modes(['ioctl'], open_cloexec_ignored=True)

    def test_open_cloexec_ignored_std_fd_first(self):
        self.require_switch()
        self.run_modes(['ioctl'], _STD_FIRST_CALLS, open_cloexec_ignored=True)

    def test_strace_open_cloexec_ignored(self):
        self.require_switch()
        _requires_strace()
        # The probe (F_GETFD) runs once; O_CLOEXEC is still asked for, so
        # the flag is cleared again on fd 0 (FIONCLEX, or F_GETFD alone
        # when fcntl() finds it clear).
        ioctl_ok = ['ioctl(FIOCLEX)']
        fcntl_ok = ['fcntl(F_GETFD)', 'fcntl(F_SETFD)']
        cases = [
            ('default', [], {
                'first': ['open', 'fcntl(F_GETFD)', 'ioctl(FIOCLEX)'],
                'second': ['open', *ioctl_ok],
                'third': ['open', *ioctl_ok],
                'false': ['open'],
                'default': ['open'],
                'std-true': ['open', 'ioctl(FIONCLEX)'],
                'std-default': ['open'],
                'std-false': ['open'],
                'last': ['open', *ioctl_ok],
            }),
            ('-e', ['ioctl'], {
                'first': ['open', 'fcntl(F_GETFD)', 'ioctl(FIOCLEX) ENOTTY',
                          *fcntl_ok],
                'second': ['open', *fcntl_ok],
                'third': ['open', *fcntl_ok],
                'false': ['open'],
                'default': ['open', *fcntl_ok],
                'std-true': ['open', 'fcntl(F_GETFD)'],
                'std-default': ['open', 'fcntl(F_GETFD)'],
                'std-false': ['open'],
                'last': ['open', *fcntl_ok],
            }),
        ]
        names = set(_ARCH['strace_names'])
        traced = {'open', 'openat', 'ioctl', 'fcntl', 'write'}
        for mode, faults, expected in cases:
            with self.subTest(mode=mode, faults=faults):
                path = os_helper.TESTFN + '.strace'
                self.addCleanup(os_helper.unlink, path)
                config = _child_config(self.creator, faults, _CALLS,
                                       open_cloexec_ignored=True)
                strace = [_STRACE, '-f', '-qq', '-o', path, '-e',
                          'trace=' + ','.join(sorted(names & traced))]
                proc = _run_child(config, mode, strace)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                report = json.loads(proc.stdout)
                self.check_calls(report['calls'], _CALLS, mode)
                with open(path) as f:
                    trace = _parse_strace(f.read(), only_path=os.devnull)
                for label, tokens in expected.items():
                    self.assertEqual(trace.get(label), tokens,
                                     f'system calls of the {label!r} call')


class OpenTests(OpenCloexecIgnoredTests, unittest.TestCase):
    creator = 'open'


class FileIOTests(OpenCloexecIgnoredTests, unittest.TestCase):
    creator = 'fileio'


class FilterTests(unittest.TestCase):
    """The filter itself: precise, and active only where installed."""

    def probes(self, faults, use_filter=True):
        config = _child_config(None, faults, [], use_filter=use_filter)
        proc = _run_child(config, 'default')
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)['probes']

    def test_no_filter(self):
        # Without a filter, every probe fails for its natural reason: the
        # errno of a fault cannot come from the arguments.
        _check_probes(self, self.probes([], use_filter=False), [])

    def test_each_fault(self):
        for fault in _FAULTS:
            with self.subTest(fault=fault):
                _check_probes(self, self.probes([fault]), [fault])

    def test_all_faults(self):
        _check_probes(self, self.probes(list(_FAULTS)), list(_FAULTS))


if __name__ == '__main__':
    unittest.main()
