"""The tracer of ``scripts/pep433 audit``: which stdlib sites make fds, how.

Loaded at start-up as ``sitecustomize`` by running the patched interpreter
with ``PYTHONPATH=<this directory>`` and ``PEP433_AUDIT_LOG=<directory>``
(without the latter it does nothing).  It wraps the Python-level entry
points that create an fd and, for each call that creates one, records the
call site (the innermost Python frame outside this file and outside the
``_own_*()`` helpers of the stdlib's socket.py, whose caller is the site) and
how the flag was resolved:

* ``default``: no ``cloexec=`` (or ``cloexec=None``) and no explicit flag
  bit (``O_CLOEXEC``, ``SOCK_CLOEXEC``, ``EPOLL_CLOEXEC``,
  ``MSG_CMSG_CLOEXEC``), so ``sys.getdefaultcloexec()`` decides;
* ``true`` / ``false``: ``cloexec=`` given (a bit counts as ``true``;
  for ``os.dup2``, ``inheritable=X`` counts as ``cloexec=not X``);
* ``opener``: ``open(..., opener=...)`` without ``cloexec=``: the fd is the
  opener's, whose own call is traced.

``open(<int>)`` and ``socket(fileno=...)`` take an existing fd over and are
not recorded; ``recvmsg``/``recvmsg_into``/``recv_fds`` are recorded only
when they received fds.  Sites in the patched stdlib
(``os.path.dirname(os.__file__)``, or ``$PEP433_AUDIT_STDLIB``) outside its
test directories (and unittest, which calls what tests pass to
assertRaises) are recorded one by one; calls from anywhere else are counted
per callee as "other".

Each process appends JSON lines to ``<PEP433_AUDIT_LOG>/<pid>.jsonl``: one
when a (site, mode) is first seen, again when its count reaches a power of
two, and the final counts at exit (a child that ends with ``os._exit``
keeps the counts of its last line: at least half the true ones).  The file
is opened, written and closed for each line (O_APPEND, O_CLOEXEC), so no fd
of the tracer stays open in the traced process; a forked child gets a new
pid and starts its own file.  The wrappers pass their arguments through
untouched and the tracer never raises into the traced code.

Only the standard library is used, and as little of it as possible (no
json: one more module imported at start-up changes less).
"""

import atexit
import builtins
import functools
import io
import os
import sys

import _io

_LOG_DIR = os.environ.get('PEP433_AUDIT_LOG')
_STDLIB = os.path.normpath(os.environ.get('PEP433_AUDIT_STDLIB')
                           or os.path.dirname(os.__file__))
#: Directories (relative to the stdlib) that hold tests; keep in step with
#: auditstatic.TEST_DIRS.
_TEST_DIRS = ('test', 'tests', 'idle_test', '__phello__')

# what the tracer itself uses, saved before anything is wrapped
_getpid = os.getpid
_os_open = os.open
_os_write = os.write
_os_close = os.close
_getframe = sys._getframe
_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT
          | getattr(os, 'O_CLOEXEC', 0))

_state = {'pid': None, 'counts': {}, 'written': {}}
#: constants of select and _socket (set by install())
_BITS = {}
_files = {}     # co_filename -> rel path or None (not a stdlib site)


def _json(value):
    """Encode a str, int or bool as JSON."""
    if value is True or value is False:
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(int(value))
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append('\\' + ch)
        elif code < 0x20 or 0xd800 <= code <= 0xdfff:
            out.append('\\u%04x' % code)
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def _write(line):
    try:
        fd = _os_open(os.path.join(_LOG_DIR, '%d.jsonl' % _state['pid']),
                      _FLAGS, 0o644)
    except OSError:
        return
    try:
        _os_write(fd, line.encode('utf-8', 'surrogatepass'))
    except OSError:
        pass
    finally:
        _os_close(fd)


def _line(key, count):
    fields = [('pid', _state['pid'])]
    if key[0] is None:
        fields += [('other', True), ('call', key[3]), ('mode', key[4])]
    else:
        fields += [('file', key[0]), ('line', key[1]), ('function', key[2]),
                   ('call', key[3]), ('mode', key[4])]
    fields.append(('count', count))
    return '{%s}\n' % ', '.join('%s: %s' % (_json(name), _json(value))
                                for name, value in fields)


def _rel(filename):
    """The path under the stdlib of a code's file, or None."""
    try:
        return _files[filename]
    except KeyError:
        pass
    rel = None
    if filename.startswith('<frozen ') and filename.endswith('>'):
        module = filename[8:-1].replace('.', '/')
        for candidate in (module + '.py', module + '/__init__.py'):
            if os.path.isfile(os.path.join(_STDLIB, candidate)):
                rel = candidate
                break
    else:
        path = os.path.normpath(os.path.abspath(filename))
        if path.startswith(_STDLIB + os.sep):
            rel = path[len(_STDLIB) + 1:].replace(os.sep, '/')
    if rel is not None:
        parts = rel.split('/')
        # unittest is the tests' machinery: assertRaises(OSError, os.pipe)
        # calls os.pipe from unittest/case.py on the test's behalf
        if (any(part in _TEST_DIRS for part in parts[:-1])
                or parts[0] in ('site-packages', 'unittest')):
            rel = None
    _files[filename] = rel
    return rel


def _record(call, mode):
    """Count one fd made by *call* resolved as *mode*, at the caller."""
    try:
        pid = _getpid()
        if pid != _state['pid']:
            # first call, or a forked child: counts of its own
            _state['pid'] = pid
            _state['counts'] = {}
            _state['written'] = {}
        frame = _getframe(1)
        while frame is not None and (frame.f_code.co_filename == _THIS
                                     or _in_helper(frame)):
            frame = frame.f_back
        rel = None
        if frame is not None:
            rel = _rel(frame.f_code.co_filename)
            names = frame.f_code.co_names
            if (rel is not None and call == 'open' and mode == 'default'
                    and 'open_code' in names and 'open' not in names):
                # io.open_code() calls _io.open from C with cloexec=True,
                # unless a hook (PyFile_SetOpenCodeHook: an embedder's,
                # test_embed's) opens the file itself: not the stdlib's call
                rel = None
        if rel is None:
            key = (None, 0, '', call, mode)
        else:
            key = (rel, frame.f_lineno, frame.f_code.co_qualname, call, mode)
        counts = _state['counts']
        count = counts.get(key, 0) + 1
        counts[key] = count
        if count & (count - 1) == 0:
            _state['written'][key] = count
            _write(_line(key, count))
    except Exception:
        pass


#: co_filename of this module's code: its frames are not call sites
_THIS = _record.__code__.co_filename


def _in_helper(frame):
    """True if *frame* runs one of socket.py's ``_own_*()`` helpers, which
    create a socket for their caller (keep in step with
    audit_creators.HELPERS)."""
    code = frame.f_code
    return code.co_name.startswith('_own_') and _rel(
        code.co_filename) == 'socket.py'


def _flush():
    """At exit: write the counts that changed since their last line."""
    try:
        if _state['pid'] != _getpid():
            return
        written = _state['written']
        lines = [_line(key, count) for key, count in _state['counts'].items()
                 if written.get(key) != count]
        if lines:
            _write(''.join(lines))
    except Exception:
        pass


# --- how each call resolves the flag ----------------------------------------

def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _has_bit(value, bit):
    try:
        return bool(bit) and value != -1 and bool(int(value) & bit)
    except Exception:
        return False


def _mode(kwargs, bit=False):
    cloexec = kwargs.get('cloexec')
    if bit:
        return 'true'
    if cloexec is None:
        return 'default'
    return 'true' if cloexec else 'false'


def _simple(args, kwargs):
    return _mode(kwargs)


def _os_open_mode(args, kwargs):
    flags = _arg(args, kwargs, 1, 'flags', 0)
    return _mode(kwargs, _has_bit(flags, getattr(os, 'O_CLOEXEC', 0)))


def _dup2_mode(args, kwargs):
    if kwargs.get('cloexec') is None:
        inheritable = _arg(args, kwargs, 2, 'inheritable')
        if inheritable is not None:
            return 'false' if inheritable else 'true'
    return _mode(kwargs)


def _open_mode(args, kwargs):
    file = _arg(args, kwargs, 0, 'file')
    if isinstance(file, int):
        return None     # an existing fd
    if kwargs.get('cloexec') is None and _arg(args, kwargs, 7,
                                              'opener') is not None:
        return 'opener'
    return _mode(kwargs)


def _type_mode(index):
    def mode(args, kwargs):
        value = _arg(args, kwargs, index, 'type', -1)
        return _mode(kwargs, _has_bit(value, _BITS['SOCK_CLOEXEC']))
    return mode


def _socket_init_mode(args, kwargs):
    # args[0] is self
    if _arg(args, kwargs, 4, 'fileno') is not None:
        return None     # an existing fd
    return _type_mode(2)(args, kwargs)


def _flags_mode(index, bit_name):
    def mode(args, kwargs):
        return _mode(kwargs, _has_bit(_arg(args, kwargs, index, 'flags', 0),
                                      _BITS[bit_name]))
    return mode


def _got_fds(result):
    """recvmsg()/recvmsg_into() received SCM_RIGHTS."""
    level_rights = (_BITS['SOL_SOCKET'], _BITS['SCM_RIGHTS'])
    return any((level, kind) == level_rights and data
               for level, kind, data in result[1])


class _Traced:
    """A traced function: a callable object, not a function, so that it
    does not bind as a method when stored in a class (test_io sets
    ``open = io.open`` on its test classes), like the builtins it
    replaces."""

    def __init__(self, original, call, mode_of, received=None):
        functools.update_wrapper(self, original)
        self._audit = (original, call, mode_of, received)

    def __call__(self, /, *args, **kwargs):
        original, call, mode_of, received = self._audit
        return _traced_call(original, call, mode_of, received, args, kwargs)

    def __repr__(self):
        return repr(self.__wrapped__)


def _traced_call(original, call, mode_of, received, args, kwargs):
    try:
        mode = mode_of(args, kwargs)
    except Exception:
        mode = None
    if received is None:
        if mode is not None:
            _record(call, mode)
        return original(*args, **kwargs)
    result = original(*args, **kwargs)
    try:
        if mode is not None and received(result):
            _record(call, mode)
    except Exception:
        pass
    return result


def _wrap(original, call, mode_of, received=None, method=False):
    """A traced *original*: a function if it is a *method* (it must bind),
    else a callable object."""
    if not method:
        return _Traced(original, call, mode_of, received)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        return _traced_call(original, call, mode_of, received, args, kwargs)
    return wrapper


def _patch(owner, name, call, mode_of, received=None, source=None,
           method=False):
    original = getattr(source or owner, name, None)
    if original is None:
        return None
    wrapper = _wrap(original, call, mode_of, received, method)
    setattr(owner, name, wrapper)
    return wrapper


class _TracedType(type):
    """The metaclass of the stand-ins of select.epoll/kqueue/devpoll.

    Those types cannot be subclassed, so the stand-in is a class whose
    calls record and return an object of the real type, and for which
    isinstance(), issubclass() and the real type's attributes (fromfd...)
    keep working.
    """

    def __call__(cls, *args, **kwargs):
        try:
            mode = cls._audit_mode(args, kwargs)
            _record(cls._audit_call, mode)
        except Exception:
            pass
        return cls.__wrapped__(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.__wrapped__)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.__wrapped__)

    def __getattr__(cls, name):
        return getattr(cls.__wrapped__, name)


def _traced_type(module, name, mode_of):
    real = getattr(module, name, None)
    if real is None:
        return
    stand_in = _TracedType(name, (), {
        '__wrapped__': real, '__doc__': real.__doc__,
        '__module__': real.__module__, '__qualname__': real.__qualname__,
        '_audit_call': f'{module.__name__}.{name}',
        '_audit_mode': staticmethod(mode_of)})
    setattr(module, name, stand_in)


def install():
    """Wrap the entry points (select first: selectors, which socket
    imports, binds select.epoll at import)."""
    import _socket
    import select
    _BITS['EPOLL_CLOEXEC'] = getattr(select, 'EPOLL_CLOEXEC', 0)
    for name in ('SOCK_CLOEXEC', 'MSG_CMSG_CLOEXEC', 'SOL_SOCKET',
                 'SCM_RIGHTS'):
        _BITS[name] = getattr(_socket, name, 0)
    _traced_type(select, 'epoll', lambda args, kwargs: _mode(
        kwargs, _has_bit(_arg(args, kwargs, 1, 'flags', 0),
                         _BITS['EPOLL_CLOEXEC'])))
    _traced_type(select, 'kqueue', _simple)
    _traced_type(select, 'devpoll', _simple)

    for name, mode_of in (('open', _os_open_mode), ('dup', _simple),
                          ('dup2', _dup2_mode), ('pipe', _simple),
                          ('openpty', _simple), ('forkpty', _simple)):
        original = getattr(os, name, None)
        wrapper = _patch(os, name, 'os.' + name, mode_of)
        # shutil.rmtree() uses its fd-based walk only if os.open is in
        # os.supports_dir_fd: the wrapper must be where the original is
        for support in (os.supports_dir_fd, os.supports_fd,
                        os.supports_follow_symlinks,
                        os.supports_effective_ids):
            if original in support:
                support.add(wrapper)

    wrapper = _wrap(io.open, 'open', _open_mode)
    builtins.open = io.open = _io.open = wrapper

    import socket
    cls = socket.socket
    wrappers = [
        _patch(cls, '__init__', 'socket.socket', _socket_init_mode,
               method=True),
        _patch(cls, 'accept', 'socket.accept', _simple, method=True),
        _patch(cls, 'dup', 'socket.dup', _simple, method=True)]
    for name in ('recvmsg', 'recvmsg_into'):
        wrappers.append(_patch(cls, name, 'socket.' + name,
                               _flags_mode(3, 'MSG_CMSG_CLOEXEC'),
                               received=_got_fds, source=_socket.socket,
                               method=True))
    wrappers.append(_patch(socket, 'socketpair', 'socket.socketpair',
                           _type_mode(1)))
    wrappers.append(_patch(socket, 'fromfd', 'socket.fromfd', _type_mode(2)))
    _patch(socket, 'recv_fds', 'socket.recv_fds',
           _flags_mode(3, 'MSG_CMSG_CLOEXEC'),
           received=lambda result: bool(result[1]))
    _register(socket, wrappers)
    atexit.register(_flush)


def _register(socket, wrappers):
    """Register with socket.py, as taking cloexec, the wrappers of the
    callables registered so: its helpers pass cloexec only to those, by
    identity, and would take their other path under the tracer."""
    registered = getattr(socket, '_is_registered', None)
    register = getattr(socket, '_register_cloexec', None)
    if registered is None or register is None:
        return
    for wrapper in wrappers:
        if wrapper is not None and registered(wrapper.__wrapped__):
            register(wrapper)


if _LOG_DIR:
    try:
        install()
    except Exception as exc:    # never break the interpreter's start-up
        sys.stderr.write(f'pep433 audit tracer: not installed: {exc!r}\n')
