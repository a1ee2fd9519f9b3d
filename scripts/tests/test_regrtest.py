"""Comparison of regrtest results (junit XML + output) and the test CLI."""

import json
import stat
import textwrap

import pytest

from pep433tool import junit
from pep433tool.util import Paths

from conftest import Project, commit_all, make_base, write


def xml(cases):
    """A regrtest-like junit XML document from (id, kind, text) tuples."""
    parts = ['<testsuites tests="0" errors="0" failures="0"><testsuite>']
    for test_id, kind, text in cases:
        if kind == 'pass':
            parts.append(f'<testcase name="{test_id}" status="run" '
                         'result="completed" />')
        elif kind == 'unnamed':
            parts.append('<testcase />')
        else:
            tag = {'fail': 'failure', 'error': 'error',
                   'skip': 'skipped'}[kind]
            parts.append(f'<testcase name="{test_id}" status="run" '
                         f'result="completed"><{tag} type="X" message="m">'
                         f'{text}</{tag}></testcase>')
    parts.append('</testsuite></testsuites>')
    return ''.join(parts)


def results(tmp_path, name, cases, output='', returncode=0):
    path = tmp_path / f'{name}.xml'
    path.write_text(xml(cases))
    return junit.mode_results(path, output, returncode)


def test_parse_junit_statuses(tmp_path):
    res = results(tmp_path, 'b', [
        ('test.test_os.A.test_pass', 'pass', ''),
        ('test.test_os.A.test_fail', 'fail', 'Traceback\nAssertionError'),
        ('test.test_os.A.test_error', 'error', 'Traceback\nOSError'),
        ('test.test_os.A.test_skip', 'skip', 'no vsock'),
        (None, 'unnamed', '')])
    assert {k: v.status for k, v in res.items()} == {
        'test_os.A.test_pass': 'pass', 'test_os.A.test_fail': 'fail',
        'test_os.A.test_error': 'error', 'test_os.A.test_skip': 'skip',
        'test_os (unnamed failing test #1)': 'fail'}
    assert 'test_os.A.test_skip' in res[
        'test_os (unnamed failing test #1)'].detail
    assert 'AssertionError' in res['test_os.A.test_fail'].detail


def test_compare_new_known_absent_and_skip(tmp_path):
    base = results(tmp_path, 'base', [
        ('test.test_os.A.test_ok', 'pass', ''),
        ('test.test_os.A.test_broken_here', 'error', 'no vsock'),
        ('test.test_os.A.test_skipped', 'skip', 'resource')])
    patched = results(tmp_path, 'patched', [
        ('test.test_os.A.test_ok', 'fail', 'Traceback\nboom'),
        ('test.test_os.A.test_broken_here', 'error', 'no vsock'),
        ('test.test_os.A.test_skipped', 'fail', 'now runs and fails'),
        ('test.test_cloexec.B.test_new', 'fail', 'new test fails')])
    comp = junit.compare('patched', base, patched)
    new = {key: base_status for key, _, base_status in comp.new}
    assert new == {'test_os.A.test_ok': 'pass',
                   'test_os.A.test_skipped': 'skip',
                   'test_cloexec.B.test_new': 'absent'}
    assert [key for key, _ in comp.known] == ['test_os.A.test_broken_here']
    report = junit.format_report(base, [comp])
    assert 'NEW FAILURES in patched (3)' in report
    assert 'known on this machine, not counted' in report
    assert 'boom' in report


OUTPUT = textwrap.dedent("""\
    0:00:01 load avg: 0.10 [1/4] test_os passed
    0:00:02 load avg: 0.10 [2/4/1] test_socket failed (1 failure)
    FAIL: test_sub (test.test_socket.S.test_sub) (i=3)
    ----------------------------------------------------------------------
    Traceback (most recent call last):
    AssertionError: 1 != 2
    0:00:03 load avg: 0.10 [3/4/2] test_pty crashed (Exit code -9 (SIGKILL))
    0:00:04 load avg: 0.10 [4/4/3] test_io failed (env changed)

    1 test altered the execution environment (env changed):
        test_io

    2 tests failed:
        test_pty test_socket
    """)


def test_crash_env_changed_and_subtests_from_output(tmp_path):
    res = results(tmp_path, 'p', [('test.test_os.A.test_ok', 'pass', ''),
                                  (None, 'unnamed', '')],
                  OUTPUT, returncode=2)
    failing = {k: v.status for k, v in res.items() if v.failed}
    assert failing == {'test_socket.S.test_sub': 'fail',
                       'test_os (unnamed failing test #1)': 'fail',
                       'test_pty (whole module)': 'error',
                       'test_io (env changed)': 'error'}
    assert 'SIGKILL' in res['test_pty (whole module)'].detail


def test_nonzero_exit_without_any_failure_is_not_missed(tmp_path):
    res = results(tmp_path, 'p', [('test.test_os.A.test_ok', 'pass', '')],
                  'Fatal Python error: Segmentation fault\n', returncode=2)
    assert res['regrtest (exit status)'].failed
    ok = results(tmp_path, 'q', [('test.test_os.A.test_ok', 'pass', '')],
                 '', returncode=0)
    assert not any(v.failed for v in ok.values())


FAKE_PYTHON = '''#!/usr/bin/env python3
import shutil, sys
args = sys.argv[1:]
if args and args[0] == '-e':
    args = args[1:]
if args[:1] == ['-c']:
    sys.exit({e_rc})
xml = args[args.index('--junit-xml') + 1]
shutil.copyfile({source!r}, xml)
print('args:', *args)
print('0:00:01 load avg: 0.1 [1/1] test_a passed')
sys.exit(0)
'''


def fake_build(proj, name, cases, e_rc=0):
    build = proj.workdir / name
    build.mkdir(parents=True, exist_ok=True)
    source = build / 'canned.xml'
    source.write_text(xml(cases))
    python = build / 'python'
    python.write_text(FAKE_PYTHON.format(source=str(source), e_rc=e_rc))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_builds(tmp_path):
    proj = Project(tmp_path / 'p')
    make_base(proj.workdir / 'cpython')
    for src in ('baseline-src', 'cpython'):
        write(proj.workdir / src, 'Lib/test/test_a.py', '')
    fake_build(proj, 'baseline', [('test.test_a.T.test_1', 'pass', ''),
                                  ('test.test_a.T.test_2', 'error', 'x')])
    return proj


def test_cli_exit_0_when_only_known_failures(fake_builds, capsys):
    proj = fake_builds
    fake_build(proj, 'patched', [('test.test_a.T.test_1', 'pass', ''),
                                 ('test.test_a.T.test_2', 'error', 'x')])
    assert proj.run('test', '--tests', 'test_a,test_missing') == 0
    out = capsys.readouterr().out
    assert 'patched-e: no new failure' in out
    assert (proj.workdir / 'results' / 'patched-e.json').exists()


def test_cli_exit_1_on_new_failure(fake_builds, capsys):
    proj = fake_builds
    fake_build(proj, 'patched', [('test.test_a.T.test_1', 'fail', 'boom'),
                                 ('test.test_a.T.test_2', 'error', 'x')])
    assert proj.run('test', '--tests', 'test_a') == 1
    assert 'test_a.T.test_1' in capsys.readouterr().out
    # comparing one mode again against the saved baseline
    assert proj.run('test', '--tests', 'test_a', '--mode', 'patched') == 1


def test_cli_patched_e_without_option_support(fake_builds, capsys):
    proj = fake_builds
    fake_build(proj, 'patched', [('test.test_a.T.test_1', 'pass', '')],
               e_rc=2)
    assert proj.run('test', '--tests', 'test_a') == 1
    assert 'does not support -e' in capsys.readouterr().out


def test_cli_test_is_refused_while_its_build_is_rebuilt(fake_builds,
                                                       caplog):
    from pep433tool.util import build_in_use
    proj = fake_builds
    fake_build(proj, 'patched', [('test.test_a.T.test_1', 'pass', '')])
    with build_in_use(proj.workdir / 'patched', 'build of patched',
                      exclusive=True):
        assert proj.run('test', '--tests', 'test_a', '--mode',
                        'patched') == 3
    assert 'being built (build of patched, pid' in caplog.text
    assert '-m test' not in caplog.text         # refused before it ran
    assert proj.run('test', '--tests', 'test_a') == 0


def test_cli_missing_build_and_usage(fake_builds):
    proj = fake_builds
    assert proj.run('test', '--tests', 'test_a', '--mode', 'patched') == 3
    assert proj.run('test', '--mode', 'nonsense') == 2
    assert proj.run('no-such-command') == 2


def test_rerun_name():
    from pep433tool.junit import rerun_name
    assert rerun_name('test_os.FDInheritanceTests.test_open') == 'test_os'
    assert rerun_name('test_asyncio.test_events.EventTests.test_x') == (
        'test_asyncio.test_events')
    assert rerun_name('test_socket (whole module)') == 'test_socket'
    assert rerun_name('test_x (unnamed failing test #1)') == 'test_x'


def test_confirm_keeps_what_fails_again_and_drops_flaky():
    from pep433tool.junit import Comparison, Outcome, confirm
    fail = Outcome('fail', 'boom')
    comp = Comparison('patched', {}, new=[
        ('test_a.T.test_flaky', fail, 'pass'),
        ('test_a.T.test_real', fail, 'pass'),
        ('test_b (whole module)', Outcome('error', 'crashed'), 'absent'),
        ('test_c (whole module)', Outcome('error', 'crashed'), 'absent'),
    ], known=[])
    rerun = {'test_a.T.test_flaky': Outcome('pass'),
             'test_a.T.test_real': fail,
             'test_b.T.test_1': Outcome('error', 'crashed again'),
             'test_c.T.test_1': Outcome('pass')}
    confirm(comp, rerun)
    assert [key for key, _, _ in comp.new] == ['test_a.T.test_real',
                                               'test_b (whole module)']
    assert [key for key, _ in comp.flaky] == ['test_a.T.test_flaky',
                                              'test_c (whole module)']


def test_touched_tests(tmp_path):
    from pep433tool.regrtest import touched_tests
    repo = make_base(tmp_path / 'cpython')
    write(repo, 'Lib/test/test_os.py', 'import unittest  # changed\n')
    write(repo, 'Lib/test/test_new.py', '')
    write(repo, 'Lib/test/test_asyncio/test_events.py', '')
    write(repo, 'Lib/test/support/helper.py', '')
    write(repo, 'Lib/os.py', 'changed\n')
    commit_all(repo, 'touch tests')
    assert touched_tests(repo, 'v3.13.5') == [
        'test_asyncio.test_events', 'test_new', 'test_os']


def test_existing_tests_knows_package_members(tmp_path):
    from pep433tool.regrtest import existing_tests
    write(tmp_path, 'Lib/test/test_os.py', '')
    write(tmp_path, 'Lib/test/test_asyncio/__init__.py', '')
    write(tmp_path, 'Lib/test/test_asyncio/test_events.py', '')
    assert existing_tests(tmp_path, ['test_os', 'test_asyncio',
                                     'test_asyncio.test_events',
                                     'test_asyncio.test_nothing',
                                     'test_gone']) == [
        'test_os', 'test_asyncio', 'test_asyncio.test_events']


@pytest.mark.parametrize('mode, build, e, src, hint', [
    ('baseline', 'baseline', False, 'baseline-src', 'build'),
    ('patched-e', 'patched', True, 'cpython', 'build'),
    ('baseline-debug', 'baseline-debug', False, 'baseline-src',
     'build --debug'),
    ('patched-ft', 'patched-ft', False, 'cpython', 'build --free-threading'),
    ('patched-ft-e', 'patched-ft', True, 'cpython', 'build --free-threading'),
    ('baseline-ft', 'baseline-ft', False, 'baseline-src',
     'build --free-threading'),
])
def test_modes_name_their_build(tmp_path, mode, build, e, src, hint):
    from pep433tool.regrtest import build_hint, interpreter
    paths = Paths(workdir=tmp_path, repo=tmp_path, base='3.13.5')
    python, tree = interpreter(paths, mode)
    assert python == [str(paths.workdir / build / 'python')] + (
        ['-e'] if e else [])
    assert tree == paths.workdir / src
    assert build_hint(mode) == f'scripts/pep433 {hint}'


def test_cli_all_runs_every_module_apart_from_the_subset(fake_builds,
                                                         capsys):
    proj = fake_builds
    fake_build(proj, 'patched', [('test.test_a.T.test_1', 'fail', 'boom'),
                                 ('test.test_a.T.test_2', 'error', 'x')])
    assert proj.run('test', '--all') == 1
    results = proj.workdir / 'results'
    # regrtest got no module name (its own list: every module) and the
    # resources of config.ALL_TESTS_ARGS after the usual -u network
    saved = json.loads((results / 'patched-all.json').read_text())
    assert saved['tests'] == []
    args = (results / 'patched-all.log').read_text().split()
    uses = [args[i + 1] for i, arg in enumerate(args) if arg == '-u']
    assert uses == ['network', 'all,-network,-urlfetch,-gui']
    assert 'test_a.T.test_1' in capsys.readouterr().out
    assert (results / 'summary-all.txt').exists()
    assert not (results / 'summary.txt').exists()
    assert not (results / 'baseline.json').exists()
    assert 'all,-network,-urlfetch,-gui' in (results / 'summary-all.txt'
                                             ).read_text()
    # one mode again, compared with the saved --all baseline only
    (results / 'baseline-all.json').rename(results / 'baseline.json')
    assert proj.run('test', '--all', '--mode', 'patched') == 3
    assert proj.run('test', '--all', '--tests', 'test_a') == 2
