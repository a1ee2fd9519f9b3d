"""The fd creators of the stdlib as ``audit`` knows them, and a Site of one.

Which callees create an fd and take ``cloexec=`` (DIRECT), which wrap one
that does (INDIRECT), socket.py's helpers that pass the flag on (HELPERS),
the other spellings of their names, what ``from M import *`` brings, the
flag bit each one takes; and the Site, one call of a creator with what it
asks for.  auditstatic finds the sites by these tables; the check of
``audit`` reads them again.
"""

from dataclasses import dataclass

#: Functions that create an fd and take ``cloexec=``.  ``os.fdopen`` and
#: ``open(fd)`` are not here: they wrap an fd that exists already.
DIRECT = frozenset({
    'open', 'io.FileIO', '_pyio.open', '_pyio.FileIO',
    'os.open', 'os.dup', 'os.dup2', 'os.pipe', 'os.openpty', 'os.forkpty',
    'socket.socket', 'socket.socketpair', 'socket.fromfd', 'socket.recv_fds',
    '_socket.dup', 'select.epoll', 'select.kqueue', 'select.devpoll',
    # methods, whatever the receiver (see METHODS)
    'socket.accept', 'socket.dup', 'socket.recvmsg', 'socket.recvmsg_into',
})

#: Wrappers that create an fd but take no ``cloexec=``: {callee: (file,
#: functions, callees)}.  The sites "inside its own definition" are the
#: static sites of *file* in one of *functions* (or their methods and
#: nested functions) or calling one of *callees*.  selectors.PollSelector
#: and SelectSelector make no fd (poll and select have none).
INDIRECT = {
    'socket.create_connection': ('socket.py', ('create_connection',), ()),
    'socket.create_server': ('socket.py', ('create_server',), ()),
    'selectors.EpollSelector': ('selectors.py', (), ('select.epoll',)),
    'selectors.DevpollSelector': ('selectors.py', (), ('select.devpoll',)),
    'selectors.KqueueSelector': ('selectors.py', (), ('select.kqueue',)),
    'selectors.DefaultSelector': ('selectors.py', (), (
        'select.epoll', 'select.devpoll', 'select.kqueue')),
}

CREATORS = DIRECT | frozenset(INDIRECT)

#: The helpers of socket.py with which the stdlib creates its own sockets:
#: they pass ``cloexec=`` (True unless the call says otherwise) only to the
#: callables known to take it, and set the flag after the call of any
#: other (a replaced socket.socket, a subclass with 3.13's signatures).
#: {helper: the creator it calls}.  A helper call is a site of that
#: creator: for FACTORY_HELPERS the callable passed first (the creator
#: named here if it is not one), for the others the method of the socket
#: passed first.
HELPERS = {
    'socket._own_socket': 'socket.socket',
    'socket._own_socketpair': 'socket.socketpair',
    'socket._own_accept': 'socket.accept',
    'socket._own_dup': 'socket.dup',
    'socket._own_recvmsg': 'socket.recvmsg',
}
FACTORY_HELPERS = frozenset({'socket._own_socket', 'socket._own_socketpair'})
#: Site.via of a method call that passes ``cloexec=`` to a socket the
#: caller may have supplied (its type is not known statically).
VIA_METHOD = 'method'

#: Other spellings of the canonical names.
ALIASES = {
    'builtins.open': 'open', 'io.open': 'open', '_io.open': 'open',
    '_io.FileIO': 'io.FileIO',
    '_socket.socket': 'socket.socket', '_socket.SocketType': 'socket.socket',
    'socket.SocketType': 'socket.socket',
    '_socket.socketpair': 'socket.socketpair',
    # the module-level function, not the method: socket.py star-imports it
    'socket.dup': '_socket.dup',
}
#: ``io.open_code()`` opens through ``_io.open`` with the flag always set
#: (interpreter-internal): a site of ``open`` that asks for it.
OPEN_CODE = ('io.open_code', '_io.open_code')
#: Modules that are ``os`` under another name.
MODULE_ALIASES = {'posix': 'os', 'nt': 'os'}
#: Methods whose receiver's type is not known statically.
METHODS = {'accept': 'socket.accept', 'dup': 'socket.dup',
           'recvmsg': 'socket.recvmsg', 'recvmsg_into': 'socket.recvmsg_into'}
#: What ``from M import *`` brings that matters here.
STAR_EXPORTS = {
    'os': ('open', 'dup', 'dup2', 'pipe', 'openpty', 'forkpty'),
    'socket': ('socket', 'socketpair', 'fromfd', 'recv_fds', 'dup',
               'SocketType', 'create_connection', 'create_server'),
    '_socket': ('socket', 'socketpair', 'dup', 'SocketType'),
    'select': ('epoll', 'kqueue', 'devpoll'),
    'io': ('open', 'FileIO'), '_io': ('open', 'FileIO'),
    'selectors': ('DefaultSelector', 'EpollSelector', 'DevpollSelector',
                  'KqueueSelector'),
}
STAR_EXPORTS.update({alias: STAR_EXPORTS['os'] for alias in MODULE_ALIASES})

#: The flag bit that asks for close-on-exec in a callee's arguments.
BITS = {'os.open': 'O_CLOEXEC', 'socket.socket': 'SOCK_CLOEXEC',
        'socket.socketpair': 'SOCK_CLOEXEC', 'socket.fromfd': 'SOCK_CLOEXEC',
        'select.epoll': 'EPOLL_CLOEXEC', 'socket.recvmsg': 'MSG_CMSG_CLOEXEC',
        'socket.recvmsg_into': 'MSG_CMSG_CLOEXEC',
        'socket.recv_fds': 'MSG_CMSG_CLOEXEC'}

#: Callees whose first argument may be an existing fd: then no fd is made.
FILE_ARG = ('open', 'io.FileIO', '_pyio.open', '_pyio.FileIO')

#: How a call asks (the kinds of Site.asks): ``true`` (cloexec=True or
#: another constant), ``bit`` (an explicit flag bit), ``forward``
#: (``cloexec=<expression>``, e.g. a parameter passed on), ``opener`` (an
#: ``open()`` with an ``opener=`` and no ``cloexec=``: the fd is the
#: opener's, whose flag ``cloexec=None`` leaves alone; the opener's own
#: call is a site of its own), ``false`` (cloexec=False), ``kwargs``
#: (``**kwargs``: cannot tell), ``after`` (inside a socket.py helper, the
#: call of 3.13 without ``cloexec=``, whose result the helper gives the
#: flag afterwards), ``default`` (follows the default).
ASKED = ('true', 'bit', 'forward', 'opener', 'after')


def canonical(dotted):
    """The canonical name of a dotted reference (``_os.open`` is resolved
    before: this maps ``posix.open`` -> ``os.open``, ``_io.open`` ->
    ``open``...)."""
    head, _, rest = dotted.partition('.')
    if rest and head in MODULE_ALIASES:
        dotted = f'{MODULE_ALIASES[head]}.{rest}'
    return ALIASES.get(dotted, dotted)


@dataclass
class Site:
    """One call of an fd creator."""

    file: str           # relative to Lib/, posix
    line: int
    function: str       # co_qualname of the enclosing code
    call: str           # canonical callee
    asks: str           # one of ASKED, false, kwargs, default
    detail: str         # e.g. "cloexec=True", "O_CLOEXEC", "follows default"
    #: how the flag reaches an object the caller can supply or replace: the
    #: helper's name (``_own_accept``), VIA_METHOD, or '' (it does not)
    via: str = ''

    @property
    def key(self):
        return (self.file, self.function, self.call)

    @property
    def asked(self):
        return self.asks in ASKED

    @property
    def replaceable(self):
        return bool(self.via)

    @property
    def helper(self):
        """True if the call goes through a helper, which sets the flag."""
        return self.via not in ('', VIA_METHOD)


def indirect_sites(callee, sites):
    """The static sites inside the definition of the indirect *callee*."""
    file, functions, callees = INDIRECT[callee]
    found = []
    for site in sites:
        if site.file != file:
            continue
        if site.call in callees or any(
                site.function == f or site.function.startswith(f + '.')
                for f in functions):
            found.append(site)
    return found
