"""PEP 433: selectors and asyncio create their own fds close-on-exec.

Whatever sys.getdefaultcloexec() says, the fd of a selector (epoll, devpoll,
kqueue) and every fd an asyncio event loop creates for its own machinery
(its selector, its self-pipe, the sockets of create_server() and
start_server(), the sockets it accepts, the sockets it creates for
create_connection(), open_connection(), create_unix_connection() and
create_datagram_endpoint()) are close-on-exec.  A socket the caller passes
in (sock=) keeps its flag; the sockets accepted on it are asyncio's own, even
when its class has the accept() of Python 3.13, without cloexec, and so are
the sockets asyncio creates when gevent or eventlet have replaced
socket.socket.  Each test runs under both defaults, and an exec'd child is
checked not to hold the fds, identified by (st_dev, st_ino).
"""

import asyncio
import os
import select
import selectors
import socket
import subprocess
import sys
import unittest
from test import support
from test.support import os_helper, socket_helper
from test.support.cloexec_helper import get_flag
from test.test_cloexec_stdlib import BothDefaults, Socket313, socket313

if not hasattr(os, 'fork') or sys.platform == 'win32':
    raise unittest.SkipTest('POSIX fd inheritance only')

HOST = socket_helper.HOST

_REPORT_INODES = '''\
import os
for fd in range(3, os.sysconf('SC_OPEN_MAX')):
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    print(st.st_dev, st.st_ino)
'''


def tearDownModule():
    asyncio.set_event_loop_policy(None)


def file_ids(fds):
    """{(st_dev, st_ino): fd} of fds."""
    ids = {}
    for fd in fds:
        st = os.fstat(fd)
        ids[(st.st_dev, st.st_ino)] = fd
    return ids


def held_by_child(fds):
    """The fds of which an exec'd child holds a copy.

    The child is started by subprocess with close_fds=False, so only the
    close-on-exec flag decides what it gets.  It reports every fd it holds
    by (st_dev, st_ino): the fd numbers it inherited from whoever started
    the tests do not matter.
    """
    out = subprocess.check_output([sys.executable, '-I', '-c',
                                   _REPORT_INODES], close_fds=False)
    held = {tuple(map(int, line.split())) for line in out.splitlines()}
    return sorted(fd for key, fd in file_ids(fds).items() if key in held)


class SelectorsTests(BothDefaults, unittest.TestCase):

    CLASSES = [name for name in ('EpollSelector', 'DevpollSelector',
                                 'KqueueSelector')
               if hasattr(selectors, name)]

    def check_selectors(self):
        self.assertTrue(self.CLASSES)
        for name in self.CLASSES:
            with getattr(selectors, name)() as selector:
                self.assertTrue(get_flag(selector.fileno()), name)

    def test_selectors(self):
        self.under_both_defaults(self.check_selectors)

    def check_default_selector(self):
        with selectors.DefaultSelector() as selector:
            if not hasattr(selector, 'fileno'):
                self.skipTest('DefaultSelector makes no fd here')
            self.assertTrue(get_flag(selector.fileno()))
            self.assertEqual(held_by_child([selector.fileno()]), [])

    def test_default_selector(self):
        self.under_both_defaults(self.check_default_selector)

    @unittest.skipUnless(hasattr(select, 'epoll'), 'need select.epoll()')
    def check_probe(self):
        # DefaultSelector's choice creates an epoll to see if it works
        seen = []
        real_epoll = select.epoll

        def spy(*args, **kwargs):
            epoll = real_epoll(*args, **kwargs)
            seen.append(get_flag(epoll.fileno()))
            return epoll

        with support.swap_attr(select, 'epoll', spy):
            self.assertTrue(selectors._can_use('epoll'))
        self.assertEqual(seen, [True])

    def test_probe(self):
        self.under_both_defaults(self.check_probe)

    def test_poll_selector(self):
        # poll() makes no fd: PollSelector still calls select.poll()
        # without the cloexec keyword, which it does not take.
        if not hasattr(selectors, 'PollSelector'):
            self.skipTest('need select.poll()')
        with selectors.PollSelector() as selector:
            self.assertIsInstance(selector._selector, type(select.poll()))


def run(coro):
    return asyncio.run(coro)


async def close_server(server):
    server.close()
    await server.wait_closed()


async def close_writer(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


class AsyncioTests(BothDefaults, unittest.TestCase):

    def check_loop(self):
        async def main():
            loop = asyncio.get_running_loop()
            fds = [loop._selector.fileno(), loop._ssock.fileno(),
                   loop._csock.fileno()]
            self.assertEqual([get_flag(fd) for fd in fds], [True] * 3)
            self.assertEqual(held_by_child(fds), [])
        run(main())

    def test_loop(self):
        self.under_both_defaults(self.check_loop)

    def check_tcp(self):
        accepted = []

        async def handle(reader, writer):
            accepted.append(get_flag(writer.get_extra_info('socket')
                                     .fileno()))
            writer.write(await reader.read(1))
            await close_writer(writer)

        async def main():
            server = await asyncio.start_server(handle, HOST, 0)
            try:
                listeners = [s.fileno() for s in server.sockets]
                self.assertTrue(listeners)
                self.assertEqual([get_flag(fd) for fd in listeners],
                                 [True] * len(listeners))
                port = server.sockets[0].getsockname()[1]
                reader, writer = await asyncio.open_connection(HOST, port)
                client = writer.get_extra_info('socket').fileno()
                self.assertTrue(get_flag(client))
                self.assertEqual(held_by_child(listeners + [client]), [])
                writer.write(b'x')
                self.assertEqual(await reader.read(1), b'x')
                await close_writer(writer)
            finally:
                await close_server(server)

        run(main())
        self.assertEqual(accepted, [True])

    def test_tcp(self):
        self.under_both_defaults(self.check_tcp)

    @unittest.skipUnless(hasattr(socket, 'AF_UNIX'), 'need AF_UNIX')
    def check_unix(self):
        accepted = []
        path = socket_helper.create_unix_domain_name()
        self.addCleanup(os_helper.unlink, path)

        async def handle(reader, writer):
            accepted.append(get_flag(writer.get_extra_info('socket')
                                     .fileno()))
            await close_writer(writer)

        async def main():
            server = await asyncio.start_unix_server(handle, path)
            try:
                listener = server.sockets[0].fileno()
                self.assertTrue(get_flag(listener))
                reader, writer = await asyncio.open_unix_connection(path)
                client = writer.get_extra_info('socket').fileno()
                self.assertTrue(get_flag(client))
                self.assertEqual(held_by_child([listener, client]), [])
                await reader.read()
                await close_writer(writer)
            finally:
                await close_server(server)

        os_helper.unlink(path)
        run(main())
        self.assertEqual(accepted, [True])

    def test_unix(self):
        self.under_both_defaults(self.check_unix)

    def check_datagram(self):
        async def main():
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(HOST, 0))
            try:
                fd = transport.get_extra_info('socket').fileno()
                self.assertTrue(get_flag(fd))
                self.assertEqual(held_by_child([fd]), [])
            finally:
                transport.close()
        run(main())

    def test_datagram(self):
        self.under_both_defaults(self.check_datagram)

    def check_sock_accept(self):
        async def main():
            loop = asyncio.get_running_loop()
            with socket.create_server((HOST, 0)) as listener:
                listener.setblocking(False)
                with socket.create_connection(listener.getsockname()):
                    conn, _ = await loop.sock_accept(listener)
                    with conn:
                        self.assertTrue(get_flag(conn.fileno()))
        run(main())

    def test_sock_accept(self):
        self.under_both_defaults(self.check_sock_accept)

    def check_sock_passed_in(self):
        # asyncio did not make a socket given as sock=: it keeps its flag.
        async def handle(reader, writer):
            await close_writer(writer)

        async def main(cloexec):
            listener = socket.socket(cloexec=cloexec)
            listener.bind((HOST, 0))
            server = await asyncio.start_server(handle, sock=listener)
            try:
                self.assertEqual(get_flag(server.sockets[0].fileno()),
                                 cloexec)
                client = socket.socket(cloexec=cloexec)
                client.connect(listener.getsockname())
                reader, writer = await asyncio.open_connection(sock=client)
                self.assertEqual(get_flag(client.fileno()), cloexec)
                await close_writer(writer)
            finally:
                await close_server(server)

        for cloexec in (False, True):
            with self.subTest(cloexec=cloexec):
                run(main(cloexec))

    def test_sock_passed_in(self):
        self.under_both_defaults(self.check_sock_passed_in)

    def check_sock_accept_313(self):
        # A listener whose accept() has the signature of Python 3.13
        async def main():
            loop = asyncio.get_running_loop()
            with Socket313() as listener:
                listener.bind((HOST, 0))
                listener.listen()
                listener.setblocking(False)
                with socket.create_connection(listener.getsockname()):
                    conn, _ = await asyncio.wait_for(
                        loop.sock_accept(listener), support.SHORT_TIMEOUT)
                    with conn:
                        self.assertTrue(get_flag(conn.fileno()))
                        self.assertEqual(held_by_child([conn.fileno()]), [])
        run(main())

    def test_sock_accept_313(self):
        self.under_both_defaults(self.check_sock_accept_313)

    def check_start_server_sock_313(self):
        # start_server(sock=) with a listener whose accept() has the
        # signature of Python 3.13: asyncio accepts on it as on 3.13
        accepted = []

        async def handle(reader, writer):
            accepted.append(get_flag(writer.get_extra_info('socket')
                                     .fileno()))
            writer.write(await reader.read(1))
            await close_writer(writer)

        async def main():
            listener = Socket313()
            listener.bind((HOST, 0))
            server = await asyncio.start_server(handle, sock=listener)
            try:
                reader, writer = await asyncio.open_connection(
                    *listener.getsockname())
                writer.write(b'x')
                self.assertEqual(await asyncio.wait_for(
                    reader.read(1), support.SHORT_TIMEOUT), b'x')
                await close_writer(writer)
            finally:
                await close_server(server)

        run(main())
        self.assertEqual(accepted, [True])

    def test_start_server_sock_313(self):
        self.under_both_defaults(self.check_start_server_sock_313)

    def check_tcp_socket313(self):
        # socket.socket replaced by a class without the cloexec keyword
        with socket313():
            self.check_tcp()

    def test_tcp_socket313(self):
        self.under_both_defaults(self.check_tcp_socket313)


if __name__ == '__main__':
    unittest.main()
