"""report.md: the markdown tables and text of a ``bench`` run.

render_report() writes a run's report from its results dict (see
command.run_bench()), render_combined() that of ``bench combine`` (see
combine.run_combine()); the tables are shared.  The pyperformance part of
both is perfreport.py's.
"""

from .instructions import sorted_rows
from .perfreport import fmt_time, pyperformance_section
from .plan import (CONTROL_CALLS, COMPARED_SERIES, INSTR_LOOPS, LIKE_FOR_LIKE,
                   MICRO_CALLS, PEP_PUBLISHED, PEP_ROWS, REFERENCE, SERIES,
                   SYSCALL_SERIES, TARGET_SERIES, TITLES, BASELINE_INHERITABLE,
                   order_text)
from .systemcalls import syscall_diff
from .targets import INSTRUCTION_TOLERANCE, MICRO_TOLERANCE, other_work

#: What the title of a report calls the builds it compares, by variant
#: (results' 'variant': None for the plain builds, and for the runs made
#: before bench measured any other).
VARIANT_TITLES = {None: 'plain builds',
                  'optimized': 'optimized builds (PGO + LTO)'}
#: Rows of the per-function table of each call, at most.
FUNCTION_ROWS = 15


def builds_title(results):
    """'plain builds', 'optimized builds (PGO + LTO)': which builds the run
    (or the pooled runs) of *results* compared."""
    variant = results.get('variant')
    return VARIANT_TITLES.get(variant, f'{variant} builds')


def builds_line(results):
    """The builds' folders and configure flags, a sentence (or nothing,
    for the runs that predate their record)."""
    dirs = results.get('build_dirs')
    if not dirs:
        return []
    flags = results.get('configure_args') or {}

    def shown(build):
        found = flags.get(build)
        if found is None:
            return 'unknown'
        return f'`{" ".join(found)}`' if found else 'none'

    names = ' and '.join(f'`{dirs[b]}/`' for b in ('baseline', 'patched'))
    if shown('baseline') == shown('patched'):
        said = f'configure flags {shown("patched")}'
    else:
        said = (f'configure flags {shown("baseline")} (baseline), '
                f'{shown("patched")} (patched)')
    return [f'Builds compared: {names}, {said}.', '']


def fmt_ratio(entry):
    if not entry or 'median' not in entry:
        return 'n/a'
    return f'{entry["median"]:.3f} [{entry["q1"]:.3f}-{entry["q3"]:.3f}]'


def fmt_interval(entry):
    """The 95% interval of a cell's median, 'n/a' without one."""
    if not entry or 'low' not in entry:
        return 'n/a'
    return f'{entry["low"]:.3f}-{entry["high"]:.3f}'


def interval_lines(pooled):
    """What the pooled medians' intervals say of the clock: their mean
    half-width over the target series, and the control's interval."""
    widths = [(e['high'] - e['low']) / 2 for (call, series), e in
              pooled.items() if series in TARGET_SERIES and 'low' in e
              and call not in CONTROL_CALLS]
    if not widths:
        return []
    control = [f'`{call}` {short_title(series)} '
               f'{fmt_interval(pooled[call, series])}'
               for call in CONTROL_CALLS for series in TARGET_SERIES
               if 'low' in pooled.get((call, series), {})]
    text = ('95% interval: where the median of the rounds lies with 95% '
            'confidence (two order statistics of the rounds, no normality '
            'assumed). Its half-width averages '
            f'{sum(widths) / len(widths):.3f} over the calls here')
    if control:
        text += f'; the control\'s reads {", ".join(control)}'
    return [text + '. A call whose interval holds 1.00 is not told apart '
            'from stock by this clock, inside the band or outside it.', '']


def spread_lines(spread):
    """Where the noise is (stats.value_spread()), under a micro table."""
    if not spread:
        return []
    return [f'Spread: the values of one process differ by '
            f'{spread["within"]:.1%} (median of |last / first - 1|), the '
            f'processes of one call and series by {spread["between"]:.1%} '
            f'(median distance from their median; '
            f'{spread["processes"]} processes).', '']


def micro_table(micro, calls=MICRO_CALLS):
    others = [s for s in SERIES if s.name != REFERENCE]
    lines = ['| call | baseline time | '
             + ' | '.join(s.title for s in others) + ' |',
             '|---|---:|' + '---:|' * len(others)]
    for call in calls:
        base = micro.get((call, REFERENCE))
        if base is None:
            continue
        cells = [fmt_ratio(micro.get((call, s.name))) for s in others]
        lines.append(f'| `{call}` | {fmt_time(base["time"])} | '
                     + ' | '.join(cells) + ' |')
    return lines


def like_lines(like):
    """The like-for-like ratios, a sentence each (or nothing)."""
    if not like:
        return []
    out = ['Like for like (the target compares these):']
    for (call, series), entry in like.items():
        out.append(f'- `{call}`, {TITLES[series]} against '
                   f'{TITLES[entry["reference"]]} (both make a close-on-exec '
                   f'fd with the same system call): {fmt_ratio(entry)}')
    return out + ['']


def pep_table(pep):
    lines = ['| os.open() + close | time | ratio to no flag | '
             'PEP 433 on Linux 3.6 |', '|---|---:|---:|---|']
    for name, title in PEP_ROWS:
        entry = pep.get(name)
        if not entry:
            continue
        lines.append(f'| {title} | {fmt_time(entry["time"])} | '
                     f'{fmt_ratio(entry)} | {PEP_PUBLISHED[name]} |')
    return lines


def syscall_table(counts, calls):
    series = [s[0] for s in SYSCALL_SERIES]
    titles = {'baseline': 'baseline', 'patched': 'patched (default)',
              'patched-e': 'patched -e', 'patched-True': 'cloexec=True',
              'patched-False': 'cloexec=False'}
    lines = ['| call | ' + ' | '.join(titles[s] for s in series)
             + ' | differences from the baseline |',
             '|---|' + '---:|' * len(series) + '---|']
    for call in calls:
        base = counts.get((call, 'baseline'))
        if base is None:
            continue
        cells, diffs = [], []
        for s in series:
            found = counts.get((call, s))
            cells.append(str(len(found)) if found is not None else 'n/a')
            if found is not None and s != 'baseline':
                diff = syscall_diff(base, found)
                if diff:
                    diffs.append(f'{titles[s]}: {diff}')
        note = '; '.join(diffs)
        if call in BASELINE_INHERITABLE:
            note = ('baseline makes an inheritable fd here (compares '
                    'different things)' + ('; ' + note if note else ''))
        lines.append(f'| `{call}` | ' + ' | '.join(cells)
                     + f' | {note} |')
    return lines


def instruction_table(counts, calls):
    others = [s for s in COMPARED_SERIES if s != REFERENCE]
    lines = ['| call | ' + ' | '.join(TITLES[s] for s in COMPARED_SERIES)
             + ' | ' + ' | '.join(f'{TITLES[s]} - baseline' for s in others)
             + ' |', '|---|' + '---:|' * (len(COMPARED_SERIES) + len(others))]
    for call in calls:
        if (call, REFERENCE) not in counts:
            continue
        base = counts[call, REFERENCE]
        cells = [f'{counts[call, s]:.0f}' for s in COMPARED_SERIES]
        cells += [f'{counts[call, s] - base:+.0f} '
                  f'({(counts[call, s] - base) / base:+.1%})'
                  for s in others]
        lines.append(f'| `{call}` | ' + ' | '.join(cells) + ' |')
    return lines


def _count(value, sign=False):
    """An instruction count per call: whole, or to a tenth when small."""
    if abs(value) >= 10 or value == 0:
        return f'{value:+.0f}' if sign else f'{value:.0f}'
    return f'{value:+.1f}' if sign else f'{value:.1f}'


def function_table(rows, limit=FUNCTION_ROWS):
    """The per-function table of one call: for each function of *rows*
    (instructions.function_rows()), stock's inclusive and exclusive
    instructions per call and each target series' difference; at most
    *limit* rows, then how many more differ."""
    rows = sorted_rows(rows)
    series = [s for s in TARGET_SERIES
              if any(s in row for row in rows.values())]
    lines = ['| function | stock: inclusive | stock: exclusive | '
             + ' | '.join(f'{short_title(s)} - stock: inclusive | '
                          f'{short_title(s)} - stock: exclusive'
                          for s in series)
             + ' |', '|---|---:|---:|' + '---:|---:|' * len(series)]
    for name, row in list(rows.items())[:limit]:
        base = row[REFERENCE]
        file = f' ({row["file"]})' if row.get('file') else ''
        cells = [_count(base[0]), _count(base[1])]
        for s in series:
            if s not in row:
                cells += ['n/a', 'n/a']
                continue
            cells += [_count(c - b, sign=True) if abs(c - b) >= 0.05
                      else '=' for c, b in zip(row[s], base)]
        lines.append(f'| `{name}`{file} | ' + ' | '.join(cells) + ' |')
    more = len(rows) - limit
    if more > 0:
        lines += ['', f'{more} more function{"s" if more > 1 else ""} '
                  f'differ{"" if more > 1 else "s"} (all of them: '
                  'results.json, instruction_functions; each function\'s '
                  'costs: instructions-functions.json).']
    return lines


def function_section(functions, calls):
    """The per-function tables of the report (or nothing)."""
    if not functions:
        return []
    out = ['### Instructions per function (callgrind_annotate)', '',
           'Where a call\'s instructions differ: callgrind_annotate\'s sums '
           'by function of the same runs, exclusive (the function\'s own '
           'code, the code inlined into it and gcc\'s copies of it, '
           '`.constprop`, `.part`, ...) and inclusive (with what it calls, '
           'as its callers paid for it), per call as above: the difference '
           'of the two loop counts. Stock\'s instructions per call, then '
           'how many more (+) or fewer (-) each target series runs there '
           '(=: the same); the functions that differ by at least one '
           'instruction per call in one of them, the largest exclusive '
           'difference first (where the instructions are; the inclusive '
           'differences of their callers follow), at most '
           f'{FUNCTION_ROWS} per call.', '']
    for call in calls:
        rows = functions.get(call)
        if rows is None:
            continue
        out += [f'`{call}`:', '']
        if not rows:
            out += ['No function differs by one instruction per call or '
                    'more.', '']
            continue
        out += function_table(rows)
        out.append('')
    return out


def render_report(results):
    """report.md from the results dict (see run_bench)."""
    m = results['machine']
    out = [f'# PEP 433 benchmark: patched vs stock CPython '
           f'{results["version"]}, {builds_title(results)}', '',
           f'{results["kind"]} run, {m["date"]}; {m["nproc"]} CPUs '
           f'({m["cpu"]}), Linux {m["kernel"]}; load average at the start '
           f'{results["load_start"]}, at the end {results["load_end"]}; '
           f'{results["duration"]:.0f} s.', '']
    out += builds_line(results)
    targets = results['targets']
    out.append('## Targets')
    out.append('')
    out += [f'- target missed: {t}' for t in targets['missed']]
    out += [f'- other work, not comparable: {t}'
            for t in targets.get('faster', [])]
    out += [f'- target held: {t}' for t in targets['held']]
    out.append('')
    if results.get('micro'):
        plan = results['plan']
        out += ['## Micro-benchmarks: ratio to the baseline', '',
                f'Each call plus its close, pyperf; {plan["rounds"]} '
                f'interleaved rounds of {plan["values"]} values per call and '
                f'series, {order_text(plan)}. Cell: median over the rounds of '
                'median(series)/median(baseline) of the same round '
                '[interquartile range]. Target: patched and patched -e within '
                f'1.00 +- {MICRO_TOLERANCE:.2f}. `socket.accept` includes '
                'closing the client end.', '']
        out += micro_table(results['micro'], MICRO_CALLS + CONTROL_CALLS)
        out.append('')
        out += spread_lines(results.get('spread'))
        if any((c, REFERENCE) in results['micro'] for c in CONTROL_CALLS):
            out += [f'`{", ".join(CONTROL_CALLS)}` is the control: a call '
                    'the series does not change, no fd made. Its ratio is '
                    'what two builds of the same code differ by (code '
                    'layout), the floor under the other ratios; no target.',
                    '']
        out += like_lines(results.get('like') or {})
    if results.get('pep'):
        out += ['## The PEP\'s table, today', '',
                'os.open("/dev/null") + close on the patched interpreter with '
                'cloexec=False (stock 3.13 always adds O_CLOEXEC, so "no '
                'flag" does not exist there); the flag set atomically or '
                'afterwards from Python (`fcntl.ioctl`, `fcntl.fcntl`). '
                'This is the cost of the system calls and what the atomic '
                'path saves.', '']
        out += pep_table(results['pep'])
        out.append('')
    if results.get('syscalls'):
        out += ['## System calls per call (strace)', '',
                'Second of two calls (the first may probe the kernel once), '
                'between strace markers. Target: cloexec=True and -e equal '
                'to the baseline, cloexec=False and the default no more.', '']
        out += syscall_table(results['syscalls'], results['syscall_calls'])
        out.append('')
    if results.get('instructions'):
        out += ['## Instructions per call (callgrind)', '',
                'User-space instructions of one call, its close and its '
                'untimed preparation (`socket.accept`: the client socket and '
                'its connect; `socket.recv_fds`: the send_fds()), counted by '
                'valgrind --tool=callgrind with PYTHONHASHSEED=0: (count at '
                f'{INSTR_LOOPS[1]} calls - count at {INSTR_LOOPS[0]}) / '
                f'{INSTR_LOOPS[1] - INSTR_LOOPS[0]}, in a fixed working '
                'directory with a fixed PYTHONPATH: the same builds give the '
                'same counts in every run, which noise cannot blur. Not '
                'exact as a difference, though: other paths move some counts '
                'by tens of instructions (`open` by up to 52, '
                '`socket.accept` by up to 85; the heap\'s layout), so a '
                'difference of that size in those rows is not the patch\'s. '
                'A ratio outside the band with the same system calls and '
                'about the same instructions is not code the patch runs. '
                'Target: each call at most '
                f'+{INSTRUCTION_TOLERANCE:.0%} over the baseline, patched '
                'and patched -e.', '']
        calls = [c for c in results['syscall_calls'] if c in MICRO_CALLS]
        out += instruction_table(results['instructions'], calls)
        out.append('')
        out += function_section(results.get('instruction_functions'),
                                calls)
    if results.get('pyperformance'):
        out += pyperformance_section(results['pyperformance'])
    out += ['![ratios](ratios.png)', '']
    return '\n'.join(out)


def short_title(series):
    """'patched', 'patched -e': a series' title without its note."""
    return TITLES[series].split(' (', 1)[0]


def combined_micro_table(labels, runs, pooled, counts=None,
                         calls=MICRO_CALLS + CONTROL_CALLS):
    """Per call, each run's ratio and the pooled one, for TARGET_SERIES.

    *runs* is a list of the runs' {(call, series): entry} (their like-for-
    like entries in place of the plain ones), *pooled* that of the rounds
    pooled.  A pooled cell that micro_targets() would call other work says
    so; *counts* are the system calls of targets.other_work().
    """
    counts = counts or {}
    runs_head = ' / '.join(labels)
    lines = ['| call | ' + ' | '.join(f'{short_title(s)}: {runs_head} | '
                                     'pooled | 95% interval'
                                     for s in TARGET_SERIES)
             + ' |', '|---|' + '---|---:|---:|' * len(TARGET_SERIES)]
    for call in calls:
        if not any((call, s) in pooled for s in TARGET_SERIES):
            continue
        notes = [short_title(s)[len('patched '):] or 'default'
                 for s in TARGET_SERIES if (call, s) in LIKE_FOR_LIKE
                 and pooled.get((call, s), {}).get('reference')]
        shown = f'`{call}`'
        if notes:
            shown += f' ({", ".join(notes)}: like for like)'
        if call in CONTROL_CALLS:
            shown += ' (control)'
        cells = []
        for s in TARGET_SERIES:
            each = [run_.get((call, s)) for run_ in runs]
            cells.append(' / '.join(f'{e["median"]:.3f}'
                                    if e and 'median' in e else 'n/a'
                                    for e in each))
            entry = pooled.get((call, s))
            cell = fmt_ratio(entry)
            if other_work(entry, counts.get((call, REFERENCE)),
                          counts.get((call, s))):
                cell += ' (other work)'
            cells += [cell, fmt_interval(entry)]
        lines.append(f'| {shown} | ' + ' | '.join(cells) + ' |')
    return lines


def render_combined(combined):
    """report.md of ``bench combine`` from its dict (see run_combine)."""
    runs = combined['runs']
    labels = [r['label'] for r in runs]
    builds = combined['builds']
    out = [f'# PEP 433 benchmark: {len(runs)} runs pooled, patched vs stock '
           f'CPython {combined["version"]}, {builds_title(combined)}', '',
           'Runs, the same builds and the same plan in each:', '']
    for r in runs:
        out.append(f'- {r["label"]}: `{r["folder"]}` ({r["kind"]} run, '
                   f'{r["date"]}, {r["duration"]:.0f} s, load average at '
                   f'the start {r["load_start"]})')
    out += [''] + builds_line(combined) + ['Builds:', '']
    for build, ident in sorted(builds.items()):
        files = ', '.join(f'{name} {digest[:16]}'
                          for name, digest in sorted(ident['sha256'].items()))
        out.append(f'- {build}: `{ident["sys_version"]}`; sha256: {files}')
    targets = combined['targets']
    out += ['', '## Targets, pooled', '']
    out += [f'- target missed: {t}' for t in targets['missed']]
    out += [f'- other work, not comparable: {t}'
            for t in targets.get('faster', [])]
    out += [f'- target held: {t}' for t in targets['held']]
    out.append('')
    micro = combined.get('micro')
    if micro:
        plan = combined['plan']
        like = ''.join(f'; `{call}` under {short_title(series)} is judged '
                       f'against {TITLES[reference]}, like for like'
                       for (call, series), reference in LIKE_FOR_LIKE.items()
                       if (call, series) in micro['pooled'])
        out += ['## Micro-benchmarks: each run, and their rounds pooled', '',
                f'Median ratio to the baseline in each run '
                f'({" / ".join(labels)}; {plan["rounds"]} rounds of '
                f'{plan["values"]} values each, {order_text(plan)}), and over '
                f'the rounds of all runs pooled ({plan["rounds"] * len(runs)} '
                'per cell) '
                f'[interquartile range]{like}. `{", ".join(CONTROL_CALLS)}` '
                'is the control.', '']
        out += combined_micro_table(labels, micro['runs'], micro['pooled'],
                                    combined.get('syscalls'))
        out.append('')
        out += interval_lines(micro['pooled'])
        out += spread_lines(micro.get('spread'))
    if combined.get('pep'):
        out += ['## The PEP\'s table, pooled', '']
        out += pep_table(combined['pep'])
        out.append('')
    if combined.get('pyperformance'):
        out += pyperformance_section(combined['pyperformance'],
                                     '## pyperformance, the passes pooled')
    return '\n'.join(out)
