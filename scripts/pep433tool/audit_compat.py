"""Whether a compatibility test named in ``audit``'s classification exists.

A site that passes the flag to an object the caller can supply or replace
names the test of the tree's ``Lib/test`` that covers it
(``module.Class.test_method``); the test module is parsed with ``ast``,
not imported, so the tree's syntax is all it needs.
"""

import ast
from pathlib import Path


def compat_test_problem(lib, name, cache=None):
    """Why the compatibility test *name* does not exist in the tree whose
    library is *lib*, or '' if it does.

    *name* is ``module.Class.test_method``, the module dotted under
    ``Lib/test`` (``test_socket``, ``test_asyncio.test_events``); the
    module must define the class at its top level, and the class (or a
    base class defined in the module) the method.  *cache* maps a module
    file to its parsed classes, across calls.
    """
    parts = name.split('.')
    if (len(parts) < 3 or not all(part.isidentifier() for part in parts)
            or not parts[-1].startswith('test')):
        return 'is not of the form module.Class.test_method'
    *module, cls, method = parts
    where = _test_module_file(Path(lib) / 'test', module)
    if where is None:
        return f'names no file Lib/test/{"/".join(module)}.py'
    rel = where.relative_to(Path(lib).parent).as_posix()
    cache = {} if cache is None else cache
    if where not in cache:
        cache[where] = _module_classes(where)
    classes = cache[where]
    if isinstance(classes, str):
        return f'is in {rel}, which cannot be parsed: {classes}'
    if cls not in classes:
        return f'names no class {cls} in {rel}'
    if not _defines(classes, cls, method):
        return f'names no method {cls}.{method} in {rel}'
    return ''


def _test_module_file(test_dir, module):
    """The file of the test module *module* (its dotted parts), or None."""
    base = test_dir.joinpath(*module)
    for path in (base.with_name(base.name + '.py'), base / '__init__.py'):
        if path.is_file():
            return path
    return None


def _module_classes(path):
    """{class name: ClassDef} of the top level of *path*, or the parse
    error."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as exc:
        return str(exc)
    return {node.name: node for node in tree.body
            if isinstance(node, ast.ClassDef)}


def _defines(classes, cls, method, seen=()):
    """True if the class *cls* of *classes*, or a base class of it defined
    there, defines *method*."""
    node = classes.get(cls)
    if node is None or cls in seen:
        return False
    if any(isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
           and stmt.name == method for stmt in node.body):
        return True
    return any(isinstance(base, ast.Name)
               and _defines(classes, base.id, method, (*seen, cls))
               for base in node.bases)


def compat_test_problems(lib, names):
    """{name: problem} of each test of *names* (``''``: it exists)."""
    cache = {}
    return {name: compat_test_problem(lib, name, cache) for name in names}
