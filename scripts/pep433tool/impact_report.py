"""The report of ``impact``: ``report.md`` and the console summary."""

from datetime import datetime, timezone

from .impact_data import BUILD_MODES
from .junit import count

MODE_TEXT = {
    'baseline': 'stock CPython: new fds are non-inheritable (PEP 446)',
    'patched': 'PEP 433 default: new fds are inheritable '
               '(`sys.getdefaultcloexec()` is False)',
    'patched-e': 'patched with `-e` and `PYTHONCLOEXEC=1`: close-on-exec '
                 'by default',
}
WAY_TEXT = {
    'subprocess': '`subprocess.Popen` (default `close_fds=True`)',
    'close_fds=False': '`subprocess.Popen(close_fds=False)`',
    'pass_fds': '`subprocess.Popen(pass_fds=[fd])`',
    'posix_spawn': '`os.posix_spawn()`',
    'fork+execv': '`os.fork()` + `os.execv()`',
}
PROGRAM_TEXT = {
    'openssl': '`openssl enc -pass fd:N` (reads the read end)',
    'valgrind': '`valgrind --log-fd=N` (writes to the write end)',
}


def _md(text):
    """*text* for a markdown table cell."""
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _code(text):
    return '`' + str(text).replace('`', "'") + '`'


def mode_counts(result, mode):
    """(passed, failed, skipped) of a mode of a PackageResult."""
    counts = count(result.runs[mode].results)
    return counts['pass'], counts['fail'] + counts['error'], counts['skip']


def differences_of(result, mode, kind, flaky=False):
    return [d for d in result.differences
            if d.mode == mode and d.kind == kind and d.flaky == flaky]


def skip_reasons(results):
    """[(reason, count)] of the skipped cases, most frequent first."""
    reasons = {}
    for outcome in results.values():
        if outcome.status != 'skip':
            continue
        text = (outcome.detail.strip().splitlines()[0]
                if outcome.detail.strip() else '(no reason given)')
        # pytest's text is "path:line: reason"
        parts = text.split(': ', 1)
        if len(parts) == 2 and parts[0].rsplit(':', 1)[-1].isdigit():
            text = parts[1]
        text = text[:100]
        reasons[text] = reasons.get(text, 0) + 1
    return sorted(reasons.items(), key=lambda i: (-i[1], i[0]))


def results_table(results):
    lines = ['| package | mode | passed | failed | skipped | new failures '
             '| fixed | flaky | time |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for result in results:
        package = result.package
        for mode in BUILD_MODES:
            suite = result.runs.get(mode)
            if suite is None:
                continue
            passed, failed, skipped = mode_counts(result, mode)
            if mode == 'baseline':
                new = fixed = flaky = '-'
            else:
                new = len(differences_of(result, mode, 'breaks'))
                fixed = len(differences_of(result, mode, 'fixes'))
                flaky = len(differences_of(result, mode, 'breaks', True)
                            + differences_of(result, mode, 'fixes', True))
            lines.append(f'| {package.title} | {mode} | '
                         f'{passed} | {failed} | {skipped} | {new} | '
                         f'{fixed} | {flaky} | {suite.seconds:.0f} s |')
    return lines


def _failure_lines(outcome, limit=6):
    lines = [line for line in outcome.detail.strip().splitlines()
             if line.strip()]
    if len(lines) > limit:
        lines = lines[:2] + ['...'] + lines[-(limit - 3):]
    return lines


def difference_section(diff):
    """The markdown of one difference."""
    if diff.kind == 'breaks':
        what = (f'fails in **{diff.mode}** only (baseline: {diff.other})')
    else:
        what = (f'fails on the **baseline**, passes in {diff.mode} '
                f'({diff.other})')
    if diff.flaky:
        what += '; **flaky**: it passed when run again, not counted'
    else:
        what += '; confirmed by a second run'
    out = [f'#### {diff.package}: {_code(diff.test)}', '', what, '']
    out.append('```')
    out.extend(_failure_lines(diff.outcome))
    out.append('```')
    out.append('')
    entry = diff.explanation
    if entry is not None:
        out += [f'- **fd**: {entry.fd}',
                f'- **created**: {entry.created}',
                f'- **inherited by**: {entry.inherited_by}',
                f'- **why it differs**: {entry.why}']
        if entry.evidence:
            out.append(f'- **evidence**: {entry.evidence}')
    else:
        out.append('- **not explained**: no `[[package.explain]]` entry '
                   'matches it. Tried: the rerun above, the census of the '
                   'processes the test started and the fds its process '
                   'held at the failure (below).')
    for line in diff.evidence:
        out.append(f'- census: {line}')
    out.append('')
    return out


def fd_class(target):
    """What a /proc/<pid>/fd link points to, in a few classes."""
    if target.startswith('socket:'):
        return 'socket'
    if target.startswith('pipe:'):
        return 'pipe'
    if target.startswith('anon_inode:'):
        return target[len('anon_inode:'):].strip('[]')
    if target == '/dev/null':
        return '/dev/null'
    if target.startswith(('/dev/pts/', '/dev/ptmx', '/dev/tty')):
        return 'tty/pty'
    if target.endswith('(deleted)'):
        return 'deleted file'
    return 'file'


def inherited_summary(census):
    """'pipe 12, file 3' for the fds the processes of a census inherited."""
    classes = {}
    for record in census:
        for target in record.get('fds', {}).values():
            kind = fd_class(target)
            classes[kind] = classes.get(kind, 0) + 1
    return ', '.join(f'{kind} {n}' for kind, n in sorted(
        classes.items(), key=lambda i: (-i[1], i[0]))) or '-'


def census_table(results):
    lines = ['| package | mode | Python processes | default close-on-exec '
             '| default inheritable | stock (no default) | holding '
             'inherited fds at start | the fds they held |',
             '|---|---|---:|---:|---:|---:|---:|---|']
    escaped = []
    for result in results:
        for mode in BUILD_MODES:
            suite = result.runs.get(mode)
            if suite is None:
                continue
            census = suite.census
            true = sum(1 for r in census if r.get('default_cloexec') is True)
            false = [r for r in census if r.get('default_cloexec') is False]
            none = sum(1 for r in census if r.get('default_cloexec') is None)
            held = sum(1 for r in census if r.get('fds'))
            lines.append(f'| {result.package.name} | {mode} | {len(census)} '
                         f'| {true} | {len(false)} | {none} | {held} | '
                         f'{inherited_summary(census)} |')
            if mode == 'patched-e' and false:
                escaped.append((result.package.name, false))
    return lines, escaped


def fdpass_table(table):
    modes = [m for m in BUILD_MODES if m in table]
    lines = ['| program | started with | ' + ' | '.join(modes) + ' |',
             '|---|---|' + '---|' * len(modes)]
    notes = {}
    first = table[modes[0]]['results']
    for program, ways in first.items():
        for way in ways:
            cells = []
            for mode in modes:
                works, detail = table[mode]['results'][program][way]
                if works is None:
                    cells.append('n/a')
                    continue
                mark = 'works' if works else 'fails'
                if not works:
                    note = notes.setdefault(detail.split(': ', 1)[-1][:120],
                                            len(notes) + 1)
                    mark += f' [{note}]'
                cells.append(mark)
            lines.append(f'| {PROGRAM_TEXT.get(program, program)} | '
                         f'{WAY_TEXT.get(way, way)} | '
                         + ' | '.join(cells) + ' |')
    lines.append('')
    for text, number in notes.items():
        lines.append(f'[{number}] {_md(text)}  ')
    return lines


def render(results, table=None, base='', seconds=0.0, command=''):
    """The whole report.md."""
    now = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    out = [f'# PEP 433 impact on real packages (base {base})', '',
           f'`{command}`, {now}, {seconds / 60:.0f} min. Each package\'s '
           'own test suite, one venv per build with exactly the pinned '
           'wheels (`impact/packages.toml`), in three modes:', '']
    out += [f'- **{mode}**: {text}' for mode, text in MODE_TEXT.items()]
    out += ['', 'A difference is a test case that fails in one mode and '
            'not in the other, compared per test case with the baseline '
            '(as `scripts/pep433 test` does), run again to tell a real one '
            'from a flaky one. "New failures" break in that mode; "fixed" '
            'fail on the baseline only and ran in that mode.', '',
            '## Results', '']
    out += results_table(results)
    out += ['', '## Differences', '']
    diffs = [d for r in results for d in r.differences]
    if not diffs:
        out += ['None: every test case has the same outcome in the three '
                'modes.', '']
    for diff in diffs:
        out += difference_section(diff)
    out += ['## Which processes got the mode', '',
            'Every Python process started from a venv records its '
            'start-up (the census): its cloexec default, and the fds above '
            '2 it already holds, which it can only have inherited.', '']
    lines, escaped = census_table(results)
    out += lines + ['']
    for name, records in escaped:
        out.append(f'- {name}: {len(records)} processes in patched-e ran '
                   'with the inheritable default (they were started '
                   'without `PYTHONCLOEXEC` and without `-e`), e.g. '
                   + '; '.join(_code(' '.join(r.get('argv', []))[:80])
                               for r in records[:3]))
    if escaped:
        out.append('')
    out += ['## Failing in every mode', '',
            'Not counted: they fail the same way on stock CPython on this '
            'machine.', '']
    for result in results:
        known = set()
        for comp in result.comparisons:
            known.update(key for key, _ in comp.known)
        if known:
            shown = ', '.join(_code(k) for k in sorted(known)[:8])
            more = f' and {len(known) - 8} more' if len(known) > 8 else ''
            out.append(f'- {result.package.name} ({len(known)}): '
                       f'{shown}{more}')
    out += ['', '## Skipped', '', 'The most frequent reasons on the '
            'baseline (the same tests are skipped in every mode unless a '
            'difference above says otherwise).', '']
    for result in results:
        reasons = skip_reasons(result.runs['baseline'].results)
        if reasons:
            out.append(f'- {result.package.name}: ' + '; '.join(
                f'{n} x {_md(reason)}' for reason, n in reasons[:3]))
    out += ['', '## Deselected', '']
    for result in results:
        for item in result.package.deselect:
            out.append(f'- {result.package.name}: {_code(item.test)}: '
                       f'{item.reason}')
    out += ['', '## Packages', '', '| package | tests from | sha256 | what '
            'depends on fd inheritance |', '|---|---|---|---|']
    for result in results:
        p = result.package
        if p.tests_local:
            source, sha = f'{p.tests_local}/ (this repository)', '-'
        else:
            source, sha = p.tests_file, f'`{p.tests_sha256[:16]}...`'
        out.append(f'| {p.title} | {source} | {sha} | '
                   f'{_md(p.fd_behaviour)} |')
    if table:
        out += ['', '## Programs taking file descriptors from the parent',
                '', 'An `os.pipe()` made with the interpreter\'s default '
                '(no `cloexec` argument), its number on the child\'s '
                'command line (`probes/impact/fdpass.py`).', '']
        out += fdpass_table(table)
    return '\n'.join(out).rstrip() + '\n'


def console_summary(results, table=None):
    """What ``impact`` prints at the end."""
    out = []
    for result in results:
        out.append(f'{result.package.title}:')
        for mode in BUILD_MODES:
            if mode not in result.runs:
                continue
            passed, failed, skipped = mode_counts(result, mode)
            line = (f'  {mode:<10} {passed} passed, {failed} failed, '
                    f'{skipped} skipped')
            if mode != 'baseline':
                new = differences_of(result, mode, 'breaks')
                fixed = differences_of(result, mode, 'fixes')
                line += f'; {len(new)} new failures, {len(fixed)} fixed'
            out.append(line)
        for diff in result.differences:
            state = 'flaky' if diff.flaky else (
                'explained' if diff.explanation else 'NOT EXPLAINED')
            out.append(f'    {diff.mode} {diff.kind}: {diff.test} '
                       f'[{state}]')
    if table:
        modes = [m for m in BUILD_MODES if m in table]
        out.append('programs taking an os.pipe() fd from the parent:')
        out.append(f'  {"program":<9} {"started with":<16} '
                   + ' '.join(f'{m:<9}' for m in modes))
        for program, ways in table[modes[0]]['results'].items():
            for way in ways:
                cells = []
                for mode in modes:
                    works = table[mode]['results'][program][way][0]
                    cells.append({True: 'works', False: 'fails'}.get(
                        works, 'n/a'))
                out.append((f'  {program:<9} {way:<16} '
                            + ' '.join(f'{c:<9}' for c in cells)).rstrip())
    return '\n'.join(out) + '\n'
