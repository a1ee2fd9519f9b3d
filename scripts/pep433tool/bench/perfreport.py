"""The pyperformance part of a ``bench`` report: the ratios of the
passes pooled and of each pair of passes, the suite's outliers with the fds
they make, and what did not run (report.py puts it in a run's report and in
that of ``bench combine``)."""

from .targets import GEOMEAN_TOLERANCE


def fmt_time(seconds):
    if seconds < 1e-3:
        return f'{seconds * 1e6:.2f} us'
    if seconds < 1:
        return f'{seconds * 1e3:.1f} ms'
    return f'{seconds:.2f} s'


def paired(pair_ratios):
    """*pair_ratios* (see perf.pair_results()) when there are two pairs of
    passes or more to tell apart, else None."""
    if not pair_ratios:
        return None
    return pair_ratios if len(next(iter(pair_ratios.values()))) >= 2 else None


def pair_cell(ratios, digits=3):
    """The ratios of one benchmark in each pair of passes, for a cell."""
    return ' / '.join('n/a' if r is None else f'{r:.{digits}f}'
                      for r in ratios)


def held_in_every_pair(ratios, band):
    """True when every pair puts the benchmark outside 1.00 +- *band*, on
    the same side: a difference each comparison alone finds again."""
    if any(r is None for r in ratios):
        return False
    return (all(r > 1 + band for r in ratios)
            or all(r < 1 - band for r in ratios))


def pyperformance_table(rows, geomean, pair_ratios=None,
                        pair_geomeans=None):
    """The ratios of *rows*; with two pairs of passes or more, a column
    of each pair's ratio too."""
    pairs = paired(pair_ratios)
    head = '| benchmark | baseline | patched | patched/baseline |'
    rule = '|---|---:|---:|---:|'
    if pairs:
        head += ' each pair of passes |'
        rule += '---:|'
    lines = [head, rule]
    for name, row in rows.items():
        line = (f'| {name} | {fmt_time(row["reference"])} | '
                f'{fmt_time(row["changed"])} | {row["ratio"]:.3f} |')
        if pairs:
            line += f' {pair_cell(pairs.get(name, []))} |'
        lines.append(line)
    if geomean is not None:
        line = f'| **geometric mean** | | | **{geomean:.4f}** |'
        if pairs:
            line += f' {pair_cell(pair_geomeans or [], 4)} |'
        lines.append(line)
    return lines


def pair_lines(pair_geomeans):
    """The geometric mean of each pair of neighbouring passes (or nothing)."""
    if not pair_geomeans or len(pair_geomeans) < 2:
        return []
    return ['', 'Geometric mean of each pair of neighbouring passes (one '
            'baseline and one patched pass, run one after the other): '
            + ', '.join(f'{g:.4f}' for g in pair_geomeans)
            + '. Their spread is what one baseline-vs-patched comparison '
            'can tell on this machine; the mean above pools all passes.']


def same_build_lines(same):
    """Each build against itself (perf.pair_results()'s 'same_build'), or
    nothing when no build ran twice."""
    parts = [f'{build} ' + ', '.join(
        f'{g:.4f} (pass {b} / pass {a})'
        for g, (a, b) in zip(entry['geomeans'], entry['passes']))
        for build, entry in (same or {}).items() if entry['geomeans']]
    if not parts:
        return []
    return ['', 'The same build against itself, the geometric mean of each '
            'later pass over its previous one: ' + '; '.join(parts)
            + '. One binary, measured twice: how far these are from 1.00 is '
            'what the machine alone does to a comparison between passes.']


def same_build_cell(same, name):
    """One benchmark's ratios of each build against itself, for a cell."""
    return ', '.join(f'{build} {pair_cell(entry["ratios"].get(name, []))}'
                     for build, entry in same.items() if entry['geomeans'])


def pyperformance_section(p, title='## pyperformance'):
    """The pyperformance part of a report, from results['pyperformance']."""
    suite = p.get('suite')
    if not suite:
        benchmarks = ', '.join(p['benchmarks'])
    elif suite['default']:
        benchmarks = (f'pyperformance\'s default suite, the '
                      f'{len(suite["names"])} of `pyperformance list`')
    else:
        benchmarks = (f'the suite given, {len(suite["names"])}: '
                      + ', '.join(suite['names']))
    out = [title, '',
           f'Benchmarks: {benchmarks}; passes '
           f'{" ".join(p["passes"])} (--fast each). Ratio of medians; '
           f'target: geometric mean within 1.00 +- '
           f'{GEOMEAN_TOLERANCE:.2f}.', '']
    out += pyperformance_table(p['rows'], p['geomean'], p.get('pair_ratios'),
                               p.get('pair_geomeans'))
    out += pair_lines(p.get('pair_geomeans'))
    out += same_build_lines(p.get('same_build'))
    if suite:
        out += outside_lines(p['rows'], suite, p.get('pair_ratios'),
                             p.get('same_build'))
        out += did_not_run_lines(suite['did_not_run'])
    out += ['', '`pyperf compare_to` baseline vs patched (means):', '',
            p['compare_to'].strip(), '']
    return out


def fds_cell(found):
    """What count_calls() found, for a table cell."""
    if found is None:
        return 'not counted', 'n/a'
    if 'error' in found:
        return f'not counted: {found["error"]}', 'n/a'
    failed = ''
    if found.get('failed'):
        calls = ', '.join(f'{name} {n:g}' for name, n in
                          sorted(found['failed_per_loop'].items()))
        failed = f'; {found["failed"]:g} failed ({calls})'
    if not found['fds']:
        return f'none{failed}', '0'
    calls = ', '.join(f'{name} {n:g}'
                      for name, n in sorted(found['per_loop'].items()))
    rate = (f'{found["per_second"]:,.0f}'
            if found.get('per_second') is not None else 'n/a')
    return f'{found["fds"]:g} ({calls}){failed}', rate


def outside_lines(rows, suite, pair_ratios=None, same_build=None):
    """The benchmarks outside the band, with the fds they make and, with
    two pairs of passes or more, whether every pair finds them outside and
    what each build gives against itself (*same_build*)."""
    band = suite['band']
    outside = [r for r in suite['outside'] if r in rows]
    pairs = paired(pair_ratios)
    out = ['', f'### Outside 1.00 +- {band:.2f}, and the fds they make', '']
    if not outside:
        return out + [f'No benchmark is outside 1.00 +- {band:.2f}.']
    out += ['Each benchmark outside the band ran once more on the patched '
            'build, one process and no warmup, at two loop counts under '
            '`strace -f -c`: the successful fd-creating system calls (open, '
            'socket, accept, pipe, dup, epoll and the like) of the '
            'difference, per loop of the benchmark, start-up cancelling '
            'out; per second: over the time of one loop. One that makes no '
            'fd in its loop does not reach the code the series changes: '
            'its ratio is not the flag\'s. The calls that failed '
            '(ENOENT and the like) are counted apart: they make no fd, but '
            'run the creator\'s code up to the system call.', '']
    head = ('| benchmark | patched/baseline | fd-creating system calls per '
            'loop | per second |')
    rule = '|---|---:|---|---:|'
    same = {}
    if pairs:
        text = (f'Each pair of passes: the ratio that pair (one baseline and '
                f'one patched pass, run one after the other) gives alone; '
                f'held: every pair puts the benchmark outside 1.00 +- '
                f'{band:.2f} on the same side. One that is not held is a '
                'difference one comparison finds and another does not, on '
                'the same two builds.')
        head += ' each pair of passes | held |'
        rule += '---:|---|'
        same = {build: entry for build, entry in (same_build or {}).items()
                if entry['geomeans']}
        if same:
            text += (' Same build: each build\'s later pass over its '
                     'previous one, for that benchmark.')
            head += ' same build |'
            rule += '---|'
        out += [text, '']
    out += [head, rule]
    held, fd_held = [], []
    for name in outside:
        who = suite['owners'].get(name)
        found = suite['fds'].get(who)
        calls, rate = fds_cell(found)
        shown = name if who in (None, name) else f'{name} ({who})'
        line = (f'| {shown} | {rows[name]["ratio"]:.3f} | {calls} | '
                f'{rate} |')
        if pairs:
            ratios = pairs.get(name, [])
            kept = held_in_every_pair(ratios, band)
            line += f' {pair_cell(ratios)} | {"yes" if kept else "no"} |'
            if same:
                line += f' {same_build_cell(same, name)} |'
            if kept:
                held.append(name)
                if found and (found.get('fds') or found.get('failed')):
                    fd_held.append(name)
        out.append(line)
    if pairs and not held:
        out += ['', f'Held in every pair: none of the {len(outside)} '
                'results outside the band.']
    elif pairs:
        fd_names = f' ({", ".join(fd_held)})' if fd_held else ''
        out += ['', f'Held in every pair: {len(held)} of the {len(outside)} '
                f'results outside the band ({", ".join(held)}); of them, '
                f'{len(fd_held)} make or try to make fds in their loop'
                f'{fd_names}.']
    return out


def did_not_run_lines(missing):
    """The benchmarks that did not run, with the reason, pass by pass."""
    out = ['', '### Did not run', '']
    if not missing:
        return out + ['Every benchmark ran in every pass.']
    out += ['A benchmark missing from a pass\'s result file, with '
            'pyperformance\'s reason and the last lines of its output:', '']
    for name, entries in sorted(missing.items()):
        groups = []
        for entry in entries:
            key = (entry['reason'], tuple(entry['lines']))
            if groups and groups[-1][0] == key:
                groups[-1][1].append(entry)
            else:
                groups.append((key, [entry]))
        for (reason, lines), group in groups:
            where = ', '.join(f'{e["pass"]} ({e["build"]})' for e in group)
            word = 'pass' if len(group) == 1 else 'passes'
            out.append(f'- `{name}`, {word} {where}: {reason}')
            if lines:
                out += (['', '  ```'] + [f'  {line}' for line in lines]
                        + ['  ```', ''])
    return out[:-1] if out[-1] == '' else out
