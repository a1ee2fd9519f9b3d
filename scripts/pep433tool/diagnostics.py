"""A compiler's diagnostics, and which of them are new against a base.

The ``check`` steps that compile C the Linux build does not (``kqueue.py``,
(f): the kqueue path of ``select``; ``windows.py``, (g): the Windows code,
with mingw-w64) run gcc on a file at the base tag and at each commit of the
series, and judge a commit by the warnings and errors its compile has that
the base's does not.  This module is what they share: reading gcc's
``file:line:col: warning: text [-Woption]`` lines (notes are left out, a
fatal error is an error), comparing two compiles on everything but the
positions, counting, and the one-line summary of a compile.

Running the compiler, and what a new diagnostic means for the step, stay
with each step.
"""

import collections
import posixpath
import re

DIAGNOSTIC_RE = re.compile(
    r'^(?P<file>[^:\s][^:]*):(?:(?P<line>\d+):(?:(?P<col>\d+):)?)? '
    r'(?P<kind>warning|error|fatal error): (?P<text>.*?)'
    r'(?: \[(?P<option>-W[^\]]+)\])?$')

QUOTES = str.maketrans({'\u2018': "'", '\u2019': "'", '\u201c': '"',
                        '\u201d': '"'})
#: A position inside a message's text (``at foo.c:12:3``, ``line 12``)
POSITION_RE = re.compile(r'(\.[ch]):\d+(?::\d+)?\b|\b(line|column) \d+\b')


def normalize(text, roots=()):
    """A message's text as compared: ASCII quotes, no positions, the
    directories of *roots* replaced, single spaces."""
    text = text.translate(QUOTES)
    for root, prefix in roots:
        text = text.replace(str(root).rstrip('/') + '/', prefix)
    text = POSITION_RE.sub(lambda m: (m[1] + ':N') if m[1]
                           else f'{m[2]} N', text)
    return ' '.join(text.split())


class Diagnostic(collections.namedtuple(
        'Diagnostic', 'kind file text option where')):
    """A compiler warning or error; ``where`` is ``file:line:col``."""

    @property
    def key(self):
        """What is compared: everything but the position."""
        return (self.kind, self.file, self.text, self.option)

    def __str__(self):
        option = f' [{self.option}]' if self.option else ''
        return f'{self.where}: {self.kind}: {self.text}{option}'


def parse_diagnostics(output, roots=(), normalized=False):
    """The warnings and errors (not notes) in the compiler's *output*.

    File names under a directory of *roots* (``(directory, prefix)`` pairs,
    the first that matches) get its prefix instead: ``(srcdir, '')`` gives
    ``Modules/selectmodule.c`` whatever the worktree.

    *normalized* makes the diagnostics of two trees compare alike: the
    quotes are ASCII ones, file names lose ``./``, and the text is the one
    normalize() gives (no positions, no directory of *roots*); without it
    the text is the compiler's own.
    """
    result = []
    for line in output.splitlines():
        match = DIAGNOSTIC_RE.match(line.translate(QUOTES) if normalized
                                    else line)
        if not match:
            continue
        name = match['file']
        for root, prefix in roots:
            root = str(root).rstrip('/') + '/'
            if name.startswith(root):
                name = prefix + name[len(root):]
                break
        if normalized and not name.startswith('<'):
            name = posixpath.normpath(name)
        where = ':'.join(part for part in (name, match['line'], match['col'])
                         if part)
        kind = 'error' if match['kind'] == 'fatal error' else match['kind']
        text = (normalize(match['text'], roots) if normalized
                else match['text'])
        result.append(Diagnostic(kind, name, text, match['option'] or '',
                                 where))
    return result


def new_diagnostics(baseline, current):
    """The diagnostics of *current* that *baseline* does not have.

    Compared by key (no positions), counted: a warning the baseline has
    once and *current* twice is new once.
    """
    left = collections.Counter(d.key for d in baseline)
    new = []
    for diag in current:
        if left[diag.key] > 0:
            left[diag.key] -= 1
        else:
            new.append(diag)
    return new


def plural(count, word):
    """``1 warning``, ``2 warnings``."""
    return f'{count} {word}{"s" if count != 1 else ""}'


def summary(result, baseline=None, kind=None, no_new='0 new'):
    """``compiles, 6 diagnostics (0 new)``: how one compile went.

    *result* and *baseline* have the ``returncode`` and ``diagnostics`` of
    a compile.  The diagnostics counted, and the new ones against
    *baseline* when it is given, are those of *kind* (``'warning'``: ``1
    warning``), or all of them when it is None; *no_new* is what stands in
    the parentheses when none is new.
    """
    def counted(diags):
        return [d for d in diags if kind is None or d.kind == kind]

    errors = [d for d in result.diagnostics if d.kind == 'error']
    text = ('compiles' if result.returncode == 0
            else f'does not compile ({plural(len(errors), "error")})')
    text += ', ' + plural(len(counted(result.diagnostics)),
                          kind or 'diagnostic')
    if baseline is not None:
        new = counted(new_diagnostics(baseline.diagnostics,
                                      result.diagnostics))
        text += f' ({len(new)} new)' if new else f' ({no_new})'
    return text
