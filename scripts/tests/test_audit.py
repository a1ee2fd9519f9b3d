"""``audit``: the static scanner, the classification check and the tracer.

The fast tests use a small fake ``Lib/`` tree and the Python running the
tests (the tracer is run under it too: it has no ``cloexec`` keyword, so
only the call sites and the records are checked there).  The slow ones run
the patched interpreter of the real work directory.
"""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import SCRIPT, Project, run_tool, write
from pep433tool import audit_dynamic, auditstatic

TRACER_DIR = audit_dynamic.TRACER

MOD = '''\
import io
import os as _os
from os import open as _open, pipe
import socket
from socket import socket as S, socketpair
import _socket
import io as _io
import _io as _cio


def f(fd, flag, addr, kw):
    _os.open('p', _os.O_RDONLY)
    _os.open('p', _os.O_RDONLY | _os.O_CLOEXEC)
    _open('p', 0, cloexec=True)
    pipe(cloexec=False)
    open('x')
    _io.open('x', cloexec=flag)
    _cio.FileIO('x')
    open(fd)
    open(3)
    open(sock.fileno())
    S(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    socketpair()
    _socket.socket()
    socket.socket(fileno=5)
    _os.dup(1)
    _os.dup2(1, 2, inheritable=False)
    _os.fdopen(fd)

    def g(sock, conn, x):
        sock.accept()
        conn.recvmsg(1, 2, socket.MSG_CMSG_CLOEXEC)
        x.dup()
    return socket.create_connection(addr, **kw)


class C:
    def m(self, **kw):
        return io.open('x', **kw)

    class Inner:
        def n(self):
            flags = _os.O_RDONLY | _os.O_CLOEXEC
            return _os.open('p', flags)


lam = lambda: open('y')


def shadow(open, os):
    open('z')
    os.pipe()


def local_import():
    import select
    return select.epoll(), select.poll()


def opener():
    return open('t', opener=lambda path, flags: 3)


def code():
    return io.open_code('m.py')
'''

OWN_SOCKET = '''\
import _socket
from _socket import *


class socket(_socket.socket):
    def accept(self, *, cloexec=None):
        fd, addr = self._accept()
        return socket(self.family, self.type, self.proto, fileno=fd), addr


def create_connection(address):
    return socket(AF_INET, SOCK_STREAM)


def socketpair(family=None, type=SOCK_STREAM, proto=0, *, cloexec=None):
    a, b = _socket.socketpair(family, type, proto, cloexec=cloexec)
    return socket(family, type, proto, a.detach()), b


def fromfd(fd, family, type):
    return socket(family, type, 0, dup(fd))
'''

OS = '''\
from posix import *


def _fwalk(top):
    return open(top, O_RDONLY)
'''


def selectors_source(asks=True):
    arg = 'cloexec=True' if asks else ''
    return f'''\
import select


class _PollLikeSelector:
    _selector_cls = None

    def __init__(self):
        self._selector = self._selector_cls({arg})


class PollSelector(_PollLikeSelector):
    _selector_cls = select.poll


if hasattr(select, 'epoll'):
    class EpollSelector(_PollLikeSelector):
        _selector_cls = select.epoll

DefaultSelector = EpollSelector
'''


LOOP = '''\
import selectors


class Loop:
    def __init__(self):
        self._selector = selectors.DefaultSelector()
'''


def make_lib(root, files):
    for rel, text in files.items():
        write(root, rel, text)
    return root


def scan(files, tmp_path):
    lib = make_lib(tmp_path / 'Lib', files)
    sites, errors = auditstatic.scan_library(lib)
    assert errors == []
    return sites


def test_static_scanner_resolves_names_and_asks(tmp_path):
    sites = scan({'mod.py': MOD,
                  'test/test_mod.py': 'open("x")\n',
                  'pkg/tests/test_x.py': 'open("x")\n',
                  'idlelib/idle_test/t.py': 'open("x")\n',
                  '__phello__/spam.py': 'open("x")\n'}, tmp_path)
    assert {s.file for s in sites} == {'mod.py'}
    got = [(s.line, s.function, s.call, s.asks, s.detail) for s in sites]
    line = {text: number for number, text in enumerate(
        MOD.splitlines(), 1)}

    def at(text):
        return line[text]
    assert sorted(got) == sorted([
        (at("    _os.open('p', _os.O_RDONLY)"), 'f', 'os.open', 'default',
         'follows default'),
        (at("    _os.open('p', _os.O_RDONLY | _os.O_CLOEXEC)"), 'f',
         'os.open', 'bit', 'O_CLOEXEC'),
        (at("    _open('p', 0, cloexec=True)"), 'f', 'os.open', 'true',
         'cloexec=True'),
        (at('    pipe(cloexec=False)'), 'f', 'os.pipe', 'false',
         'cloexec=False'),
        (at("    open('x')"), 'f', 'open', 'default', 'follows default'),
        (at("    _io.open('x', cloexec=flag)"), 'f', 'open', 'forward',
         'cloexec=flag'),
        (at("    _cio.FileIO('x')"), 'f', 'io.FileIO', 'default',
         'follows default'),
        (at('    S(socket.AF_INET, socket.SOCK_STREAM | '
            'socket.SOCK_CLOEXEC)'), 'f', 'socket.socket', 'bit',
         'SOCK_CLOEXEC'),
        (at('    socketpair()'), 'f', 'socket.socketpair', 'default',
         'follows default'),
        (at('    _socket.socket()'), 'f', 'socket.socket', 'default',
         'follows default'),
        (at('    _os.dup(1)'), 'f', 'os.dup', 'default', 'follows default'),
        (at('    _os.dup2(1, 2, inheritable=False)'), 'f', 'os.dup2', 'true',
         'inheritable=False'),
        (at('        sock.accept()'), 'f.<locals>.g', 'socket.accept',
         'default', 'follows default'),
        (at('        conn.recvmsg(1, 2, socket.MSG_CMSG_CLOEXEC)'),
         'f.<locals>.g', 'socket.recvmsg', 'bit', 'MSG_CMSG_CLOEXEC'),
        (at('        x.dup()'), 'f.<locals>.g', 'socket.dup', 'default',
         'follows default'),
        (at('    return socket.create_connection(addr, **kw)'), 'f',
         'socket.create_connection', 'kwargs', '**kwargs'),
        (at("        return io.open('x', **kw)"), 'C.m', 'open', 'kwargs',
         '**kwargs'),
        (at("            return _os.open('p', flags)"), 'C.Inner.n',
         'os.open', 'bit', 'O_CLOEXEC (via flags)'),
        (at("lam = lambda: open('y')"), '<lambda>', 'open', 'default',
         'follows default'),
        (at('    return select.epoll(), select.poll()'), 'local_import',
         'select.epoll', 'default', 'follows default'),
        (at("    return open('t', opener=lambda path, flags: 3)"), 'opener',
         'open', 'opener', 'opener=lambda path, flags: 3'),
        (at("    return io.open_code('m.py')"), 'code', 'open', 'true',
         'io.open_code()'),
    ])


def test_static_scanner_own_definitions(tmp_path):
    sites = scan({'socket.py': OWN_SOCKET, 'os.py': OS,
                  'selectors.py': selectors_source(), 'loop.py': LOOP},
                 tmp_path)
    got = {(s.file, s.function, s.call, s.asks) for s in sites}
    assert got == {
        # bare socket() in socket.py is socket.socket; fileno= is skipped
        ('socket.py', 'create_connection', 'socket.socket', 'default'),
        ('socket.py', 'socketpair', 'socket.socketpair', 'forward'),
        ('socket.py', 'fromfd', '_socket.dup', 'default'),
        # from posix import *: a bare open() in os.py is os.open
        ('os.py', '_fwalk', 'os.open', 'default'),
        # a class attribute bound to select.epoll (poll makes no fd)
        ('selectors.py', '_PollLikeSelector.__init__', 'select.epoll',
         'true'),
        ('loop.py', 'Loop.__init__', 'selectors.DefaultSelector', 'default'),
    }


HELPER_SOCKET = '''\
import _socket
from _socket import *


class socket(_socket.socket):
    pass


def _own_socket(factory, /, *args, cloexec=True, **kwargs):
    return factory(*args, cloexec=cloexec, **kwargs)


def _own_accept(sock, *, cloexec=True):
    if known(sock):
        return sock.accept(cloexec=cloexec)
    return sock.accept()


def _fallback_socketpair(cloexec=None):
    return _own_socket(socket, AF_INET, SOCK_STREAM, cloexec=cloexec)


def recv_fds(sock, cloexec=None):
    return sock.recvmsg(1, 2, cloexec=cloexec)
'''

HELPER_USER = '''\
import socket
from socket import _own_accept, _own_dup, _own_recvmsg, _own_socketpair


class Server(socket.socket):
    def start(self, fd):
        self.listener = socket._own_socket(socket.socket, socket.AF_INET)
        socket._own_socket(socket.socket, socket.AF_UNIX, fileno=fd)
        self.pair = _own_socketpair(socket.socketpair)
        self.port = socket._own_socket(socket.create_server, ("", 0))

    def serve(self, sock, flag):
        _own_accept(sock, cloexec=flag)
        _own_dup(sock)
        _own_recvmsg(sock, 1, 2)

    def accept(self, *, cloexec=None):
        return super().accept(cloexec=cloexec)
'''


def test_static_scanner_helper_calls(tmp_path):
    # a helper call is a site of the creator it calls, asking for the flag
    # unless it says otherwise, through an object the caller can replace
    sites = scan({'socket.py': HELPER_SOCKET, 'server.py': HELPER_USER},
                 tmp_path)
    got = {(s.file, s.function, s.call, s.asks, s.detail, s.via)
           for s in sites}
    assert got == {
        ('server.py', 'Server.start', 'socket.socket', 'true',
         'cloexec=True (_own_socket)', '_own_socket'),
        ('server.py', 'Server.start', 'socket.socketpair', 'true',
         'cloexec=True (_own_socketpair)', '_own_socketpair'),
        ('server.py', 'Server.start', 'socket.create_server', 'true',
         'cloexec=True (_own_socket)', '_own_socket'),
        ('server.py', 'Server.serve', 'socket.accept', 'forward',
         'cloexec=flag (_own_accept)', '_own_accept'),
        ('server.py', 'Server.serve', 'socket.dup', 'true',
         'cloexec=True (_own_dup)', '_own_dup'),
        ('server.py', 'Server.serve', 'socket.recvmsg', 'true',
         'cloexec=True (_own_recvmsg)', '_own_recvmsg'),
        # super()'s accept() is the stdlib class's own: not replaceable
        ('server.py', 'Server.accept', 'socket.accept', 'forward',
         'cloexec=cloexec', ''),
        # inside socket.py: the bare helper, and the helper's own body
        ('socket.py', '_fallback_socketpair', 'socket.socket', 'forward',
         'cloexec=cloexec (_own_socket)', '_own_socket'),
        ('socket.py', '_own_accept', 'socket.accept', 'forward',
         'cloexec=cloexec', 'method'),
        ('socket.py', '_own_accept', 'socket.accept', 'after',
         'the flag set after the call', ''),
        # cloexec= to a method of the socket the caller gave
        ('socket.py', 'recv_fds', 'socket.recvmsg', 'forward',
         'cloexec=cloexec', 'method'),
    }
    assert all(s.asked for s in sites)


# --- the classification check ------------------------------------------------

def toml_entry(file, function, call, kind, reason='because'):
    return (f'[[site]]\nfile = "{file}"\nfunction = "{function}"\n'
            f'call = "{call}"\nkind = "{kind}"\nreason = "{reason}"\n\n')


OWN = {('mod.py', 'f', 'os.open'), ('mod.py', 'f', 'os.pipe')}
NOT_FD = {('mod.py', 'f.<locals>.g', 'socket.dup')}


def classification(sites, own=(), not_fd=(), skip=()):
    text = []
    for key in sorted({s.key for s in sites}):
        if key in skip:
            continue
        kind = 'own' if key in own else 'not-fd' if key in not_fd else \
            'default'
        text.append(toml_entry(*key, kind))
    return ''.join(text)


@pytest.fixture
def fake(tmp_path):
    """A project whose checkout is a small fake Lib/ tree."""
    proj = Project(tmp_path / 'p')
    make_lib(proj.cpython / 'Lib', {
        'simple.py': textwrap.dedent('''\
            import os


            def own():
                return os.pipe(cloexec=True), os.open('p', os.O_CLOEXEC)


            def users(path):
                return open(path)
            '''),
        'test/test_simple.py': 'open("x")\n'})
    proj.sites = auditstatic.scan_library(proj.cpython / 'Lib')[0]
    proj.toml = proj.repo / 'audit' / 'stdlib-fd-sites.toml'
    proj.own = {('simple.py', 'own', 'os.pipe'),
                ('simple.py', 'own', 'os.open')}
    return proj


def write_toml(proj, **kwargs):
    write(proj.repo, 'audit/stdlib-fd-sites.toml',
          classification(proj.sites, **kwargs))


def test_all_classified(fake, capsys):
    write_toml(fake, own=fake.own)
    assert fake.run('audit', '--static-only') == 0
    out = capsys.readouterr().out
    assert '| simple.py | own | os.pipe | 5 | cloexec=True | - | own | ok |' \
        in out
    assert '- sites: 3' in out
    assert '- classified own: 2' in out
    report = fake.workdir / 'results' / 'audit'
    assert (report / 'report.md').read_text() == out
    data = json.loads((report / 'sites.json').read_text())
    assert {(s['file'], s['function'], s['call'], s['kind'])
            for s in data['sites']} == {
        ('simple.py', 'own', 'os.pipe', 'own'),
        ('simple.py', 'own', 'os.open', 'own'),
        ('simple.py', 'users', 'open', 'default')}


def test_unclassified_site(fake, capsys, caplog):
    write_toml(fake, own=fake.own, skip={('simple.py', 'users', 'open')})
    assert fake.run('audit', '--static-only') == 1
    out = capsys.readouterr().out
    assert ('- Lib/simple.py: users: open (line 9): not classified'
            in out)
    stub = ('file = "simple.py"\nfunction = "users"\ncall = "open"\n'
            'kind = "TODO"')
    assert stub in out
    assert 'simple.py users open: not classified' in caplog.text


def test_own_site_that_follows_the_default(tmp_path, capsys):
    proj = Project(tmp_path / 'p')
    make_lib(proj.cpython / 'Lib', {'mod.py': MOD})
    sites = auditstatic.scan_library(proj.cpython / 'Lib')[0]
    write(proj.repo, 'audit/stdlib-fd-sites.toml',
          classification(sites, own=OWN, not_fd=NOT_FD))
    assert proj.run('audit', '--static-only') == 1
    out = capsys.readouterr().out
    problems = out.split('## Problems')[1]
    # f's first os.open asks for nothing; the pipe says cloexec=False
    # (explicit: not a problem)
    first = MOD.splitlines().index("    _os.open('p', _os.O_RDONLY)") + 1
    assert (f'- Lib/mod.py: f: os.open (line {first}, {first + 1}, '
            f'{first + 2}): own, but follows the default at line {first} '
            '(follows default)') in problems
    assert 'os.pipe' not in problems
    assert problems.count('\n- ') == 1


@pytest.mark.parametrize('asks, status', [(True, 0), (False, 1)])
def test_own_indirect_selector(tmp_path, capsys, asks, status):
    proj = Project(tmp_path / 'p')
    make_lib(proj.cpython / 'Lib', {'selectors.py': selectors_source(asks),
                                    'loop.py': LOOP})
    sites = auditstatic.scan_library(proj.cpython / 'Lib')[0]
    write(proj.repo, 'audit/stdlib-fd-sites.toml', classification(
        sites, own={s.key for s in sites}))
    assert proj.run('audit', '--static-only') == status
    out = capsys.readouterr().out
    if asks:
        assert '## Problems' not in out
    else:
        assert ('- Lib/loop.py: Loop.__init__: selectors.DefaultSelector '
                '(line 6): own, but selectors.DefaultSelector() does not '
                'always make its fd close-on-exec') in out
        assert ('- Lib/selectors.py: _PollLikeSelector.__init__: '
                'select.epoll (line 8): own, but follows the default') in out


def test_own_create_connection_is_never_cloexec(tmp_path, capsys):
    proj = Project(tmp_path / 'p')
    make_lib(proj.cpython / 'Lib', {
        'socket.py': OWN_SOCKET,
        'client.py': 'import socket\n\n\ndef connect(a):\n'
                     '    return socket.create_connection(a)\n'})
    sites = auditstatic.scan_library(proj.cpython / 'Lib')[0]
    write(proj.repo, 'audit/stdlib-fd-sites.toml', classification(
        sites, own={('client.py', 'connect', 'socket.create_connection')}))
    assert proj.run('audit', '--static-only') == 1
    assert ('client.py: connect: socket.create_connection (line 5): own, '
            'but socket.create_connection() does not always'
            in capsys.readouterr().out)


REPLACEABLE_TEST = '''\
import unittest


class Base(unittest.TestCase):
    def test_inherited(self):
        pass


class ServerTests(Base):
    def test_accept_313(self):
        pass
'''


@pytest.fixture
def helped(fake):
    """The fake project with a site that goes through a helper, and a
    compatibility test in its Lib/test."""
    lib = fake.cpython / 'Lib'
    make_lib(lib, {'server.py': textwrap.dedent('''\
        import socket


        def get_request(sock):
            return socket._own_accept(sock)


        def listen():
            return socket._own_socket(socket.create_server, ("", 0))
        '''), 'test/test_server.py': REPLACEABLE_TEST})
    fake.sites = auditstatic.scan_library(lib)[0]
    fake.own |= {('server.py', 'get_request', 'socket.accept'),
                 ('server.py', 'listen', 'socket.create_server')}
    return fake


def write_replaceable(proj, tests):
    """The classification of *proj*, its helper sites marked replaceable
    with the compat_test *tests* (None: no compat_test)."""
    text = [classification(proj.sites, own=proj.own)]
    line = '' if tests is None else f'compat_test = {json.dumps(tests)}\n'
    mark = f'replaceable = true\n{line}'
    for function, call in (('get_request', 'socket.accept'),
                           ('listen', 'socket.create_server')):
        entry = toml_entry('server.py', function, call, 'own')
        text[0] = text[0].replace(entry, entry.rstrip('\n') + '\n' + mark
                                  + '\n')
    write(proj.repo, 'audit/stdlib-fd-sites.toml', text[0])


@pytest.mark.parametrize('tests', [
    'test_server.ServerTests.test_accept_313',
    ['test_server.ServerTests.test_accept_313',
     'test_server.ServerTests.test_inherited'],
])
def test_replaceable_site_with_its_test(helped, capsys, tests):
    write_replaceable(helped, tests)
    assert helped.run('audit', '--static-only') == 0
    out = capsys.readouterr().out
    assert ('| server.py | get_request | socket.accept | 5 | cloexec=True '
            '(_own_accept) | - | own, replaceable | ok |') in out
    # create_server() does not always set the flag: the helper does
    assert ('| server.py | listen | socket.create_server | 9 | '
            'cloexec=True (_own_socket) | - | own, replaceable | ok |') in out
    assert '- marked replaceable: 2' in out
    data = json.loads((helped.workdir / 'results' / 'audit' /
                       'sites.json').read_text())
    site, = [s for s in data['sites'] if s['call'] == 'socket.accept']
    assert site['replaceable'] is True
    assert site['compat_tests'] == ([tests] if isinstance(tests, str)
                                    else tests)
    assert site['static'][0]['via'] == '_own_accept'


def test_replaceable_site_not_marked(helped, capsys, caplog):
    write_toml(helped, own=helped.own)
    assert helped.run('audit', '--static-only') == 1
    out = capsys.readouterr().out
    assert ('- Lib/server.py: get_request: socket.accept (line 5): passes '
            'the flag to an object the caller can supply or replace at line '
            '5 (through _own_accept()): mark it replaceable = true, with the '
            'compat_test that covers it') in out
    assert 'server.py get_request socket.accept: passes the flag' in \
        caplog.text


def test_replaceable_site_without_compat_test(helped, capsys, caplog):
    write_replaceable(helped, None)
    assert helped.run('audit', '--static-only') == 1
    out = capsys.readouterr().out
    message = ('replaceable, but no compat_test names the test of Lib/test '
               'that covers it')
    assert (f'- Lib/server.py: get_request: socket.accept (line 5): '
            f'{message}') in out
    assert f'server.py get_request socket.accept: {message}' in caplog.text


@pytest.mark.parametrize('test, problem', [
    ('test_server.ServerTests.test_gone',
     'names no method ServerTests.test_gone in Lib/test/test_server.py'),
    ('test_server.Gone.test_accept_313',
     'names no class Gone in Lib/test/test_server.py'),
    ('test_gone.ServerTests.test_accept_313',
     'names no file Lib/test/test_gone.py'),
    ('test_server.test_accept_313',
     'is not of the form module.Class.test_method'),
])
def test_replaceable_site_whose_test_is_missing(helped, capsys, caplog,
                                                test, problem):
    write_replaceable(helped, ['test_server.ServerTests.test_accept_313',
                               test])
    assert helped.run('audit', '--static-only') == 1
    message = f'replaceable, but its compat_test {test} {problem}'
    assert (f'- Lib/server.py: get_request: socket.accept (line 5): '
            f'{message}') in capsys.readouterr().out
    assert f'server.py get_request socket.accept: {message}' in caplog.text


def test_replaceable_stub(helped, capsys):
    write_toml(helped, own=helped.own,
               skip={('server.py', 'get_request', 'socket.accept')})
    assert helped.run('audit', '--static-only') == 1
    assert ('call = "socket.accept"\nkind = "TODO"  # "default", "own" or '
            '"not-fd"\nreason = "TODO"\nreplaceable = true\ncompat_test = '
            '"TODO"') in capsys.readouterr().out


def test_stale_entry_is_a_warning(fake, caplog, capsys):
    write_toml(fake, own=fake.own)
    with open(fake.toml, 'a') as f:
        f.write(toml_entry('gone.py', 'f', 'open', 'default'))
    caplog.set_level(logging.WARNING)
    assert fake.run('audit', '--static-only') == 0
    assert ('stale classification entry (matches no site): gone.py f open'
            in caplog.text)
    assert '- gone.py: f: open (kind default): matches no site' in \
        capsys.readouterr().out


@pytest.mark.parametrize('text, message', [
    ('[[site]\nfile = "x"\n', 'cannot read the classification file'),
    (toml_entry('simple.py', 'users', 'open', 'mine'), "not 'mine'"),
    ('[[site]]\nfile = "simple.py"\n', 'missing or empty: function, call'),
    (toml_entry('a.py', 'f', 'open', 'own') * 2, 'a second entry'),
    (toml_entry('a.py', 'f', 'open', 'own') + 'compat_test = "t.C.test_x"\n',
     'compat_test without replaceable = true'),
    (toml_entry('a.py', 'f', 'open', 'own') + 'replaceable = "yes"\n',
     'replaceable must be true or false'),
    (toml_entry('a.py', 'f', 'open', 'own')
     + 'replaceable = true\ncompat_test = 3\n',
     'compat_test must be a test name'),
])
def test_bad_classification(fake, caplog, text, message):
    write(fake.repo, 'audit/stdlib-fd-sites.toml', text)
    assert fake.run('audit', '--static-only') == 3
    assert message in caplog.text
    assert str(fake.toml) in caplog.text


def test_missing_classification_and_checkout(fake, tmp_path, caplog):
    assert fake.run('audit', '--static-only') == 3
    assert 'no classification file' in caplog.text
    empty = Project(tmp_path / 'empty')
    assert empty.run('audit', '--static-only') == 3
    assert 'scripts/pep433 --base 3.13.5 fetch' in caplog.text


def test_dynamic_part_needs_a_build_or_records(fake, caplog):
    write_toml(fake, own=fake.own)
    assert fake.run('audit') == 3
    assert 'scripts/pep433 --base 3.13.5 build' in caplog.text
    assert fake.run('audit', '--reuse') == 3
    assert 'no saved dynamic records' in caplog.text
    assert fake.run('audit', '--reuse', '--static-only') == 2


def record(pid, count, mode='default', file='simple.py', function='own',
           call='os.pipe', line=5):
    if file is None:
        return {'pid': pid, 'other': True, 'call': call, 'mode': mode,
                'count': count}
    return {'pid': pid, 'file': file, 'line': line, 'function': function,
            'call': call, 'mode': mode, 'count': count}


def write_records(directory, records):
    directory.mkdir(parents=True, exist_ok=True)
    for rec in records:
        with open(directory / f'{rec["pid"]}.jsonl', 'a') as f:
            f.write(json.dumps(rec) + '\n')


def test_load_dynamic_aggregates(tmp_path):
    write_records(tmp_path, [
        record(1, 1), record(1, 2), record(1, 4), record(1, 3, 'true'),
        record(2, 1), record(2, 7, function='users', call='open', line=9),
        record(2, 1, line=6), record(3, 5, file=None, call='open')])
    with open(tmp_path / '4.jsonl', 'w') as f:
        f.write('{"pid": 4, "file": "x.py", "li')     # killed mid-line
    sites, other, processes = audit_dynamic.load_dynamic(tmp_path)
    assert processes == 4
    assert sites == {
        ('simple.py', 'own', 'os.pipe'): {
            'modes': {'default': 6, 'true': 3}, 'lines': {5, 6}},
        ('simple.py', 'users', 'open'): {'modes': {'default': 7},
                                         'lines': {9}}}
    assert other == {'open': {'default': 5}}


def test_reuse_checks_the_saved_records(fake, capsys):
    write_toml(fake, own=fake.own)
    dyndir = fake.workdir / 'results' / 'audit' / 'dynamic'
    write_records(dyndir, [record(1, 2, 'true'), record(1, 3, mode='opener',
                                                        function='users',
                                                        call='open', line=9)])
    assert fake.run('audit', '--reuse') == 0
    out = capsys.readouterr().out
    assert '| simple.py | own | os.pipe | 5 | cloexec=True | 2 cloexec |' \
        in out
    assert '| simple.py | own | os.open | 5 | O_CLOEXEC | not reached |' in out
    assert '- reached dynamically: 2' in out
    # the own site resolved from the default, and a site only the tracer saw
    write_records(dyndir, [record(2, 1), record(2, 1, file='simple.py',
                                                function='helper',
                                                call='os.dup', line=12)])
    assert fake.run('audit', '--reuse') == 1
    out = capsys.readouterr().out
    assert ('- Lib/simple.py: own: os.pipe (line 5): own, but the tracer saw '
            'it resolved from the default 1 times') in out
    assert '- Lib/simple.py: helper: os.dup (line 12): not classified' in out
    assert '(not seen statically)' in out


def test_help_points_to_the_timings(capsys):
    # measured figures live in the docs, not in --help
    from pep433tool import cli
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(['audit', '--help'])
    out = capsys.readouterr().out
    assert 'docs/audit.md' in out and 'minutes' not in out
    assert '--static-only' in out and '--reuse' in out


# --- the tracer, under the Python running the tests --------------------------

FAKE_STDLIB_MODULE = '''\
import os, socket, select


def make(path):
    fd = os.open(path, os.O_RDONLY)
    os.close(fd)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    os.close(fd)
    with open(path) as f:
        with open(f.fileno(), closefd=False):
            pass
    for sock in socket.socketpair():
        sock.close()
    sock = socket.socket(socket.AF_INET,
                         socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    socket.socket(fileno=sock.detach()).close()
    ep = select.epoll()
    ep.close()
    r, w = os.pipe()
    os.dup2(r, w, False)
    os.close(r)
    os.close(w)

    class Inner:
        def method(self):
            return os.dup(0)
    os.close(Inner().method())
    pid = os.fork()
    if pid == 0:
        os.close(os.dup(0))
        os._exit(0)
    os.waitpid(pid, 0)
'''

SCRIPT_TEXT = '''\
import builtins, io, os, select, sys
sys.path.insert(0, sys.argv[1])
import fakemod
from test import helper
assert open is io.open is builtins.open
assert os.open.__name__ == 'open' and hasattr(os.open, '__wrapped__')
assert isinstance(select.epoll(), select.epoll)
assert os.open in os.supports_dir_fd        # shutil.rmtree's fd-based walk
assert type('K', (), {'o': open})().o is open   # does not bind as a method
assert select.epoll.fromfd
fakemod.make(sys.argv[2])
helper.make()
os.close(os.dup(0))
try:
    os.open('/nonexistent/x', os.O_RDONLY)
except FileNotFoundError:
    pass
'''


@pytest.mark.skipif(not hasattr(os, 'fork') or not hasattr(__import__(
    'select'), 'epoll'), reason='needs fork and epoll')
def test_tracer_records_sites(tmp_path):
    stdlib = tmp_path / 'stdlib'
    write(stdlib, 'fakemod.py', FAKE_STDLIB_MODULE)
    write(stdlib, 'test/__init__.py', '')
    write(stdlib, 'test/helper.py', 'import os\n\ndef make():\n'
          '    os.close(os.dup(0))\n')
    script = write(tmp_path, 'script.py', SCRIPT_TEXT)
    logdir = tmp_path / 'log'
    logdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env.update(PYTHONPATH=str(TRACER_DIR), PEP433_AUDIT_LOG=str(logdir),
               PEP433_AUDIT_STDLIB=str(stdlib))
    proc = subprocess.run([sys.executable, str(script), str(stdlib),
                           str(tmp_path / 'script.py')], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    files = sorted(logdir.glob('*.jsonl'))
    assert len(files) == 2      # the forked child has a file of its own
    sites, other, processes = audit_dynamic.load_dynamic(logdir)
    line = {text.strip(): n for n, text in enumerate(
        FAKE_STDLIB_MODULE.splitlines(), 1)}
    got = {(key[1], key[2], tuple(sorted(info['modes'].items())),
            tuple(sorted(info['lines']))) for key, info in sites.items()}
    assert {key[0] for key in sites} == {'fakemod.py'}
    assert got == {
        ('make', 'os.open', (('default', 1), ('true', 1)), (
            line['fd = os.open(path, os.O_RDONLY)'],
            line['fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)'])),
        ('make', 'open', (('default', 1),), (line['with open(path) as f:'],)),
        ('make', 'socket.socketpair', (('default', 1),),
         (line['for sock in socket.socketpair():'],)),
        ('make', 'socket.socket', (('true', 1),),
         (line['sock = socket.socket(socket.AF_INET,'],)),
        ('make', 'select.epoll', (('default', 1),),
         (line['ep = select.epoll()'],)),
        ('make', 'os.pipe', (('default', 1),), (line['r, w = os.pipe()'],)),
        ('make', 'os.dup2', (('true', 1),), (line['os.dup2(r, w, False)'],)),
        ('make.<locals>.Inner.method', 'os.dup', (('default', 1),),
         (line['return os.dup(0)'],)),
        ('make', 'os.dup', (('default', 1),),
         (line['os.close(os.dup(0))'],)),
    }
    # from the script, the test helper and the fake stdlib's test dir
    assert other['os.dup'] == {'default': 2}
    assert other['os.open'] == {'default': 1}
    # the script's, and maybe the real selectors' probe at its import
    assert other['select.epoll']['default'] >= 1


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_tracer_skips_the_socket_helpers(tmp_path):
    # a call from socket.py's _own_*() helpers is recorded at their caller
    stdlib = tmp_path / 'stdlib'
    write(stdlib, 'socket.py', 'def _own_dup(fd):\n'
          '    import os\n    return os.dup(fd)\n')
    write(stdlib, 'fakemod.py', textwrap.dedent('''\
        import importlib.util, os
        spec = importlib.util.spec_from_file_location(
            'fake_socket', os.path.join(os.path.dirname(__file__),
                                        'socket.py'))
        helpers = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(helpers)


        def make():
            os.close(helpers._own_dup(0))
        '''))
    logdir = tmp_path / 'log'
    logdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env.update(PYTHONPATH=str(TRACER_DIR), PEP433_AUDIT_LOG=str(logdir),
               PEP433_AUDIT_STDLIB=str(stdlib))
    proc = subprocess.run([sys.executable, '-c', 'import sys; '
                           f'sys.path.insert(0, {str(stdlib)!r}); '
                           'import fakemod; fakemod.make()'],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sites, _, _ = audit_dynamic.load_dynamic(logdir)
    assert sites == {('fakemod.py', 'make', 'os.dup'): {
        'modes': {'default': 1}, 'lines': {10}}}


def test_tracer_is_inert_without_its_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env['PYTHONPATH'] = str(TRACER_DIR)
    proc = subprocess.run([sys.executable, '-c',
                           'import os, io; print(os.open.__module__, '
                           'hasattr(io.open, "__wrapped__"))'],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['posix', 'False']


# --- slow: the patched interpreter, the real tree ----------------------------

@pytest.mark.slow
def test_tracer_on_the_patched_interpreter(patched, tmp_path):
    script = write(tmp_path, 'script.py', textwrap.dedent('''\
        import os, selectors, socket, tempfile
        os.close(os.open(os.devnull, os.O_RDONLY, cloexec=True))
        os.close(os.open(os.devnull, os.O_RDONLY, cloexec=False))
        a, b = socket.socketpair()
        socket.send_fds(a, [b'x'], [0])
        msg, fds, flags, addr = socket.recv_fds(b, 10, 1, cloexec=True)
        os.close(fds[0])
        selectors.DefaultSelector().close()
        tempfile.TemporaryFile().close()
        # through socket._own_socket() and _own_accept(): the tracer's
        # wrappers still take cloexec, and the site is their caller
        import socketserver
        server = socketserver.TCPServer(('127.0.0.1', 0), None)
        with socket.create_connection(server.server_address):
            server.get_request()[0].close()
        server.server_close()
        '''))
    logdir = tmp_path / 'log'
    logdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env.update(PYTHONPATH=str(TRACER_DIR), PEP433_AUDIT_LOG=str(logdir))
    proc = subprocess.run([str(patched), str(script)], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    sites, other, _ = audit_dynamic.load_dynamic(logdir)
    assert other['os.open'] == {'true': 1, 'false': 1}
    assert other['socket.socketpair'] == {'default': 1}
    assert other['socket.recv_fds'] == {'true': 1}
    assert sites[('socket.py', 'recv_fds', 'socket.recvmsg')]['modes'] == {
        'true': 1}
    assert ('tempfile.py', '_mkstemp_inner', 'os.open') in sites or \
        ('tempfile.py', 'TemporaryFile.<locals>.opener', 'os.open') in sites
    epoll = [info['modes'] for key, info in sites.items()
             if key[0] == 'selectors.py' and key[2] == 'select.epoll'
             and key[1] != '_can_use']
    assert epoll and all(set(modes) == {'true'} for modes in epoll), sites
    for function, call in (('TCPServer.__init__', 'socket.socket'),
                           ('TCPServer.get_request', 'socket.accept')):
        assert sites[('socketserver.py', function, call)]['modes'] == {
            'true': 1}, sites
    assert not [key for key in sites if key[1].startswith('_own_')], sites


@pytest.mark.slow
def test_static_audit_of_the_real_tree(all_run):
    # Holds once the series asks for the flag on every own site.
    proc = run_tool(sys.executable, SCRIPT, 'audit', '--static-only',
                    capture_output=True)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
