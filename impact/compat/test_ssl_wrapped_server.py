"""Servers whose socket the caller replaced, as code written for 3.13 does.

The common way to serve HTTPS with the stdlib is to replace the listening
socket of a ``socketserver`` server by an SSL-wrapped one::

    httpd = http.server.HTTPServer(address, Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)

``socketserver`` then accepts on an ``ssl.SSLSocket``; and asyncio accepts
on whatever socket the caller hands it, a ``socket.socket`` subclass
included.  Each works on stock 3.13.  A stdlib that calls
``accept(cloexec=True)`` on a socket it did not make breaks them (issue
26): ``TypeError: SSLSocket.accept() got an unexpected keyword argument
'cloexec'`` kills ``serve_forever()``, and the client waits in vain.

Each test serves one request with a client of its own and a timeout, and
reports what the server's thread (or the event loop) raised.  The
certificate is CPython's own test certificate (``Lib/test/certdata``, in
every source tree the builds run from); the clients do not verify it.
"""

import asyncio
import http.client
import http.server
import os
import socket
import ssl
import threading
import xmlrpc.client
import xmlrpc.server

import pytest

TIMEOUT = 5.0


@pytest.fixture(scope='module')
def server_context():
    import test
    certfile = os.path.join(os.path.dirname(test.__file__), 'certdata',
                            'keycert.pem')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile)
    return context


def client_context():
    """An unverified client context (a self-signed test certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Serving:
    """serve_forever() in a thread, keeping what it raised."""

    def __init__(self, server):
        self.server = server
        self.errors = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.server.serve_forever(poll_interval=0.05)
        except BaseException as exc:    # what kills the server
            self.errors.append(exc)

    def why(self):
        """The server's side of a failure, for the assertion message."""
        if self.errors:
            return ('serve_forever() died: '
                    + ''.join(f'{type(e).__name__}: {e}'
                              for e in self.errors))
        return 'the server thread raised nothing'

    def stop(self):
        self.server.shutdown()          # returns at once if it died
        self.server.server_close()
        self.thread.join(TIMEOUT)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'hello\n'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_https_server_with_a_wrapped_socket(server_context):
    httpd = http.server.HTTPServer(('127.0.0.1', 0), Hello)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    serving = Serving(httpd)
    try:
        conn = http.client.HTTPSConnection(
            '127.0.0.1', httpd.server_address[1], timeout=TIMEOUT,
            context=client_context())
        try:
            conn.request('GET', '/')
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b'hello\n')
        except OSError as exc:
            pytest.fail(f'the client got {exc!r}; {serving.why()}')
        finally:
            conn.close()
        assert not serving.errors, serving.why()
    finally:
        serving.stop()


class TimeoutTransport(xmlrpc.client.SafeTransport):
    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = TIMEOUT
        return conn


def test_xmlrpc_server_with_a_wrapped_socket(server_context):
    server = xmlrpc.server.SimpleXMLRPCServer(
        ('127.0.0.1', 0), logRequests=False)
    server.register_function(lambda a, b: a + b, 'add')
    server.socket = server_context.wrap_socket(server.socket,
                                               server_side=True)
    serving = Serving(server)
    try:
        proxy = xmlrpc.client.ServerProxy(
            f'https://127.0.0.1:{server.server_address[1]}',
            transport=TimeoutTransport(context=client_context()))
        try:
            assert proxy.add(2, 3) == 5
        except OSError as exc:
            pytest.fail(f'the client got {exc!r}; {serving.why()}')
        finally:
            proxy('close')()
        assert not serving.errors, serving.why()
    finally:
        serving.stop()


class Socket313(socket.socket):
    """A socket subclass overriding accept() with 3.13's signature."""

    accepted = 0

    def accept(self):
        result = super().accept()
        self.accepted += 1
        return result


def listener():
    sock = Socket313(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen()
    sock.setblocking(False)
    return sock


def run_loop(main):
    """asyncio.run(main(errors)), with what the loop logged in errors."""
    errors = []

    async def wrapper():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(
            lambda loop, context: errors.append(context))
        return await main(errors)

    return asyncio.run(wrapper())


def logged(errors):
    if not errors:
        return 'the loop logged nothing'
    first = errors[0]
    return (f'the loop logged {len(errors)} errors, the first: '
            f'{first.get("message")}: {first.get("exception")!r}')


def test_asyncio_sock_accept_on_a_socket_subclass():
    async def main(errors):
        with listener() as sock:
            loop = asyncio.get_running_loop()
            accepting = asyncio.ensure_future(loop.sock_accept(sock))
            with socket.create_connection(sock.getsockname()):
                try:
                    conn, _ = await asyncio.wait_for(accepting, TIMEOUT)
                except (TimeoutError, TypeError) as exc:
                    pytest.fail(f'sock_accept() raised {exc!r}; '
                                + logged(errors))
                with conn:
                    return type(conn), sock.accepted

    assert run_loop(main) == (socket.socket, 1)


def test_asyncio_start_server_on_a_socket_subclass():
    async def main(errors):
        async def echo(reader, writer):
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        sock = listener()
        server = await asyncio.start_server(echo, sock=sock)
        async with server:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*sock.getsockname()), TIMEOUT)
                writer.write(b'ping\n')
                line = await asyncio.wait_for(reader.readline(), TIMEOUT)
            except TimeoutError:
                pytest.fail('no answer; ' + logged(errors))
            writer.close()
            await writer.wait_closed()
            assert not errors, logged(errors)
            return line

    assert run_loop(main) == b'ping\n'
