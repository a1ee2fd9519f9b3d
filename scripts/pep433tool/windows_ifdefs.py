"""The ``#if`` branches of a C file, and which of them are Windows code.

scan() tells, line by line, code from preprocessor lines and blank ones,
the conditional branches each line is in and the run of lines between two
conditional directives it belongs to (which the preprocessor keeps or drops
whole); the rest says whether a branch holds only for Windows, only for the
other systems, or tests no Windows macro at all.  It reads text: nothing is
compiled or preprocessed here.
"""

import collections
import re

#: Macros whose test in an #if marks Windows code
WINDOWS_MACRO_RE = re.compile(
    r'\b(MS_WIN\w*|_?WIN32|_?WIN64|__MINGW\w*|HAVE_WINDOWS_CONSOLE_IO)\b')

DIRECTIVE_RE = re.compile(r'^\s*#\s*(\w+)\s*(.*)$')
CONDITIONALS = ('if', 'ifdef', 'ifndef', 'elif', 'else', 'endif')


def _strip_comments(line, in_comment):
    """*line* without its comments; return (code, in_comment after it)."""
    out = []
    i, n = 0, len(line)
    quote = None
    while i < n:
        c = line[i]
        if in_comment:
            end = line.find('*/', i)
            if end < 0:
                return ''.join(out), True
            i, in_comment = end + 2, False
            out.append(' ')
            continue
        if quote:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(line[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if line.startswith('/*', i):
            in_comment = True
            i += 2
            continue
        if line.startswith('//', i):
            break
        if c in '"\'':
            quote = c
        out.append(c)
        i += 1
    return ''.join(out), in_comment


Line = collections.namedtuple('Line', 'kind stack segment')


def scan(text):
    """Each line of the C *text*, classified.

    Return a list of Line, one per line (index 0 is line 1): *kind* is
    ``'code'``, ``'directive'`` (a preprocessor line or its continuation)
    or ``'blank'`` (blank or comment only); *stack* is the tuple of the
    conditional branches the line is in, outermost first, each
    ``(opening, branch)`` directive texts (``('#ifdef MS_WINDOWS',
    '#else')``); *segment* numbers the runs of lines between two
    conditional directives, which the preprocessor keeps or drops whole.
    """
    result = []
    stack = []
    segment = 0
    in_comment = False
    continued = False
    pending = None      # the directive being read (continuation lines)
    for line in text.split('\n'):
        code, in_comment_after = _strip_comments(line, in_comment)
        if continued:
            kind = 'directive'
            pending[1].append(code.rstrip('\\'))
        elif not in_comment and DIRECTIVE_RE.match(code):
            kind = 'directive'
            pending = (DIRECTIVE_RE.match(code), [code.rstrip('\\')])
        else:
            kind = 'code' if code.strip() else 'blank'
        result.append(Line(kind, tuple(stack), segment))
        in_comment = in_comment_after
        continued = kind == 'directive' and line.rstrip().endswith('\\')
        if kind == 'directive' and not continued:
            match, parts = pending
            pending = None
            name = match[1]
            if name not in CONDITIONALS:
                continue
            segment += 1
            whole = DIRECTIVE_RE.match(' '.join(' '.join(parts).split()))
            cond = f'#{name} {whole[2]}'.strip() if whole else f'#{name}'
            if name in ('if', 'ifdef', 'ifndef'):
                stack.append((cond, cond))
            elif name in ('elif', 'else') and stack:
                stack[-1] = (stack[-1][0], cond)
            elif name == 'endif' and stack:
                stack.pop()
    return result


def windows_conditions(text):
    """The conditional directives of *text* that test a Windows macro."""
    found = []
    in_comment = False
    for line in text.split('\n'):
        code, in_comment_next = _strip_comments(line, in_comment)
        if not in_comment:
            match = DIRECTIVE_RE.match(code)
            if (match and match[1] in ('if', 'ifdef', 'ifndef', 'elif')
                    and WINDOWS_MACRO_RE.search(match[2])):
                found.append(' '.join(code.split()))
        in_comment = in_comment_next
    return found


def has_windows_code(text):
    """True if the C *text* has code for Windows (or not for Windows)."""
    return bool(windows_conditions(text))


def branch_text(entry):
    """``#ifdef X``, or ``#if A ... #elif B`` for a later branch."""
    opening, branch = entry
    return opening if opening == branch else f'{opening} ... {branch}'


NEGATED_RE = re.compile(r'!\s*(?:defined\s*\(?\s*)?$')


def _polarity(directive):
    """'+' if *directive* (``#if...``) holds only for Windows, '-' only
    for other systems, '?' if it tests Windows otherwise, None if not."""
    match = DIRECTIVE_RE.match(directive)
    if not match:
        return None
    name, expr = match[1], match[2]
    hits = list(WINDOWS_MACRO_RE.finditer(expr))
    if not hits:
        return None
    if name == 'ifdef':
        return '+'
    if name == 'ifndef':
        return '-'
    if '||' in expr:
        return '?'
    negated = [bool(NEGATED_RE.search(expr[:hit.start()])) for hit in hits]
    if all(negated):
        return '-'
    return '+' if not any(negated) else '?'


def branch_polarity(entry):
    """Whether the branch *entry* of a conditional holds only for Windows
    ('+'), only elsewhere ('-'), or tests Windows in another way ('?');
    None when neither its opening nor its branch tests Windows."""
    opening, branch = entry
    first = _polarity(opening)
    if opening == branch:
        return first
    if branch.startswith('#elif'):
        own = _polarity('#if ' + branch[len('#elif'):].strip())
        if own is not None:
            return own
    return {'+': '-', '-': '+'}.get(first, first)


def block_kind(stack):
    """``'windows'`` code (a branch that holds only for Windows), code for
    the ``'other'`` systems, or ``'neither'`` (no branch tests Windows:
    a feature macro the Windows build does not define)."""
    polarities = [branch_polarity(entry) for entry in stack]
    if '-' in polarities:
        return 'other'
    if '+' in polarities:
        return 'windows'
    return 'neither'
