"""Micro-benchmarks and the PEP's table: pyperf, in interleaved rounds.

Each fd-creating call plus its close (probes/bench_calls.py) runs on each
series of plan.SERIES, and the PEP's os.open() rows on the patched build
with cloexec=False.  Every round runs each (call, series) once, a few
values each, the series of a call back to back (round_order()), so that
the machine's drift hits all series of a call alike; each run is one
process and writes its own file,
rounds/<series>/<call>-<round>.json (round_file()), which read_rounds()
reads back for ``bench combine``.
"""

import logging
import time
from pathlib import Path

from ..util import run
from .plan import (CONTROL_CALLS, COMPARED_SERIES, MICRO_CALLS, MICRO_ORDER,
                   ORDER_TEXT, PEP_ROWS, PEP_SERIES, REFERENCE, SERIES)
from .pyperfio import benchmarks_of, load_json, merge, values, write_json
from .stats import like_stats, pep_stats, ratio_stats, value_spread

log = logging.getLogger(__name__)

PROBES = Path(__file__).resolve().parent.parent / 'probes'
BENCH_PROBE = PROBES / 'bench_calls.py'


def round_file(output, series, name, round_):
    """The pyperf file of one (call, series) in one round."""
    return Path(output) / 'rounds' / series / f'{name}-{round_:02d}.json'


def read_rounds(output, rounds=None):
    """{(call, series): {round: [values]}} from the rounds/ files of the
    output folder *output*, as run_micro() measured them.

    Only the rounds below *rounds* (the plan's) count when given: a
    folder used twice may keep the files of more rounds.
    """
    per_round = {}
    for path in sorted(Path(output).glob('rounds/*/*.json')):
        name, _, number = path.stem.rpartition('-')
        if not name or not number.isdigit():
            continue
        if rounds is not None and int(number) >= rounds:
            continue
        suite = load_json(path)
        by_round = per_round.setdefault((name, path.parent.name), {})
        by_round[int(number)] = values(benchmarks_of(suite)[name])
    return per_round


def micro_round_stats(per_round):
    """(micro, like, pep, spread): the statistics of per_round (see
    read_rounds()), and where its noise is (stats.value_spread())."""
    micro = ratio_stats({k: v for k, v in per_round.items()
                         if k[1] != PEP_SERIES.name}, REFERENCE)
    pep = (pep_stats(per_round)
           if any(k[1] == PEP_SERIES.name for k in per_round) else {})
    return micro, like_stats(per_round), pep, value_spread(per_round)


def micro_jobs():
    """The runs of a round: [(call, series)], each call on the series
    that run it, the control on COMPARED_SERIES, the PEP table's rows."""
    jobs = [(name, s) for name in MICRO_CALLS for s in SERIES
            if s.runs(name)]
    jobs += [(name, s) for name in CONTROL_CALLS for s in SERIES
             if s.name in COMPARED_SERIES]
    jobs += [(name, PEP_SERIES) for name, _ in PEP_ROWS]
    return jobs


def round_order(jobs, rng):
    """The order of one round's *jobs* ([(call, series)]), MICRO_ORDER:
    the jobs of each call, and the PEP table's rows together, as one
    block; the blocks in a shuffled order, and the jobs within each.
    *jobs* is not changed."""
    blocks = {}
    for name, series in jobs:
        key = PEP_SERIES.name if series is PEP_SERIES else name
        blocks.setdefault(key, []).append((name, series))
    blocks = list(blocks.values())
    rng.shuffle(blocks)
    for block in blocks:
        rng.shuffle(block)
    return [job for block in blocks for job in block]


def pyperf_cmd(bench, series, name, out, loops=None):
    cmd = [bench.python(series.build), *series.args, BENCH_PROBE,
           '--name', name, '--cloexec', series.mode, '--quiet',
           '--processes', '1', '--warmups', '1', '-o', out]
    if loops:
        cmd += ['--values', str(bench.plan.values), '--loops', str(loops)]
    else:
        cmd += ['--values', '1', '--min-time', str(bench.plan.min_time)]
    return cmd


def calibrate(bench, jobs):
    """{benchmark: loops}, calibrated once on the first series of each."""
    loops = {}
    for name, series in jobs:
        if name in loops:
            continue
        out = bench.output / 'calibration' / f'{name}.json'
        out.parent.mkdir(exist_ok=True)
        if out.exists():
            out.unlink()
        run(pyperf_cmd(bench, series, name, out), env=bench.env,
            quiet=True)
        runs = benchmarks_of(load_json(out))[name]
        loops[name] = max(int(r['metadata']['loops']) for r in runs)
        log.debug('%s: %d loops', name, loops[name])
    return loops


def run_micro(bench):
    """Micro-benchmarks and the PEP table, interleaved; return
    micro_round_stats() of their rounds."""
    plan = bench.plan
    jobs = micro_jobs()
    log.info('micro-benchmarks: %d calls x %d series (and %d '
             'like-for-like) + the PEP table (%d rows), %d rounds of %d '
             'runs, %s', len(MICRO_CALLS),
             sum(1 for s in SERIES if not s.calls),
             sum(len(s.calls) for s in SERIES), len(PEP_ROWS),
             plan.rounds, len(jobs), ORDER_TEXT[MICRO_ORDER])
    log.info('calibrating the loop counts')
    loops = calibrate(
        bench, [(name, SERIES[0]) for name in MICRO_CALLS + CONTROL_CALLS]
        + [(name, PEP_SERIES) for name, _ in PEP_ROWS])
    per_round = {}
    files = {}
    start = time.monotonic()
    for round_ in range(plan.rounds):
        for name, series in round_order(jobs, bench.rng):
            out = round_file(bench.output, series.name, name, round_)
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            run(pyperf_cmd(bench, series, name, out, loops[name]),
                env=bench.env, quiet=True)
            suite = load_json(out)
            by_round = per_round.setdefault((name, series.name), {})
            by_round[round_] = values(benchmarks_of(suite)[name])
            files.setdefault(series.name, []).append(suite)
        elapsed = time.monotonic() - start
        left = elapsed / (round_ + 1) * (plan.rounds - round_ - 1)
        log.info('micro-benchmarks: round %d/%d done (%.0f s, about '
                 '%.0f s left)', round_ + 1, plan.rounds, elapsed, left)
    for series, suites in files.items():
        name = ('pep-table' if series == PEP_SERIES.name
                else f'micro-{series}')
        write_json(bench.output / f'{name}.json', merge(suites))
    return micro_round_stats(per_round)
