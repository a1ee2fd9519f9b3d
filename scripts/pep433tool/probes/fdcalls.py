"""The fd-creating calls of PEP 433, for the probes that run a built Python.

Each entry of CALLS is ``name: (prepare, call, syscalls, atomic_flag)``:

* ``prepare(fx)`` does what the call needs but must not be measured (connect
  a client before accept(), send an fd before recvmsg()) and returns a state;
* ``call(fx, state, **kw)`` makes exactly one call of the function under
  test, passing ``**kw`` (``cloexec=...`` or nothing), and returns
  ``(fds, closers)``: the fds the call created, and what closes them;
* ``syscalls`` names the system calls that may create the fd (separated by
  spaces: the atomic one first) and ``atomic_flag`` the flag that makes it
  close-on-exec atomically, both as strace spells them.

The module runs on the baseline interpreter too: there, no cloexec keyword is
passed (HAVE_PEP433 is false).
"""

import os
import select
import socket
import sys

HAVE_PEP433 = hasattr(sys, 'getdefaultcloexec')
PATH = os.devnull


class Fixture:
    """What the calls need: an open fd, a listening socket, a unix pair."""

    def __init__(self):
        self.fd = os.open(PATH, os.O_RDONLY)
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.pair = socket.socketpair()

    def close(self):
        os.close(self.fd)
        self.listener.close()
        for sock in self.pair:
            sock.close()


def _nothing(fx):
    return None


def _fds(*fds):
    return list(fds), [lambda fd=fd: os.close(fd) for fd in fds]


def _socks(*socks):
    return [s.fileno() for s in socks], [s.close for s in socks]


def _os_open(fx, state, **kw):
    return _fds(os.open(PATH, os.O_RDONLY, **kw))


def _open(fx, state, **kw):
    f = open(PATH, 'rb', buffering=0, **kw)
    return [f.fileno()], [f.close]


def _pipe(fx, state, **kw):
    return _fds(*os.pipe(**kw))


def _dup(fx, state, **kw):
    return _fds(os.dup(fx.fd, **kw))


def _dup2_prepare(fx):
    return os.open(PATH, os.O_RDONLY)


def _dup2(fx, target, **kw):
    os.dup2(fx.fd, target, **kw)
    return _fds(target)


def _socket(fx, state, **kw):
    return _socks(socket.socket(**kw))


def _socketpair(fx, state, **kw):
    return _socks(*socket.socketpair(**kw))


def _accept_prepare(fx):
    return socket.create_connection(fx.listener.getsockname())


def _accept(fx, client, **kw):
    conn, _ = fx.listener.accept(**kw)
    fds, closers = _socks(conn)
    return fds, closers + [client.close]


def _sock_dup(fx, state, **kw):
    return _socks(fx.listener.dup(**kw))


def _epoll(fx, state, **kw):
    ep = select.epoll(**kw)
    return [ep.fileno()], [ep.close]


def _openpty(fx, state, **kw):
    return _fds(*os.openpty(**kw))


def _recvmsg_prepare(fx):
    socket.send_fds(fx.pair[0], [b'x'], [fx.fd])


def _recvmsg(fx, state, **kw):
    msg, fds, flags, addr = socket.recv_fds(fx.pair[1], 1, 1, **kw)
    return _fds(*fds)


CALLS = {
    'os.open': (_nothing, _os_open, 'openat', 'O_CLOEXEC'),
    'open': (_nothing, _open, 'openat', 'O_CLOEXEC'),
    'os.pipe': (_nothing, _pipe, 'pipe2 pipe', 'O_CLOEXEC'),
    'os.dup': (_nothing, _dup, 'fcntl dup', 'F_DUPFD_CLOEXEC'),
    'os.dup2': (_dup2_prepare, _dup2, 'dup3 dup2', 'O_CLOEXEC'),
    'socket.socket': (_nothing, _socket, 'socket', 'SOCK_CLOEXEC'),
    'socket.socketpair': (_nothing, _socketpair, 'socketpair',
                          'SOCK_CLOEXEC'),
    'socket.accept': (_accept_prepare, _accept, 'accept4 accept',
                      'SOCK_CLOEXEC'),
    'socket.dup': (_nothing, _sock_dup, 'fcntl dup', 'F_DUPFD_CLOEXEC'),
    'select.epoll': (_nothing, _epoll, 'epoll_create1 epoll_create',
                     'EPOLL_CLOEXEC'),
    'socket.recv_fds': (_recvmsg_prepare, _recvmsg, 'recvmsg',
                        'MSG_CMSG_CLOEXEC'),
    # No atomic way: the flag is set after openpty() when it is wanted
    'os.openpty': (_nothing, _openpty, 'openat', None),
}
