"""PEP 433: the other fds the standard library makes for its own use.

The audit of every fd-creating call site of the standard library (the
PEP 433 series' stdlib audit) classifies each one: the fd the caller gets,
or that the library makes on the caller's behalf and on the caller's data,
follows sys.getdefaultcloexec(); the fd of the library's own machinery, or
of a device, temporary file or probe it opens as a tool, is close-on-exec
whatever the default.  Beyond subprocess, socketserver, tempfile, pty,
multiprocessing (test_cloexec_stdlib), selectors and asyncio
(test_cloexec_asyncio), these are: getpass's /dev/tty, the file
http.server sends, xmlrpc.server's CSS file, IDLE's RPC sockets,
multiprocessing's resource sharer, the probe socket of
socket.has_dualstack_ipv6(), ftplib's data-port listener, and the REPL's
copies of the console fds and the temporary file of its pager.  Each is
checked with fcntl(F_GETFD) under both defaults, and an exec'd child is
checked not to hold it, identified by (st_dev, st_ino).  The sockets are
checked again with socket.socket replaced, as gevent and eventlet do, by a
class with the signatures of Python 3.13, without cloexec.
"""

import builtins
import contextlib
import errno
import http.client
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time
import unittest
from test import support
from test.support import os_helper, socket_helper
from test.support.cloexec_helper import get_flag, inherited_fds
from test.test_cloexec_asyncio import held_by_child
from test.test_cloexec_stdlib import BothDefaults, Socket313, socket313

if not hasattr(os, 'fork') or sys.platform == 'win32':
    raise unittest.SkipTest('POSIX fd inheritance only')

HOST = socket_helper.HOST


@contextlib.contextmanager
def spy_open(wanted, seen):
    """Record (flag, held by an exec'd child) of the files open() makes
    whose path *wanted* accepts."""
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        f = real_open(file, *args, **kwargs)
        if not isinstance(file, int) and wanted(os.fspath(file)):
            seen.append((get_flag(f.fileno()),
                         held_by_child([f.fileno()]) != []))
        return f

    with support.swap_attr(builtins, 'open', spy):
        yield


class GetpassTests(BothDefaults, unittest.TestCase):

    @unittest.skipUnless(hasattr(os, 'openpty'), 'need a pty')
    def check_tty(self):
        import pty
        r, w = os.pipe(cloexec=True)
        pid, master = pty.fork()
        if pid == 0:
            # The child has the pty as its controlling terminal: getpass
            # opens /dev/tty.
            import getpass
            seen = []
            real_open = os.open

            def spy(path, *args, **kwargs):
                fd = real_open(path, *args, **kwargs)
                if path == '/dev/tty':
                    seen.append(get_flag(fd))
                return fd

            try:
                os.open = spy
                getpass.unix_getpass('? ')
            finally:
                os.write(w, json.dumps(seen).encode())
                os._exit(0)
        os.close(w)
        self.addCleanup(os.close, master)
        # getpass flushes the terminal's input when it turns echo off: type
        # the password once the prompt is there.
        output = b''
        deadline = time.monotonic() + support.SHORT_TIMEOUT
        while b'? ' not in output and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                output += os.read(master, 100)
        os.write(master, b'secret\n')
        with open(r, 'rb') as f:
            seen = json.loads(f.read())
        support.wait_process(pid, exitcode=0)
        self.assertEqual(seen, [True])

    def test_tty(self):
        self.under_both_defaults(self.check_tty)


class ServerTests(BothDefaults, unittest.TestCase):

    def check_http_server(self):
        import http.server
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, 'index.txt')
            with open(path, 'w') as f:
                f.write('data')

            class Handler(http.server.SimpleHTTPRequestHandler):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, directory=root, **kwargs)

                def log_message(self, *args):
                    pass

            seen = []
            with http.server.HTTPServer((HOST, 0), Handler) as server:
                thread = threading.Thread(target=server.handle_request)
                with spy_open(lambda p: p.startswith(root), seen):
                    thread.start()
                    conn = http.client.HTTPConnection(*server.server_address)
                    conn.request('GET', '/index.txt')
                    self.assertEqual(conn.getresponse().read(), b'data')
                    conn.close()
                    thread.join(support.SHORT_TIMEOUT)
        self.assertEqual(seen, [(True, False)])

    def test_http_server(self):
        self.under_both_defaults(self.check_http_server)

    def check_xmlrpc_css(self):
        from xmlrpc.server import DocXMLRPCRequestHandler
        seen = []
        with spy_open(lambda p: p.endswith('.css'), seen):
            css = DocXMLRPCRequestHandler._get_css(None, '/pydoc.css')
        self.assertTrue(css)
        self.assertEqual(seen, [(True, False)])

    def test_xmlrpc_css(self):
        self.under_both_defaults(self.check_xmlrpc_css)


class IdleRpcTests(BothDefaults, unittest.TestCase):

    def check_rpc_client(self):
        from idlelib import rpc
        client = rpc.RPCClient((HOST, 0))
        self.addCleanup(client.listening_sock.close)
        listener = client.listening_sock.fileno()
        self.assertTrue(get_flag(listener))
        with socket.create_connection(client.listening_sock.getsockname()):
            client.accept()
            self.addCleanup(client.sock.close)
            fds = [listener, client.sock.fileno()]
            self.assertTrue(get_flag(fds[1]))
            self.assertEqual(held_by_child(fds), [])

    def test_rpc_client(self):
        self.under_both_defaults(self.check_rpc_client)

    def check_rpc_client_socket313(self):
        with socket313():
            self.check_rpc_client()

    def test_rpc_client_socket313(self):
        self.under_both_defaults(self.check_rpc_client_socket313)


class MultiprocessingResourceSharerTests(BothDefaults, unittest.TestCase):
    # DupSocket is Windows' (DupFd, elsewhere, is test_cloexec_stdlib's)

    def check_dup_socket(self):
        from multiprocessing import resource_sharer
        with socket.socket(cloexec=False) as sock:
            dup = resource_sharer.DupSocket(sock)
            # The sharer keeps the duplicate until a process asks for it;
            # its close callback is the duplicate's close().
            _, close = resource_sharer._resource_sharer._cache.pop(
                dup._id[1])
            try:
                fd = close.__self__.fileno()
                self.assertTrue(get_flag(fd))
                self.assertEqual(held_by_child([fd]), [])
            finally:
                close()

    def test_dup_socket(self):
        from multiprocessing import resource_sharer
        if not hasattr(resource_sharer, 'DupSocket'):
            self.skipTest('DupSocket is Windows only')
        self.addCleanup(resource_sharer.stop)
        self.under_both_defaults(self.check_dup_socket)


class SocketProbeTests(BothDefaults, unittest.TestCase):

    @unittest.skipUnless(socket.has_ipv6, 'need IPv6')
    def check_dualstack_probe(self, base=socket.socket):
        seen = []

        class Spy(base):
            # the flag when the probe uses the socket
            def setsockopt(self, *args):
                seen.append(get_flag(self.fileno()))
                return super().setsockopt(*args)

        with support.swap_attr(socket, 'socket', Spy):
            socket.has_dualstack_ipv6()
        self.assertEqual(seen, [True])

    def test_dualstack_probe(self):
        self.under_both_defaults(self.check_dualstack_probe)

    def test_dualstack_probe_socket313(self):
        self.under_both_defaults(
            lambda: self.check_dualstack_probe(base=Socket313))


class FtplibTests(BothDefaults, unittest.TestCase):

    def makeport(self, family=socket.AF_INET, host=HOST,
                 during=contextlib.nullcontext()):
        """Return the data-port listener of ftplib.FTP.makeport(), called
        in the context manager during."""
        import ftplib

        class FTP(ftplib.FTP):
            def sendport(self, host, port):
                return '200 OK'

            sendeprt = sendport

        ftp = FTP()
        with socket.socket(family) as control:
            control.bind((host, 0))
            ftp.sock, ftp.af = control, control.family
            with during:
                return ftp.makeport()

    def check_makeport(self):
        with self.makeport() as listener:
            self.assertTrue(get_flag(listener.fileno()))
            self.assertEqual(held_by_child([listener.fileno()]), [])

    def test_makeport(self):
        self.under_both_defaults(self.check_makeport)

    def check_makeport_socket313(self):
        with self.makeport(during=socket313()) as listener:
            self.assertIsInstance(listener, Socket313)
            self.assertTrue(get_flag(listener.fileno()))

    def test_makeport_socket313(self):
        self.under_both_defaults(self.check_makeport_socket313)

    @unittest.skipUnless(socket_helper.IPV6_ENABLED, 'need IPv6')
    def test_makeport_ipv6_options(self):
        # The listener is socket.create_server()'s, with every option it sets
        with self.makeport(socket.AF_INET6, socket_helper.HOSTv6) as listener:
            self.assertTrue(get_flag(listener.fileno()))
            self.assertEqual(listener.family, socket.AF_INET6)
            self.assertEqual(listener.getsockopt(socket.IPPROTO_IPV6,
                                                 socket.IPV6_V6ONLY), 1)
            self.assertTrue(listener.getsockopt(socket.SOL_SOCKET,
                                                socket.SO_REUSEADDR))

    def test_makeport_bind_error(self):
        # The error of bind() names the address, as create_server() does
        class NoBind(socket.socket):
            def bind(self, address):
                raise OSError(errno.EADDRINUSE, 'in use')

        with self.assertRaises(OSError) as cm:
            self.makeport(during=support.swap_attr(socket, 'socket', NoBind))
        self.assertEqual(cm.exception.errno, errno.EADDRINUSE)
        self.assertIn('while attempting to bind on address', str(cm.exception))


class ReplTests(BothDefaults, unittest.TestCase):

    def check_console_dups(self):
        from _pyrepl.readline import _ReadlineWrapper
        wrapper = _ReadlineWrapper()
        fds = [wrapper.f_in, wrapper.f_out]
        for fd in fds:
            self.addCleanup(os.close, fd)
        self.assertEqual([get_flag(fd) for fd in fds], [True, True])
        # Copies of fds 0 and 1 are the child's own stdin and stdout by
        # (st_dev, st_ino): ask the child which fd numbers it holds.
        self.assertEqual(inherited_fds(fds), set())

    def test_console_dups(self):
        self.under_both_defaults(self.check_console_dups)

    @support.requires_subprocess()
    def check_pager_file(self):
        from _pyrepl import pager
        seen = []
        with spy_open(lambda p: p.endswith('pydoc.out'), seen):
            pager.tempfile_pager('text', 'true')
        self.assertEqual(seen, [(True, False)])

    def test_pager_file(self):
        self.under_both_defaults(self.check_pager_file)


if __name__ == '__main__':
    unittest.main()
