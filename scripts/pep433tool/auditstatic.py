"""The static half of ``audit``: every fd-creating call of the stdlib, by ast.

Each ``.py`` file under ``<checkout>/Lib`` (test packages excluded) is parsed
and every call is resolved, name by name, to a canonical callee: ``import os
as _os``, ``from socket import socket``, star imports of the modules that
make fds, a module's own definitions (inside ``socket.py`` a bare
``socket(...)`` is ``socket.socket``), class attributes bound to a creator
(``_selector_cls = select.epoll`` then ``self._selector_cls()``), and the
function-local bindings that hide them.  What a call asks for is read from its
arguments: ``cloexec=``, an explicit flag bit (``O_CLOEXEC``...), ``**kwargs``
forwarding, or nothing (the call follows ``sys.getdefaultcloexec()``).  The
creators, their names and flag bits are the tables of audit_creators.

A call of one of socket.py's ``_own_*()`` helpers (HELPERS) is a site
of the creator the helper calls, marked as passing the flag to an object
the caller can supply or replace (``Site.via``), as is a method call that
passes ``cloexec=`` to a socket of unknown type.
"""

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == '__main__' and not __package__:
    # run as a script (see main()): an isolated interpreter finds the
    # package only where it is put, and leaves no bytecode of its own there
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.dont_write_bytecode = True
    __package__ = 'pep433tool'

from .audit_compat import compat_test_problems  # noqa: E402
from .audit_creators import (  # noqa: E402
    BITS, CREATORS, FACTORY_HELPERS, FILE_ARG, HELPERS, METHODS, OPEN_CODE,
    STAR_EXPORTS, VIA_METHOD, Site, canonical)

#: Names that hold an fd, by convention (fd, newfd, master_fd, fds[0],
#: x.fileno()...).
FD_NAME_RE = re.compile(r'(?:fds?|fileno|fdesc|detach)$', re.IGNORECASE)

#: Directories (relative to Lib/) that hold tests, not the library.
TEST_DIRS = ('test', 'tests', 'idle_test', '__phello__')


def is_test_path(rel):
    """True if *rel* (a path relative to Lib/, posix) is in a test dir."""
    parts = rel.split('/')[:-1]
    return (any(part in TEST_DIRS for part in parts)
            or rel.split('/')[0] in ('site-packages', '__phello__'))


@dataclass
class _Binding:
    kind: str           # module, ref, opaque
    dotted: str = ''


OPAQUE = _Binding('opaque')


@dataclass
class _Scope:
    kind: str           # module, class, function
    qualname: str
    parent: '_Scope' = None
    bindings: dict = field(default_factory=dict)
    #: name -> [value expressions assigned to it] (for flag bits in vars)
    values: dict = field(default_factory=dict)


def _module_name(rel):
    parts = rel[:-3].split('/')
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _source(node, text):
    return (ast.get_source_segment(text, node) or ast.unparse(node)).strip()


class _Scanner:
    """Find the sites of one module."""

    def __init__(self, rel, text, tree):
        self.rel = rel
        self.text = text
        self.module = _module_name(rel)
        self.is_package = rel.endswith('__init__.py')
        self.sites = []
        #: attribute name -> {canonical creators} bound in class bodies
        self.class_attrs = {}
        self.tree = tree

    # --- bindings -----------------------------------------------------------

    def _absolute(self, node):
        """The absolute module of an ImportFrom."""
        if not node.level:
            return node.module or ''
        package = self.module.split('.')
        if not self.is_package:
            package = package[:-1]
        if node.level > 1:
            package = package[:len(package) - (node.level - 1)]
        return '.'.join(package + ([node.module] if node.module else []))

    def _bind(self, scope, name, binding):
        """Bind *name*; a creator or module binding is not replaced by a
        later, vaguer one (``socketpair = _fallback_socketpair`` in an else
        branch)."""
        old = scope.bindings.get(name)
        if old is not None and old.kind in ('module', 'outer'):
            return
        if old is not None and old.kind == 'ref' and (
                canonical(old.dotted) in CREATORS
                or binding.kind == 'opaque'):
            return
        scope.bindings[name] = binding

    def _collect(self, scope, body):
        """Bind the names that the statements *body* of *scope* define."""
        for node in _scope_nodes(body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self._bind(scope, alias.asname,
                                   _Binding('module', alias.name))
                    else:
                        top = alias.name.split('.')[0]
                        self._bind(scope, top, _Binding('module', top))
            elif isinstance(node, ast.ImportFrom):
                module = self._absolute(node)
                for alias in node.names:
                    if alias.name == '*':
                        for name in STAR_EXPORTS.get(module, ()):
                            self._bind(scope, name,
                                       _Binding('ref', f'{module}.{name}'))
                    else:
                        self._bind(scope, alias.asname or alias.name,
                                   _Binding('ref', f'{module}.{alias.name}'))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                   ast.ClassDef)):
                if scope.kind == 'module':
                    self._bind(scope, node.name,
                               _Binding('ref', f'{self.module}.{node.name}'))
                else:
                    self._bind(scope, node.name, OPAQUE)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign,
                                   ast.NamedExpr)):
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target])
                value = node.value
                for target in targets:
                    for name in _target_names(target):
                        if value is not None:
                            scope.values.setdefault(name, []).append(value)
                        binding = OPAQUE
                        if isinstance(target, ast.Name) and value is not None:
                            binding = self._value_binding(scope, value)
                        self._bind(scope, name, binding)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                for name in _target_names(node.target):
                    self._bind(scope, name, OPAQUE)
            elif isinstance(node, ast.withitem) and node.optional_vars:
                for name in _target_names(node.optional_vars):
                    self._bind(scope, name, OPAQUE)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self._bind(scope, node.name, OPAQUE)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    scope.bindings.pop(name, None)
                    scope.bindings[name] = _Binding('outer')

    def _value_binding(self, scope, value):
        """The binding of ``name = value``: an alias of a module or of a
        creator, or opaque."""
        for dotted, kind in self._resolve(value, scope):
            if kind == 'module' or canonical(dotted) in CREATORS:
                return _Binding(kind, dotted)
        return OPAQUE

    def _lookup(self, name, scope):
        """The binding of *name* seen from *scope* (None: a builtin)."""
        start = scope
        while scope is not None:
            # a function does not see the names of an enclosing class
            if scope.kind == 'class' and scope is not start:
                scope = scope.parent
                continue
            binding = scope.bindings.get(name)
            if binding is not None and binding.kind != 'outer':
                return binding
            scope = scope.parent
        return None

    def _resolve(self, expr, scope):
        """[(dotted, kind)] that *expr* may refer to (kind: module, ref)."""
        if isinstance(expr, ast.Name):
            binding = self._lookup(expr.id, scope)
            if binding is None:
                return [(f'builtins.{expr.id}', 'ref')]
            if binding.kind == 'opaque':
                return []
            return [(binding.dotted, binding.kind)]
        if isinstance(expr, ast.Attribute):
            value = expr.value
            if _is_self(value):
                return [(dotted, 'ref')
                        for dotted in sorted(self.class_attrs.get(expr.attr,
                                                                  ()))]
            return [(f'{dotted}.{expr.attr}', 'ref')
                    for dotted, _ in self._resolve(value, scope)]
        return []

    # --- walking ------------------------------------------------------------

    def scan(self):
        module = _Scope('module', '<module>')
        self._collect(module, self.tree.body)
        self._class_attrs(self.tree, module)
        self._walk(self.tree.body, module)
        return self.sites

    def _class_attrs(self, tree, module):
        """Attributes bound to a creator, in any class of the module: in a
        class body (``_selector_cls = select.epoll``) or through ``self``
        (``self._create_connection = socket.create_connection``)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign):
                        self._class_attr(stmt, module, [
                            t.id for t in stmt.targets
                            if isinstance(t, ast.Name)])
            elif isinstance(node, ast.Assign):
                self._class_attr(node, module, [
                    t.attr for t in node.targets
                    if isinstance(t, ast.Attribute) and _is_self(t.value)])

    def _class_attr(self, stmt, module, names):
        if not names:
            return
        for dotted, _ in self._resolve(stmt.value, module):
            if canonical(dotted) in CREATORS:
                for name in names:
                    self.class_attrs.setdefault(name, set()).add(dotted)

    def _child_qualname(self, scope, name):
        if scope.kind == 'module':
            return name
        if scope.kind == 'function':
            return f'{scope.qualname}.<locals>.{name}'
        return f'{scope.qualname}.{name}'

    def _walk(self, nodes, scope):
        for node in nodes:
            self._visit(node, scope)

    def _visit(self, node, scope):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.Lambda)):
            # decorators and defaults are evaluated in the enclosing scope
            self._walk(getattr(node, 'decorator_list', []), scope)
            self._walk(node.args.defaults, scope)
            self._walk([d for d in node.args.kw_defaults if d], scope)
            name = getattr(node, 'name', '<lambda>')
            inner = _Scope('function', self._child_qualname(scope, name),
                           scope)
            self._bind_args(inner, node.args, scope)
            body = node.body if isinstance(node.body, list) else [node.body]
            self._collect(inner, body)
            self._walk(body, inner)
            return
        if isinstance(node, ast.ClassDef):
            self._walk(node.decorator_list + node.bases
                       + [k.value for k in node.keywords], scope)
            inner = _Scope('class', self._child_qualname(scope, node.name),
                           scope)
            self._collect(inner, node.body)
            self._walk(node.body, inner)
            return
        if isinstance(node, ast.GeneratorExp):
            # the first iterable belongs to the enclosing scope
            self._visit(node.generators[0].iter, scope)
            inner = _Scope('function',
                           self._child_qualname(scope, '<genexpr>'), scope)
            for generator in node.generators:
                for name in _target_names(generator.target):
                    inner.bindings[name] = OPAQUE
            rest = [node.elt] + [g.iter for g in node.generators[1:]] + [
                cond for g in node.generators for cond in g.ifs]
            self._walk(rest, inner)
            return
        if isinstance(node, ast.Call):
            self._call(node, scope)
        self._walk(ast.iter_child_nodes(node), scope)

    def _bind_args(self, inner, args, outer):
        positional = args.posonlyargs + args.args
        defaults = [None] * (len(positional) - len(args.defaults)) + list(
            args.defaults)
        pairs = list(zip(positional, defaults)) + list(
            zip(args.kwonlyargs, args.kw_defaults))
        pairs += [(arg, None) for arg in (args.vararg, args.kwarg) if arg]
        for arg, default in pairs:
            binding = OPAQUE
            if default is not None:
                binding = self._value_binding(outer, default)
            inner.bindings[arg.arg] = binding

    def _call(self, node, scope):
        func = node.func
        callees = []
        for dotted, kind in self._resolve(func, scope):
            name = canonical(dotted)
            if kind == 'ref' and name in OPEN_CODE:
                self.sites.append(Site(self.rel, node.lineno, scope.qualname,
                                       'open', 'true', f'{name}()'))
                return
            if kind == 'ref' and name in HELPERS:
                self._helper_call(name, node, scope)
                return
            if kind == 'ref' and name in CREATORS:
                callees.append(name)
        method = (not callees and isinstance(func, ast.Attribute)
                  and func.attr in METHODS)
        if method:
            receivers = self._resolve(func.value, scope)
            if not any(kind == 'module' for _, kind in receivers):
                callees.append(METHODS[func.attr])
        for callee in dict.fromkeys(callees):
            if _existing_fd(callee, node, self, scope):
                continue
            asks, detail = self._asks(callee, node, scope)
            via = ''
            if method and _passes_cloexec(node) and not _is_super(
                    func.value):
                via = VIA_METHOD
            if asks in ('default', 'kwargs') and self._in_helper(scope):
                asks, detail = 'after', 'the flag set after the call'
            self.sites.append(Site(self.rel, node.lineno, scope.qualname,
                                   callee, asks, detail, via))

    def _helper_call(self, helper, node, scope):
        """The site of a call of the socket.py *helper*: that of the direct
        call it stands for, with ``cloexec=True`` unless it says."""
        if not node.args:
            return
        first, rest = node.args[0], node.args[1:]
        callee = HELPERS[helper]
        if helper in FACTORY_HELPERS:
            func = first
            creators = [canonical(dotted) for dotted, kind in
                        self._resolve(first, scope) if kind == 'ref']
            callee = next((c for c in creators if c in CREATORS), callee)
        else:
            func = ast.Attribute(first, callee.rpartition('.')[2], ast.Load())
        keywords = list(node.keywords)
        if not any(k.arg == 'cloexec' for k in keywords):
            keywords.append(ast.keyword('cloexec', ast.Constant(True)))
        direct = ast.Call(func, rest, keywords)
        if _existing_fd(callee, direct, self, scope):
            return
        asks, detail = self._asks(callee, direct, scope)
        name = helper.rpartition('.')[2]
        self.sites.append(Site(self.rel, node.lineno, scope.qualname, callee,
                               asks, f'{detail} ({name})', name))

    def _in_helper(self, scope):
        """True if *scope* is the definition of a socket.py helper."""
        return (self.module == 'socket'
                and f'socket.{scope.qualname}' in HELPERS)

    # --- what a call asks for -----------------------------------------------

    def _asks(self, callee, node, scope):
        """(asks, detail) of the call *node* of *callee*."""
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        bit = self._bit(callee, node, scope)
        if 'cloexec' in keywords:
            value = keywords['cloexec']
            text = f'cloexec={_source(value, self.text)}'
            if _is_constant(value, None):
                pass
            elif _is_constant(value, False) or _is_constant(value, 0):
                return ('bit', bit) if bit else ('false', text)
            elif isinstance(value, ast.Constant):
                return 'true', text
            else:
                return 'forward', text
        if bit:
            return 'bit', bit
        if callee == 'os.dup2':
            value = keywords.get('inheritable')
            if value is None and len(node.args) > 2:
                value = node.args[2]
            if value is not None and not _is_constant(value, None):
                text = f'inheritable={_source(value, self.text)}'
                if isinstance(value, ast.Constant):
                    return ('false' if value.value else 'true'), text
                return 'forward', text
        if callee in FILE_ARG and 'opener' in keywords and not _is_constant(
                keywords['opener'], None):
            return 'opener', f'opener={_source(keywords["opener"], self.text)}'
        if any(k.arg is None for k in node.keywords):
            return 'kwargs', '**kwargs'
        return 'default', 'follows default'

    def _bit(self, callee, node, scope):
        """The flag bit asked for in the arguments, as shown ('' if none)."""
        name = BITS.get(callee)
        if not name:
            return ''
        exprs = list(node.args) + [k.value for k in node.keywords
                                   if k.arg != 'cloexec']
        for expr in exprs:
            if _mentions(expr, name):
                return name
        # one level of indirection: flags = ... | O_CLOEXEC; os.open(p, flags)
        for expr in exprs:
            for var in _names(expr):
                for value in self._values(var, scope):
                    if _mentions(value, name):
                        return f'{name} (via {var})'
        return ''

    def _values(self, name, scope):
        """The expressions assigned to *name* in *scope* and outwards."""
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return []


def _is_self(expr):
    """``self``, ``cls`` or ``type(self)``."""
    if isinstance(expr, ast.Name):
        return expr.id in ('self', 'cls')
    return (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id == 'type' and len(expr.args) == 1
            and _is_self(expr.args[0]))


def _is_super(expr):
    """``super()`` (whose method is the stdlib class's own)."""
    return (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id == 'super')


def _passes_cloexec(node):
    """True if the call *node* passes ``cloexec=`` (other than None)."""
    return any(k.arg == 'cloexec' and not _is_constant(k.value, None)
               for k in node.keywords)


def _is_constant(node, value):
    return (isinstance(node, ast.Constant) and type(node.value) is type(value)
            and node.value == value)


def _mentions(expr, name):
    """True if *expr* names the flag *name*, except under ``~``."""
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Invert):
        return False
    if isinstance(expr, ast.Name) and expr.id == name:
        return True
    if isinstance(expr, ast.Attribute) and expr.attr == name:
        return True
    return any(_mentions(child, name) for child in ast.iter_child_nodes(expr))


def _names(expr):
    return [node.id for node in ast.walk(expr) if isinstance(node, ast.Name)]


def _ident(expr):
    """The last identifier of a name, attribute, subscript or call."""
    while True:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, ast.Attribute):
            return expr.attr
        if isinstance(expr, (ast.Subscript, ast.Call)):
            expr = (expr.value if isinstance(expr, ast.Subscript)
                    else expr.func)
            continue
        return ''


def _existing_fd(callee, node, scanner, scope):
    """True if the call wraps an fd that exists already, so makes none.

    ``open(fd)``, ``io.FileIO(fd)`` (like ``os.fdopen()``, which is not a
    creator at all) and ``socket.socket(..., fileno)`` only take an fd over:
    its flag is left as it is (``cloexec=None``) and the site that made it
    is the one that counts.  An fd is recognised by an int literal, a name
    that says so (``fd``, ``master_fd``, ``fds[0]``, ``f.fileno()``) or a
    nested creating call (``open(os.open(...))``).
    """
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    if callee == 'socket.socket':
        value = keywords.get('fileno')
        if value is None and len(node.args) > 3:
            value = node.args[3]
        return value is not None and not _is_constant(value, None)
    if callee not in FILE_ARG:
        return False
    value = node.args[0] if node.args else keywords.get('file')
    if value is None:
        return False
    if isinstance(value, ast.Constant):
        return isinstance(value.value, int) and not isinstance(
            value.value, bool)
    if FD_NAME_RE.search(_ident(value) or '-'):
        return True
    if isinstance(value, ast.Call):
        return any(canonical(dotted) in ('os.open', 'os.dup')
                   for dotted, _ in scanner._resolve(value.func, scope))
    return False


def _target_names(target):
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _scope_nodes(body):
    """The nodes of the statements *body* that bind names in their scope
    (nested functions and classes bind their name only)."""
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp,
                             ast.DictComp)):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def library_files(lib):
    """The .py files of the library under *lib* (tests excluded), as
    (path, rel) sorted by rel."""
    lib = Path(lib)
    found = []
    for path in lib.rglob('*.py'):
        rel = path.relative_to(lib).as_posix()
        if not is_test_path(rel):
            found.append((path, rel))
    return sorted(found, key=lambda item: item[1])


def scan_source(rel, source):
    """The sites of the module *source* (str or bytes; *rel*: its path
    under Lib/)."""
    if isinstance(source, bytes):
        source = source.decode('utf-8')
    tree = ast.parse(source, filename=rel)
    return _Scanner(rel, source, tree).scan()


def scan_library(lib):
    """Every site of the library under *lib*, sorted by key and line, and
    the files that could not be parsed: (sites, ["rel: error"])."""
    sites, errors = [], []
    for path, rel in library_files(lib):
        try:
            sites.extend(scan_source(rel, path.read_bytes()))
        except (SyntaxError, ValueError) as exc:
            errors.append(f'{rel}: {exc}')
    sites.sort(key=lambda s: (s.file, s.function, s.call, s.line))
    return sites, errors


def main(argv=None):
    """``python auditstatic.py LIB [TEST...]``: the sites, the parse errors
    and, for each compatibility test named, why it does not exist in the
    tree ('' if it does), as JSON.

    ``audit`` runs this with a Python as new as the tree (the builds'
    interpreters) when the one running the tool cannot parse its syntax.
    """
    import json
    lib, *tests = (argv if argv is not None else sys.argv[1:])
    sites, errors = scan_library(lib)
    json.dump({'sites': [vars(site) for site in sites], 'errors': errors,
               'tests': compat_test_problems(lib, tests)}, sys.stdout)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
