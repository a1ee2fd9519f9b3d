"""``bench clock``: what this machine's clock lets a run tell apart.

A micro-benchmark target is a band of +-2% around 1.00, so the machine
must time the same work alike, run after run, to well within that.  A
shared machine does not always (docs/performance.md, "The clock of this
machine").  Before a run of forty minutes, ``bench clock`` says what it
does now, with the tool's own interpreter (the clock is the machine's,
not a build's) and one fixed piece of pure-Python work
(probes/clock_trace.py), in two parts:

1. **The trace**: the work timed back to back in one process for
   --seconds; speed_summary() gives the quantiles of the durations over
   the fastest twentieth (p5), the share of the time spent slower than
   the midpoint of p5 and p95, and how long the machine stays on one
   side of it.
2. **An A/A run**: --rounds rounds, each a block of as many processes as
   ``bench`` has series for a call, back to back as ``bench`` runs them;
   each process times the work for plan.values values of plan.min_time
   (a ``bench`` run's), its value the median of those.  The ratio of a
   round is that of two processes of the block drawn at random: two runs
   of the same code, as ``bench`` divides a patched run by a baseline
   one.  aa_summary() reads them as ``bench`` reads a call's rounds: the
   spread (half the interquartile range), and, drawing as many ratios as
   one run's rounds and as three runs' pooled, how wide the 95% interval
   of the median is and how often the median of identical code falls
   outside the band.
"""

import json
import logging
import random
import statistics
import sys
from datetime import datetime
from pathlib import Path

from ..errors import UsageError
from ..util import run
from .plan import Plan, SERIES
from .pyperfio import write_json
from .stats import median_interval
from .targets import MICRO_TOLERANCE

log = logging.getLogger(__name__)

TRACE_PROBE = (Path(__file__).resolve().parent.parent / 'probes'
               / 'clock_trace.py')

#: Runs pooled: one run's rounds, and three runs' (the README's target).
RUNS = (1, 3)
#: Draws of the rounds of a run, to say how its median would fall.
DRAWS = 400
#: The processes of an A/A round: as many as bench runs for most calls.
BLOCK = sum(1 for s in SERIES if not s.calls)


def trace(seconds, python=sys.executable):
    """(starts, durations) of clock_trace.py run for *seconds*."""
    proc = run([python, TRACE_PROBE, str(seconds)], quiet=True)
    data = json.loads(proc.stdout)
    return data['starts'], data['durations']


def _quantile(data, q):
    """The *q* quantile of sorted *data* (nearest rank, 0 <= q <= 1)."""
    return data[round(q * (len(data) - 1))]


def speed_summary(starts, durations):
    """How the clock moved: {'samples', 'seconds', 'sample' (the median
    duration), 'quantiles': {'p5', 'p25', 'p50', 'p75', 'p95'} of the
    durations over p5, 'half_iqr' (over the median, as bench's spread),
    'slow_share': the share of the time spent above the midpoint of p5
    and p95, 'dwell': the median time spent on one side of it}."""
    ordered = sorted(durations)
    fast = _quantile(ordered, 0.05)
    qs = {f'p{int(q * 100)}': _quantile(ordered, q) / fast
          for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
    mid = (fast + _quantile(ordered, 0.95)) / 2
    slow = [d > mid for d in durations]
    dwell, since = [], starts[0]
    for i in range(1, len(durations)):
        if slow[i] != slow[i - 1]:
            dwell.append(starts[i] - since)
            since = starts[i]
    dwell.append(starts[-1] + durations[-1] - since)
    median = statistics.median(ordered)
    return {'samples': len(durations),
            'seconds': starts[-1] + durations[-1],
            'sample': median,
            'quantiles': qs,
            'half_iqr': (_quantile(ordered, 0.75)
                         - _quantile(ordered, 0.25)) / 2 / median,
            'slow_share': (sum(d for d, s in zip(durations, slow) if s)
                           / sum(durations)),
            'dwell': statistics.median(dwell)}


def process_value(starts, durations, values, min_time):
    """What bench makes of one process: the median of *values* values,
    each the mean duration of the samples in one stretch of *min_time*
    seconds."""
    found = []
    for v in range(values):
        inside = [d for s, d in zip(starts, durations)
                  if v * min_time <= s < (v + 1) * min_time]
        if inside:
            found.append(statistics.mean(inside))
    if not found:
        raise ValueError('a process timed no sample')
    return statistics.median(found)


def aa_rounds(rounds, rng, plan=None, block=BLOCK, python=None):
    """*rounds* ratios of two runs of the same work: each round runs a
    block of *block* processes back to back, and divides the value of
    one by another's, both drawn at random."""
    plan = plan or Plan.make(False)
    seconds = plan.values * plan.min_time
    ratios = []
    for _ in range(rounds):
        found = [process_value(*trace(seconds, python or sys.executable),
                               plan.values, plan.min_time)
                 for _ in range(block)]
        first, second = rng.sample(range(block), 2)
        ratios.append(found[second] / found[first])
    return ratios


def aa_summary(ratios, rng, rounds_of_a_run, draws=DRAWS):
    """What a run of identical code reads from *ratios*: {'rounds',
    'half_iqr', 'median', and for each number of runs pooled in RUNS:
    {'rounds', 'half_width' (mean half-width of the 95% interval of the
    median), 'outside' (the share of the medians outside the band)}},
    drawing runs x *rounds_of_a_run* ratios *draws* times."""
    q1, med, q3 = statistics.quantiles(ratios, n=4, method='inclusive')
    found = {'rounds': len(ratios), 'half_iqr': (q3 - q1) / 2,
             'median': med, 'pooled': []}
    for runs in RUNS:
        n = runs * rounds_of_a_run
        widths, outside = [], 0
        for _ in range(draws):
            drawn = rng.choices(ratios, k=n)
            low, high = median_interval(drawn)
            widths.append((high - low) / 2)
            outside += abs(statistics.median(drawn) - 1) > MICRO_TOLERANCE
        found['pooled'].append({'runs': runs, 'rounds': n,
                                'half_width': statistics.mean(widths),
                                'outside': outside / draws})
    return found


def render(speed, aa, plan):
    """The report's lines (markdown)."""
    q = speed['quantiles']
    out = [f'Trace: {speed["samples"]} samples of one pure-Python loop '
           f'({speed["sample"] * 1e3:.2f} ms each, median) back to back '
           f'over {speed["seconds"]:.0f} s. Duration over the fastest '
           f'twentieth (p5): p25 {q["p25"]:.2f}, median {q["p50"]:.2f}, '
           f'p75 {q["p75"]:.2f}, p95 {q["p95"]:.2f}; half-IQR '
           f'{speed["half_iqr"]:.3f} of the median. Slower than the '
           f'midpoint of p5 and p95 {speed["slow_share"]:.0%} of the time, '
           f'for {speed["dwell"]:.3f} s at a time (median).', '',
           f'A/A: {aa["rounds"]} rounds, each {BLOCK} processes back '
           f'to back timing the same loop ({plan.values} values of '
           f'{plan.min_time:.2f} s each, as a bench run\'s), the ratio of '
           f'two of them: median {aa["median"]:.3f}, half-IQR '
           f'{aa["half_iqr"]:.3f}. A bench call\'s rounds spread like that '
           'when the clock is all there is between them. Drawing as many '
           f'rounds as bench makes ({DRAWS} draws):', '',
           '| rounds | 95% interval of the median, half-width | medians of '
           f'identical code outside 1.00 +- {MICRO_TOLERANCE:.2f} |',
           '|---:|---:|---:|']
    for p in aa['pooled']:
        label = 'one run' if p['runs'] == 1 else f'{p["runs"]} runs pooled'
        out.append(f'| {p["rounds"]} ({label}) | +-{p["half_width"]:.3f} '
                   f'| {p["outside"]:.0%} |')
    return out


def run_clock(paths, seconds, rounds, output=None, seed=None):
    """Implement ``bench clock``; return 0."""
    plan = Plan.make(False)
    if seconds <= 0 or rounds < 8:
        raise UsageError('--seconds must be more than 0 and --rounds at '
                         'least 8 (a quartile needs a few)')
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    output = (Path(output).resolve() if output
              else paths.workdir / 'bench' / f'clock-{stamp}')
    output.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    log.info('tracing the clock for %g s (keep the machine otherwise '
             'idle)', seconds)
    speed = speed_summary(*trace(seconds))
    log.info('A/A: %d rounds of %d processes', rounds, BLOCK)
    ratios = aa_rounds(rounds, rng, plan)
    aa = aa_summary(ratios, rng, plan.rounds)
    lines = render(speed, aa, plan)
    (output / 'clock.md').write_text(
        '# The machine\'s clock, ' + datetime.now().strftime(
            '%Y-%m-%d %H:%M') + '\n\n' + '\n'.join(lines) + '\n')
    write_json(output / 'clock.json',
               {'speed': speed, 'aa': aa, 'ratios': ratios})
    print('\n'.join(lines))
    log.info('written: %s', output / 'clock.md')
    return 0
