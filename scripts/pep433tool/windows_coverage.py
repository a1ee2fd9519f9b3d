"""Which of the series' changed C lines the Windows compile sees.

The preprocessed output (``gcc -E``) of each file compiled at the tip tells
which of its lines survive the Windows configuration; the series' changed
code lines that do not are written, block by block with their conditions,
to COVERAGE_REPORT in the work directory.
"""

import collections
import os
import posixpath
import re
from pathlib import Path

from . import gitutil
from .diagnostics import plural
from .windows_ifdefs import block_kind, branch_text, scan

#: The report of the changed lines the Windows compile does not see
COVERAGE_REPORT = 'windows-coverage.txt'

LINEMARKER_RE = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"((?: \d)*)$')


def seen_lines(preprocessed, tree):
    """``{file: set of line numbers}`` that gave tokens in the output of
    ``gcc -E`` *preprocessed*, for the files under *tree* (paths relative
    to it)."""
    seen = collections.defaultdict(set)
    name, number = None, 0
    tree = str(tree).rstrip('/') + '/'
    for line in preprocessed.split('\n'):
        match = LINEMARKER_RE.match(line)
        if match:
            path = match[2].replace('\\\\', '\\')
            if path.startswith(tree):
                path = path[len(tree):]
            name = (None if os.path.isabs(path) or path.startswith('<')
                    else posixpath.normpath(path))
            number = int(match[1])
            continue
        if name is not None and line.strip():
            seen[name].add(number)
        number += 1
    return seen


HUNK_RE = re.compile(r'^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@')


def added_lines(diff):
    """The line numbers (in the new file) that the ``-U0`` *diff* adds."""
    lines = set()
    for line in diff.splitlines():
        match = HUNK_RE.match(line)
        if match:
            start, count = int(match[1]), int(match[2] or 1)
            lines.update(range(start, start + count))
    return lines


Block = collections.namedtuple('Block', 'first last lines conditions kind')


def unseen_blocks(text, changed, seen):
    """The changed code lines of a file that the compiler did not see.

    *text* is the file at the tip, *changed* the line numbers the series
    adds or changes, *seen* those the preprocessor gave tokens for.  A
    line is seen when a line of its segment is (a function-like macro's
    arguments on several lines give tokens on the first one only).  Return
    (code lines changed, how many were seen, [Block]): consecutive unseen
    changed code lines under the same conditions are one Block.
    """
    lines = scan(text)
    live = {lines[n - 1].segment for n in seen if 0 < n <= len(lines)}
    code = sorted(n for n in changed
                  if 0 < n <= len(lines) and lines[n - 1].kind == 'code')
    seen_count = sum(1 for n in code if lines[n - 1].segment in live)
    blocks = []
    for number in code:
        line = lines[number - 1]
        if line.segment in live:
            continue
        conditions = tuple(branch_text(entry) for entry in line.stack)
        last = blocks[-1] if blocks else None
        if (last and last.conditions == conditions
                and not any(lines[n - 1].kind == 'code'
                            and lines[n - 1].segment in live
                            for n in range(last.last + 1, number))):
            blocks[-1] = last._replace(last=number, lines=last.lines + 1)
        else:
            blocks.append(Block(number, number, 1, conditions,
                                block_kind(line.stack)))
    return len(code), seen_count, blocks


KIND_MARKS = {'windows': '[windows]', 'other': '[not windows]',
              'neither': '[feature]'}


def coverage_report(repo, base, tip, tree, seen, version=''):
    """The text of COVERAGE_REPORT, and its summary lines.

    *seen* is seen_lines() merged over the files compiled at *tip*
    (checked out in *tree*).
    """
    names = gitutil.out(repo, 'diff', '--name-only', base, tip, '--',
                        '*.c', '*.h').split()
    out = ['# What the Windows compile of check (g) (mingw-w64, gcc -E) '
           'sees of the series\' changed C code lines',
           f'# {version} {base}..{tip[:12]}.  Each block not seen is '
           'marked [windows] (a branch',
           '# only Windows takes, in a configuration not compiled), '
           '[not windows] (#ifndef',
           '# MS_WINDOWS and the like) or [feature] (a macro the Windows '
           'build does not',
           '# define: HAVE_EPOLL, CMSG_LEN...), with its conditions, '
           'outermost first.', '']
    summaries = []
    for name in names:
        path = Path(tree, name)
        if not path.is_file():
            continue
        text = path.read_text(errors='replace')
        changed = added_lines(gitutil.out(repo, 'diff', '-U0', base, tip,
                                          '--', name))
        if name not in seen:
            total, _, _ = unseen_blocks(text, changed, set())
            line = (f'{name}: {total} changed code lines; no file compiled '
                    'for Windows includes it')
            out.append(line)
            summaries.append(line)
            continue
        total, count, blocks = unseen_blocks(text, changed, seen[name])
        kinds = collections.Counter()
        for block in blocks:
            kinds[block.kind] += block.lines
        scanned = scan(text)
        windows_only = sum(
            1 for n in changed if 0 < n <= len(scanned)
            and scanned[n - 1].kind == 'code'
            and block_kind(scanned[n - 1].stack) == 'windows')
        line = (f'{name}: {total} changed code lines ({windows_only} in '
                f'Windows-only branches), {count} seen; not seen: '
                f'{kinds["windows"]} Windows, {kinds["other"]} not '
                f'Windows, {kinds["neither"]} under a feature macro')
        out.append(line)
        summaries.append(line)
        for block in blocks:
            span = (f'{block.first}' if block.first == block.last
                    else f'{block.first}-{block.last}')
            out.append(f'    {KIND_MARKS[block.kind]} {name}:{span} '
                       f'({plural(block.lines, "line")}): '
                       + (' / '.join(block.conditions) or 'no condition'))
    return '\n'.join(out) + '\n', summaries
