"""PEP 433: the standard library sets the close-on-exec flag on its own fds.

Whatever sys.getdefaultcloexec() says, the file descriptors that subprocess,
socketserver (and so http.server and xmlrpc.server), tempfile, pty and
multiprocessing create for their own machinery are close-on-exec, so that
no child process started with close_fds=False (or by os.exec*()) keeps
them.  Each test runs under both defaults.

The objects these modules create their fds with may be the caller's: a
listening socket wrapped by ssl, a socket.socket subclass written for Python
3.13, or socket.socket replaced by gevent or eventlet with a class with the
signatures of 3.13, which have no cloexec keyword.  Such code works as it did
on 3.13, and the fds are still close-on-exec.
"""

import contextlib
import os
import socket
import sys
import tempfile
import threading
import unittest
from test import support
from test.support import cloexec_helper, os_helper, socket_helper
from test.support.cloexec_helper import get_flag

try:
    import ssl
except ImportError:
    ssl = None

if not hasattr(os, 'fork') or sys.platform == 'win32':
    raise unittest.SkipTest('POSIX fd inheritance only')


class BothDefaults:
    """Run each check_*() method under both process-wide defaults."""

    def under_both_defaults(self, check):
        for default in (False, True):
            with self.subTest(default=default):
                with cloexec_helper.default_cloexec(default):
                    check()


class Socket313(socket.socket):
    """socket.socket with the signatures of Python 3.13, without cloexec.

    gevent and eventlet replace socket.socket with such a class, and code
    written for 3.13 subclasses socket.socket so.
    """

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        super().__init__(family, type, proto, fileno)

    def accept(self):
        fd, addr = self._accept()
        return Socket313(self.family, self.type, self.proto, fileno=fd), addr


@contextlib.contextmanager
def socket313():
    """Replace socket.socket with Socket313, as gevent's monkey-patching
    does, for the block."""
    with support.swap_attr(socket, 'socket', Socket313):
        yield


@support.requires_subprocess()
class SubprocessTests(BothDefaults, unittest.TestCase):

    def check_pipes(self):
        import subprocess
        with subprocess.Popen([sys.executable, '-c', 'import sys; '
                               'sys.stdout.write(sys.stdin.read())'],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              close_fds=False) as proc:
            fds = [proc.stdin.fileno(), proc.stdout.fileno(),
                   proc.stderr.fileno()]
            self.assertEqual([get_flag(fd) for fd in fds], [True] * 3)
            # A second child, started while the first runs, does not get
            # the first one's pipes (bpo-7213, bpo-12786).
            self.assertEqual(cloexec_helper.inherited_fds(fds), set())
            out, err = proc.communicate(b'data')
        self.assertEqual(out, b'data')

    def test_pipes(self):
        self.under_both_defaults(self.check_pipes)

    def check_concurrent_popen(self):
        # The classic hang: the second child keeps the write end of the first
        # child's stdin, so the first never sees EOF.
        import subprocess
        cat = [sys.executable, '-c', 'import sys; sys.stdin.read()']
        sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']
        with subprocess.Popen(cat, stdin=subprocess.PIPE,
                              close_fds=False) as first:
            with subprocess.Popen(sleeper, close_fds=False) as second:
                try:
                    first.stdin.close()
                    first.wait(timeout=support.SHORT_TIMEOUT)
                finally:
                    second.kill()

    def test_concurrent_popen(self):
        self.under_both_defaults(self.check_concurrent_popen)

    def check_devnull(self):
        import subprocess
        opened = []
        real_open = os.open

        def spy_open(path, *args, **kwargs):
            fd = real_open(path, *args, **kwargs)
            if path == os.devnull:
                opened.append(get_flag(fd))
            return fd

        with support.swap_attr(os, 'open', spy_open):
            subprocess.run([sys.executable, '-c', 'pass'],
                           stdin=subprocess.DEVNULL, close_fds=False)
        self.assertEqual(opened, [True])

    def test_devnull(self):
        self.under_both_defaults(self.check_devnull)


class SocketserverTests(BothDefaults, unittest.TestCase):

    def check_tcp(self):
        import socketserver
        seen = []

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                seen.append(get_flag(self.request.fileno()))

        with socketserver.TCPServer((socket_helper.HOST, 0),
                                    Handler) as server:
            self.assertTrue(get_flag(server.fileno()))
            thread = threading.Thread(target=server.handle_request)
            thread.start()
            with socket.create_connection(server.server_address):
                pass
            thread.join(support.SHORT_TIMEOUT)
        self.assertEqual(seen, [True])

    def test_tcp(self):
        self.under_both_defaults(self.check_tcp)

    def check_udp(self):
        import socketserver
        with socketserver.UDPServer((socket_helper.HOST, 0),
                                    socketserver.BaseRequestHandler) as server:
            self.assertTrue(get_flag(server.fileno()))

    def test_udp(self):
        self.under_both_defaults(self.check_udp)

    @unittest.skipUnless(hasattr(socket, 'AF_UNIX'), 'need AF_UNIX')
    def check_unix(self):
        import socketserver
        for cls in (socketserver.UnixStreamServer,
                    socketserver.UnixDatagramServer):
            path = socket_helper.create_unix_domain_name()
            self.addCleanup(os_helper.unlink, path)
            with cls(path, socketserver.BaseRequestHandler) as server:
                self.assertTrue(get_flag(server.fileno()), cls)

    def test_unix(self):
        self.under_both_defaults(self.check_unix)

    def check_http_and_xmlrpc(self):
        import http.server
        import xmlrpc.server
        with http.server.HTTPServer((socket_helper.HOST, 0),
                                    http.server.BaseHTTPRequestHandler) as s:
            self.assertTrue(get_flag(s.fileno()))
        with xmlrpc.server.SimpleXMLRPCServer((socket_helper.HOST, 0),
                                              logRequests=False) as s:
            self.assertTrue(get_flag(s.fileno()))

    def test_http_and_xmlrpc(self):
        self.under_both_defaults(self.check_http_and_xmlrpc)

    def check_tcp_socket313(self):
        # socket.socket replaced by a class without the cloexec keyword
        with socket313():
            self.check_tcp()

    def test_tcp_socket313(self):
        self.under_both_defaults(self.check_tcp_socket313)

    @unittest.skipIf(ssl is None, 'need ssl')
    def check_https_server(self):
        # The documented way to serve HTTPS: the listening socket replaced
        # by an ssl.SSLSocket, whose accept() socketserver calls
        import http.client
        import http.server
        certfile = os.path.join(os.path.dirname(__file__), 'certdata',
                                'keycert.pem')
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(certfile)
        client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_context.check_hostname = False
        client_context.verify_mode = ssl.CERT_NONE
        seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(get_flag(self.request.fileno()))
                self.send_response(200)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'ok')

            def log_message(self, *args):
                pass

        responses = []

        def client(address):
            conn = http.client.HTTPSConnection(
                *address, context=client_context,
                timeout=support.SHORT_TIMEOUT)
            try:
                conn.request('GET', '/')
                responses.append(conn.getresponse().read())
            finally:
                conn.close()

        with http.server.HTTPServer((socket_helper.HOST, 0),
                                    Handler) as httpd:
            httpd.socket = server_context.wrap_socket(httpd.socket,
                                                      server_side=True)
            httpd.timeout = support.SHORT_TIMEOUT
            self.assertTrue(get_flag(httpd.fileno()))
            thread = threading.Thread(target=client,
                                      args=(httpd.server_address,))
            thread.start()
            try:
                # serve_forever() would die here: serve one request
                httpd.handle_request()
            finally:
                # closing the listener ends a client still waiting
                httpd.server_close()
                thread.join(support.SHORT_TIMEOUT)
        self.assertEqual(responses, [b'ok'])
        self.assertEqual(seen, [True])

    def test_https_server(self):
        self.under_both_defaults(self.check_https_server)

    @unittest.skipIf(ssl is None, 'need ssl')
    def check_ssl_accept(self):
        # SSLSocket.accept() takes cloexec, and passes it on
        certfile = os.path.join(os.path.dirname(__file__), 'certdata',
                                'keycert.pem')
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile)
        with socket.create_server((socket_helper.HOST, 0)) as plain:
            with context.wrap_socket(plain, server_side=True,
                                     do_handshake_on_connect=False) as sock:
                for cloexec in (None, False, True):
                    with socket.create_connection(sock.getsockname()):
                        conn, _ = sock.accept(cloexec=cloexec)
                        with conn:
                            self.assertIsInstance(conn, ssl.SSLSocket)
                            expected = (sys.getdefaultcloexec()
                                        if cloexec is None else cloexec)
                            self.assertEqual(get_flag(conn.fileno()),
                                             expected)

    def test_ssl_accept(self):
        self.under_both_defaults(self.check_ssl_accept)


class TempfileTests(BothDefaults, unittest.TestCase):

    def check_files(self):
        fd, name = tempfile.mkstemp()
        self.addCleanup(os.unlink, name)
        self.addCleanup(os.close, fd)
        self.assertTrue(get_flag(fd))
        with tempfile.TemporaryFile() as f:
            self.assertTrue(get_flag(f.fileno()))
        with tempfile.NamedTemporaryFile() as f:
            self.assertTrue(get_flag(f.fileno()))
        with tempfile.SpooledTemporaryFile(max_size=1) as f:
            f.write(b'rolled over')
            self.assertTrue(get_flag(f.fileno()))

    def test_files(self):
        self.under_both_defaults(self.check_files)

    def test_no_tmpfile(self):
        # The mkstemp() path of TemporaryFile, where O_TMPFILE is missing
        with support.swap_attr(tempfile, '_O_TMPFILE_WORKS', False):
            self.under_both_defaults(self.check_files)


@unittest.skipUnless(hasattr(os, 'openpty'), 'need os.openpty()')
class PtyTests(BothDefaults, unittest.TestCase):

    def check_openpty(self):
        import pty
        master_fd, slave_fd = pty.openpty()
        self.addCleanup(os.close, master_fd)
        self.addCleanup(os.close, slave_fd)
        self.assertTrue(get_flag(master_fd))
        # The slave end is meant for a child: it follows the default
        self.assertEqual(get_flag(slave_fd), sys.getdefaultcloexec())

    def test_openpty(self):
        self.under_both_defaults(self.check_openpty)

    def check_fork(self):
        import pty
        pid, master_fd = pty.fork()
        if pid == pty.CHILD:
            os._exit(0)
        self.addCleanup(os.close, master_fd)
        support.wait_process(pid, exitcode=0)
        self.assertTrue(get_flag(master_fd))

    def test_fork(self):
        self.under_both_defaults(self.check_fork)


class MultiprocessingConnectionTests(BothDefaults, unittest.TestCase):

    def check_pipe(self):
        import multiprocessing
        for duplex in (True, False):
            a, b = multiprocessing.Pipe(duplex=duplex)
            with a, b:
                self.assertEqual((get_flag(a.fileno()), get_flag(b.fileno())),
                                 (True, True), duplex)

    def test_pipe(self):
        self.under_both_defaults(self.check_pipe)

    def check_listener(self):
        from multiprocessing.connection import Client, Listener
        for family in ('AF_INET', 'AF_UNIX'):
            with Listener(family=family) as listener:
                self.assertTrue(get_flag(listener._listener._socket.fileno()))
                accepted = []
                thread = threading.Thread(
                    target=lambda: accepted.append(listener.accept()))
                thread.start()
                with Client(listener.address, family=family) as client:
                    self.assertTrue(get_flag(client.fileno()))
                    thread.join(support.SHORT_TIMEOUT)
                    with accepted[0] as conn:
                        self.assertTrue(get_flag(conn.fileno()))

    def test_listener(self):
        self.under_both_defaults(self.check_listener)

    def check_listener_socket313(self):
        # socket.socket replaced by a class without the cloexec keyword
        with socket313():
            self.check_listener()

    def test_listener_socket313(self):
        self.under_both_defaults(self.check_listener_socket313)

    @unittest.skipUnless(hasattr(socket, 'AF_UNIX'), 'need AF_UNIX')
    def check_recvfds(self):
        from multiprocessing import reduction
        r, w = os.pipe(cloexec=False)
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        a, b = socket.socketpair(cloexec=True)
        with a, b:
            reduction.sendfds(a, [r, w])
            fds = reduction.recvfds(b, 2)
        for fd in fds:
            self.addCleanup(os.close, fd)
        self.assertEqual([get_flag(fd) for fd in fds], [True, True])

    def test_recvfds(self):
        self.under_both_defaults(self.check_recvfds)

    @unittest.skipUnless(hasattr(socket, 'AF_UNIX'), 'need AF_UNIX')
    def check_recvfds_313(self):
        # A socket whose recvmsg() has the signature of Python 3.13
        from multiprocessing import reduction

        class Recvmsg313(socket.socket):
            def recvmsg(self, bufsize, ancbufsize=0, flags=0):
                return super().recvmsg(bufsize, ancbufsize, flags)

        r, w = os.pipe(cloexec=False)
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        a, b = socket.socketpair(cloexec=True)
        b = Recvmsg313(fileno=b.detach())
        with a, b:
            reduction.sendfds(a, [r, w])
            fds = reduction.recvfds(b, 2)
        for fd in fds:
            self.addCleanup(os.close, fd)
        self.assertEqual([get_flag(fd) for fd in fds], [True, True])

    def test_recvfds_313(self):
        self.under_both_defaults(self.check_recvfds_313)

    @unittest.skipUnless(hasattr(socket, 'AF_UNIX'), 'need AF_UNIX')
    def check_recv_handle(self):
        # The fd recv_handle() returns is close-on-exec whatever the
        # default, as documented: multiprocessing passes its own fds so.
        from multiprocessing import reduction
        from multiprocessing.connection import Pipe
        r, w = os.pipe(cloexec=False)
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        a, b = Pipe()
        with a, b:
            reduction.send_handle(a, r, os.getpid())
            fd = reduction.recv_handle(b)
        self.addCleanup(os.close, fd)
        self.assertTrue(get_flag(fd))

    def test_recv_handle(self):
        self.under_both_defaults(self.check_recv_handle)


class MultiprocessingUtilTests(BothDefaults, unittest.TestCase):

    def check_close_stdin(self):
        # The /dev/null that replaces a child's stdin: the real sys.stdin
        # does not close fd 0 (closefd=False), so /dev/null lands on a
        # higher fd, which no program the child runs may inherit.
        import io
        from multiprocessing import util
        with support.swap_attr(sys, 'stdin', io.StringIO()):
            util._close_stdin()
            fd = sys.stdin.fileno()
            try:
                self.assertEqual(get_flag(fd), fd > 2)
                self.assertEqual(cloexec_helper.inherited_fds([fd]),
                                 set() if fd > 2 else {fd})
            finally:
                sys.stdin.close()
                os.close(fd)

    @support.requires_subprocess()
    def test_close_stdin(self):
        self.under_both_defaults(self.check_close_stdin)


class MultiprocessingChildrenTests(unittest.TestCase):
    # The -e mode reaches the children that multiprocessing starts:
    # subprocess._args_from_interpreter_flags() passes -e on.

    CODE = """if 1:
        import multiprocessing, sys

        def flag(conn):
            conn.send((sys.flags.cloexec, sys.getdefaultcloexec()))

        if __name__ == '__main__':
            ctx = multiprocessing.get_context(sys.argv[1])
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=flag, args=(child,))
            proc.start()
            print(*parent.recv())
            proc.join()
        """

    def check(self, method, *args, expected):
        from test.support.script_helper import assert_python_ok
        with os_helper.temp_dir() as dir:
            script = os.path.join(dir, 'child_flags.py')
            with open(script, 'w') as f:
                f.write(self.CODE)
            rc, out, err = assert_python_ok(*args, script, method)
        self.assertEqual(out.decode().split(), expected)

    @support.requires_subprocess()
    def test_spawn(self):
        self.check('spawn', '-e', expected=['1', 'True'])

    @support.requires_subprocess()
    def test_forkserver(self):
        self.check('forkserver', '-e', expected=['1', 'True'])


if __name__ == '__main__':
    unittest.main()
