"""Sphinx's warnings: parsed from its output, kept per document between
incremental builds, and compared as multisets of (path relative to Doc/,
level, message), without line numbers and Sphinx's ``[type]`` suffix, so
that a warning that only moved is no change (the docs command)."""

import collections
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path


#: The first line of a warning record: ``[location: ]LEVEL: message``, where
#: location is ``path``, ``path:line`` or ``path:None``.
RECORD_RE = re.compile(
    r'^(?:(?P<location>\S.*?): )?(?P<level>WARNING|ERROR|CRITICAL|SEVERE): '
    r'(?P<message>.*)$')
LOCATION_RE = re.compile(r'^(?P<path>.*?)(?::(?P<line>\d+|None))?$')
#: Sphinx >= 7.3 ends a warning with its type: `` [ref.const]``.
TYPE_RE = re.compile(r'^(?P<message>.*?) \[(?P<type>[a-z][\w.-]*)\]$')
#: An absolute path into some Doc/ directory, in a message.
ABS_DOC_RE = re.compile(r'(?<![\w.])/(?:[^\s/:]+/)*Doc/')


@dataclass(frozen=True)
class SphinxWarning:
    """One warning of a build, its path relative to Doc/."""

    path: str           # '' when Sphinx gave no location
    line: object        # int or None
    level: str          # WARNING, ERROR, ...
    message: str        # without the [type] suffix; continuation lines kept
    type: str = ''      # e.g. ref.const ('' in Sphinx < 7.3's format)
    phase: str = ''     # init, read, consistency, write ('' if unknown)

    @property
    def key(self):
        """What is compared: no line number, no type."""
        return (self.path, self.level, self.message)

    @property
    def docname(self):
        """The document the path names (None for other files)."""
        if self.path.endswith('.rst') and not self.path.startswith('../'):
            return self.path[:-len('.rst')]
        return None

    def __str__(self):
        return format_key(self.key, type=self.type, line=self.line)


def format_key(key, type='', line=None):
    """``path[:line]: LEVEL: message [type]`` (the message's first line)."""
    path, level, message = key
    text = message.splitlines()[0] if message else ''
    if '\n' in message:
        text += ' ...'
    where = path if line is None else f'{path}:{line}'
    suffix = f' [{type}]' if type else ''
    return (f'{where}: {level}: {text}{suffix}' if path
            else f'{level}: {text}{suffix}')


def normalise_path(path, srcdir=None):
    """*path* relative to the Doc/ directory *srcdir*, with / separators.

    Without *srcdir*, or for a path outside its tree, everything up to the
    last ``Doc/`` component is dropped.
    """
    if srcdir is not None and os.path.isabs(path):
        srcdir = Path(srcdir)
        for root in (srcdir, srcdir.parent):
            try:
                Path(path).relative_to(root)
            except ValueError:
                continue
            return Path(os.path.relpath(path, srcdir)).as_posix()
    match = re.search(r'(?:^|/)Doc/(.*)$', path)
    return match.group(1) if match else path


def normalise_message(message, srcdir=None):
    """*message* without the absolute paths of the source tree in it."""
    if srcdir is not None:
        srcdir = str(srcdir).rstrip('/')
        message = message.replace(srcdir + '/', '')
        message = message.replace(os.path.dirname(srcdir) + '/', '../')
    return ABS_DOC_RE.sub('', message)


def parse_warnings(text, srcdir=None, phases=None):
    """The warning records of Sphinx output *text* (a --warning-file).

    A line that does not start a record continues the previous one.  Paths
    are made relative to *srcdir* (the Doc/ directory; see
    normalise_path).  *phases*, if given, is the phase of each record in
    order (see record_phases).
    """
    records = []
    for line in text.splitlines():
        match = RECORD_RE.match(line)
        if match is None:
            if records and line.strip():
                records[-1]['message'] += '\n' + line.rstrip()
            continue
        location = match.group('location') or ''
        loc = LOCATION_RE.match(location)
        lineno = loc.group('line')
        message = match.group('message').rstrip()
        typ = ''
        tmatch = TYPE_RE.match(message)
        if tmatch:
            message, typ = tmatch.group('message'), tmatch.group('type')
        records.append({
            'path': normalise_path(loc.group('path'), srcdir)
            if location else '',
            'line': int(lineno) if lineno and lineno != 'None' else None,
            'level': match.group('level'),
            'message': message, 'type': typ})
    result = []
    for i, rec in enumerate(records):
        phase = phases[i] if phases is not None and i < len(phases) else ''
        result.append(SphinxWarning(
            rec['path'], rec['line'], rec['level'],
            normalise_message(rec['message'], srcdir), rec['type'], phase))
    return result


#: Sphinx's status lines that start each phase of a build (in order).
PHASE_MARKERS = (
    ('updating environment: ', 'read'),
    ('checking consistency', 'consistency'),
    ('preparing documents', 'write'),
)


def record_phases(log_text):
    """The phase of each warning record in Sphinx's output *log_text*.

    *log_text* is stdout and stderr of sphinx-build in one file (the
    warnings are the same records, in the same order, as in the
    --warning-file).  Phases: ``init`` (before reading), ``read`` (the
    documents Sphinx re-reads), ``consistency`` (global checks, only when
    something was re-read), ``write`` (resolving references and writing).
    """
    phase, phases = 'init', []
    for line in log_text.splitlines():
        if RECORD_RE.match(line):
            phases.append(phase)
            continue
        for marker, name in PHASE_MARKERS:
            if marker in line:
                phase = name
    return phases


def seen_phases(log_text):
    """The phases that Sphinx's output *log_text* went through."""
    seen = {'init'}
    for line in log_text.splitlines():
        if RECORD_RE.match(line):
            continue
        for marker, name in PHASE_MARKERS:
            if marker in line:
                seen.add(name)
    return seen


def _group(records):
    """{key: [record dicts]}: by document, or '@path' for other files."""
    groups = collections.defaultdict(list)
    for rec in records:
        key = rec.docname if rec.docname is not None else '@' + rec.path
        groups[key].append(asdict(rec))
    return dict(groups)


def empty_store():
    return {'init': [], 'read': {}, 'consistency': [], 'write': {}}


def merge_warnings(store, records, *, reread, written, phases_seen,
                   exists=None):
    """Update *store* (the saved warnings of a tree) with a build's records.

    *records* are this build's warnings (with phases); *reread* and
    *written* the documents it read and wrote; *phases_seen* the phases it
    went through.  The warnings of a document are replaced for the phase in
    which the build processed it, or in which it reported something about
    it; everything else is kept.  A warning in a file that is not a
    document (an included file) is kept until a build reports that file
    again or rebuilds everything.  *exists(key)* tells whether a document or
    file still exists (its saved warnings are dropped otherwise).  Return
    the new store.
    """
    by_phase = collections.defaultdict(list)
    for rec in records:
        by_phase[rec.phase or 'write'].append(rec)
    new = {'init': [asdict(r) for r in by_phase['init']],
           'consistency': store.get('consistency', [])}
    if 'consistency' in phases_seen:
        new['consistency'] = [asdict(r) for r in by_phase['consistency']]
    for phase, done in (('read', set(reread)), ('write', set(written))):
        groups = _group(by_phase[phase])
        merged = dict(store.get(phase, {}))
        for key in done | set(groups):
            merged[key] = groups.get(key, [])
        if exists is not None:
            merged = {key: recs for key, recs in merged.items()
                      if exists(key)}
        new[phase] = {key: recs for key, recs in sorted(merged.items())
                      if recs}
    return new


def store_warnings(store):
    """Every warning in *store*, as SphinxWarning, sorted by path and line."""
    recs = list(store.get('init', [])) + list(store.get('consistency', []))
    for phase in ('read', 'write'):
        for group in store.get(phase, {}).values():
            recs.extend(group)
    result = [SphinxWarning(**rec) for rec in recs]
    return sorted(result, key=lambda w: (w.path, w.line or 0, w.message))


def compare_warnings(baseline, patched):
    """(added, removed): Counters of warning keys, patched vs baseline."""
    base = collections.Counter(w.key for w in baseline)
    new = collections.Counter(w.key for w in patched)
    return new - base, base - new


def compare_report(baseline, patched, labels=('baseline', 'patched')):
    """The comparison of two lists of warnings as text, and the number of
    warnings the patched tree adds.

    Each added (removed) warning is listed once with its count and the
    lines where each tree has it, so that the new occurrence can be found
    among the old ones that only moved.
    """
    added, removed = compare_warnings(baseline, patched)
    lines = collections.defaultdict(list)
    types = {}
    for name, warnings in zip(labels, (baseline, patched)):
        for w in warnings:
            lines[name, w.key].append(w.line)
            types.setdefault(w.key, w.type)
    out = [f'docs warnings: {labels[0]} {len(baseline)}, '
           f'{labels[1]} {len(patched)}']
    for title, counter, sign in (
            (f'added by the {labels[1]} tree', added, '+'),
            (f'removed by the {labels[1]} tree (for information)', removed,
             '-')):
        out.append(f'{title}: {sum(counter.values())}')
        for key in sorted(counter):
            out.append(f'  {sign}{counter[key]} '
                       + format_key(key, type=types.get(key, '')))
            where = []
            for name in labels:
                numbers = sorted(n for n in lines.get((name, key), ())
                                 if n is not None)
                if numbers:
                    where.append(f'{name} at line '
                                 + ', '.join(map(str, numbers)))
            if where:
                out.append('      ' + '; '.join(where))
    return '\n'.join(out) + '\n', sum(added.values())


def write_warning_list(path, warnings):
    text = ''.join(f'{w}\n' for w in warnings)
    path.write_text(text, encoding='utf-8')
