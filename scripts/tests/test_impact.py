"""Tests of ``impact``: the data file, the per-case comparison, the
explanations, the report; and (slow) a real ``impact --quick``.

The slow test runs on the default base, like ``all_run``; set
``$PEP433_IMPACT_TEST_BASE`` to run it on another one.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import SCRIPT, run_tool
from pep433tool import (cli, impact, impact_compare, impact_data,
                        impact_report, impact_suite, impact_venvs)
from pep433tool.errors import EXIT_PRECONDITION, PreconditionError
from pep433tool.junit import Outcome

DATA = Path(__file__).resolve().parent.parent.parent / 'impact' / \
    'packages.toml'
SHA = 'a' * 64

GOOD = f'''
schema = 1

[pins]
demo = {{ version = "1.0", sha256 = "{SHA}" }}
pytest = {{ version = "9.2.0", sha256 = "{'b' * 64}" }}

[[package]]
name = "demo"
version = "1.0"
quick = true
fd_behaviour = "passes fds"
tests = {{ file = "demo-1.0.tar.gz", sha256 = "{'c' * 64}" }}
deps = ["demo", "pytest"]
command = ["{{python}}", "-m", "pytest"]
paths = ["tests"]

[[package.deselect]]
test = "tests/test_net.py"
reason = "needs the network"

[[package.explain]]
tests = ["tests/test_fd.py::test_leak*"]
modes = ["patched"]
fd = "the pipe of os.pipe()"
created = "demo.spawn()"
inherited_by = "the child"
why = "inheritable by default"
'''


def parse(text=GOOD):
    return impact_data.parse(text, 'test.toml')


def bad(old, new, text=GOOD):
    assert old in text, old
    with pytest.raises(PreconditionError) as info:
        parse(text.replace(old, new, 1))
    assert info.value.exit_code == EXIT_PRECONDITION
    assert 'impact/packages.toml' in str(info.value)   # the hint
    return info.value.message


# --- the data file -----------------------------------------------------------

def test_the_real_data_file_is_valid():
    packages = impact_data.load(DATA)
    names = [p.name for p in packages]
    for name in ('gunicorn', 'sh', 'execnet', 'pytest-xdist', 'trio',
                 'uvicorn', 'gevent', 'compat'):
        assert name in names
    repo = DATA.parent.parent
    for package in packages:
        if package.tests_local:
            local = repo / package.tests_local
            assert local.is_dir()
            for path in package.paths:
                if '{' not in path:
                    assert (local / path).is_file(), path
    assert [p.name for p in impact_data.select(packages, quick=True)] == [
        'sh', 'execnet', 'compat']
    for package in packages:
        assert package.deps and package.paths
        for line in package.requirements().splitlines():
            name, rest = line.split('==', 1)
            assert ' --hash=sha256:' in rest
        for item in package.deselect:
            assert item.reason


def test_a_good_entry():
    (package,) = parse()
    assert package.name == 'demo' and package.quick
    assert package.requirements() == (
        f'demo==1.0 --hash=sha256:{SHA}\n'
        f'pytest==9.2.0 --hash=sha256:{"b" * 64}\n')
    assert package.deselect[0].reason == 'needs the network'
    assert not package.tests_from_wheel
    assert package.timeout == 1800 and package.case_timeout == 300


@pytest.mark.parametrize('old, new, message', [
    ('version = "1.0"\nquick', 'quick', "package 'demo': missing field "
     "'version'"),
    (f'sha256 = "{"c" * 64}"', 'sha256 = "xyz"',
     "'sha256' = 'xyz' is not valid"),
    ('deps = ["demo", "pytest"]', 'deps = ["demo", "pytest", "attrs"]',
     "dependency 'attrs' has no entry in [pins]"),
    ('deps = ["demo", "pytest"]', 'deps = ["pytest"]',
     'its own wheel must be in deps'),
    ('"demo-1.0.tar.gz"', '"demo-2.0.tar.gz"', 'is not of version 1.0'),
    ('"demo-1.0.tar.gz"', '"demo-1.0.exe"', 'must be an sdist'),
    ('paths = ["tests"]', 'paths = ["{srcdir}/tests"]',
     'unknown placeholder {srcdir}'),
    ('command = ["{python}", "-m", "pytest"]', 'command = ["python"]',
     'must start with "{python}"'),
    ('modes = ["patched"]', 'modes = ["patched-x"]',
     'explain #1: unknown mode(s) patched-x'),
    ('reason = "needs the network"', 'why = "network"',
     "deselect #1: unknown field(s) why"),
    ('quick = true', 'quick = true\ncolour = "red"',
     'unknown field(s) colour'),
    ('quick = true', 'quick = true\nenv = { PYTHONPATH = "x" }',
     'must not set PYTHON* variables'),
    ('quick = true', 'quick = true\ntimeout = -5',
     "'timeout' must be a positive integer"),
    ('demo = { version = "1.0"', 'demo = { version = ">=1.0"',
     "pins.demo: 'version' = '>=1.0' is not valid"),
    ('schema = 1', 'schema = 2', 'schema must be 1'),
    ('[[package]]', '[[package', 'not valid TOML'),
])
def test_bad_entries_are_refused_with_the_field(old, new, message):
    assert message in bad(old, new)


LOCAL = GOOD.replace(
    f'tests = {{ file = "demo-1.0.tar.gz", sha256 = "{"c" * 64}" }}',
    'tests = { local = "impact/compat" }')


def test_local_tests_with_and_without_a_version():
    (package,) = parse(LOCAL)
    assert package.tests_local == 'impact/compat'
    assert package.tests_file == '' and not package.tests_from_wheel
    assert package.title == 'demo 1.0'
    # only this repository's files: no version, no wheel of its own
    text = LOCAL.replace('version = "1.0"\nquick', 'quick').replace(
        'name = "demo"', 'name = "cases"')
    (package,) = parse(text)
    assert (package.version, package.title) == ('', 'cases (local)')
    assert [d.name for d in package.deps] == ['demo', 'pytest']


@pytest.mark.parametrize('old, new, message', [
    ('local = "impact/compat"', 'local = "/work/impact/compat"',
     'must be a directory of this repository under impact/'),
    ('local = "impact/compat"', 'local = "impact/../scripts"',
     'without . or ..'),
    ('local = "impact/compat"', 'local = "scripts/tests"',
     'under impact/'),
    ('local = "impact/compat"', 'local = "impact/compat", file = "x.whl"',
     "tests: unknown field(s) file"),
    # no version: then it must not be named after a pin
    ('version = "1.0"\nquick', 'quick', "[pins] has 'demo': give its "
     'version'),
    ('deps = ["demo", "pytest"]', 'deps = ["pytest"]',
     'its own wheel must be in deps'),
])
def test_bad_local_entries(old, new, message):
    assert message in bad(old, new, LOCAL)


def test_local_tests_are_copied_for_each_run(tmp_path):
    local = tmp_path / 'repo' / 'impact' / 'cases'
    (local / '__pycache__').mkdir(parents=True)
    (local / 'test_x.py').write_text('def test_x(): pass\n')
    (local / '__pycache__' / 'test_x.pyc').write_bytes(b'')
    (package,) = parse(LOCAL.replace('impact/compat', 'impact/cases'))
    paths = SimpleNamespace(repo=tmp_path / 'repo')
    source = impact_venvs.ensure_tests_file(paths, package, python=None)
    assert source == local
    src = impact_venvs.unpack(source, tmp_path / 'run' / 'src')
    assert sorted(p.name for p in src.iterdir()) == ['test_x.py']
    (package,) = parse(LOCAL.replace('impact/compat', 'impact/gone'))
    with pytest.raises(PreconditionError) as info:
        impact_venvs.ensure_tests_file(paths, package, python=None)
    assert 'is not a directory' in str(info.value)


def test_a_package_listed_twice():
    text = GOOD + GOOD[GOOD.index('[[package]]'):]
    assert "listed twice" in bad('schema = 1', 'schema = 1', text)


def test_select_unknown_package():
    packages = parse()
    assert impact_data.select(packages, ['demo']) == packages
    with pytest.raises(PreconditionError) as info:
        impact_data.select(packages, ['nope'])
    assert 'unknown package(s): nope (known: demo)' in str(info.value)


def test_cli_unknown_package_exit_3(tmp_path, capsys):
    code = cli.main(['--workdir', str(tmp_path), '--base', '3.13.5',
                     'impact', '--packages', 'nope'])
    assert code == EXIT_PRECONDITION


def test_cli_render_runs_nothing_else(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(impact, 'run_render',
                        lambda paths, outdir, **kw: seen.append((outdir, kw)))
    monkeypatch.setattr(impact, 'run_impact', lambda *a, **kw: 1 / 0)
    work = ['--workdir', str(tmp_path), '--base', '3.13.5']
    assert cli.main(work + ['impact', 'render', 'out']) == 0
    assert cli.main(work + ['impact', '--quick', 'render', 'out']) == 0
    assert cli.main(work + ['impact', 'render', 'out', '--packages',
                            'a,b']) == 0
    assert seen == [('out', {'quick': False, 'packages': None}),
                    ('out', {'quick': True, 'packages': None}),
                    ('out', {'quick': False, 'packages': ['a', 'b']})]
    assert cli.main(work + ['impact', 'render']) == 2


def test_help_gives_the_times():
    text = cli.build_parser()._subparsers._group_actions[0].choices[
        'impact'].format_help()
    assert 'docs/impact.md' in text and '--quick' in text \
        and '--packages' in text


# --- junit and the per-case comparison ---------------------------------------

def junit(cases):
    """A pytest junit XML: cases = [(nodeid, status)] with the plugin's
    properties."""
    body = ''
    for nodeid, status in cases:
        path = '/src/' + nodeid.split('::')[0]
        inner = (f'<properties><property name="pep433_nodeid" '
                 f'value="{nodeid}"/><property name="pep433_path" '
                 f'value="{path}"/>')
        if status == 'fail':
            fds = json.dumps({'when': 'call', 'fds': {
                '7': ['socket:[1]', False], '8': ['pipe:[2]', True]}})
            inner += (f'<property name="pep433_fds" value='
                      f'"{fds.replace(chr(34), "&quot;")}"/>')
        inner += '</properties>'
        if status == 'fail':
            inner += '<failure message="boom">AssertionError: boom</failure>'
        elif status == 'skip':
            inner += '<skipped message="no">no</skipped>'
        body += (f'<testcase classname="x" name="{nodeid.split("::")[-1]}">'
                 f'{inner}</testcase>')
    return (f'<testsuites><testsuite name="pytest">{body}</testsuite>'
            '</testsuites>').encode()


def test_parse_results(tmp_path):
    xml = tmp_path / 'r.xml'
    xml.write_bytes(junit([('tests/a.py::T::test_1', 'pass'),
                           ('tests/b.py::T::test_1', 'fail'),
                           ('tests/b.py::test_p[x-1]', 'skip')]))
    results, rerun_ids, fds = impact_suite.parse_results(xml)
    assert {k: v.status for k, v in results.items()} == {
        'tests/a.py::T::test_1': 'pass', 'tests/b.py::T::test_1': 'fail',
        'tests/b.py::test_p[x-1]': 'skip'}
    assert rerun_ids['tests/b.py::T::test_1'] == '/src/tests/b.py::T::test_1'
    assert fds['tests/b.py::T::test_1']['fds']['7'] == ['socket:[1]', False]
    assert impact_suite.parse_results(tmp_path / 'missing.xml') == ({}, {}, {})


def suite(cases, census=()):
    results = {k: Outcome(s, 'AssertionError: boom' if s == 'fail' else '')
               for k, s in cases.items()}
    return impact_suite.SuiteRun(results, {k: '/src/' + k for k in cases},
                           {}, census=list(census))


PKG = parse()[0]


def test_a_case_the_mode_did_not_run_is_not_fixed_by_it():
    runs = {'baseline': suite({'tests/t.py::test_a': 'fail',
                               'tests/t.py::test_b': 'fail'}),
            'patched': suite({'tests/t.py::test_b': 'pass'})}

    def rerun(mode, ids):
        return suite({'tests/t.py::test_a': 'fail',
                      'tests/t.py::test_b': 'fail'})

    result = impact_compare.compare_package(PKG, runs, rerun)
    assert [(d.kind, d.test) for d in result.differences] == [
        ('fixes', 'tests/t.py::test_b')]


def test_compare_package_breaks_fixes_flaky_and_explanations():
    runs = {
        'baseline': suite({'tests/test_fd.py::test_leak1': 'pass',
                           'tests/t.py::test_flaky': 'pass',
                           'tests/t.py::test_fixed': 'fail',
                           'tests/t.py::test_known': 'fail',
                           'tests/t.py::test_other': 'pass'}),
        'patched': suite({'tests/test_fd.py::test_leak1': 'fail',
                          'tests/t.py::test_flaky': 'fail',
                          'tests/t.py::test_fixed': 'pass',
                          'tests/t.py::test_known': 'fail',
                          'tests/t.py::test_other': 'fail'},
                         census=[{'pid': 5, 'argv': ['python', '-c', 'x'],
                                  'test': 'tests/test_fd.py::test_leak1',
                                  'fds': {'4': 'pipe:[9]'},
                                  'default_cloexec': False}]),
        'patched-e': suite({'tests/test_fd.py::test_leak1': 'pass',
                            'tests/t.py::test_flaky': 'pass',
                            'tests/t.py::test_fixed': 'fail',
                            'tests/t.py::test_known': 'fail',
                            'tests/t.py::test_other': 'pass'}),
    }
    asked = []

    def rerun(mode, ids):
        asked.append((mode, ids))
        if mode == 'patched':
            return suite({'tests/test_fd.py::test_leak1': 'fail',
                          'tests/t.py::test_flaky': 'pass',
                          'tests/t.py::test_other': 'fail'})
        return suite({'tests/t.py::test_fixed': 'fail'})

    result = impact_compare.compare_package(PKG, runs, rerun)
    assert asked == [
        ('patched', ['/src/tests/t.py::test_flaky', '/src/tests/t.py::'
                     'test_other', '/src/tests/test_fd.py::test_leak1']),
        ('baseline', ['/src/tests/t.py::test_fixed'])]
    got = {(d.mode, d.kind, d.test): (d.flaky, d.explanation is not None)
           for d in result.differences}
    assert got == {
        ('patched', 'breaks', 'tests/test_fd.py::test_leak1'): (False, True),
        ('patched', 'breaks', 'tests/t.py::test_other'): (False, False),
        ('patched', 'breaks', 'tests/t.py::test_flaky'): (True, False),
        ('patched', 'fixes', 'tests/t.py::test_fixed'): (False, False),
    }
    leak = [d for d in result.differences if d.test.endswith('leak1')][0]
    assert leak.explanation.fd == 'the pipe of os.pipe()'
    assert any('pid 5' in line and '4 pipe' in line
               for line in leak.evidence)
    missing = impact_compare.unexplained([result])
    assert [d.test for d in missing] == ['tests/t.py::test_other',
                                         'tests/t.py::test_fixed']
    text = impact_compare.summary_text(result)
    assert 'NEW FAILURES in patched (2)' in text
    assert 'patched-e: no new failure' in text
    assert 'passed when run again (flaky' in text


def test_a_whole_run_error_is_kept_without_rerun():
    runs = {'baseline': suite({'tests/a.py::test_1': 'pass'}),
            'patched': suite({'tests/a.py::test_1': 'pass'})}
    runs['patched'].results['(whole run)'] = Outcome('error', 'killed')
    result = impact_compare.compare_package(PKG, runs, lambda mode, ids: 1 / 0)
    (diff,) = result.differences
    assert diff.test == '(whole run)' and not diff.flaky


def test_explanation_matching():
    entry = PKG.explain[0]
    assert entry.matches('patched', 'tests/test_fd.py::test_leak_pipe')
    assert not entry.matches('patched-e', 'tests/test_fd.py::test_leak_x')
    assert not entry.matches('patched', 'tests/test_fd.py::test_other')
    assert PKG.explanation('patched', 'tests/other.py::x') is None


def test_expand_and_progress(tmp_path):
    words = impact_suite.expand(['{python}', '-m', 'pytest', '{site}/trio',
                           '--rootdir', '{src}'], ['py', '-e'], '/s', '/l')
    assert words == ['py', '-e', '-m', 'pytest', '/l/trio', '--rootdir',
                     '/s']
    assert impact_suite.portable('/t/sh-p/src/sh-2/tests/a.py::T::x',
                           Path('/t/sh-p/src/sh-2')) == '{src}/tests/a.py::T::x'
    assert impact_suite.portable('/site/trio/x.py::t', Path('/t/src')) == \
        '/site/trio/x.py::t'
    log = tmp_path / 'log'
    log.write_text('...... [ 10%]\n....F. [ 42%]\n')
    assert impact_suite._progress(log) == '42% of the tests'


def test_load_package_from_saved_files(tmp_path):
    pkgdir = tmp_path / 'demo'
    pkgdir.mkdir()
    cases = {'baseline': 'pass', 'patched': 'fail', 'patched-e': 'pass'}
    for mode, status in cases.items():
        (pkgdir / f'{mode}.xml').write_bytes(
            junit([('tests/test_fd.py::test_leak1', status)]))
        (pkgdir / f'{mode}.json').write_text(json.dumps(
            {'returncode': 0, 'seconds': 12.0, 'whole_run_error': None}))
    (pkgdir / 'patched-rerun.xml').write_bytes(
        junit([('tests/test_fd.py::test_leak1', 'fail')]))
    (pkgdir / 'patched-census.jsonl').write_text(json.dumps(
        {'pid': 9, 'test': 'tests/test_fd.py::test_leak1', 'argv': ['py'],
         'fds': {'5': 'socket:[3]'}, 'default_cloexec': False}) + '\n')
    # an older run without the .json: the time comes from pytest's line
    (pkgdir / 'patched-e.json').unlink()
    (pkgdir / 'patched-e.log').write_text('1 passed in 3.50s\n')
    result = impact.load_package(PKG, tmp_path)
    assert result.runs['patched-e'].seconds == 3.5
    (diff,) = result.differences
    assert diff.test == 'tests/test_fd.py::test_leak1' and not diff.flaky
    assert diff.explanation is PKG.explain[0]
    assert any('5 socket' in line for line in diff.evidence)
    assert any('1 inheritable: 7 socket' in line for line in diff.evidence)
    assert impact.load_package(PKG, tmp_path / 'none') is None


# --- the report --------------------------------------------------------------

FDPASS = {mode: {'default_cloexec': value, 'results': {
    'openssl': {'close_fds=False': [works, 'exit 0' if works else
                                    'exit 1: Error reading password'],
                'pass_fds': [True, 'exit 0']}}}
    for mode, value, works in (('baseline', None, False),
                               ('patched', False, True),
                               ('patched-e', True, False))}


def test_report_rendering():
    runs = {'baseline': suite({'tests/test_fd.py::test_leak1': 'pass',
                               'tests/t.py::test_x': 'skip'}),
            'patched': suite({'tests/test_fd.py::test_leak1': 'fail',
                              'tests/t.py::test_x': 'skip'},
                             census=[{'pid': 1, 'default_cloexec': False,
                                      'fds': {}}]),
            'patched-e': suite({'tests/test_fd.py::test_leak1': 'pass',
                                'tests/t.py::test_x': 'skip'},
                               census=[{'pid': 2, 'default_cloexec': True,
                                        'fds': {}},
                                       {'pid': 3, 'default_cloexec': False,
                                        'argv': ['python', 'x.py'],
                                        'fds': {'3': 'pipe:[1]'}}])}
    result = impact_compare.compare_package(
        PKG, runs, lambda mode, ids: suite(
            {'tests/test_fd.py::test_leak1': 'fail'}))
    text = impact_report.render([result], FDPASS, base='3.13.5',
                                seconds=120, command='scripts/pep433 impact')
    assert text.startswith('# PEP 433 impact on real packages (base 3.13.5)')
    assert '| demo 1.0 | baseline | 1 | 0 | 1 | - | - | - |' in text
    assert '| demo 1.0 | patched | 0 | 1 | 1 | 1 | 0 | 0 |' in text
    assert '| demo 1.0 | patched-e | 1 | 0 | 1 | 0 | 0 | 0 |' in text
    assert '#### demo: `tests/test_fd.py::test_leak1`' in text
    assert 'fails in **patched** only (baseline: pass)' in text
    assert '- **fd**: the pipe of os.pipe()' in text
    assert '- **inherited by**: the child' in text
    assert '| demo | patched-e | 2 | 1 | 1 | 0 | 1 | pipe 1 |' in text
    assert '1 processes in patched-e ran with the inheritable default' in text
    assert '`tests/test_net.py`: needs the network' in text
    assert ('| `openssl enc -pass fd:N` (reads the read end) | '
            '`subprocess.Popen(close_fds=False)` | fails [1] | works | '
            'fails [1] |') in text
    assert '[1] Error reading password' in text
    console = impact_report.console_summary([result], FDPASS)
    assert 'patched breaks: tests/test_fd.py::test_leak1 [explained]' in \
        console


def test_report_of_local_tests():
    text = LOCAL.replace('version = "1.0"\nquick', 'quick').replace(
        'name = "demo"', 'name = "cases"')
    (package,) = parse(text)
    runs = {mode: suite({'test_x.py::test_x': 'pass'}) for mode in
            ('baseline', 'patched', 'patched-e')}
    result = impact_compare.compare_package(package, runs, lambda mode, ids: 1 / 0)
    report = impact_report.render([result])
    assert '| cases (local) | patched | 1 | 0 | 0 | 0 | 0 | 0 |' in report
    assert '| cases (local) | impact/compat/ (this repository) | - |' in \
        report
    assert 'cases (local):' in impact_report.console_summary([result])


def test_report_not_explained():
    runs = {'baseline': suite({'tests/t.py::test_y': 'pass'}),
            'patched': suite({'tests/t.py::test_y': 'fail'})}
    result = impact_compare.compare_package(
        PKG, runs, lambda mode, ids: suite({'tests/t.py::test_y': 'fail'}))
    text = impact_report.render([result])
    assert '- **not explained**' in text


# --- the probes --------------------------------------------------------------

def test_census_records_inherited_fds(tmp_path):
    probes = Path(impact_venvs.PROBES)
    log = tmp_path / 'census.jsonl'
    child = ('import os, subprocess, sys; r, w = os.pipe(); '
             'os.set_inheritable(w, True); '
             'subprocess.run([sys.executable, "-c", "import _pep433_impact"],'
             ' close_fds=False)')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('PYTHON')}
    env.update(PYTHONPATH=str(probes), PEP433_IMPACT_LOG=str(log),
               PEP433_IMPACT_TEST='tests/x.py::test_y')
    subprocess.run([sys.executable, '-c', child], env=env, check=True,
                   close_fds=True)
    records = impact_suite.read_census(log)
    assert len(records) == 1
    (record,) = records
    assert record['test'] == 'tests/x.py::test_y'
    assert record['default_cloexec'] is None    # not a PEP 433 python
    assert 'pipe:' in ' '.join(record['fds'].values())


# --- impact/compat/gevent_suite.py: unittest files, a process each ----------

DEMO_CASES = '''
import os, subprocess, sys, unittest

class Cases(unittest.TestCase):
    def test_pass(self):
        open(os.environ['DEMO_MARKS'] + '/pass', 'w').close()
    def test_fail(self):
        self.assertEqual(1, 2)
    def test_error(self):
        raise KeyError('boom')
    @unittest.skip('not here')
    def test_skip(self):
        pass
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 1)
    @unittest.expectedFailure
    def test_xfail(self):
        self.fail('known')
    def test_leaves_a_child(self):
        child = subprocess.Popen(
            [sys.executable, '-c', 'import time; time.sleep(60)'],
            start_new_session=True)
        open(f"{os.environ['DEMO_MARKS']}/child-{child.pid}", 'w').close()

class BrokenSetup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError('no fixture')
    def test_never(self):
        pass

if __name__ == '__main__':
    unittest.main()
'''


def run_suite_plugin(tmp_path, *args):
    """pytest -p gevent_suite on the demo package; {item name: status}."""
    plugin = DATA.parent / 'compat' / 'gevent_suite.py'
    shutil.copy(plugin, tmp_path / 'gevent_suite.py')
    package = tmp_path / 'demo_tests'
    package.mkdir(exist_ok=True)
    (package / '__init__.py').write_text('')
    (package / 'test_cases.py').write_text(DEMO_CASES)
    (package / 'test_script_ok.py').write_text('print("fine")\n')
    (package / 'test_script_bad.py').write_text('raise SystemExit(3)\n')
    marks = tmp_path / 'marks'
    shutil.rmtree(marks, ignore_errors=True)
    marks.mkdir()
    xml = tmp_path / 'out.xml'
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('PYTHON')}
    env.update(PYTHONPATH=str(tmp_path), DEMO_MARKS=str(marks),
               PYTHONDONTWRITEBYTECODE='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'gevent_suite',
         '-p', 'no:cacheprovider', '--rootdir', str(tmp_path),
         '--gevent-tests-package', 'demo_tests', '--junitxml', str(xml),
         *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stdout
    results, _, _ = impact_suite.parse_results(xml)
    return results, sorted(p.name for p in marks.iterdir())


def test_gevent_suite_runs_each_file_in_a_process_of_its_own(tmp_path):
    results, marks = run_suite_plugin(tmp_path, 'demo_tests')
    cases = 'demo_tests.test_cases::'       # junit's classname::name
    assert {k: v.status for k, v in results.items()} == {
        cases + 'Cases.test_pass': 'pass', cases + 'Cases.test_fail': 'fail',
        cases + 'Cases.test_error': 'fail', cases + 'Cases.test_skip': 'skip',
        cases + 'Cases.test_subtests': 'fail',
        cases + 'Cases.test_xfail': 'skip',
        cases + 'Cases.test_leaves_a_child': 'pass',
        cases + 'BrokenSetup.test_never': 'fail',
        # scripts: their exit status
        'demo_tests.test_script_ok::script': 'pass',
        'demo_tests.test_script_bad::script': 'fail',
    }
    child = [m for m in marks if m.startswith('child-')]
    assert sorted(set(marks) - set(child)) == ['pass'] and len(child) == 1
    # the child in a session of its own was killed after the run
    pid = int(child[0].split('-')[1])
    try:
        state = Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()
    except FileNotFoundError:
        state = ['gone']
    assert state[0] in ('gone', 'Z', 'X'), state
    detail = {k[len(cases):]: v.detail for k, v in results.items()}
    assert 'AssertionError: 1 != 2' in detail['Cases.test_fail']
    assert "KeyError: 'boom'" in detail['Cases.test_error']
    assert '(i=1)' in detail['Cases.test_subtests']
    assert 'no fixture' in detail['BrokenSetup.test_never']
    assert 'status 3' in results[
        'demo_tests.test_script_bad::script'].detail


def test_gevent_suite_runs_only_the_selected_cases(tmp_path):
    # a rerun of one case runs that case only; a deselected one not at all
    results, marks = run_suite_plugin(
        tmp_path, 'demo_tests/test_cases.py::Cases.test_fail',
        'demo_tests/test_cases.py::Cases.test_error',
        '--deselect', 'demo_tests/test_cases.py::Cases.test_error')
    assert list(results) == ['demo_tests.test_cases::Cases.test_fail']
    assert marks == []


# --- slow: a real run --------------------------------------------------------

@pytest.mark.slow
def test_impact_quick_on_the_work_dir(all_run, tmp_path):
    base = os.environ.get('PEP433_IMPACT_TEST_BASE')
    args = ['--base', base] if base else []
    out = tmp_path / 'impact'
    proc = run_tool(sys.executable, SCRIPT, *args, 'impact', '--quick',
                    '--output', out, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT)
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, 'impact --quick failed (output above)'
    report = (out / 'report.md').read_text()
    for name in ('sh', 'execnet', 'compat'):
        for mode in ('baseline', 'patched', 'patched-e'):
            assert (out / name / f'{mode}.xml').exists()
            assert f'| {name} ' in report
    assert '## Programs taking file descriptors from the parent' in report
    table = json.loads((out / 'fdpass.json').read_text())
    # the PEP's point: close_fds=False passes the fd only with the PEP 433
    # default; pass_fds works in every mode
    for program in ('openssl', 'valgrind'):
        got = {mode: table[mode]['results'][program] for mode in table}
        assert got['patched']['close_fds=False'][0] is True
        assert got['baseline']['close_fds=False'][0] is False
        assert got['patched-e']['close_fds=False'][0] is False
        assert all(got[mode]['pass_fds'][0] for mode in got)
