"""The report of ``audit``: report.md and sites.json of the checked rows."""

from .audit_classification import KINDS, toml_stub

#: How the tracer saw a call's cloexec resolved: from the default, an
#: explicit True or False, or an opener (not the build modes of impact).
RESOLUTIONS = ('default', 'true', 'false', 'opener')
RESOLUTION_NAMES = {'default': 'default', 'true': 'cloexec',
                    'false': 'no-cloexec', 'opener': 'opener'}


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def dynamic_cell(row, dynamic_ran):
    if not dynamic_ran:
        return '-'
    if not row.dynamic:
        return 'not reached'
    return ' / '.join(f'{row.dynamic[mode]} {RESOLUTION_NAMES[mode]}'
                      for mode in RESOLUTIONS if row.dynamic.get(mode))


def kind_cell(row):
    if not row.entry:
        return '**none**'
    if row.entry.replaceable:
        return f'{row.entry.kind}, replaceable'
    return row.entry.kind


def asks_cell(row):
    if not row.static:
        return '(not seen statically)'
    return '; '.join(dict.fromkeys(s.detail for s in row.static))


def totals(rows, dynamic_ran):
    kinds = {kind: 0 for kind in KINDS}
    for row in rows:
        if row.entry:
            kinds[row.entry.kind] += 1
    result = {'sites': len(rows),
              'static': sum(1 for row in rows if row.static),
              'dynamic only': sum(1 for row in rows if not row.static),
              'classified default (follow the default)': kinds['default'],
              'classified own': kinds['own'],
              'classified not-fd': kinds['not-fd'],
              'marked replaceable': sum(
                  1 for row in rows if row.entry and row.entry.replaceable),
              'not classified': sum(1 for row in rows if not row.entry),
              'with a problem': sum(1 for row in rows if row.problems)}
    if dynamic_ran:
        result['reached dynamically'] = sum(1 for row in rows
                                            if row.dynamic)
    return result


def format_report(rows, stale, info):
    """The markdown report: header, table, totals, problems, stale."""
    dynamic_ran = info.get('dynamic') is not None
    out = ['# PEP 433 audit of the stdlib\'s fd-creating call sites', '']
    out.append(f'- tree: {info.get("tree")}')
    out.append(f'- classification: {info.get("classification")}')
    dyn = info.get('dynamic')
    if dyn is None:
        out.append('- dynamic part: not run (--static-only)')
    else:
        parts = [f'{dyn.get("processes")} traced processes']
        if dyn.get('tests'):
            parts.append(f'regrtest -j{dyn.get("jobs")} on '
                         f'{len(dyn["tests"])} test modules in '
                         f'{dyn.get("seconds")} s')
        if dyn.get('reused'):
            parts.append('records of an earlier run (--reuse)')
        out.append('- dynamic part: ' + '; '.join(parts))
    out += ['', '| file | function | callee | lines | asks (static) | '
            'dynamic | kind | verdict |', '|---|---|---|---|---|---|---|---|']
    for row in rows:
        file, function, call = row.key
        verdict = '; '.join(row.problems) if row.problems else 'ok'
        out.append('| ' + ' | '.join(_cell(text) for text in (
            file, function, call, ', '.join(map(str, row.lines)),
            asks_cell(row), dynamic_cell(row, dynamic_ran),
            kind_cell(row), verdict)) + ' |')
    out += ['', '## Totals', '']
    out += [f'- {name}: {value}'
            for name, value in totals(rows, dynamic_ran).items()]
    other = (dyn or {}).get('other')
    if other:
        out.append('- calls from tests and other code (not listed): '
                   + ', '.join(f'{call} ' + '/'.join(
                       f'{modes[m]} {RESOLUTION_NAMES[m]}'
                       for m in RESOLUTIONS if modes.get(m))
                       for call, modes in sorted(other.items())))
    problems = [row for row in rows if row.problems]
    if problems:
        out += ['', f'## Problems ({len(problems)})', '']
        for row in problems:
            out.append(f'- Lib/{row.key[0]}: {row.key[1]}: {row.key[2]} '
                       f'(line {", ".join(map(str, row.lines))}): '
                       + '; '.join(row.problems))
        stubs = [toml_stub(row) for row in problems if row.entry is None]
        if stubs:
            out += ['', 'Classification stubs to paste (choose kind and '
                    'write the reason):', '', '```toml']
            out += '\n'.join(stubs).splitlines()
            out.append('```')
    if stale:
        out += ['', f'## Stale classification entries ({len(stale)})', '']
        out += [f'- {e.file}: {e.function}: {e.call} (kind {e.kind}): '
                'matches no site' for e in stale]
    return '\n'.join(out) + '\n'


def sites_json(rows, stale, info):
    return {'info': info,
            'sites': [{'file': row.key[0], 'function': row.key[1],
                       'call': row.key[2], 'lines': row.lines,
                       'static': [{'line': s.line, 'asks': s.asks,
                                   'detail': s.detail, 'via': s.via}
                                  for s in row.static],
                       'dynamic': row.dynamic,
                       'kind': row.entry.kind if row.entry else None,
                       'reason': row.entry.reason if row.entry else None,
                       'replaceable': bool(row.entry
                                           and row.entry.replaceable),
                       'compat_tests': list(row.entry.compat_tests
                                            if row.entry else ()),
                       'problems': row.problems} for row in rows],
            'stale': [_entry_json(entry) for entry in stale]}


def _entry_json(entry):
    data = vars(entry).copy()
    data['compat_tests'] = list(entry.compat_tests)
    return data
