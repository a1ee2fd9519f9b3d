"""The check of ``audit``: the two inventories merged by key, and judged.

Each key (file, function, callee) gets a Row with its static sites, its
dynamic counts and its classification entry, and the problems found: not
classified, classified own but following the default, a wrapper that does
not always ask for the flag, a replaceable site without its test.
"""

from dataclasses import dataclass, field

from .audit_classification import Entry
from .audit_creators import INDIRECT, VIA_METHOD, indirect_sites


@dataclass
class Row:
    """Everything known about one key."""

    key: tuple
    static: list = field(default_factory=list)      # [Site]
    dynamic: dict = field(default_factory=dict)     # {mode: count}
    dynamic_lines: set = field(default_factory=set)
    entry: Entry = None
    problems: list = field(default_factory=list)    # [str]

    @property
    def lines(self):
        return sorted({s.line for s in self.static} | self.dynamic_lines)

    @property
    def indirect(self):
        return self.key[2] in INDIRECT

    def not_asking(self):
        """The static calls that neither ask for the flag nor pass an
        explicit cloexec=False."""
        return [s for s in self.static if s.asks in ('default', 'kwargs')]

    def replaceable_calls(self):
        """The static calls that pass the flag to an object the caller can
        supply or replace."""
        return [s for s in self.static if s.replaceable]


def always_cloexec(callee, sites, rows):
    """True if the indirect *callee* always makes its fd close-on-exec:
    every static site inside its definition that makes an fd is classified
    own, asks for the flag, and was never seen resolved from the default.
    A site classified not-fd (e.g. PollSelector's select.poll(), which a
    static resolution cannot tell from epoll's) makes no fd."""
    inside = [site for site in indirect_sites(callee, sites)
              if rows[site.key].entry is None
              or rows[site.key].entry.kind != 'not-fd']
    if not inside:
        return False
    for site in inside:
        row = rows[site.key]
        if row.entry is None or row.entry.kind != 'own':
            return False
        if not site.asked or row.dynamic.get('default'):
            return False
    return True


def replaceable_problems(row, test_problems):
    """The problems of *row* under the rule for the sites that pass the
    flag to an object the caller can supply or replace: each is marked
    replaceable in the classification, with a compatibility test that
    exists (*test_problems*: {test: why it does not exist, or ''})."""
    entry = row.entry
    calls = row.replaceable_calls()
    if not entry.replaceable:
        if not calls:
            return []
        how = ', '.join(f'{s.line} ({_how(s)})' for s in calls)
        return ['passes the flag to an object the caller can supply or '
                f'replace at line {how}: mark it replaceable = true, with '
                'the compat_test that covers it']
    if not entry.compat_tests:
        return ['replaceable, but no compat_test names the test of Lib/test '
                'that covers it']
    return [f'replaceable, but its compat_test {test} '
            + test_problems.get(test, 'was not looked for')
            for test in entry.compat_tests if test_problems.get(test, '-')]


def _how(site):
    if site.via == VIA_METHOD:
        return f'{site.detail} to a method of a socket it was given'
    return f'through {site.via}()'


def check(sites, dynamic, entries, test_problems=None):
    """Merge and check; return (rows sorted by key, stale entries).

    *test_problems* maps each compatibility test the entries name to why
    it does not exist in the tree ('' if it does)."""
    rows = {}
    for site in sites:
        rows.setdefault(site.key, Row(site.key)).static.append(site)
    for key, info in (dynamic or {}).items():
        row = rows.setdefault(key, Row(key))
        row.dynamic = dict(info['modes'])
        row.dynamic_lines = set(info['lines'])
    for key, row in rows.items():
        row.entry = entries.get(key)
    for key, row in sorted(rows.items()):
        entry = row.entry
        if entry is None:
            row.problems.append('not classified')
            continue
        row.problems += replaceable_problems(row, test_problems or {})
        if entry.kind == 'not-fd':
            if row.dynamic:
                row.problems.append('classified not-fd, but the tracer saw '
                                    'it create fds')
            continue
        if entry.kind != 'own':
            continue
        if row.indirect:
            # a helper sets the flag whatever the wrapper does
            helped = row.static and all(s.helper and s.asked
                                         for s in row.static)
            if not helped and not always_cloexec(key[2], sites, rows):
                row.problems.append(
                    f'own, but {key[2]}() does not always make its fd '
                    'close-on-exec (a site inside it is not own or does not '
                    'ask for the flag)')
            continue
        lazy = row.not_asking()
        if lazy:
            row.problems.append(
                'own, but follows the default at line '
                + ', '.join(f'{s.line} ({s.detail})' for s in lazy)
                + ': pass cloexec=True (or the flag bit)')
        if row.dynamic.get('default'):
            row.problems.append(
                f'own, but the tracer saw it resolved from the default '
                f'{row.dynamic["default"]} times')
    used = set(rows)
    stale = [entry for key, entry in sorted(entries.items())
             if key not in used]
    return [rows[key] for key in sorted(rows)], stale
