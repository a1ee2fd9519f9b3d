"""Which C files the Windows build compiles, with which macros (PCbuild).

Each ``PCbuild/<project>.vcxproj`` lists the ``.c`` files it compiles and
their ``PreprocessorDefinitions``; of the files the series changes, those
that a project compiles are compiled for Windows, with the macros of the
preferred project; of the others, it says why not.
"""

import collections
import logging
import posixpath
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .windows_ifdefs import has_windows_code

log = logging.getLogger(__name__)

#: The project whose macros a file gets when several projects list it: the
#: interpreter's own, before the bootstrap _freeze_module (built with
#: Py_NO_ENABLE_SHARED)
PREFERRED_PROJECT = 'pythoncore'
LAST_PROJECT = '_freeze_module'

MSBUILD = '{http://schemas.microsoft.com/developer/msbuild/2003}'
MSBUILD_VAR_RE = re.compile(r'\$\((\w+)\)')


def _defines(element):
    """The macros of a ``PreprocessorDefinitions`` element's text."""
    result = []
    for item in (element.text or '').split(';'):
        item = item.strip()
        if not item or item.startswith('%('):
            continue
        # $(SysWinVer), $(PyVPath)...: MSBuild properties; their name
        # stands for their value (the step only parses)
        result.append(MSBUILD_VAR_RE.sub(lambda m: m[1], item))
    return result


def _unconditional(element):
    return 'Condition' not in element.attrib


def parse_project(text):
    """The sources a PCbuild project compiles, with their macros.

    Return ``{path in the tree: [macro, ...]}`` from the text of
    ``PCbuild/<name>.vcxproj``: the project's unconditional ClCompile
    macros, then the item's own.
    """
    root = ET.fromstring(text)
    common = []
    for group in root.iter(MSBUILD + 'ItemDefinitionGroup'):
        if not _unconditional(group):
            continue
        for compile_ in group.iter(MSBUILD + 'ClCompile'):
            for defs in compile_.findall(MSBUILD + 'PreprocessorDefinitions'):
                if _unconditional(defs):
                    common += _defines(defs)
    sources = {}
    for group in root.iter(MSBUILD + 'ItemGroup'):
        for item in group.findall(MSBUILD + 'ClCompile'):
            include = item.get('Include', '')
            if not include.endswith('.c'):
                continue
            path = posixpath.normpath(
                posixpath.join('PCbuild', include.replace('\\', '/')))
            own = []
            for defs in item.findall(MSBUILD + 'PreprocessorDefinitions'):
                if _unconditional(defs):
                    own += _defines(defs)
            sources[path] = common + own
    return sources


def windows_sources(tree):
    """``{path: [(project, macros), ...]}``: the C files the Windows build
    compiles, from the ``PCbuild/*.vcxproj`` of *tree*; the preferred
    project first."""
    result = collections.defaultdict(list)
    for project in sorted(Path(tree, 'PCbuild').glob('*.vcxproj')):
        try:
            sources = parse_project(project.read_text(errors='replace'))
        except ET.ParseError as exc:
            log.warning('check (g): cannot read %s: %s', project, exc)
            continue
        for path, macros in sources.items():
            result[path].append((project.stem, macros))

    def rank(entry):
        name = entry[0]
        return (name != PREFERRED_PROJECT, name == LAST_PROJECT, name)
    return {path: sorted(entries, key=rank)
            for path, entries in result.items()}


Source = collections.namedtuple('Source', 'path project macros windows_code')


def select_sources(changed, projects, read):
    """The files of *changed* (paths the series changes) to compile.

    *projects* is windows_sources()'s map, *read(path)* the text of a file
    at the tip (None if it is missing there).  Return (sources, skipped):
    the Source of each changed ``.c`` file a PCbuild project compiles, and
    ``(path, why)`` of the other changed C files.
    """
    sources, skipped = [], []
    for path in sorted(changed):
        if not path.endswith(('.c', '.h')):
            continue
        text = read(path)
        if text is None:
            skipped.append((path, 'removed by the series'))
            continue
        windows = has_windows_code(text)
        if path.endswith('.h'):
            skipped.append((path, 'a header: compiled in the files that '
                            'include it' + (' (has Windows code)'
                                            if windows else '')))
            continue
        entries = projects.get(path)
        if not entries:
            skipped.append((path, 'no PCbuild project compiles it'
                            + (' (though it has Windows code)'
                               if windows else '')))
            continue
        project, macros = entries[0]
        sources.append(Source(path, project, tuple(macros), windows))
    return sources, skipped
