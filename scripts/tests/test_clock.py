"""bench clock: the machine's clock, and an A/A run of processes."""

import itertools
import random

import pytest

from pep433tool import cli
from pep433tool.bench import clock as clock_mod
from pep433tool.bench.clock import (aa_rounds, aa_summary, BLOCK,
                                    process_value, speed_summary, trace)
from pep433tool.bench.plan import Plan
from pep433tool.errors import EXIT_USAGE


def synthetic(seconds, fast=1e-3, slow=None, every=2.0):
    """(starts, durations) of samples back to back, *fast* seconds each, or
    *slow* in every other stretch of *every* seconds."""
    starts, durations, t = [], [], 0.0
    while t < seconds:
        d = slow if slow and int(t // every) % 2 else fast
        starts.append(t)
        durations.append(d)
        t += d
    return starts, durations


def test_speed_summary_of_a_clock_with_two_speeds():
    speed = speed_summary(*synthetic(60, slow=1.5e-3))
    assert speed['quantiles']['p5'] == 1.0
    assert speed['quantiles']['p95'] == pytest.approx(1.5)
    assert speed['dwell'] == pytest.approx(2.0, abs=0.01)
    # half the time slow, though fewer of the samples
    assert speed['slow_share'] == pytest.approx(0.5, abs=0.01)
    steady = speed_summary(*synthetic(10))
    assert steady['half_iqr'] == 0
    assert steady['quantiles']['p95'] == 1.0


def test_process_value_is_the_median_of_its_values():
    # three stretches of 0.1 s at 1, 2 and 4 ms a sample: values 1, 2, 4
    starts = [i * 0.01 for i in range(30)]
    durations = [1e-3] * 10 + [2e-3] * 10 + [4e-3] * 10
    assert process_value(starts, durations, 3, 0.1) == pytest.approx(2e-3)
    assert process_value(starts, durations, 2, 0.1) == pytest.approx(1.5e-3)
    with pytest.raises(ValueError):
        process_value([], [], 2, 0.1)


def fake_trace(speeds):
    """trace() of processes each running at the next of *speeds*."""
    it = iter(speeds)

    def fake(seconds, python=None):
        return synthetic(seconds, fast=1e-3 * next(it))
    return fake


def test_aa_rounds_divide_two_processes_of_a_block(monkeypatch):
    # processes at 1, 2, 3, ... : each round's ratio is one of its
    # block's values over another
    monkeypatch.setattr(clock_mod, 'trace', fake_trace(itertools.count(1)))
    ratios = aa_rounds(4, random.Random(1), block=BLOCK)
    assert len(ratios) == 4
    for r, ratio in enumerate(ratios):
        block = range(r * BLOCK + 1, (r + 1) * BLOCK + 1)
        assert any(ratio == pytest.approx(b / a)
                   for a in block for b in block if a != b), ratio
    assert BLOCK == 5


def test_a_steady_machine_reads_identical_code_as_identical(monkeypatch):
    monkeypatch.setattr(clock_mod, 'trace',
                        fake_trace(itertools.repeat(1.0)))
    ratios = aa_rounds(10, random.Random(1))
    assert ratios == [1.0] * 10
    aa = aa_summary(ratios, random.Random(1), 24, draws=20)
    assert aa['half_iqr'] == 0 and aa['median'] == 1
    assert [p['rounds'] for p in aa['pooled']] == [24, 72]
    assert all(p['half_width'] == 0 and p['outside'] == 0
               for p in aa['pooled'])


def test_a_noisy_machine_needs_more_rounds():
    """Ratios spread +-10%: one run's median strays out of +-0.02 now and
    then, three runs pooled narrow the interval by about the square root
    of three."""
    rng = random.Random(4)
    ratios = [rng.uniform(0.85, 1.15) for _ in range(200)]
    aa = aa_summary(ratios, random.Random(5), 24)
    one, three = aa['pooled']
    assert 0.06 < aa['half_iqr'] < 0.09
    assert one['half_width'] > three['half_width'] * 1.4
    assert one['outside'] > three['outside'] > 0


def test_the_probe_traces_the_clock():
    starts, durations = trace(0.2)
    assert len(starts) == len(durations) > 10
    assert all(d > 0 for d in durations)
    assert starts == sorted(starts) and starts[-1] < 0.2


def test_cli_clock(monkeypatch, tmp_path, capsys):
    speeds = (1.0 + 0.01 * (i % 7) for i in itertools.count())
    fake = fake_trace(speeds)
    monkeypatch.setattr(clock_mod, 'trace', fake)
    work = ['--workdir', str(tmp_path)]
    out = tmp_path / 'clock'
    assert cli.main(work + ['bench', 'clock', '--seconds', '3',
                            '--rounds', '8', '-o', str(out)]) == 0
    text = (out / 'clock.md').read_text()
    rounds = Plan.make(False).rounds
    assert f'| {rounds} (one run) |' in text
    assert f'| {3 * rounds} (3 runs pooled) |' in text
    assert 'A/A: 8 rounds, each 5 processes' in text
    assert (out / 'clock.json').exists()
    assert '(3 runs pooled)' in capsys.readouterr().out
    for bad in (['--rounds', '3'], ['--seconds', '0'], ['--quick']):
        assert cli.main(work + ['bench', 'clock'] + bad) == EXIT_USAGE, bad
