"""The targets of ``bench``: what holds, what is missed, what is other work.

Micro-benchmarks: the target series within 1.00 +- MICRO_TOLERANCE of the
baseline (or of the stock call that makes the same flag, LIKE_FOR_LIKE);
system calls: cloexec=True and -e as many as the baseline, cloexec=False
and the default no more; instructions per call (callgrind): at most
+INSTRUCTION_TOLERANCE over the baseline's, each call in each target
series; pyperformance: the geometric mean within 1.00 +- GEOMEAN_TOLERANCE.
A missed target is reported, not an error.
"""

from .plan import REFERENCE, TARGET_SERIES, TITLES, MICRO_CALLS
from .systemcalls import syscall_diff

MICRO_TOLERANCE = 0.02
GEOMEAN_TOLERANCE = 0.01
#: Instructions per call may exceed the baseline's by this fraction, no
#: more: exact and noise-free, unlike the clock (issue 22).
INSTRUCTION_TOLERANCE = 0.01


def micro_targets(micro, calls=MICRO_CALLS, counts=None, like=None):
    """(held, missed, faster) for the micro-benchmark target (1.00 +- 0.02).

    A call of a LIKE_FOR_LIKE pair is judged by its ratio to the stock call
    that makes the same flag (*like*, from like_stats), when measured.  A
    missed call says what its system calls differ in from the baseline's
    (*counts*, from syscall_counts), or that they are the same.  A call
    below the band whose system calls differ from the baseline's does other
    work than stock, not the same work for less: it is reported in
    *faster*, neither held nor missed.  A missed call gives the 95%
    interval of its median when it has one (interval_note()): the verdict
    is the median's, the interval says whether this machine's clock told
    the call from stock at all.
    """
    held, missed, faster = [], [], []
    counts = counts or {}
    like = like or {}
    for series in TARGET_SERIES:
        bad, fast = [], []
        for call in calls:
            entry = like.get((call, series)) or micro.get((call, series))
            if (not entry or 'median' not in entry
                    or abs(entry['median'] - 1) <= MICRO_TOLERANCE):
                continue
            reference = entry.get('reference', REFERENCE)
            base = counts.get((call, REFERENCE))
            other = counts.get((call, series))
            diff = (syscall_diff(base, other)
                    if base is not None and other is not None else None)
            if reference != REFERENCE:
                notes = [f'against {TITLES[reference]}']
            elif diff is None:
                notes = []
            else:
                notes = [f'system calls: {diff}' if diff
                         else 'same system calls']
            notes += interval_note(entry)
            why = f' ({"; ".join(notes)})' if notes else ''
            text = f'{call} {entry["median"]:.3f}{why}'
            if entry['median'] < 1 and diff and reference == REFERENCE:
                fast.append(text)
            else:
                bad.append(text)
        text = (f'micro-benchmarks, {TITLES[series]}: median ratio within '
                f'1.00 +- {MICRO_TOLERANCE:.2f}')
        if bad:
            missed.append(f'{text}: {", ".join(bad)}')
        elif not fast:
            held.append(text)
        if fast:
            faster.append(f'micro-benchmarks, {TITLES[series]}: faster than '
                          f'the band, with other system calls than stock: '
                          f'{", ".join(fast)}')
    return held, missed, faster


def interval_note(entry):
    """What the 95% interval of *entry*'s median says of a call outside
    the band: whether the clock tells it from stock ([] without one)."""
    if 'low' not in entry:
        return []
    low, high = entry['low'], entry['high']
    said = ('holds 1.00: not told apart from stock' if low <= 1 <= high
            else 'excludes 1.00')
    return [f'95% interval of the median {low:.3f}-{high:.3f}, {said}']


def other_work(entry, base, other):
    """Whether *entry* is what micro_targets() calls other work: below the
    band, against the baseline, with other system calls (*other*) than the
    baseline's (*base*)."""
    return (bool(entry) and 'median' in entry
            and entry.get('reference', REFERENCE) == REFERENCE
            and entry['median'] < 1 - MICRO_TOLERANCE
            and base is not None and other is not None
            and bool(syscall_diff(base, other)))


def geomean_target(geomean):
    text = (f'pyperformance geometric mean within 1.00 +- '
            f'{GEOMEAN_TOLERANCE:.2f}')
    if geomean is None:
        return [], []
    if abs(geomean - 1) > GEOMEAN_TOLERANCE:
        return [], [f'{text}: {geomean:.4f}']
    return [f'{text} ({geomean:.4f})'], []


def syscall_targets(counts, calls):
    """(held, missed): messages about the system call targets.

    cloexec=True and the -e default make as many calls as the baseline;
    cloexec=False and the default (False) no more.
    """
    held, missed = [], []
    rules = (('patched-True', 'equal', 'cloexec=True'),
             ('patched-e', 'equal', '-e default'),
             ('patched-False', 'at most', 'cloexec=False'),
             ('patched', 'at most', 'default (False)'))
    for series, rule, what in rules:
        bad = []
        for call in calls:
            base = counts.get((call, 'baseline'))
            other = counts.get((call, series))
            if base is None or other is None:
                continue
            if (len(other) != len(base) if rule == 'equal'
                    else len(other) > len(base)):
                bad.append(f'{call}: {len(other)} vs {len(base)} '
                           f'({syscall_diff(base, other)}; '
                           f'{" ".join(other)} vs {" ".join(base)})')
        text = (f'system calls per call, {what}: {rule} the baseline\'s')
        if bad:
            missed.extend(f'{text}: {b}' for b in bad)
        else:
            held.append(text)
    return held, missed


def instruction_targets(counts, calls=MICRO_CALLS):
    """(held, missed): every fd-creating call of *calls* costs at most
    +INSTRUCTION_TOLERANCE instructions per call over the baseline, in
    each target series (*counts*: instructions.run_instructions()'s).
    Fewer instructions than stock are no miss."""
    held, missed = [], []
    for series in TARGET_SERIES:
        bad, measured = [], False
        for call in calls:
            base = counts.get((call, REFERENCE))
            other = counts.get((call, series))
            if not base or other is None:
                continue
            measured = True
            if (other - base) / base > INSTRUCTION_TOLERANCE:
                bad.append(f'{call} {other - base:+.0f} '
                           f'({(other - base) / base:+.1%})')
        if not measured:
            continue
        text = (f'instructions per call, {TITLES[series]}: at most '
                f'+{INSTRUCTION_TOLERANCE:.0%} over the baseline\'s')
        if bad:
            missed.append(f'{text}: {", ".join(bad)}')
        else:
            held.append(text)
    return held, missed
