"""The statistics of ``bench``: ratios, medians, quartiles, geometric means.

Every ratio is taken round by round (a round runs each series once, close
together in time) and summarised by the median and the interquartile range
over the rounds, and by the 95% interval of that median; pooled runs are
more rounds (pool_rounds).
"""

import math
import statistics

from .plan import LIKE_FOR_LIKE, PEP_REFERENCE, PEP_ROWS, PEP_SERIES
from .pyperfio import benchmarks_of, values


def quartiles(data):
    """(q1, median, q3) of *data* (a single value gives it three times)."""
    data = sorted(data)
    if len(data) == 1:
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method='inclusive')
    return q1, q2, q3


#: The confidence of median_interval(): 95%, as pyperf's compare_to.
CONFIDENCE = 0.95


def median_interval(data, confidence=CONFIDENCE):
    """(low, high): the distribution-free interval of the median of *data*.

    Two order statistics of the sorted data, chosen from the binomial
    distribution B(n, 1/2) so that the median of what the data are drawn
    from lies between them with at least *confidence*, whatever that
    distribution: no normality assumed, as the ratios of a noisy machine
    are not normal.  None when *data* is too short for any pair to reach
    *confidence* (fewer than 6 values at 95%).
    """
    data = sorted(data)
    n = len(data)
    alpha = (1 - confidence) / 2
    # the largest k with P(B <= k - 1) <= alpha: the interval is the k-th
    # smallest and the k-th largest of the data
    k, below = 0, 0.0
    while True:
        below += math.comb(n, k) / 2 ** n
        if below > alpha:
            break
        k += 1
    if k == 0:
        return None
    return data[k - 1], data[n - k]


def ratio_stats(per_round, reference):
    """Ratios to *reference*, round by round.

    *per_round* maps (benchmark, series) to {round: [values]}.  Return
    {(benchmark, series): {'median', 'q1', 'q3', 'low', 'high', 'ratios',
    'time'}} for every series but the reference: the ratios are
    median(series values of a round) / median(reference values of the same
    round), over the rounds that both have; 'low' and 'high' bound the
    median (median_interval(), when there are enough rounds); 'time' is
    the median of all the series' values.
    """
    stats = {}
    for (bench, series), rounds in per_round.items():
        ref = per_round.get((bench, reference))
        entry = {'time': statistics.median(
            [v for vals in rounds.values() for v in vals])}
        if series != reference and ref:
            ratios = [statistics.median(rounds[r]) /
                      statistics.median(ref[r])
                      for r in sorted(rounds) if r in ref]
            if ratios:
                q1, med, q3 = quartiles(ratios)
                entry.update(median=med, q1=q1, q3=q3, ratios=ratios)
                interval = median_interval(ratios)
                if interval:
                    entry.update(low=interval[0], high=interval[1])
        stats[bench, series] = entry
    return stats


def value_spread(per_round):
    """Where the noise of a run is: {'within': the median over the
    processes of |last value / first value - 1| (one process, its values
    back to back), 'between': the median of |a process's median / the
    median of its (call, series) - 1| (processes of the same code, rounds
    apart), 'processes'}; None without processes of two values or more.
    A clock that moves between processes but not within one shows a
    small 'within' and a large 'between'."""
    within, between = [], []
    for rounds in per_round.values():
        medians = [statistics.median(vals) for vals in rounds.values()]
        if not medians:
            continue
        cell = statistics.median(medians)
        between += [abs(m / cell - 1) for m in medians]
        within += [abs(vals[-1] / vals[0] - 1) for vals in rounds.values()
                   if len(vals) > 1]
    if not within:
        return None
    return {'within': statistics.median(within),
            'between': statistics.median(between),
            'processes': len(between)}


def like_stats(per_round, like=None):
    """Ratios of the LIKE_FOR_LIKE pairs: {(call, series): entry}.

    Each entry is ratio_stats()'s for *series* against the stock series
    that makes the same flag, plus its name as 'reference'.
    """
    like = LIKE_FOR_LIKE if like is None else like
    stats = {}
    for (call, series), reference in like.items():
        pair = {k: per_round[k] for k in ((call, series), (call, reference))
                if k in per_round}
        entry = ratio_stats(pair, reference).get((call, series))
        if entry and 'median' in entry:
            stats[call, series] = dict(entry, reference=reference)
    return stats


def pep_stats(per_round):
    """The PEP table's ratios to 'no flag', round by round."""
    rounds = {(name, 'pep'): per_round[name, PEP_SERIES.name]
              for name, _ in PEP_ROWS}
    ref = rounds[PEP_REFERENCE, 'pep']
    stats = {}
    for (name, _), by_round in rounds.items():
        entry = {'time': statistics.median(
            [v for vals in by_round.values() for v in vals])}
        ratios = [statistics.median(by_round[r]) / statistics.median(ref[r])
                  for r in sorted(by_round) if r in ref]
        q1, med, q3 = quartiles(ratios)
        entry.update(median=med, q1=q1, q3=q3, ratios=ratios)
        stats[name] = entry
    return stats


def pool_rounds(runs):
    """The rounds of several runs as the rounds of one.

    *runs* is a list of per_round dicts ({(benchmark, series): {round:
    [values]}}); round r of the i-th becomes round (i, r), so that the
    ratios stay within a round of one run and the statistics above are
    over the rounds of all runs.
    """
    pooled = {}
    for i, per_round in enumerate(runs):
        for key, rounds in per_round.items():
            target = pooled.setdefault(key, {})
            for r, vals in rounds.items():
                target[i, r] = vals
    return pooled


def geometric_mean(ratios):
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def pyperformance_ratios(reference, changed):
    """Per benchmark median(changed)/median(reference), and the geomean.

    *reference* and *changed* are pyperf suites (dicts).  Return
    ({name: {'reference', 'changed', 'ratio'}}, geometric mean or None).
    """
    ref = benchmarks_of(reference)
    new = benchmarks_of(changed)
    rows = {}
    for name in ref:
        if name in new and values(ref[name]) and values(new[name]):
            a = statistics.median(values(ref[name]))
            b = statistics.median(values(new[name]))
            rows[name] = {'reference': a, 'changed': b, 'ratio': b / a}
    geomean = (geometric_mean([r['ratio'] for r in rows.values()])
               if rows else None)
    return rows, geomean
