"""The stdlib's servers and clients on a replaced ``socket.socket``.

``gevent.monkey.patch_all()`` (and eventlet's ``monkey_patch()``) replace
``socket.socket`` by a class of their own that keeps 3.13's signatures:
``__init__(family, type, proto, fileno)``, ``accept()``, no ``cloexec``.
The stdlib modules that look the class up at call time then build their
sockets from it: a stdlib that calls it with ``cloexec=True`` breaks them
(issue 26: ``TypeError: ... got an unexpected keyword argument
'cloexec'``).  Each case runs in a child process of its own (patching is
for the whole process), started with this interpreter (the mode's
``PYTHONCLOEXEC`` reaches it through the environment), and prints ``ok``.
"""

import subprocess
import sys
import textwrap

import pytest

TIMEOUT = 60

PATCH = '''
from gevent import monkey
monkey.patch_all()
import socket
assert socket.socket.__module__.startswith('gevent'), socket.socket
'''


def run_patched(code):
    """Run *code* after patch_all() in a child; fail with its output
    unless it printed ``ok``."""
    proc = subprocess.run(
        [sys.executable, '-c', PATCH + textwrap.dedent(code)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=TIMEOUT)
    if proc.returncode != 0 or proc.stdout.split()[-1:] != ['ok']:
        tail = '\n'.join(proc.stdout.splitlines()[-15:])
        pytest.fail(f'exit status {proc.returncode}; output:\n{tail}',
                    pytrace=False)


def test_socketserver_tcp_server():
    run_patched('''
        import socketserver, threading

        class Echo(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline())

        with socketserver.TCPServer(('127.0.0.1', 0), Echo) as server:
            assert type(server.socket) is socket.socket
            thread = threading.Thread(target=server.serve_forever,
                                      kwargs={'poll_interval': 0.05})
            thread.start()
            try:
                with socket.create_connection(server.server_address,
                                              timeout=5) as client:
                    client.sendall(b'ping\\n')
                    assert client.makefile('rb').readline() == b'ping\\n'
            finally:
                server.shutdown()
                thread.join()
        print('ok')
    ''')


def test_multiprocessing_connection_listener_and_client():
    # Listener() makes its socket, accept() accepts, Client() makes one.
    # Its Connection then reads and writes the fd with os.read() and
    # os.write(), which gevent does not make cooperative, on an fd that
    # gevent's socket left non-blocking: made blocking here (as on stock)
    # to pass one message each way in this one thread
    run_patched('''
        import os
        from multiprocessing.connection import Client, Listener

        with Listener(('127.0.0.1', 0)) as listener:
            assert type(listener._listener._socket) is socket.socket
            with Client(listener.address) as client, \\
                    listener.accept() as conn:
                for end in client, conn:
                    os.set_blocking(end.fileno(), True)
                client.send('ping')
                assert conn.recv() == 'ping'
                conn.send('pong')
                assert client.recv() == 'pong'
        print('ok')
    ''')


def test_ftplib_active_mode_listener():
    # FTP.makeport() (active mode, the PORT command) makes the data
    # listener; a minimal control server answers the greeting and PORT
    run_patched('''
        import ftplib, threading

        control = socket.create_server(('127.0.0.1', 0))

        def serve():
            conn, _ = control.accept()
            with conn, conn.makefile('rwb') as f:
                f.write(b'220 ready\\r\\n'); f.flush()
                if f.readline().startswith(b'PORT '):
                    f.write(b'200 ok\\r\\n'); f.flush()
                    f.readline()        # until the client closes

        thread = threading.Thread(target=serve)
        thread.start()
        ftp = ftplib.FTP()
        ftp.connect(*control.getsockname(), timeout=5)
        try:
            with ftp.makeport() as listener:
                assert type(listener) is socket.socket
                assert listener.getsockname()[1] != 0
        finally:
            ftp.close()
            thread.join()
            control.close()
        print('ok')
    ''')
