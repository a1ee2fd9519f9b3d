"""The ``patches/series`` file: the order of the patches.

One patch file name a line; blank lines and ``#`` comment lines are
ignored by the tools, an entry may end with ``# comment``.  Comment lines
belong to the entry that follows them (``export`` keeps them with the entry
of the same number when it rewrites the file).
"""

import hashlib
import re
from dataclasses import dataclass, field

from . import config
from .errors import PreconditionError

NUMBER_RE = re.compile(r'^(\d+)-')


@dataclass
class Entry:
    """One patch of the series."""

    name: str
    comment: str = ''                      # trailing "# ..." on the line
    leading: list = field(default_factory=list)   # comment/blank lines above

    @property
    def number(self):
        """The NNNN prefix of the file name, as an int (None if absent)."""
        match = NUMBER_RE.match(self.name)
        return int(match.group(1)) if match else None


@dataclass
class Series:
    """The parsed series file."""

    entries: list = field(default_factory=list)
    trailing: list = field(default_factory=list)   # lines after last entry

    @property
    def names(self):
        return [entry.name for entry in self.entries]


def parse(text):
    """Parse the text of a series file."""
    series = Series()
    pending = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            pending.append(raw.rstrip())
            continue
        name, sep, comment = line.partition('#')
        name = name.strip()
        if ' ' in name or '/' in name:
            raise PreconditionError(
                f'bad line in the series file: {raw!r} '
                '(expected one patch file name per line)')
        series.entries.append(Entry(name, comment.strip() if sep else '',
                                    pending))
        pending = []
    series.trailing = pending
    return series


def load(paths, check_files=True):
    """Read the project's series file; a missing file is an empty series.

    With *check_files*, every listed patch must exist (else exit 3).
    """
    try:
        text = paths.series.read_text(encoding='utf-8')
    except FileNotFoundError:
        return Series()
    series = parse(text)
    if check_files:
        missing = [name for name in series.names
                   if not (paths.patches / name).is_file()]
        if missing:
            raise PreconditionError(
                f'{paths.series} lists patches that do not exist: '
                + ', '.join(missing),
                hint='restore them (git checkout -- patches/) or run '
                     'scripts/pep433 export to regenerate patches/')
    seen = set()
    for name in series.names:
        if name in seen:
            raise PreconditionError(f'{paths.series} lists {name} twice')
        seen.add(name)
    return series


def fingerprint(paths, series):
    """SHA-256 of what *series* applies: its order and its patches' bytes.

    Comments in the series file do not count: they change no commit.
    """
    digest = hashlib.sha256()
    for name in series.names:
        data = (paths.patches / name).read_bytes()
        digest.update(f'{name}\0{len(data)}\0'.encode())
        digest.update(data)
    return digest.hexdigest()


def render(names, old=None):
    """Text of a series file listing *names*.

    Comments of *old* (a Series) stay with the entry of the same number.
    """
    old = old or Series()
    by_number = {entry.number: entry for entry in old.entries
                 if entry.number is not None}
    lines = []
    for name in names:
        entry = Entry(name)
        number = entry.number
        previous = by_number.get(number)
        if previous is not None:
            lines.extend(previous.leading)
            entry.comment = previous.comment
        lines.append(f'{name}  # {entry.comment}' if entry.comment else name)
    lines.extend(old.trailing)
    while lines and not lines[-1]:
        lines.pop()
    return ''.join(line + '\n' for line in lines)


# --- commit messages and trailers ----------------------------------------

def split_message(message):
    """Split a commit message into (subject, body, trailer lines)."""
    lines = message.rstrip('\n').split('\n')
    subject = lines[0]
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest.pop(0)
    # The trailer block is the last paragraph if all its lines are trailers.
    trailers = []
    if rest:
        idx = len(rest)
        while idx > 0 and rest[idx - 1].strip():
            idx -= 1
        block = rest[idx:]
        if block and all(re.match(r'^[A-Za-z0-9-]+: ', line)
                         for line in block):
            trailers = block
            rest = rest[:idx]
    while rest and not rest[-1].strip():
        rest.pop()
    return subject, '\n'.join(rest), trailers


NEW_FILE_RE = re.compile(
    r'^diff --git a/(\S+) b/\1\nnew file mode 100(?:644|755)$', re.M)


def added_paths(patch_text, prefixes=config.NEW_FILE_DIRS):
    """Regular files a format-patch file creates under *prefixes*."""
    return sorted(path for path in NEW_FILE_RE.findall(patch_text)
                  if path.startswith(prefixes))
