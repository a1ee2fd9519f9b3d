"""bench mp-pool: the prefixes it builds, the ratios it reports."""

import pytest

from conftest import make_series_commits, fake_checkout
from pep433tool import bench, cli, config, gitutil
from pep433tool.bench import mppool
from pep433tool.errors import PreconditionError, UsageError


def test_ratios_are_taken_round_by_round():
    # The machine drifts by 2x between rounds; patched is 1.2x the
    # baseline within each round, the prefix 1.0x: the ratios must say
    # exactly that, whatever the drift.
    samples = {}
    for r, scale in ((1, 1.0), (2, 2.0), (3, 1.5)):
        samples.setdefault(('loop', 'baseline'), {})[r] = [
            0.010 * scale, 0.011 * scale, 0.012 * scale]
        samples.setdefault(('loop', 'prefix-0006'), {})[r] = [
            0.010 * scale, 0.011 * scale, 0.012 * scale]
        samples.setdefault(('loop', 'patched'), {})[r] = [
            0.012 * scale, 0.0132 * scale, 0.0144 * scale]
    table = mppool.summarise(samples, ['baseline', 'prefix-0006', 'patched'])
    assert set(table) == {'loop'}
    patched = table['loop']['patched']
    assert patched['ratio'] == pytest.approx(1.2)
    assert patched['min'] == pytest.approx(1.2)
    assert patched['max'] == pytest.approx(1.2)
    assert table['loop']['prefix-0006']['ratio'] == pytest.approx(1.0)
    # times: the median over the rounds of each round's median
    assert patched['time'] == pytest.approx(0.0132 * 1.5)
    assert patched['time_min'] == pytest.approx(0.0132)
    assert patched['time_max'] == pytest.approx(0.0264)


def test_report_names_each_interpreter_and_its_ratio():
    samples = {('pyperformance', 'baseline'): {1: [0.010], 2: [0.012]},
               ('pyperformance', 'patched'): {1: [0.0118], 2: [0.0144]}}
    results = {'version': '3.13.99', 'variant': 'optimized', 'rounds': 2,
               'loops': 3, 'date': 'today', 'load_start': '0.10',
               'load_end': '0.20', 'duration': 5.0,
               'interpreters': [['baseline', 'stock'],
                                ['patched', 'the whole series']],
               'table': mppool.summarise(samples, ['baseline', 'patched'])}
    text = mppool.render(results)
    assert 'optimized builds' in text
    assert '## Inside pyperformance' in text and '## Plain loop' not in text
    assert '| patched | the whole series | 13.10 (11.80-14.40) | 1.190 |' \
        in text


def test_prefixes_are_the_series_first_commits_in_detached_worktrees(
        tmp_path):
    paths, repo = fake_checkout(tmp_path, {'Lib/os.py': 'line 5\n',
                                           'Modules/posixmodule.c':
                                           '/* 20 */\n'})
    make_series_commits(repo)
    series = gitutil.commits(repo, f'v3.13.5..{config.BRANCH}')
    assert mppool.prefix_commits(repo, 'v3.13.5', [1]) == {1: series[0]}
    # the whole series is the patched build, not a prefix
    with pytest.raises(UsageError):
        mppool.prefix_commits(repo, 'v3.13.5', [2])
    src = tmp_path / 'prefix-src' / '0001'
    mppool.ensure_prefix_tree(repo, src, series[0])
    assert gitutil.rev_parse(src, 'HEAD') == series[0]
    assert (src / 'Lib/os.py').read_text() == 'line five\n'
    # moved to another commit; the user's branch is left where it was
    mppool.ensure_prefix_tree(repo, src, series[1])
    assert gitutil.rev_parse(src, 'HEAD') == series[1]
    assert gitutil.current_branch(repo) == config.BRANCH
    assert gitutil.rev_parse(repo, config.BRANCH) == series[1]
    # a worktree with changes is not moved
    (src / 'Lib/os.py').write_text('edited\n')
    with pytest.raises(PreconditionError):
        mppool.ensure_prefix_tree(repo, src, series[0])
    assert (src / 'Lib/os.py').read_text() == 'edited\n'


def test_cli(monkeypatch, tmp_path):
    seen = {}

    def fake(paths, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(bench.mppool, 'run_mp_pool', fake)
    work = ['--workdir', str(tmp_path)]
    assert cli.main([*work, 'bench', 'mp-pool', '--at', '6, 7',
                     '--rounds', '3', '--no-pyperformance',
                     '--optimized']) == 0
    assert seen == {'at': [6, 7], 'rounds': 3, 'loops': 20, 'output': None,
                    'variant': 'optimized', 'pyperformance': False,
                    'seed': None, 'instructions': False}
    assert cli.main([*work, 'bench', 'mp-pool']) == 0
    assert seen['at'] == list(mppool.DEFAULT_AT)
    assert seen['variant'] is None and seen['pyperformance'] is True
    assert cli.main([*work, 'bench', 'mp-pool', '--at', 'x']) == 2
    assert cli.main([*work, 'bench', 'mp-pool', '--rounds', '0']) == 2
    assert cli.main([*work, 'bench', 'mp-pool', '--rounds', '0',
                     '--instructions']) == 0
    assert seen['rounds'] == 0 and seen['instructions'] is True
    assert cli.main([*work, 'bench', '--suite', 'all', 'mp-pool']) == 2


def test_callgrind_counts_the_started_process_apart_from_its_forks():
    stderr = """==100== Callgrind, a call-graph generating cache profiler
==100== Command: python mp_pool_loop.py 2
==100==
==101== Collected : 5000
==102== Collected : 7000
==100== Events    : Ir
==100== Collected : 90000
==100== I   refs:      90,000
"""
    assert mppool.collected_by_process(stderr) == (90000, 12000)
    with pytest.raises(PreconditionError):
        mppool.collected_by_process('==7== Command: python\n'
                                    '==8== Collected : 1\n')
