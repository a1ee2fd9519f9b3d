"""``bench``: merging pyperf JSON, ratios, tables, targets and the CLI.

The fast tests use small pyperf-format JSON files made up here and fake
strace logs; none needs the built interpreters.  The slow test runs a tiny
real measurement on the builds of $PEP433_WORKDIR.
"""

import json
import math
import os
import re
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import BASEDIR, WORKDIR
from pep433tool import bench, cli, syscalls
from pep433tool.bench import pyperfio
from pep433tool.bench.combine import run_combine
from pep433tool.bench.command import (_serialise, build_identity, check_builds,
                                      deserialise, plan_record, run_bench,
                                      run_report, write_results)
from pep433tool.bench.instructions import (collected_instructions,
                                           function_rows, parse_annotate,
                                           per_call_functions, sum_functions)
from pep433tool.bench.micro import (micro_jobs, read_rounds, round_file,
                                    round_order)
from pep433tool.bench.perf import (all_benchmarks_table, pair_results,
                                   pass_file, pass_pairs,
                                   pyperformance_results)
from pep433tool.bench.plan import (COMPARED_SERIES, interleaved, LIKE_FOR_LIKE,
                                   MICRO_CALLS, order_text, PEP_SERIES, Plan,
                                   SERIES)
from pep433tool.bench.pyperfio import (benchmarks_of, load_json, merge,
                                       write_json)
from pep433tool.bench.perfreport import (held_in_every_pair, outside_lines,
                                         pair_lines, same_build_lines)
from pep433tool.bench.report import (function_table, instruction_table,
                                     like_lines, micro_table, render_report,
                                     spread_lines, syscall_table)
from pep433tool.bench.runner import Bench, build_dir
from pep433tool.bench.stats import (like_stats, median_interval,
                                    pyperformance_ratios, quartiles,
                                    ratio_stats, value_spread)
from pep433tool.bench.systemcalls import syscall_counts, syscall_diff
from pep433tool.bench.targets import (geomean_target, instruction_targets,
                                      micro_targets, syscall_targets)
from pep433tool.errors import (EXIT_PRECONDITION, ExternalError,
                               PreconditionError)
from pep433tool.util import Paths


_DATES = iter(range(10**6))


def suite(name, runs, **metadata):
    """A pyperf suite as pyperf writes one benchmark: common metadata up."""
    meta = {'name': name, 'unit': 'second', 'loops': 1000,
            'hostname': 'vm', 'cpu_count': 2}
    meta.update(metadata)
    return {'version': '1.0', 'metadata': meta,
            'benchmarks': [{'runs': [
                {'metadata': {'date': f'2026-01-01 #{next(_DATES)}'},
                 'warmups': [[1000, vals[0] * 2]], 'values': list(vals)}
                for i, vals in enumerate(runs)]}]}


def test_benchmarks_of_completes_run_metadata():
    runs = benchmarks_of(suite('os.open', [[1.0, 2.0]]))['os.open']
    assert runs[0]['metadata']['loops'] == 1000
    assert runs[0]['metadata']['date'].startswith('2026-01-01 #')
    assert pyperfio.values(runs) == [1.0, 2.0]


def test_merge_keeps_every_run_and_moves_common_metadata_up():
    merged = merge([suite('os.open', [[1.0, 2.0]], loops=10),
                    suite('os.pipe', [[3.0]], loops=20),
                    suite('os.open', [[4.0]], loops=10)])
    assert merged['version'] == '1.0'
    assert merged['metadata'] == {'unit': 'second', 'hostname': 'vm',
                                  'cpu_count': 2}
    names = [b['metadata']['name'] for b in merged['benchmarks']]
    assert names == ['os.open', 'os.pipe']
    first = merged['benchmarks'][0]
    assert first['metadata'] == {'name': 'os.open', 'loops': 10}
    assert [r['values'] for r in first['runs']] == [[1.0, 2.0], [4.0]]
    assert list(first['runs'][0]['metadata']) == ['date']
    runs = benchmarks_of(merged)
    assert pyperfio.values(runs['os.open']) == [1.0, 2.0, 4.0]
    assert runs['os.pipe'][0]['metadata']['loops'] == 20


def test_merged_file_loads_in_pyperf(tmp_path):
    pyperf = pytest.importorskip('pyperf')
    path = tmp_path / 'merged.json'
    write_json(path, merge([suite('a', [[1.0, 1.1]]),
                            suite('b', [[2.0]]),
                            suite('a', [[1.2]])]))
    loaded = pyperf.BenchmarkSuite.load(str(path))
    assert loaded.get_benchmark_names() == ['a', 'b']
    assert loaded.get_benchmark('a').get_values() == (1.0, 1.1, 1.2)
    assert loaded.get_benchmark('a').get_nrun() == 2


def test_quartiles():
    assert quartiles([2.0]) == (2.0, 2.0, 2.0)
    assert quartiles([1, 2, 3, 4, 5]) == (2.0, 3.0, 4.0)


def test_ratio_stats_compares_round_by_round():
    per_round = {
        ('os.open', 'baseline'): {0: [1.0, 1.0], 1: [2.0], 2: [1.0]},
        # drift doubles round 1 for both: the ratio stays 1.01
        ('os.open', 'patched'): {0: [1.01], 1: [2.02], 2: [1.01]},
        ('os.open', 'patched-e'): {0: [1.1], 1: [1.8], 2: [1.0]},
    }
    stats = ratio_stats(per_round, 'baseline')
    assert 'median' not in stats['os.open', 'baseline']
    assert stats['os.open', 'baseline']['time'] == 1.0
    patched = stats['os.open', 'patched']
    assert patched['median'] == pytest.approx(1.01)
    assert patched['q1'] == patched['q3'] == pytest.approx(1.01)
    assert stats['os.open', 'patched-e']['ratios'] == pytest.approx(
        [1.1, 0.9, 1.0])
    assert stats['os.open', 'patched-e']['median'] == pytest.approx(1.0)


def binomial_below(n, k):
    """P(B <= k - 1) for B ~ B(n, 1/2): the chance that fewer than k of n
    draws fall below the median."""
    return sum(math.comb(n, i) for i in range(k)) / 2 ** n


def test_median_interval_is_the_narrowest_95_percent_pair():
    assert median_interval([3, 1, 2, 5, 4]) is None     # 5: 1/16 > 5%
    assert median_interval([6, 1, 2, 5, 4, 3]) == (1, 6)
    for n in (6, 9, 20, 24, 72, 216):
        low, high = median_interval(range(n))
        k = low + 1                  # 1-based rank of the lower bound
        assert high == n - k         # symmetric: x_k and x_(n+1-k)
        # the pair covers the median with at least 95% ...
        assert 1 - 2 * binomial_below(n, k) >= 0.95
        # ... and the next narrower pair would not
        assert 1 - 2 * binomial_below(n, k + 1) < 0.95
    # 72 rounds (three pooled runs): the 28th and the 45th
    assert median_interval(range(72)) == (27, 44)


def test_ratio_stats_bound_the_median_when_the_rounds_allow():
    few = {('os.open', 'baseline'): {r: [1.0] for r in range(5)},
           ('os.open', 'patched'): {r: [1.0 + r / 100] for r in range(5)}}
    assert 'low' not in ratio_stats(few, 'baseline')['os.open', 'patched']
    many = {('os.open', 'baseline'): {r: [1.0] for r in range(9)},
            ('os.open', 'patched'): {r: [1.0 + r / 100] for r in range(9)}}
    entry = ratio_stats(many, 'baseline')['os.open', 'patched']
    assert (entry['low'], entry['high']) == pytest.approx((1.01, 1.07))


def test_value_spread_tells_noise_within_a_process_from_between():
    # each process's two values agree to 1%; the processes of a cell
    # differ by 10% from their median
    per_round = {
        ('os.open', 'baseline'): {0: [1.0, 1.01], 1: [1.1, 1.111],
                                  2: [0.9, 0.909]},
        ('os.open', 'patched'): {0: [2.0, 2.02], 1: [2.2, 2.222],
                                 2: [1.8, 1.818]}}
    spread = value_spread(per_round)
    assert spread['within'] == pytest.approx(0.01)
    assert spread['between'] == pytest.approx(0.1, abs=0.001)
    assert spread['processes'] == 6
    assert spread_lines(spread) == [
        'Spread: the values of one process differ by 1.0% (median of '
        '|last / first - 1|), the processes of one call and series by '
        '10.0% (median distance from their median; 6 processes).', '']
    # one value a process: nothing to tell
    assert value_spread({k: {r: v[:1] for r, v in rounds.items()}
                         for k, rounds in per_round.items()}) is None
    assert spread_lines(None) == []


def test_a_missed_call_says_whether_the_clock_told_it_from_stock():
    micro = {('os.open', 'patched'): {'median': 1.03, 'low': 0.99,
                                      'high': 1.07},
             ('os.pipe', 'patched'): {'median': 1.03, 'low': 1.01,
                                      'high': 1.05},
             ('os.dup', 'patched'): {'median': 1.01, 'low': 0.90,
                                     'high': 1.10}}
    held, missed, faster = micro_targets(
        micro, ['os.open', 'os.pipe', 'os.dup'])
    # the verdict is the median's: os.dup holds however wide its interval
    assert missed[0] == (
        'micro-benchmarks, patched (default False): median ratio within '
        '1.00 +- 0.02: os.open 1.030 (95% interval of the median '
        '0.990-1.070, holds 1.00: not told apart from stock), os.pipe 1.030 '
        '(95% interval of the median 1.010-1.050, excludes 1.00)')


def test_pyperformance_ratios_and_geometric_mean():
    ref = merge([suite('nbody', [[1.0, 1.0, 1.0]]),
                 suite('float', [[2.0]])])
    new = merge([suite('nbody', [[1.21]]), suite('float', [[2.0]]),
                 suite('only_new', [[1.0]])])
    rows, geomean = pyperformance_ratios(ref, new)
    assert list(rows) == ['nbody', 'float']
    assert rows['nbody']['ratio'] == pytest.approx(1.21)
    assert geomean == pytest.approx(1.1)
    assert geomean_target(geomean)[1] == [
        'pyperformance geometric mean within 1.00 +- 0.01: 1.1000']
    assert geomean_target(1.005)[1] == []


def test_micro_targets_and_table():
    micro = {('os.open', 'baseline'): {'time': 4e-6},
             ('os.open', 'patched'): {'time': 1, 'median': 1.01, 'q1': 1.0,
                                      'q3': 1.02},
             ('os.open', 'patched-e'): {'time': 1, 'median': 1.05,
                                        'q1': 1.04, 'q3': 1.06}}
    held, missed, faster = micro_targets(micro, calls=['os.open'])
    assert held == ['micro-benchmarks, patched (default False): median '
                    'ratio within 1.00 +- 0.02']
    assert missed == ['micro-benchmarks, patched -e: median ratio within '
                      '1.00 +- 0.02: os.open 1.050']
    assert faster == []
    counts = {('os.open', 'baseline'): ['openat'],
              ('os.open', 'patched-e'): ['openat', 'fcntl']}
    assert micro_targets(micro, ['os.open'], counts)[1] == [
        'micro-benchmarks, patched -e: median ratio within 1.00 +- 0.02: '
        'os.open 1.050 (system calls: +fcntl)']
    table = micro_table(micro, calls=['os.open'])
    assert table[2] == ('| `os.open` | 4.00 us | 1.010 [1.000-1.020] | '
                        '1.050 [1.040-1.060] | n/a | n/a | n/a |')


def test_faster_with_other_system_calls_is_neither_held_nor_missed():
    micro = {('os.dup', 'patched'): {'median': 0.93, 'q1': 0.92,
                                     'q3': 0.94},
             ('os.open', 'patched'): {'median': 0.95, 'q1': 0.94,
                                      'q3': 0.96}}
    counts = {('os.dup', 'baseline'): ['fcntl'],
              ('os.dup', 'patched'): ['dup'],
              ('os.open', 'baseline'): ['openat'],
              ('os.open', 'patched'): ['openat']}
    held, missed, faster = micro_targets(micro, ['os.dup'], counts)
    assert faster == ['micro-benchmarks, patched (default False): faster '
                      'than the band, with other system calls than stock: '
                      'os.dup 0.930 (system calls: +dup -fcntl)']
    assert not any('patched (default False)' in m for m in missed)
    assert not any('patched (default False)' in h for h in held)
    # the same work done faster is outside the band: missed
    held, missed, faster = micro_targets(micro, ['os.open'], counts)
    assert faster == []
    assert missed == ['micro-benchmarks, patched (default False): median '
                      'ratio within 1.00 +- 0.02: os.open 0.950 (same '
                      'system calls)']


def test_like_for_like_reference_judges_the_pair():
    per_round = {('os.dup2', 'baseline'): {0: [1.0], 1: [1.0]},
                 ('os.dup2', 'patched-e'): {0: [1.05], 1: [1.06]},
                 ('os.dup2', 'baseline-noninheritable'): {0: [1.04],
                                                          1: [1.05]}}
    micro = ratio_stats(per_round, 'baseline')
    like = like_stats(per_round)
    entry = like['os.dup2', 'patched-e']
    assert entry['reference'] == 'baseline-noninheritable'
    assert entry['median'] == pytest.approx((1.05 / 1.04 + 1.06 / 1.05) / 2)
    counts = {('os.dup2', 'baseline'): ['dup2'],
              ('os.dup2', 'patched-e'): ['dup3']}
    # against the baseline's dup2() it would miss (1.055); against stock's
    # own close-on-exec dup2() (dup3) it holds
    assert micro['os.dup2', 'patched-e']['median'] > 1.05
    held, missed, faster = micro_targets(micro, ['os.dup2'], counts,
                                         like)
    assert 'micro-benchmarks, patched -e: median ratio within 1.00 +- 0.02' \
        in held
    assert missed == [] and faster == []
    # a like-for-like pair outside the band is missed, and says against what
    slow = {k: dict(v, median=1.03) for k, v in like.items()}
    missed = micro_targets(micro, ['os.dup2'], counts, slow)[1]
    assert missed == ['micro-benchmarks, patched -e: median ratio within '
                      '1.00 +- 0.02: os.dup2 1.030 (against baseline '
                      'inheritable=False)']
    assert like_lines(like)[1].startswith(
        '- `os.dup2`, patched -e against baseline inheritable=False (both '
        'make a close-on-exec fd with the same system call): 1.')
    assert like_stats({}) == {}


def trace_log(calls):
    """A fake strace log: {(name, mode, round): [syscall lines]}."""
    lines = []
    for (name, mode, round_), body in calls.items():
        lines.append(f'write(-1, "@@begin {name} {mode} {round_}", 30) = -1')
        lines += body
        lines.append('write(-1, "@@end", 5) = -1 EBADF')
    return '\n'.join(lines) + '\n'


def test_syscall_counts_table_and_targets():
    base = syscalls.parse(trace_log({
        ('os.dup', 'default', 'first'): ['fcntl(3, F_DUPFD_CLOEXEC, 0) = 7',
                                         'fcntl(7, F_GETFD) = 0x1'],
        ('os.dup', 'default', 'second'): ['fcntl(3, F_DUPFD_CLOEXEC, 0) = 7'],
        ('os.dup2', 'default', 'second'): ['dup2(3, 8) = 8'],
    }))
    patched = syscalls.parse(trace_log({
        ('os.dup', 'True', 'second'): ['fcntl(3, F_DUPFD_CLOEXEC, 0) = 7',
                                       'ioctl(7, FIOCLEX) = 0'],
        ('os.dup', 'False', 'second'): ['dup(3) = 7'],
        ('os.dup2', 'True', 'second'): ['dup3(3, 8, O_CLOEXEC) = 8'],
        ('os.dup2', 'False', 'second'): ['dup2(3, 8) = 8'],
    }))
    counts = syscall_counts({'baseline': (base, 'default'),
                             'patched-True': (patched, 'True'),
                             'patched-False': (patched, 'False')})
    assert counts['os.dup', 'baseline'] == ['fcntl']
    assert counts['os.dup', 'patched-True'] == ['fcntl', 'ioctl']
    assert counts['os.dup', 'patched-False'] == ['dup']
    held, missed = syscall_targets(counts, ['os.dup', 'os.dup2'])
    assert missed == [
        "system calls per call, cloexec=True: equal the baseline's: "
        'os.dup: 2 vs 1 (+ioctl; fcntl ioctl vs fcntl)']
    assert "system calls per call, cloexec=False: at most the baseline's" \
        in held
    table = syscall_table(counts, ['os.dup', 'os.dup2'])
    assert table[2] == ('| `os.dup` | 1 | n/a | n/a | 2 | 1 | '
                        'cloexec=True: +ioctl; cloexec=False: +dup -fcntl |')
    assert table[3].startswith('| `os.dup2` | 1 | n/a | n/a | 1 | 1 | '
                               'baseline makes an inheritable fd here')
    assert 'cloexec=True: +dup3 -dup2' in table[3]
    assert syscall_diff(['a', 'b', 'b'], ['a']) == '-bx2'


def fake_results():
    return {
        'version': '3.13.5', 'kind': 'quick', 'duration': 12.0,
        'machine': {'nproc': 2, 'cpu': 'CPU', 'kernel': '6.1',
                    'date': '2026-01-01 00:00 UTC', 'load': '0.1 0.1 0.1'},
        'load_start': '0.1', 'load_end': '0.2',
        'plan': {'rounds': 3, 'values': 2},
        'micro': {('os.open', 'baseline'): {'time': 4e-6},
                  ('os.open', 'patched'): {'time': 4e-6, 'median': 1.0,
                                           'q1': 0.99, 'q3': 1.01},
                  ('os.fstat', 'baseline'): {'time': 5e-7},
                  ('os.fstat', 'patched'): {'time': 5e-7, 'median': 1.03,
                                            'q1': 1.02, 'q3': 1.04}},
        'pep': {'pep.none': {'time': 4e-6, 'median': 1.0, 'q1': 1.0,
                             'q3': 1.0}},
        'syscalls': {('os.open', 'baseline'): ['openat']},
        'syscall_calls': ['os.open'],
        'pyperformance': {'benchmarks': ['nbody'], 'passes': ['baseline'],
                          'rows': {'nbody': {'reference': 0.1,
                                             'changed': 0.1, 'ratio': 1.0}},
                          'geomean': 1.0, 'compare_to': 'table\n'},
        'like': {('os.dup2', 'patched-e'): {
            'median': 1.0, 'q1': 0.99, 'q3': 1.01,
            'reference': 'baseline-noninheritable'}},
        'targets': {'held': ['a'], 'missed': ['b'], 'faster': ['c']},
        'series': [[s.name, s.title] for s in SERIES],
    }


def test_report_shows_targets_and_tables():
    report = render_report(fake_results())
    assert ('- target missed: b\n- other work, not comparable: c\n'
            '- target held: a\n') in report
    assert '`os.dup2`, patched -e against baseline inheritable=False' in \
        report
    assert '| `os.open` | 4.00 us | 1.000 [0.990-1.010] |' in report
    # the control is shown, said to be one, and is no target
    assert '| `os.fstat` | 0.50 us | 1.030 [1.020-1.040] |' in report
    assert '`os.fstat` is the control' in report
    assert '| `os.pipe` |' not in report      # no data, no row
    micro = fake_results()['micro']
    assert micro_targets(micro)[1] == []
    assert '| no flag (cloexec=False) | 4.00 us |' in report
    assert '| `os.open` | 1 | n/a |' in report
    assert '| **geometric mean** | | | **1.0000** |' in report
    assert '2 CPUs (CPU), Linux 6.1' in report


def test_serialised_results_plot(tmp_path):
    pytest.importorskip('matplotlib')
    from pep433tool.bench import plot as benchplot
    data = json.loads(json.dumps(_serialise(fake_results())))
    benchplot.plot(data, tmp_path / 'r.png')
    assert (tmp_path / 'r.png').read_bytes()[:4] == b'\x89PNG'


def test_cli_arguments(monkeypatch, tmp_path):
    seen = {}

    def fake_run_bench(paths, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(bench.command, 'run_bench', fake_run_bench)
    assert cli.main(['--workdir', str(tmp_path), 'bench', '--quick',
                     '--no-pyperformance', '--output', 'out',
                     '--benchmarks', 'nbody, asyncio_tcp',
                     '--no-instructions']) == 0
    assert seen == {'quick': True, 'output': 'out', 'pyperformance': False,
                    'benchmarks': ['nbody', 'asyncio_tcp'], 'seed': None,
                    'instructions': False}
    assert cli.main(['--workdir', str(tmp_path), 'bench']) == 0
    assert seen['quick'] is False and seen['benchmarks'] is None
    assert seen['instructions'] is True
    assert cli.main(['bench', '--frobnicate']) == 2


def test_instruction_counts_parse_and_table():
    stderr = ('==12== Callgrind, a call-graph generating cache profiler\n'
              '==12== Events    : Ir\n==12== Collected : 281787438\n'
              '==12== \n==12== I   refs:      281,787,438\n')
    assert collected_instructions(stderr) == 281787438
    with pytest.raises(ExternalError, match='Collected'):
        collected_instructions('valgrind: bad option\n')
    counts = {('os.open', 'baseline'): 4232.0,
              ('os.open', 'patched'): 4238.0,
              ('os.open', 'patched-e'): 4190.0,
              ('os.pipe', 'patched'): 1.0}
    table = instruction_table(counts, ['os.open', 'os.pipe'])
    assert table[0] == ('| call | baseline (stock) | patched (default '
                        'False) | patched -e | patched (default False) - '
                        'baseline | patched -e - baseline |')
    assert table[2] == ('| `os.open` | 4232 | 4238 | 4190 | +6 (+0.1%) | '
                        '-42 (-1.0%) |')
    assert len(table) == 3      # no baseline count for os.pipe: no row
    results = dict(fake_results(), instructions=counts)
    report = render_report(results)
    assert '## Instructions per call (callgrind)' in report
    assert '| `os.open` | 4232 | 4238 |' in report
    assert '## Instructions per call' not in render_report(
        fake_results())


def test_compare_to_keeps_the_table_of_all_benchmarks():
    text = ('Benchmarks with tag \'math\':\n====\n\n| a |\n\n'
            'All benchmarks:\n===============\n\n| a |\n| b |\n')
    assert all_benchmarks_table(text) == '| a |\n| b |\n'
    assert all_benchmarks_table('| a |\n') == '| a |\n'


def test_plan():
    quick, full = Plan.make(True), Plan.make(False)
    assert quick.rounds < full.rounds
    assert full.pyperformance_passes == ('baseline', 'patched', 'patched',
                                         'baseline') * 2
    assert pass_pairs(full.pyperformance_passes) == [
        (0, 1), (3, 2), (4, 5), (7, 6)]
    assert pass_pairs(quick.pyperformance_passes) == [(0, 1)]
    # a pair of two passes of one build is no comparison
    assert pass_pairs(('baseline', 'baseline', 'patched')) == []


def test_round_order_runs_the_series_of_a_call_back_to_back():
    import random
    jobs = micro_jobs()
    assert len(jobs) == 58
    before = list(jobs)
    rng = random.Random(3)
    orders = [round_order(jobs, rng) for _ in range(4)]
    assert jobs == before                   # not shuffled in place
    for order in orders:
        assert sorted(order, key=repr) == sorted(jobs, key=repr)
        # each call's jobs, and the PEP table's, are one contiguous block
        keys = ['pep' if s is PEP_SERIES else name for name, s in order]
        blocks = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
        assert sorted(blocks) == sorted(set(keys))
    # shuffled: the blocks, and the series within them, differ by round
    assert len({tuple(o) for o in orders}) == 4
    firsts = {[s.name for name, s in o if name == 'os.open'][0]
              for o in orders}
    assert len(firsts) > 1


def test_plan_record_names_the_order_of_the_micro_benchmarks():
    plan = Plan.make(False)
    assert plan_record(plan, True, None)['order'] == 'by-call'
    # a pyperformance-only run (--suite) records what it recorded before
    assert 'order' not in plan_record(plan, False, ['nbody'])
    assert 'back to back' in order_text({'order': 'by-call'})
    # the runs of older versions name none: they were shuffled
    assert order_text({}) == 'all in a shuffled order'


#: A stand-in for pyperformance: writes a one-benchmark suite whose value is
#: given per pass by $FAKE_VALUES, and logs its arguments.
FAKE_PYPERFORMANCE = """#!{python}
import json, os, sys
log = os.environ['FAKE_LOG']
with open(log, 'a') as fp:
    fp.write(json.dumps(sys.argv[1:]) + '\\n')
n = len(open(log).read().splitlines())
value = json.loads(os.environ['FAKE_VALUES'])[n - 1]
out = sys.argv[sys.argv.index('-o') + 1]
with open(out, 'w') as fp:
    json.dump({{'version': '1.0', 'metadata': {{'name': 'nbody',
               'unit': 'second', 'loops': 8}}, 'benchmarks': [{{'runs': [
               {{'metadata': {{'date': str(n)}}, 'values': [value]}}]}}]}}, fp)
"""


def test_pyperformance_passes_their_files_and_pairs(tmp_path, monkeypatch):
    tools = tmp_path / 'bin'
    tools.mkdir()
    fake = tools / 'pyperformance'
    fake.write_text(FAKE_PYPERFORMANCE.format(python=sys.executable))
    (tools / 'python').write_text('#!/bin/sh\necho "| compare_to |"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    log = tmp_path / 'calls.log'
    # ABBAABBA; the patched passes are 2%, 4%, 0%, 2% slower than their
    # neighbouring baseline pass
    monkeypatch.setenv('FAKE_LOG', str(log))
    monkeypatch.setenv('FAKE_VALUES', json.dumps(
        [1.0, 1.02, 1.04, 1.0, 1.0, 1.0, 1.02, 1.0]))
    plan = Plan.make(False)
    b = Bench(Paths(workdir=tmp_path / 'work'), tmp_path / 'out',
              plan, tools, seed=1)
    files, compare, pass_files = b.run_pyperformance(['nbody'])

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[c.index('--python') + 1].split('/')[-2] for c in calls] == \
        list(plan.pyperformance_passes)
    # every pass after the first runs the first one's loop counts
    first = str(tmp_path / 'out' / 'pyperformance' / '1-baseline.json')
    assert '--same-loops' not in calls[0]
    assert all(c[c.index('--same-loops') + 1] == first for c in calls[1:])
    assert [p.name for p in pass_files][:3] == [
        '1-baseline.json', '2-patched.json', '3-patched.json']
    assert compare == '| compare_to |\n'
    merged = benchmarks_of(load_json(files['patched']))
    assert sorted(pyperfio.values(merged['nbody'])) == [1.0, 1.02, 1.02, 1.04]

    perf = pyperformance_results(['nbody'], plan.pyperformance_passes,
                                 files, compare, pass_files)
    assert perf['pair_geomeans'] == pytest.approx([1.02, 1.04, 1.0, 1.02])
    assert perf['pair_ratios'] == {
        'nbody': pytest.approx([1.02, 1.04, 1.0, 1.02])}
    # each build against itself: the baseline passes (1, 4, 5, 8) are all
    # 1.0; the patched ones (2, 3, 6, 7) read 1.02, 1.04, 1.0, 1.02
    same = perf['same_build']
    assert same['baseline']['passes'] == [[1, 4], [4, 5], [5, 8]]
    assert same['baseline']['geomeans'] == pytest.approx([1.0, 1.0, 1.0])
    assert same['patched']['passes'] == [[2, 3], [3, 6], [6, 7]]
    assert same['patched']['ratios']['nbody'] == pytest.approx(
        [1.04 / 1.02, 1.0 / 1.04, 1.02])
    assert ('patched 1.0196 (pass 3 / pass 2), 0.9615 (pass 6 / pass 3), '
            '1.0200 (pass 7 / pass 6)') in ''.join(
                same_build_lines(same))
    # one AB pass: no build ran twice, no control
    assert same_build_lines(pair_results(
        [(('baseline', 'patched'), pass_files[:2])], ['nbody'])[
            'same_build']) == []
    # pooled: median of the patched values over median of the baseline's
    assert perf['geomean'] == pytest.approx(1.02)
    assert '1.0200, 1.0400, 1.0000, 1.0200' in ''.join(
        pair_lines(perf['pair_geomeans']))


def test_missing_builds_exit_3_with_the_hint(tmp_path, caplog):
    assert cli.main(['--workdir', str(tmp_path), 'bench', '--quick']) == \
        EXIT_PRECONDITION
    assert 'scripts/pep433 --base 3.13.15 build' in caplog.text


@pytest.mark.slow
def test_quick_micro_run_on_the_builds(tmp_path, all_run):
    """A tiny real run (1 round, no pyperformance) on the real builds."""
    workdir = WORKDIR
    if not (BASEDIR / 'patched' / 'python').exists():
        pytest.fail('no builds in ' + str(workdir) + ':\n'
                    + all_run.stdout[-3000:])
    os.environ.pop('PEP433_WORKDIR', None)
    out = tmp_path / 'out'
    plan = Plan(rounds=1, values=1, min_time=0.005,
                pyperformance_passes=(), pyperformance_fast=True)
    from pep433tool.selftest import ensure_tools
    paths = Paths(workdir=workdir)
    b = Bench(paths, out, plan, ensure_tools(paths), seed=1)
    b.prepare()
    counts = b.run_syscalls()
    assert counts['os.open', 'baseline'] == ['openat']
    micro, like, pep, _ = b.run_micro()
    assert set(micro) >= {(c, s.name) for c in MICRO_CALLS
                          for s in SERIES if s.runs(c)}
    assert ('socket.socket', 'baseline-noninheritable') not in micro
    assert {('os.fstat', s) for s in COMPARED_SERIES} <= set(micro)
    assert ('os.fstat', 'patched-True') not in micro
    assert set(like) == set(LIKE_FOR_LIKE)
    # instructions: repeatable, so another run, into another output
    # folder, gives the same counts
    calls = ('os.open',)
    first = b.run_instructions(calls, loops=(10, 30))
    other = Bench(paths, tmp_path / 'another-output-folder', plan,
                  ensure_tools(paths), seed=2)
    other.prepare()
    again = other.run_instructions(calls, loops=(10, 30))
    assert first == again
    assert set(first) == {('os.open', s) for s in COMPARED_SERIES}
    # an os.open() + close costs a few thousand instructions, not zero
    assert all(1000 < n < 50000 for n in first.values()), first
    assert pep['pep.none']['median'] == 1.0
    assert json.loads((out / 'micro-patched-e.json').read_text())[
        'metadata']['cloexec_default'] == 'True'


# -- bench combine, bench --suite ------------------------------------------

def test_interleaved_passes():
    assert interleaved(1) == ('baseline', 'patched')
    assert interleaved(2) == ('baseline', 'patched', 'patched',
                              'baseline')
    assert interleaved(4) == Plan.make(False).pyperformance_passes
    assert Plan.make(False, passes=2).pyperformance_passes == \
        interleaved(2)
    assert Plan.make(True, passes=3).rounds == 3


def fake_builds(root, text='fake', variant=None):
    """Fake builds/python: print a sys.version of their own (those of
    build --<variant> with a *variant*)."""
    paths = Paths(workdir=root)
    for build in ('baseline', 'patched'):
        python = build_dir(paths, build, variant) / 'python'
        python.parent.mkdir(parents=True, exist_ok=True)
        python.write_text(f'#!/bin/sh\necho "3.13.5 ({text} {build})"\n')
        python.chmod(0o755)
    return paths


def test_build_identity_is_version_and_sha256(tmp_path):
    import hashlib
    paths = fake_builds(tmp_path / 'work')
    identity = build_identity(paths)
    python = paths.patched / 'python'
    assert identity['patched'] == {
        'sys_version': '3.13.5 (fake patched)',
        'sha256': {'python': hashlib.sha256(python.read_bytes()).hexdigest()}}
    assert identity['baseline']['sys_version'] == '3.13.5 (fake baseline)'


#: The builds that saved_run() says it measured.
BUILDS = {b: {'sys_version': f'3.13.5 ({b})', 'sha256': {'python': c * 64}}
          for b, c in (('baseline', 'a'), ('patched', 'b'))}


def saved_run(folder, hhmm, patched, perf_patched=1.0, rounds=3,
              builds=BUILDS, variant=None):
    """A bench output folder written as a run writes one: the round files
    (round_file), the pyperformance passes (pass_file) and results.json
    (write_results).  *patched*: the os.open ratio of patched in each
    round; -e 1.0; os.dup 0.93 by default (dup() for fcntl()); os.dup2
    under -e 1.05 where stock's inheritable=False one is 1.04."""
    plan = Plan(rounds=rounds, values=1, min_time=0.01,
                pyperformance_passes=('baseline', 'patched'),
                pyperformance_fast=True)
    for r, ratio in enumerate(patched):
        cells = {('os.open', 'baseline'): 1.0, ('os.open', 'patched'): ratio,
                 ('os.open', 'patched-e'): 1.0,
                 ('os.dup', 'baseline'): 1.0, ('os.dup', 'patched'): 0.93,
                 ('os.dup', 'patched-e'): 1.0,
                 ('os.dup2', 'baseline'): 1.0, ('os.dup2', 'patched'): 1.0,
                 ('os.dup2', 'patched-e'): 1.05,
                 ('os.dup2', 'baseline-noninheritable'): 1.04,
                 ('os.fstat', 'baseline'): 1.0,
                 ('os.fstat', 'patched'): 0.98}
        for (call, series), value in cells.items():
            write_json(round_file(folder, series, call, r),
                       suite(call, [[value * 1e-6]]))
    for i, (build, value) in enumerate((('baseline', 0.1),
                                        ('patched', 0.1 * perf_patched)), 1):
        write_json(pass_file(folder, i, build),
                   suite('nbody', [[value]]))
    micro, like, pep, _ = bench.micro.micro_round_stats(
        read_rounds(folder))
    counts = {('os.dup', 'baseline'): ['fcntl'],
              ('os.dup', 'patched'): ['dup'],
              ('os.open', 'baseline'): ['openat'],
              ('os.open', 'patched'): ['openat']}
    results = dict(
        fake_results(), kind='full', micro=micro, like=like, pep=pep,
        syscalls=counts, syscall_calls=['os.open', 'os.dup', 'os.dup2'],
        plan=plan_record(plan, True, ['nbody']), builds=builds,
        machine=dict(fake_results()['machine'],
                     date=f'2026-11-27 {hhmm} UTC'),
        pyperformance={'benchmarks': ['nbody'],
                       'passes': ['baseline', 'patched'], 'rows': {},
                       'geomean': None, 'pair_geomeans': [],
                       'compare_to': ''})
    if variant:
        results.update(variant=variant, build_dirs={
            b: f'{b}-{variant}' for b in ('baseline', 'patched')})
    write_results(folder, results)
    return folder


def fake_tools(tmp_path):
    tools = tmp_path / 'bin'
    tools.mkdir(exist_ok=True)
    (tools / 'python').write_text('#!/bin/sh\necho "| compare_to |"\n')
    (tools / 'python').chmod(0o755)
    return tools


def test_combine_pools_the_rounds_and_the_passes(tmp_path):
    ratios = ([1.00, 1.01, 1.02], [1.03, 1.04, 1.05], [0.99, 1.06, 1.07])
    folders = [saved_run(tmp_path / f'run{i}', hhmm, r, perf_patched=p)
               for i, (hhmm, r, p) in enumerate(zip(
                   ('13:39', '14:04', '14:56'), ratios, (1.02, 1.0, 1.04)))]
    out = tmp_path / 'combined'
    assert run_combine(Paths(workdir=tmp_path / 'work'), folders,
                       output=out, tools=fake_tools(tmp_path)) == 0
    report = (out / 'report.md').read_text()
    # per call: each run's ratio, then all 9 rounds pooled: median and IQR
    # of the union
    union = sorted(r for run_ in ratios for r in run_)
    q1, median, q3 = quartiles(union)
    assert (median, q1, q3) == pytest.approx((1.03, 1.01, 1.05))
    # and the 95% interval of the median: of 9 rounds, the 2nd and the 8th
    assert median_interval(union) == pytest.approx((1.00, 1.06))
    assert ('| call | patched: 13:39 / 14:04 / 14:56 | pooled | 95% interval '
            '| patched -e: 13:39 / 14:04 / 14:56 | pooled | 95% interval |\n'
            '|---|---|---:|---:|---|---:|---:|\n'
            '| `os.open` | 1.010 / 1.040 / 1.060 | 1.030 [1.010-1.050] | '
            '1.000-1.060 | 1.000 / 1.000 / 1.000 | 1.000 [1.000-1.000] | '
            '1.000-1.000 |\n') in report
    assert '| `os.dup` | 0.930 / 0.930 / 0.930 | 0.930 [0.930-0.930] ' \
        '(other work) | 0.930-0.930 |' in report
    assert ('95% interval: where the median of the rounds lies with 95% '
            'confidence') in report
    assert "the control's reads `os.fstat` patched 0.980-0.980" in report
    # os.dup2 under -e: against stock's close-on-exec dup2(), like for like
    assert '| `os.dup2` (-e: like for like) | 1.000 / 1.000 / 1.000 | ' \
        '1.000 [1.000-1.000] | 1.000-1.000 | 1.010 / 1.010 / 1.010 | 1.010 ' \
        in report
    assert '| `os.fstat` (control) | 0.980 / 0.980 / 0.980 |' in report
    assert '(9 per cell)' in report
    combined = json.loads((out / 'combined.json').read_text())
    pooled = combined['micro']['pooled']['os.open|patched']
    assert sorted(pooled['ratios']) == pytest.approx(union)
    assert [r['label'] for r in combined['runs']] == ['13:39', '14:04',
                                                      '14:56']
    # pyperformance: the passes of each build merged, a pair per run
    perf = combined['pyperformance']
    assert perf['passes'] == ['baseline', 'patched'] * 3
    assert perf['rows']['nbody']['ratio'] == pytest.approx(1.02)
    assert perf['pair_geomeans'] == pytest.approx([1.02, 1.0, 1.04])
    assert perf['pair_ratios']['nbody'] == pytest.approx([1.02, 1.0, 1.04])
    assert perf['same_build'] == {}        # AB runs: no build ran twice
    merged = load_json(out / 'pyperformance-patched.json')
    assert len(pyperfio.values(benchmarks_of(merged)['nbody'])) == 3
    assert '- target held: pyperformance geometric mean within 1.00 +- ' \
        '0.01 (1.0200)' not in report      # 1.02: outside, missed
    assert '- target missed: pyperformance geometric mean within 1.00 +- ' \
        '0.01: 1.0200' in report
    assert '- target missed: micro-benchmarks, patched (default False): ' \
        'median ratio within 1.00 +- 0.02: os.open 1.030 (same system ' \
        'calls; 95% interval of the median 1.000-1.060, holds 1.00: not ' \
        'told apart from stock)' in report


def test_combine_refuses_other_builds_plans_and_old_folders(tmp_path,
                                                             caplog):
    a = saved_run(tmp_path / 'a', '13:39', [1.0, 1.0, 1.0])
    other = dict(BUILDS, patched={'sys_version': '3.13.5 (patched)',
                                  'sha256': {'python': 'c' * 64}})
    b = saved_run(tmp_path / 'b', '14:04', [1.0, 1.0, 1.0], builds=other)
    c = saved_run(tmp_path / 'c', '14:56', [1.0] * 4, rounds=4)
    paths = Paths(workdir=tmp_path / 'work')
    with pytest.raises(PreconditionError,
                       match='measured different builds: patched.sha256.'
                             'python: bbbb'):
        run_combine(paths, [a, b])
    with pytest.raises(PreconditionError,
                       match=r'ran different plans: plan.rounds: 3 vs 4'):
        run_combine(paths, [a, c])
    # a run of before the order was recorded ran its series shuffled
    shuffled = saved_run(tmp_path / 'shuffled', '15:10', [1.0, 1.0, 1.0])
    data = json.loads((shuffled / 'results.json').read_text())
    del data['plan']['order']
    (shuffled / 'results.json').write_text(json.dumps(data))
    with pytest.raises(PreconditionError,
                       match=r'ran different plans: plan.order'):
        run_combine(paths, [a, shuffled])
    old = saved_run(tmp_path / 'old', '11:25', [1.0, 1.0, 1.0])
    data = json.loads((old / 'results.json').read_text())
    del data['builds']
    (old / 'results.json').write_text(json.dumps(data))
    with pytest.raises(PreconditionError,
                       match='records no build identity in .*old'):
        run_combine(paths, [a, old])
    # from the command line: exit 3, nothing written
    assert cli.main(['--workdir', str(tmp_path / 'work'), 'bench',
                     'combine', str(a), str(b)]) == EXIT_PRECONDITION
    assert 'measured different builds' in caplog.text
    assert not (tmp_path / 'work').exists()
    with pytest.raises(PreconditionError, match='no results.json'):
        run_combine(paths, [a, tmp_path])


def archive(folder, path):
    """*folder* as docs/bench-runs/ keeps a run: its .tar.xz."""
    with tarfile.open(path, 'w:xz') as tar:
        for member in bench.combine.ARCHIVE_MEMBERS:
            if (folder / member).exists():
                tar.add(folder / member, f'{folder.name}/{member}')
    return path


def test_combine_reads_archived_runs_as_their_folders(tmp_path):
    ratios = ([1.00, 1.01, 1.02], [1.03, 1.04, 1.05])
    folders = [saved_run(tmp_path / f'run{i}', hhmm, r)
               for i, (hhmm, r) in enumerate(zip(('13:39', '14:04'),
                                                 ratios))]
    tools = fake_tools(tmp_path)
    paths = Paths(workdir=tmp_path / 'work')
    run_combine(paths, folders, output=tmp_path / 'a', tools=tools)
    archives = [archive(f, tmp_path / f'{f.name}.tar.xz') for f in folders]
    for f in folders:                   # the archives alone are read
        os.rename(f, tmp_path / f'moved-{f.name}')
    run_combine(paths, archives, output=tmp_path / 'b', tools=tools)
    a = (tmp_path / 'a' / 'report.md').read_text()
    b = (tmp_path / 'b' / 'report.md').read_text()
    # the same report, but for the names of what was pooled
    for f, x in zip(folders, archives):
        assert f'`{f}`' in a and f'`{x}`' in b
        b = b.replace(str(x), str(f))
    assert a == b
    assert '| 1.010 / 1.040 | 1.025 ' in b
    # an archive that is not one run: a clear error
    bad = tmp_path / 'bad.tar.xz'
    with tarfile.open(bad, 'w:xz') as tar:
        tar.add(tools, 'bin')
    with pytest.raises(PreconditionError,
                       match='holds 0 bench output folders'):
        run_combine(paths, [archives[0], bad], tools=tools)
    (tmp_path / 'junk.tar.xz').write_text('not xz')
    with pytest.raises(PreconditionError,
                       match='not a readable .tar.xz'):
        run_combine(paths, [archives[0], tmp_path / 'junk.tar.xz'],
                    tools=tools)


#: The project, whose docs/ hold the pooled table and its runs.
PROJECT = Path(__file__).resolve().parents[2]


def page_blocks(name):
    """The texts between docs/performance.md's ``<!-- NAME: begin -->`` and
    ``<!-- NAME: end -->`` markers."""
    text = (PROJECT / 'docs' / 'performance.md').read_text()
    blocks = re.findall(rf'<!-- {name}: begin -->\n(.*?)<!-- {name}: end -->',
                        text, re.S)
    assert blocks, f'docs/performance.md has no {name} block'
    return blocks


def test_pooled_table_is_what_combine_makes_of_the_saved_runs(
        tmp_path):
    """performance.md's pooled tables are bench combine's output on the three
    runs docs/bench-runs/ keeps, not a copy that can drift."""
    runs = sorted((PROJECT / 'docs' / 'bench-runs').glob('*.tar.xz'))
    assert len(runs) == 3
    out = tmp_path / 'combined'
    assert run_combine(Paths(workdir=tmp_path / 'work'), runs,
                       output=out, tools=fake_tools(tmp_path)) == 0
    report = (out / 'report.md').read_text()
    for block in page_blocks('bench-combine'):
        assert block in report
    # and docs/ holds that report, but for the compare_to table
    saved = (PROJECT / 'docs' / 'bench-combined-latest.md').read_text()
    for block in page_blocks('bench-combine'):
        assert block in saved


def test_cli_combine_suite_and_passes(monkeypatch, tmp_path):
    seen = {}

    def fake(paths, *args, **kwargs):
        seen.clear()
        seen.update(kwargs, args=args)
        return 0

    monkeypatch.setattr(bench.command, 'run_bench', fake)
    monkeypatch.setattr(bench.combine, 'run_combine', fake)
    work = ['--workdir', str(tmp_path)]
    assert cli.main(work + ['bench', 'combine', 'a', 'b', '-o', 'o']) == 0
    assert seen == {'args': (['a', 'b'],), 'output': 'o'}
    assert cli.main(work + ['bench', '-o', 'o', 'combine', 'a', 'b']) == 0
    assert seen == {'args': (['a', 'b'],), 'output': 'o'}
    assert cli.main(work + ['bench', '--suite', 'all']) == 0
    assert seen['suite'] == 'all' and 'passes' not in seen
    assert cli.main(work + ['bench', '--suite', 'nbody, float',
                            '--passes', '3']) == 0
    assert seen['suite'] == ['nbody', 'float'] and seen['passes'] == 3
    assert cli.main(work + ['bench', '--passes', '1']) == 0
    assert seen['passes'] == 1 and 'suite' not in seen
    monkeypatch.setattr(bench.command, 'run_report', fake)
    assert cli.main(work + ['bench', 'report', 'a']) == 0
    assert seen == {'args': ('a',)}
    for bad in (['combine', 'a', 'b', '--quick'], ['--quick', 'combine', 'a'],
                ['report', 'a', '--suite', 'all'], ['-o', 'o', 'report', 'a'],
                ['report', 'a', 'b'],
                ['--suite', 'all', '--benchmarks', 'nbody'],
                ['--suite', 'all', '--no-pyperformance'],
                ['--passes', '0'], ['--passes', '2', '--no-pyperformance']):
        assert cli.main(work + ['bench'] + bad) == 2, bad


PYPERFORMANCE_OUTPUT = """\
Python benchmark suite 1.14.0

==================================================
( 1/3) creating venv for benchmark (alpha)

(trying common venv first)

==================================================
( 2/3) creating venv for benchmark (dask)

(trying common venv first)
ERROR: Could not find a version that satisfies the requirement dask==2024.1
ERROR: No matching distribution found for dask==2024.1
(falling back to unique venv)
ERROR: No matching distribution found for dask==2024.1
(benchmark will be skipped)

==================================================
( 3/3) creating venv for benchmark (gamma)

[1/3] alpha...
INFO:root:Running `venv/bin/python -u bm_alpha/run_benchmark.py`
[2/3] dask...
ERROR: Benchmark dask failed: could not install requirements
[3/3] gamma...
INFO:root:Running `venv/bin/python -u bm_gamma/run_benchmark.py`
Traceback (most recent call last):
  File "/venv/bm_gamma/run_benchmark.py", line 3, in <module>
    import gamma_dep
ModuleNotFoundError: No module named 'gamma_dep'
ERROR: Benchmark gamma failed: Benchmark died
Traceback (most recent call last):
  File "/site-packages/pyperformance/run.py", line 200, in run_benchmarks
    result = bench.run(
RuntimeError: Benchmark died

Performance version: 1.14.0
### alpha ###
Mean +- std dev: 1.00 sec +- 0.01 sec

2 benchmarks failed:
- dask (Install requirements error)
- gamma (Benchmark died)

"""


def test_suite_failures_from_pyperformance_output():
    failures = bench.suite.failures(PYPERFORMANCE_OUTPUT)
    assert set(failures) == {'dask', 'gamma'}
    reason, lines = failures['gamma']
    assert reason == 'Benchmark died'
    assert lines[-1] == "ModuleNotFoundError: No module named 'gamma_dep'"
    assert not any('pyperformance/run.py' in line or 'RuntimeError' in line
                   or 'Mean +-' in line for line in lines)
    reason, lines = failures['dask']
    assert reason == 'Install requirements error'
    assert lines[-1] == 'ERROR: No matching distribution found for ' \
        'dask==2024.1'
    # pyperformance died before its closing list: its ERROR lines tell
    cut = bench.suite.failures(
        PYPERFORMANCE_OUTPUT.split('2 benchmarks failed:')[0])
    assert cut['gamma'] == failures['gamma']
    assert cut['dask'] == ('could not install requirements',
                           failures['dask'][1])
    owner = bench.suite.owner
    names = ['async_tree', 'async_tree_io', 'deepcopy', 'gamma']
    assert owner('deepcopy_memo', names) == 'deepcopy'
    assert owner('async_tree_io', names) == 'async_tree_io'
    assert owner('async_tree_none', names) == 'async_tree'
    assert owner('nbody', names) is None


#: pyperformance's output for benchmarks whose results have other names.
RENAMED_OUTPUT = """\
[ 2/88] argparse...
# venv/bin/python -u bm_argparse/run_benchmark.py many_optionals --fast
.....................
many_optionals: Mean +- std dev: 517 us +- 8 us
[21/88] concurrent_imap...
bench_mp_pool: Mean +- std dev: 13.2 ms +- 4.3 ms
bench_thread_pool: Mean +- std dev: 1.34 ms +- 0.05 ms
[33/88] gc_collect...
WARNING: the benchmark result may be unstable
create_gc_cycles: Mean +- std dev: 2.52 ms +- 0.02 ms
[34/88] gc_traversal...
"""


def test_suite_results_belong_to_the_benchmark_that_printed_them(tmp_path):
    owners = bench.suite.result_owners(RENAMED_OUTPUT)
    assert owners == {'many_optionals': 'argparse',
                      'bench_mp_pool': 'concurrent_imap',
                      'bench_thread_pool': 'concurrent_imap',
                      'create_gc_cycles': 'gc_collect'}
    owner = bench.suite.owner
    names = ['argparse', 'concurrent_imap', 'gc_collect', 'gc_traversal',
             'deepcopy']
    assert owner('bench_thread_pool', names, owners) == 'concurrent_imap'
    assert owner('many_optionals', names) is None   # the name cannot tell
    assert owner('deepcopy_memo', names, owners) == 'deepcopy'
    # so they ran; gc_traversal printed no result: it did not
    path = tmp_path / '1-baseline.json'
    merged = suite('many_optionals', [[1.0]])
    for name in ('bench_mp_pool', 'bench_thread_pool', 'create_gc_cycles',
                 'deepcopy_memo'):
        merged['benchmarks'] += suite(name, [[1.0]])['benchmarks']
        merged['benchmarks'][-1]['metadata'] = {'name': name}
    merged['benchmarks'][0]['metadata'] = {'name': 'many_optionals'}
    path.write_text(json.dumps(merged))
    missing = bench.suite.did_not_run(names, ['baseline'],
                                      [(path, RENAMED_OUTPUT)])
    assert list(missing) == ['gc_traversal']


def test_count_calls_under_a_fake_strace(tmp_path, monkeypatch):
    # strace -c's table: calls minus errors are the fds made
    summary = ('% time     seconds  usecs/call     calls    errors syscall\n'
               '------ ----------- ----------- --------- --------- ------\n'
               ' 60.00    0.000060           2        24         3 openat\n'
               ' 40.00    0.000040           4        10           socket\n'
               '------ ----------- ----------- --------- --------- ------\n'
               '100.00    0.000100           2        34         3 total\n')
    assert bench.suite.strace_summary(summary) == {'openat': 21,
                                                   'socket': 10}
    assert bench.suite.strace_summary(summary, failed=True) == {'openat': 3}
    # a fake strace writes 10 + 6 * loops openat, 2 * loops of them
    # failed, and 3 pipe2: one loop of the benchmark makes 4 fds and fails
    # to open 2 files, start-up cancels out
    path = tmp_path / 'path'
    path.mkdir()
    (path / 'strace').write_text(f"""#!{sys.executable}
import re, sys
args = sys.argv[1:]
loops = int(next(a for a in args if a.startswith('--loops=')).split('=')[1])
assert args[args.index('-e') + 1].startswith('trace=?openat,')
with open(args[args.index('-o') + 1], 'w') as fp:
    fp.write('% time seconds usecs/call calls errors syscall\\n')
    fp.write(f' 1.00 0.1 1 {{10 + 6 * loops}} {{2 * loops}} openat\\n')
    fp.write(' 1.00 0.1 1 3 pipe2\\n')
""")
    (path / 'strace').chmod(0o755)
    monkeypatch.setenv('PATH', f'{path}:{os.environ["PATH"]}')
    monkeypatch.setattr(bench.suite, 'benchmark_scripts',
                        lambda tools: {'nbody': ('/bm/run.py', ('x',))})
    b = Bench(Paths(workdir=tmp_path / 'work'), tmp_path / 'out',
              Plan.make(True), tmp_path, seed=1)
    assert bench.suite.count_calls(b, 'nbody', '/venv/python') == (
        {'openat': 4.0}, {'openat': 2.0})


#: A stand-in for pyperformance's default suite: alpha, beta (5% slower
#: on patched), deepcopy (two results) and gamma, which dies.
FAKE_SUITE = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args[0] == 'list':
    print("'<default>' benchmarks:")
    for name in ('alpha', 'beta', 'deepcopy', 'gamma'):
        print('- ' + name)
    print('\\nTotal: 4 benchmarks')
    sys.exit(0)
with open(os.environ['FAKE_LOG'], 'a') as fp:
    fp.write(json.dumps(args) + '\\n')
build = args[args.index('--python') + 1].split('/')[-2]
values = {{'alpha': 1.0, 'beta': 1.05 if build == 'patched' else 1.0,
          'deepcopy': 2.0, 'deepcopy_memo': 3.0}}
with open(os.environ['FAKE_OUTPUT']) as fp:
    sys.stdout.write(fp.read())
with open(args[args.index('-o') + 1], 'w') as fp:
    json.dump({{'version': '1.0', 'metadata': {{'unit': 'second'}},
               'benchmarks': [{{'metadata': {{'name': name, 'loops': 4,
                   'python_executable': '/venv/' + build + '/bin/python'}},
                   'runs': [{{'values': [value]}}]}}
                   for name, value in values.items()]}}, fp)
sys.exit(1)
"""


def test_suite_runs_the_default_suite_and_reports_what_did_not_run(
        tmp_path, monkeypatch):
    from pep433tool import selftest
    paths = fake_builds(tmp_path / 'work')
    tools = fake_tools(tmp_path)
    (tools / 'pyperformance').write_text(
        FAKE_SUITE.format(python=sys.executable))
    (tools / 'pyperformance').chmod(0o755)
    output = tmp_path / 'output.txt'
    output.write_text(PYPERFORMANCE_OUTPUT.replace('dask', 'delta'))
    log = tmp_path / 'calls.log'
    monkeypatch.setenv('FAKE_LOG', str(log))
    monkeypatch.setenv('FAKE_OUTPUT', str(output))
    monkeypatch.setattr(selftest, 'ensure_tools', lambda paths: tools)
    counted = []

    def fake_count_calls(b, name, python):
        counted.append((name, python))
        return {'openat': 2.0, 'socket': 1.0}, {'openat': 5.0}

    monkeypatch.setattr(bench.suite, 'count_calls', fake_count_calls)
    out = tmp_path / 'suite'
    assert run_bench(paths, output=out, suite='all') == 0

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # ABBA: two passes of each build, the whole suite (no -b), --fast,
    # the first pass's loops
    assert [c[c.index('--python') + 1].split('/')[-2] for c in calls] == \
        ['baseline', 'patched', 'patched', 'baseline']
    assert not any('-b' in c for c in calls)
    assert all('--fast' in c for c in calls)
    assert all(c[c.index('--same-loops') + 1].endswith('1-baseline.json')
               for c in calls[1:])
    # the benchmark outside +-2% has its fds counted, on the patched venv
    assert counted == [('beta', '/venv/patched/bin/python')]
    results = json.loads((out / 'results.json').read_text())
    assert results['kind'] == 'suite'
    assert results['builds']['patched']['sys_version'] == \
        '3.13.5 (fake patched)'
    assert results['plan']['benchmarks'] == ['alpha', 'beta', 'deepcopy',
                                             'gamma']
    assert results['plan']['micro_calls'] == []
    report = (out / 'report.md').read_text()
    assert "the 4 of `pyperformance list`" in report
    assert 'passes baseline patched patched baseline (--fast each)' in report
    assert '| beta | 1.00 s | 1.05 s | 1.050 |' in report
    assert '| beta | 1.050 | 3 (openat 2, socket 1); 5 failed (openat 5) | ' \
        '3 |' in report
    # not dropped silently: gamma did not run, with its error
    assert ('- `gamma`, passes 1 (baseline), 2 (patched), 3 (patched), 4 '
            '(baseline): Benchmark died\n\n  ```\n') in report
    assert "  ModuleNotFoundError: No module named 'gamma_dep'\n" in report
    assert 'Benchmark died\n\n  ```' in report
    assert '`delta`' not in report          # not in the suite
    assert '| compare_to |' in report
    # a list runs with -b, and reports only what it asked for
    log.unlink()
    assert run_bench(paths, output=tmp_path / 'list',
                     suite=['alpha', 'deepcopy'], passes=1) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[c.index('-b') + 1] for c in calls] == ['alpha,deepcopy'] * 2
    report = (tmp_path / 'list' / 'report.md').read_text()
    assert 'Every benchmark ran in every pass.' in report
    assert 'the suite given, 2: alpha, deepcopy' in report
    # two suite runs of the same builds pool; what did not run is told
    # with the passes numbered across the runs
    assert run_bench(paths, output=tmp_path / 'again',
                     suite='all') == 0
    assert run_combine(paths, [out, tmp_path / 'again'],
                       output=tmp_path / 'both', tools=tools) == 0
    report = (tmp_path / 'both' / 'report.md').read_text()
    assert '## pyperformance, the passes pooled' in report
    # each build against itself within each run, numbered across the runs
    assert ('baseline 1.0000 (pass 4 / pass 1), 1.0000 (pass 8 / pass 5); '
            'patched 1.0000 (pass 3 / pass 2), 1.0000 (pass 7 / pass 6)') \
        in report
    assert '- `gamma`, passes 1 (baseline), 2 (patched), 3 (patched), 4 ' \
        '(baseline), 5 (baseline), 6 (patched), 7 (patched), 8 (baseline)' \
        in report
    assert '| beta | 1.050 | 3 (openat 2, socket 1); 5 failed (openat 5) | ' \
        '3 |' in report
    with pytest.raises(PreconditionError, match='different plans'):
        run_combine(paths, [out, tmp_path / 'list'], tools=tools)
    # ABBA: each pair of passes alone, in the table and for the outliers
    report = (out / 'report.md').read_text()
    assert 'patched/baseline | each pair of passes |' in report
    assert '| beta | 1.00 s | 1.05 s | 1.050 | 1.050 / 1.050 |' in report
    assert '| **geometric mean** | | | **1.0123** | 1.0123 / 1.0123 |' \
        in report
    assert '| beta | 1.050 | 3 (openat 2, socket 1); 5 failed (openat 5) | ' \
        '3 | 1.050 / 1.050 | yes | baseline 1.000, patched 1.000 |' in report
    assert ('The same build against itself, the geometric mean of each '
            'later pass over its previous one: baseline 1.0000 (pass 4 / '
            'pass 1); patched 1.0000 (pass 3 / pass 2).') in report
    assert 'Held in every pair: 1 of the 1 results outside the band ' \
        '(beta); of them, 1 make or try to make fds in their loop (beta).' \
        in report
    # one AB pass: one pair, nothing to tell apart, no column
    report = (tmp_path / 'list' / 'report.md').read_text()
    assert 'each pair of passes' not in report

    # bench report: a run made before the pairs were kept gets them, and
    # its report again; what was measured is unchanged
    results = json.loads((out / 'results.json').read_text())
    del results['pyperformance']['pair_ratios']
    del results['pyperformance']['same_build']
    (out / 'results.json').write_text(json.dumps(results))
    (out / 'report.md').write_text('old')
    assert run_report(paths, out) == 0
    again = json.loads((out / 'results.json').read_text())
    assert again['pyperformance']['pair_ratios']['beta'] == \
        pytest.approx([1.05, 1.05])
    assert again['pyperformance']['same_build']['baseline']['passes'] == \
        [[1, 4]]
    del again['pyperformance']['pair_ratios']
    del again['pyperformance']['same_build']
    assert again == results
    assert '1.050 / 1.050 | yes |' in (out / 'report.md').read_text()
    for member in (out / 'pyperformance').iterdir():
        member.unlink()
    with pytest.raises(PreconditionError, match='1-baseline.json: missing'):
        run_report(paths, out)


def test_bench_report_bounds_the_medians_of_an_older_run(tmp_path,
                                                        monkeypatch):
    """bench report reads the rounds again: a run made before the 95%
    intervals gets them, in results.json and in its missed targets, and
    every median stays what it was."""
    from pep433tool import selftest
    monkeypatch.setattr(selftest, 'ensure_tools',
                        lambda paths: fake_tools(tmp_path))
    ratios = [0.99, 1.00, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08]
    out = saved_run(tmp_path / 'run', '13:39', ratios, rounds=len(ratios))
    results = json.loads((out / 'results.json').read_text())
    for entry in results['micro'].values():
        entry.pop('low', None)
        entry.pop('high', None)
    results['targets'] = {'held': [], 'missed': ['stale'], 'faster': []}
    (out / 'results.json').write_text(json.dumps(results))
    assert run_report(Paths(workdir=tmp_path / 'work'), out) == 0
    again = json.loads((out / 'results.json').read_text())
    entry = again['micro']['os.open|patched']
    # 9 rounds: the 2nd and the 8th
    assert (entry['low'], entry['high']) == pytest.approx((1.00, 1.07))
    for key, old in results['micro'].items():
        for name in ('median', 'q1', 'q3', 'time'):
            if name in old:
                assert again['micro'][key][name] == pytest.approx(old[name])
    missed = again['targets']['missed']
    assert 'stale' not in missed
    assert ('micro-benchmarks, patched (default False): median ratio within '
            '1.00 +- 0.02: os.open 1.040 (same system calls; 95% interval of '
            'the median 1.000-1.070, holds 1.00: not told apart from stock)'
            ) in missed
    assert 'holds 1.00: not told apart' in (out / 'report.md').read_text()


def test_outliers_held_in_every_pair_or_not():
    band = 0.02
    assert held_in_every_pair([1.05, 1.03], band)
    assert held_in_every_pair([0.95, 0.97], band)
    assert not held_in_every_pair([1.05, 1.01], band)     # one pair inside
    assert not held_in_every_pair([1.05, 0.95], band)     # either side
    assert not held_in_every_pair([1.05, None], band)     # missing in one
    rows = {name: {'ratio': ratio} for name, ratio in
            (('go', 1.04), ('richards', 1.03), ('tornado_http', 1.05))}
    suite = {'band': band, 'outside': list(rows),
             'owners': {name: name for name in rows},
             'fds': {'go': {'fds': 0, 'per_loop': {}},
                     'richards': {'fds': 0, 'per_loop': {}},
                     'tornado_http': {'fds': 300, 'per_loop': {'accept': 150,
                                                               'socket': 150},
                                      'per_second': 1985}}}
    pairs = {'go': [1.06, 1.02], 'richards': [1.03, 1.03],
             'tornado_http': [1.08, 1.03]}
    assert 'Held in every pair: none of the 3 results' in '\n'.join(
        outside_lines(rows, suite, {name: [1.0, 1.05] for name in rows}))
    text = '\n'.join(outside_lines(rows, suite, pairs))
    assert '| go | 1.040 | none | 0 | 1.060 / 1.020 | no |' in text
    assert '| richards | 1.030 | none | 0 | 1.030 / 1.030 | yes |' in text
    assert ('| tornado_http | 1.050 | 300 (accept 150, socket 150) | 1,985 '
            '| 1.080 / 1.030 | yes |') in text
    assert ('Held in every pair: 2 of the 3 results outside the band '
            '(richards, tornado_http); of them, 1 make or try to make fds in '
            'their loop (tornado_http).') in text


# -- instructions per function, their target; bench --optimized; the plot ---

#: callgrind_annotate --inclusive=no of a patched run (valgrind 3.19): a
#: function has a line per file its code comes from (its own, with the
#: object; a header's inline code, without) and gcc's copies their own.
ANNOTATE_EXCLUSIVE = """\
{dashes}
Profile data file 'socket-600.out' (creator: callgrind-3.19.0)
{dashes}
I1 cache: 
D1 cache: 
LL cache: 
Timerange: Basic block 0 - 9876543
Trigger: Program termination
Profiled target:  ./python instr_calls.py socket.socket default 600 (PID 42)
Events recorded:  Ir
Events shown:     Ir
Event sort order: Ir
Thresholds:       100
Include dirs:     
User annotated:   
Auto-annotation:  off

{dashes}
Ir                  
{dashes}
9,000,000 (100.0%)  PROGRAM TOTALS

{dashes}
Ir                  file:function
{dashes}
2,400,000 (26.67%)  Python/ceval.c:_PyEval_EvalFrameDefault [/b/python]
  300,000 ( 3.33%)  Include/internal/pycore_object.h:_PyEval_EvalFrameDefault
  150,600 ( 1.67%)  Modules/socketmodule.c:sock_initobj [/b/python]
   60,000 ( 0.67%)  Include/object.h:sock_initobj
   30,000 ( 0.33%)  Modules/socketmodule.c:sock_new.constprop.0 [/b/python]
   12,000 ( 0.13%)  Modules/socketmodule.c:sock_new.part.0 [/b/python]
    6,000 ( 0.07%)  ???:__socket [/lib/libc.so.6]

""".format(dashes='-' * 80)

#: The same run, --inclusive=yes: a function's own line is what its callers
#: paid for it (the header lines and the copies it calls included).
ANNOTATE_INCLUSIVE = ANNOTATE_EXCLUSIVE.split('Ir                  file')[0] \
    + """\
Ir                  file:function
""" + '-' * 80 + """
9,000,000 (100.0%)  ???:_start [/b/python]
8,000,000 (88.89%)  Python/ceval.c:_PyEval_EvalFrameDefault [/b/python]
  400,000 ( 4.44%)  Include/internal/pycore_object.h:_PyEval_EvalFrameDefault
  500,000 ( 5.56%)  Modules/socketmodule.c:sock_initobj [/b/python]
   90,000 ( 1.00%)  Include/object.h:sock_initobj
  120,000 ( 1.33%)  Modules/socketmodule.c:sock_new.constprop.0 [/b/python]
   40,000 ( 0.44%)  Modules/socketmodule.c:sock_new.part.0 [/b/python]
    6,000 ( 0.07%)  ???:__socket [/lib/libc.so.6]
"""


def test_annotate_output_summed_by_function():
    rows = parse_annotate(ANNOTATE_EXCLUSIVE)
    assert rows[0] == (2400000, 'Python/ceval.c',
                       '_PyEval_EvalFrameDefault', '/b/python')
    assert rows[1][3] is None                   # a header's inline code
    assert len(rows) == 7                       # not PROGRAM TOTALS
    # before valgrind 3.18, no percentages
    old = re.sub(r'\(\s*[\d.]+%\)\s+', '', ANNOTATE_EXCLUSIVE)
    assert '%' not in old.split('file:function')[1]
    assert parse_annotate(old) == rows
    found = sum_functions(rows,
                          parse_annotate(ANNOTATE_INCLUSIVE))
    # exclusive: every line of the function and of its copies, added up;
    # inclusive: the largest (its own line holds the others)
    assert found['_PyEval_EvalFrameDefault'] == {
        'exclusive': 2700000, 'inclusive': 8000000, 'file': 'ceval.c'}
    assert found['sock_initobj'] == {
        'exclusive': 210600, 'inclusive': 500000, 'file': 'socketmodule.c'}
    assert found['sock_new'] == {
        'exclusive': 42000, 'inclusive': 120000, 'file': 'socketmodule.c'}
    # no debug information: the object names it
    assert found['__socket']['file'] == 'libc.so.6'
    assert found['_start'] == {'exclusive': 0, 'inclusive': 9000000,
                               'file': 'python'}
    assert bench.instructions.function_key('f.lto_priv.0.cold') == 'f'
    assert bench.instructions.function_key('f.isra.0.part.1') == 'f'
    assert bench.instructions.function_key('f_constprop') == 'f_constprop'


def costs(**functions):
    """{function: {'inclusive', 'exclusive', 'file'}} from name=(incl,
    excl)."""
    return {name: {'inclusive': i, 'exclusive': e, 'file': f'{name}.c'}
            for name, (i, e) in functions.items()}


def test_per_call_functions_leave_start_up_out():
    low = costs(startup=(5000, 5000), sock_initobj=(200 * 80, 200 * 30))
    high = costs(startup=(5000, 5000), sock_initobj=(600 * 80, 600 * 30),
                 new=(400, 400))
    assert per_call_functions(low, high, (200, 600)) == {
        'sock_initobj': {'inclusive': 80.0, 'exclusive': 30.0,
                         'file': 'sock_initobj.c'},
        'new': {'inclusive': 1.0, 'exclusive': 1.0, 'file': 'new.c'}}


#: Per call, per function, as measure_instructions() gives them.
PER_FUNCTION = {
    ('socket.socket', 'baseline'): costs(
        sock_initobj=(800, 300), _PyEval_EvalFrameDefault=(6900, 2000),
        PyObject_Malloc=(60, 60)),
    ('socket.socket', 'patched'): costs(
        sock_initobj=(900, 330), _PyEval_EvalFrameDefault=(7119, 2000),
        PyObject_Malloc=(60.5, 60.5), sock_cloexec_arg=(40, 40)),
    ('socket.socket', 'patched-e'): costs(
        sock_initobj=(950, 380), _PyEval_EvalFrameDefault=(7154, 2000),
        PyObject_Malloc=(60, 60), sock_cloexec_arg=(45, 45)),
}


def test_function_rows_and_their_table():
    rows = function_rows(PER_FUNCTION, 'socket.socket')
    # where the instructions are first, then their callers; less than one
    # instruction per call is no difference
    assert list(rows) == ['sock_initobj', 'sock_cloexec_arg',
                          '_PyEval_EvalFrameDefault']
    assert rows['sock_cloexec_arg'] == {
        'file': 'sock_cloexec_arg.c', 'baseline': [0.0, 0.0],
        'patched': [40, 40], 'patched-e': [45, 45]}
    table = function_table(rows)
    assert table[0] == ('| function | stock: inclusive | stock: exclusive | '
                        'patched - stock: inclusive | patched - stock: '
                        'exclusive | patched -e - stock: inclusive | '
                        'patched -e - stock: exclusive |')
    assert table[2] == ('| `sock_initobj` (sock_initobj.c) | 800 | 300 | '
                        '+100 | +30 | +150 | +80 |')
    assert table[4] == ('| `_PyEval_EvalFrameDefault` '
                        '(_PyEval_EvalFrameDefault.c) | 6900 | 2000 | +219 '
                        '| = | +254 | = |')
    assert function_table(rows, limit=2)[-1].startswith(
        '1 more function differs (all of them: results.json')
    assert function_rows(PER_FUNCTION, 'os.pipe') == {}


def test_instruction_target_at_most_one_percent_over_stock():
    counts = {('socket.socket', 'baseline'): 7000.0,
              ('socket.socket', 'patched'): 7219.0,
              ('socket.socket', 'patched-e'): 7254.0,
              ('os.pipe', 'baseline'): 5000.0, ('os.pipe', 'patched'): 4971.0,
              ('os.pipe', 'patched-e'): 5027.0,
              ('os.dup', 'baseline'): 4000.0, ('os.dup', 'patched'): 4000.0,
              ('os.dup', 'patched-e'): 4040.0}
    held, missed = instruction_targets(counts)
    assert missed == [
        "instructions per call, patched (default False): at most +1% over "
        "the baseline's: socket.socket +219 (+3.1%)",
        "instructions per call, patched -e: at most +1% over the "
        "baseline's: socket.socket +254 (+3.6%)"]
    assert held == []
    # fewer than stock, or exactly +1%: held
    del counts['socket.socket', 'patched-e']
    held, missed = instruction_targets(counts)
    assert held == ["instructions per call, patched -e: at most +1% over "
                    "the baseline's"]
    assert instruction_targets({}) == ([], [])


FAKE_VALGRIND = """#!{python}
import json, sys
args = sys.argv[1:]
out = next(a for a in args if a.startswith('--callgrind-out-file='))
out = out.split('=', 1)[1]
python = args[2]
build = python.split('/')[-2]
n = int(args[-1])
e = '-e' in args
per_call = {{'baseline': 1000, 'patched': 1010}}[build.split('-')[0]] + 30 * e
if out != '/dev/null':
    with open(out, 'w') as fp:
        json.dump({{'build': build, 'e': e, 'n': n, 'call': args[-3]}}, fp)
print('==1== Callgrind', file=sys.stderr)
print(f'==1== Collected : {{50000 + n * per_call}}', file=sys.stderr)
"""

#: A callgrind_annotate that annotates FAKE_VALGRIND's profiles: start-up
#: (the same at every loop count) and sock_initobj, which costs patched
#: 10 more instructions per call, and -e 30 more on top.
FAKE_ANNOTATE = """#!{python}
import json, sys
args = sys.argv[1:]
assert '--threshold=100' in args and '--auto=no' in args, args
inclusive = '--inclusive=yes' in args
with open(args[-1]) as fp:
    run = json.load(fp)
n = run['n']
extra = (10 if run['build'].startswith('patched') else 0) + 30 * run['e']
rows = [(50000, '???:startup [/w/python]'),
        (n * (100 + extra), '/w/Modules/socketmodule.c:sock_initobj '
                            '[/w/python]')]
if inclusive:
    rows.append((50000 + n * (100 + extra), '???:_start [/w/python]'))
print('Ir  ' + chr(10) + '-' * 80 + chr(10) + '100 (100.0%)  PROGRAM TOTALS')
print(chr(10) + '-' * 80 + chr(10) + 'Ir  file:function' + chr(10) + '-' * 80)
for cost, what in rows:
    print(f'{{cost:,}} (50.00%)  {{what}}')
"""


def fake_callgrind(tmp_path, monkeypatch):
    """valgrind and callgrind_annotate stand-ins first in PATH."""
    tools = tmp_path / 'fakebin'
    tools.mkdir()
    for name, text in (('valgrind', FAKE_VALGRIND),
                       ('callgrind_annotate', FAKE_ANNOTATE)):
        (tools / name).write_text(text.format(python=sys.executable))
        (tools / name).chmod(0o755)
    monkeypatch.setenv('PATH', f'{tools}:{os.environ["PATH"]}')


def test_measure_instructions_per_call_and_per_function(tmp_path,
                                                         monkeypatch):
    from pep433tool.util import clean_env
    fake_callgrind(tmp_path, monkeypatch)
    paths = fake_builds(tmp_path / 'work', variant='optimized')
    plan = Plan.make(True)
    b = Bench(paths, tmp_path / 'out', plan, tmp_path, seed=1,
              variant='optimized')
    (b.pylib / 'pyperf').mkdir(parents=True)
    b.env = clean_env()
    counts, functions = b.measure_instructions(('os.open',), (200, 600))
    # the optimized builds ran: their folders' names say the build
    assert counts == {('os.open', 'baseline'): 1000.0,
                      ('os.open', 'patched'): 1010.0,
                      ('os.open', 'patched-e'): 1040.0}
    assert functions['os.open', 'patched-e'] == {
        'sock_initobj': {'inclusive': 140.0, 'exclusive': 140.0,
                         'file': 'socketmodule.c'},
        '_start': {'inclusive': 140.0, 'exclusive': 0.0, 'file': 'python'}}
    assert 'startup' not in functions['os.open', 'baseline']
    saved = json.loads((tmp_path / 'out' /
                        'instructions-functions.json').read_text())
    assert saved['os.open patched']['sock_initobj']['exclusive'] == 110.0
    # the profiles are read, then gone (megabytes each)
    profiles = paths.workdir / 'bench' / 'instructions' / 'profiles'
    assert list(profiles.iterdir()) == []
    # without the functions: no profile written at all
    assert b.run_instructions(('os.open',), (200, 600)) == counts


def fake_measurements(monkeypatch, tools, per_function=PER_FUNCTION):
    """Bench's measurements replaced by canned ones (socket.socket)."""
    from pep433tool import selftest
    monkeypatch.setattr(selftest, 'ensure_tools', lambda paths: tools)
    monkeypatch.setattr(Bench, 'prepare',
                        lambda self: self.output.mkdir(parents=True,
                                                       exist_ok=True))
    monkeypatch.setattr(Bench, 'run_syscalls', lambda self: {
        ('socket.socket', s): ['socket'] for s in ('baseline', 'patched',
                                                   'patched-e')})
    micro = {('socket.socket', 'baseline'): {'time': 2e-6}}
    micro.update({('socket.socket', s): {'time': 2e-6, 'median': 1.0,
                                         'q1': 1.0, 'q3': 1.0}
                  for s in ('patched', 'patched-e')})
    monkeypatch.setattr(Bench, 'run_micro',
                        lambda self: (micro, {}, {}, None))
    counts = {('socket.socket', 'baseline'): 7000.0,
              ('socket.socket', 'patched'): 7219.0,
              ('socket.socket', 'patched-e'): 7020.0}
    monkeypatch.setattr(Bench, 'measure_instructions',
                        lambda self: (counts, per_function))
    monkeypatch.setattr(Bench, 'plot', lambda self, results: None)


def test_bench_reports_the_instruction_target_and_the_functions(
        tmp_path, monkeypatch, caplog):
    paths = fake_builds(tmp_path / 'work')
    fake_measurements(monkeypatch, fake_tools(tmp_path))
    out = tmp_path / 'run'
    # a missed target is reported, and is no error
    assert run_bench(paths, output=out, pyperformance=False) == 0
    assert ("target missed: instructions per call, patched (default "
            "False): at most +1% over the baseline's: socket.socket +219 "
            "(+3.1%)") in caplog.text
    results = json.loads((out / 'results.json').read_text())
    assert results['variant'] is None
    assert results['build_dirs'] == {'baseline': 'baseline',
                                     'patched': 'patched'}
    assert set(results['instruction_functions']['socket.socket']) == {
        'sock_initobj', 'sock_cloexec_arg', '_PyEval_EvalFrameDefault'}
    assert "instructions per call, patched -e: at most +1% over the " \
        "baseline's" in results['targets']['held']
    report = (out / 'report.md').read_text()
    assert report.startswith('# PEP 433 benchmark: patched vs stock CPython '
                             '3.13.15, plain builds\n')
    assert ('- target missed: instructions per call, patched (default '
            'False): at most +1% over the baseline\'s: socket.socket +219 '
            '(+3.1%)') in report
    assert '### Instructions per function (callgrind_annotate)' in report
    # in the order of the differences, though results.json sorts names
    assert ('| `sock_initobj` (sock_initobj.c) | 800 | 300 | +100 | +30 | '
            '+150 | +80 |\n| `sock_cloexec_arg`') in report
    assert '`os.pipe`:' not in report       # not measured here
    # results.json renders again to the same report
    assert render_report(deserialise(results)) == report


def test_bench_optimized_measures_and_names_the_optimized_builds(
        tmp_path, monkeypatch):
    paths = fake_builds(tmp_path / 'work', variant='optimized')
    for build in ('baseline', 'patched'):
        stamp = build_dir(paths, build, 'optimized') / \
            '.pep433-configure.json'
        stamp.write_text(json.dumps({
            'src': '/src', 'configure_args': ['--enable-optimizations',
                                              '--with-lto']}))
    # the plain builds are not there: bench --optimized does not need them
    with pytest.raises(PreconditionError) as info:
        check_builds(paths)
    assert info.value.hint == 'scripts/pep433 build'
    check_builds(paths, 'optimized')
    with pytest.raises(PreconditionError) as info:
        check_builds(Paths(workdir=tmp_path / 'none'), 'optimized')
    assert info.value.hint == 'scripts/pep433 build --optimized'
    fake_measurements(monkeypatch, fake_tools(tmp_path))
    out = tmp_path / 'run'
    # not while one of the two is being built
    from pep433tool.util import build_in_use
    with build_in_use(build_dir(paths, 'patched', 'optimized'),
                      'build of patched-optimized', exclusive=True):
        with pytest.raises(PreconditionError) as info:
            run_bench(paths, output=out, pyperformance=False,
                      variant='optimized')
    assert 'being built (build of patched-optimized' in info.value.message
    assert not out.exists()
    assert run_bench(paths, output=out, pyperformance=False,
                     variant='optimized') == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['variant'] == 'optimized'
    assert results['build_dirs'] == {'baseline': 'baseline-optimized',
                                     'patched': 'patched-optimized'}
    assert results['configure_args']['patched'] == [
        '--enable-optimizations', '--with-lto']
    assert results['builds']['patched']['sys_version'] == \
        '3.13.5 (fake patched)'
    report = (out / 'report.md').read_text()
    assert report.splitlines()[0] == (
        '# PEP 433 benchmark: patched vs stock CPython 3.13.15, optimized '
        'builds (PGO + LTO)')
    assert ('Builds compared: `baseline-optimized/` and '
            '`patched-optimized/`, configure flags `--enable-optimizations '
            '--with-lto`.') in report


def test_suite_on_the_optimized_builds(tmp_path, monkeypatch):
    from pep433tool import selftest
    paths = fake_builds(tmp_path / 'work', variant='optimized')
    tools = fake_tools(tmp_path)
    (tools / 'pyperformance').write_text(
        FAKE_SUITE.format(python=sys.executable))
    (tools / 'pyperformance').chmod(0o755)
    output = tmp_path / 'output.txt'
    output.write_text(PYPERFORMANCE_OUTPUT)
    log = tmp_path / 'calls.log'
    monkeypatch.setenv('FAKE_LOG', str(log))
    monkeypatch.setenv('FAKE_OUTPUT', str(output))
    monkeypatch.setattr(selftest, 'ensure_tools', lambda paths: tools)
    monkeypatch.setattr(Bench, 'plot', lambda self, results: None)
    out = tmp_path / 'suite'
    assert run_bench(paths, output=out, suite=['alpha'], passes=1,
                     variant='optimized') == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[c.index('--python') + 1].split('/')[-2] for c in calls] == \
        ['baseline-optimized', 'patched-optimized']
    results = json.loads((out / 'results.json').read_text())
    assert results['kind'] == 'suite' and results['variant'] == 'optimized'
    assert 'optimized builds (PGO + LTO)' in \
        (out / 'report.md').read_text().splitlines()[0]


def test_combine_refuses_to_pool_optimized_and_plain_runs(tmp_path):
    paths = Paths(workdir=tmp_path / 'work')
    tools = fake_tools(tmp_path)
    plain = saved_run(tmp_path / 'plain', '13:39', [1.0, 1.0, 1.0])
    optimized = [saved_run(tmp_path / f'opt{i}', hhmm, [1.0, 1.0, 1.0],
                           variant='optimized')
                 for i, hhmm in enumerate(('14:04', '14:56'))]
    with pytest.raises(PreconditionError) as info:
        run_combine(paths, [plain, optimized[0]], tools=tools)
    assert 'measured the plain builds and' in str(info.value)
    assert 'the optimized builds (PGO + LTO): runs of other builds cannot ' \
        'be pooled' in str(info.value)
    assert 'bench --optimized' in info.value.hint
    out = tmp_path / 'combined'
    assert run_combine(paths, optimized, output=out, tools=tools) == 0
    report = (out / 'report.md').read_text()
    assert report.splitlines()[0] == (
        '# PEP 433 benchmark: 2 runs pooled, patched vs stock CPython '
        '3.13.5, optimized builds (PGO + LTO)')
    assert json.loads((out / 'combined.json').read_text())['variant'] == \
        'optimized'


def test_cli_bench_optimized(monkeypatch, tmp_path):
    seen = {}

    def fake(paths, *args, **kwargs):
        seen.clear()
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(bench.command, 'run_bench', fake)
    work = ['--workdir', str(tmp_path)]
    assert cli.main(work + ['bench', '--optimized', '--suite', 'all']) == 0
    assert seen['variant'] == 'optimized' and seen['suite'] == 'all'
    assert cli.main(work + ['bench']) == 0
    assert 'variant' not in seen
    assert cli.main(work + ['bench', 'combine', 'a', 'b',
                            '--optimized']) == 2
    assert cli.main(work + ['bench', '--optimized', 'combine', 'a',
                            'b']) == 2


def overlaps(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def drawn(results):
    """The figure of *results*, drawn, and its renderer."""
    pytest.importorskip('matplotlib')
    from pep433tool.bench import plot as benchplot
    fig = benchplot.figure(json.loads(json.dumps(_serialise(results))))
    fig.canvas.draw()
    return fig, fig.canvas.get_renderer()


def test_suite_plot_title_clears_the_panel_title():
    """With --suite the figure is tall (a row per result): the title kept
    to a fraction of its height came down over the panel's title."""
    import matplotlib.pyplot as plt
    for n in (3, 115, 300):
        rows = {f'bench_{i:03d}': {'ratio': 1 + (i % 7 - 3) / 100,
                                   'reference': 1.0, 'changed': 1.0}
                for i in range(n)}
        results = dict(fake_results(), kind='suite', micro=None,
                       pyperformance={'rows': rows, 'geomean': 1.02},
                       variant='optimized')
        fig, renderer = drawn(results)
        title = fig._suptitle.get_window_extent(renderer)
        panel = fig.axes[0].title.get_window_extent(renderer)
        assert title.y0 > panel.y1, n
        assert title.y1 <= fig.bbox.y1, n
        assert 'optimized builds (PGO + LTO)' in fig._suptitle.get_text()
        plt.close(fig)


def test_micro_plot_legend_covers_no_point():
    import matplotlib.pyplot as plt
    calls = list(MICRO_CALLS)
    micro = {}
    for i, call in enumerate(calls):
        micro[call, 'baseline'] = {'time': 1e-6}
        for j, s in enumerate(SERIES[1:]):
            # points everywhere, the top right corner included
            value = 0.97 + 0.015 * ((i + j) % 9)
            micro[call, s.name] = {'time': 1e-6, 'median': value,
                                   'q1': value - 0.005, 'q3': value + 0.005}
    results = dict(fake_results(), micro=micro, syscall_calls=calls)
    for perf in (None, fake_results()['pyperformance']):
        fig, renderer = drawn(dict(results, pyperformance=perf))
        ax = fig.axes[0]
        [legend] = fig.legends
        box = legend.get_window_extent(renderer)
        points = [ax.transData.transform(xy) for line in ax.lines
                  for xy in line.get_xydata()]
        assert len(points) >= len(calls) * 4
        assert not any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1
                       for x, y in points)
        assert not overlaps(box, ax.xaxis.label.get_window_extent(renderer))
        assert not overlaps(box, ax.get_window_extent(renderer))
        assert box.y0 >= 0
        assert len(legend.get_texts()) == len(SERIES) - 1
        plt.close(fig)
