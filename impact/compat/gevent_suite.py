"""gevent's own tests, run the way gevent runs them, as pytest items.

A pytest plugin (``-p gevent_suite``, importable from the current
directory) and the driver it starts (this file run as a script).  Used by
the ``gevent`` entry of ``impact/packages.toml``::

    python -m pytest -p gevent_suite --rootdir SITE \\
        SITE/gevent/tests/test__socket.py ... \\
        SITE/gevent/tests/test___monkey_patching.py \\
        --gevent-stdlib test_socketserver:network,test_ftplib

Why not plain pytest: a gevent test file calls ``gevent.monkey.patch_all()``
when it is imported, which replaces the socket, ssl, subprocess, select and
threading classes of the whole process, so two files cannot share one.
gevent's own runner (``python -m gevent.tests``) starts one
``python -u -m gevent.tests.<file>`` per file; so does this plugin, and
reports every unittest case of the file as a pytest item (junit XML per
case, as ``impact`` compares them):

- collection lists a file's cases in a subprocess (the import patches only
  that process); a file that never calls ``unittest.main()`` (gevent has a
  few scripts that are tests by their exit status; found the way gevent's
  runner finds them) is one item, ``script``;
- the first case of a file to run runs every selected case of that file in
  one subprocess (``python THIS run ...``), which records each outcome in a
  JSON-lines file; the other cases report theirs from it.  The process
  ends right after its last case (``os._exit``): what a test leaves behind
  is not waited for, but killed, with whatever it started in a session of
  its own (found by an environment variable of the run);
- ``test___monkey_patching.py`` is gevent's runner of CPython's own tests
  under ``patch_all()`` (``gevent.testing.monkey_test``, which also
  disables the stdlib tests gevent knows it cannot pass).  It looks for
  them in a gevent source checkout, which a wheel does not have; here the
  modules named by ``--gevent-stdlib`` come from the running
  interpreter's ``Lib/test`` and each runs in a process of its own, as a
  child of that file (``MODULE:RESOURCE`` also enables a test.support
  resource for that module only, e.g. ``network``, which
  test_socketserver requires although it only uses the loopback).

The environment of a run is gevent's runner's: ``PYTHONFAULTHANDLER``,
``PYTHONDEVMODE``, ``GEVENT_DEBUG=error`` and ``-W ignore`` for the stdlib
tests, the current directory a new empty one (the stdlib tests write
``@test_*`` files there), ``TMPDIR`` one of its own; the caller's
environment otherwise (``GEVENTTEST_USE_RESOURCES``, the mode's
``PYTHONCLOEXEC``).  ``$PEP433_IMPACT_TEST`` is the file's node id, so that
``impact``'s census attributes the processes to the file.
"""

# Only these before the test file runs: a gevent test may check what was
# imported before it patched (the plugin's imports are further down).
import json
import os
import sys

FILE_TIMEOUT = 300      # seconds for one file's run (gevent's runner: 100)
LIST_TIMEOUT = 120
TEST_VAR = 'PEP433_IMPACT_TEST'
LEFTOVER_VAR = 'GEVENT_SUITE_RUN'
#: How gevent's runner tells a unittest file from a script
#: (gevent.testing.testrunner: __calls_unittest_main_toplevel).
MAIN_CALLS = (rb'    greentest.main\(\)', rb'    unittest.main\(\)',
              rb'    main\(\)')
#: The file of gevent's that runs the stdlib's tests.
MONKEY_PATCHING = 'test___monkey_patching.py'


# --- the driver (a subprocess per file) --------------------------------------

def short_id(test_id):
    """A unittest id without the leading ``__main__.``."""
    return test_id[len('__main__.'):] if test_id.startswith('__main__.') \
        else test_id


def iter_cases(suite):
    import unittest
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from iter_cases(test)
        else:
            yield test


def make_recorder(out):
    """A unittest result writing one JSON line per case to *out*."""
    import unittest

    class Recorder(unittest.TestResult):
        def startTest(self, test):
            super().startTest(test)
            self.case = {'status': 'pass', 'detail': ''}

        def _set(self, status, text):
            if self.case['status'] in ('pass', 'xfail'):
                self.case['status'] = status
            self.case['detail'] += text

        def _fixture(self, test, status, text):
            write(out, {'fixture': str(test), 'status': status,
                        'detail': text})

        def addError(self, test, err):
            super().addError(test, err)
            text = self._exc_info_to_string(err, test)
            if isinstance(test, unittest.TestCase):
                self._set('error', text)
            else:       # setUpClass, setUpModule ...: _ErrorHolder
                self._fixture(test, 'error', text)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._set('fail', self._exc_info_to_string(err, test))

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                status = 'fail' if issubclass(
                    err[0], test.failureException) else 'error'
                self._set(status, f'{subtest}:\n'
                          + self._exc_info_to_string(err, test))

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            if isinstance(test, unittest.TestCase):
                self.case = {'status': 'skip', 'detail': reason}
            else:
                self._fixture(test, 'skip', reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self.case = {'status': 'xfail', 'detail': 'expected failure'}

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._set('fail', 'unexpected success (expectedFailure)\n')

        def stopTest(self, test):
            super().stopTest(test)
            write(out, {'id': short_id(test.id()), **self.case})

    return Recorder()


def write(out, record):
    out.write(json.dumps(record) + '\n')
    out.flush()


def drive(mode, target, out_path, wanted):
    """Run (or list) the unittest cases of *target*: ``module:NAME`` (run
    as ``python -m NAME``) or ``monkey:PATH`` (a stdlib test file, run by
    ``python -m gevent.testing.monkey_test PATH``)."""
    import runpy
    import unittest
    kind, _, name = target.partition(':')
    out = open(out_path, 'a')

    def run_tests(program):
        """Replaces unittest.TestProgram.runTests."""
        cases = list(iter_cases(program.test))
        if mode == 'list':
            for case in cases:
                write(out, {'id': short_id(case.id())})
        else:
            chosen = [c for c in cases
                      if not wanted or short_id(c.id()) in wanted]
            unittest.TestSuite(chosen).run(make_recorder(out))
        write(out, {'end': 'main'})
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    unittest.TestProgram.runTests = run_tests
    if kind == 'module':
        sys.argv = [name]
        module = name
    elif kind == 'monkey':
        sys.argv = ['gevent.testing.monkey_test', name]
        module = 'gevent.testing.monkey_test'
    else:
        raise SystemExit(f'unknown target {target!r}')
    try:
        runpy.run_module(module, run_name='__main__', alter_sys=True)
    finally:
        # unittest.main() was not called: a script (its exit status
        # tells), or a module-level skip that monkey_test caught (it
        # printed the reason)
        write(out, {'end': 'no-main'})
        out.close()


# --- the pytest plugin -------------------------------------------------------

if __name__ == '__main__':      # the driver: no pytest in the test process
    pytest = None
else:
    import re
    import shutil
    import signal
    import subprocess
    import tempfile

    import pytest


class CaseFailure(Exception):
    """A case that failed in its subprocess; the text is its traceback."""


if pytest is not None:

    def pytest_addoption(parser):
        group = parser.getgroup('gevent_suite')
        group.addoption('--gevent-stdlib', default='', metavar='LIST',
                        help='stdlib test modules to run under '
                             f'{MONKEY_PATCHING} (MODULE[:RESOURCE...], '
                             'comma-separated)')
        group.addoption('--gevent-tests-package', default='gevent.tests',
                        help='the package whose test files this plugin '
                             'runs (default: %(default)s)')
        group.addoption('--gevent-file-timeout', type=int,
                        default=FILE_TIMEOUT,
                        help='seconds for the run of one file')

    def _package_dir(config):
        import importlib.util
        name = config.getoption('--gevent-tests-package')
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise pytest.UsageError(f'gevent_suite: no package {name}')
        return os.path.realpath(list(spec.submodule_search_locations)[0])

    def kill_leftovers(pgid, mark):
        """Kill the process group of a run, and every process that still
        has ``$GEVENT_SUITE_RUN`` = *mark* in its environment: the children
        the tests started in sessions of their own (``start_new_session``,
        multiprocessing's helpers), which would go on running, or growing,
        after the run."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        wanted = f'{LEFTOVER_VAR}={mark}'.encode()
        try:
            pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]
        except OSError:
            return
        for pid in pids:
            if pid == os.getpid():
                continue
            try:
                with open(f'/proc/{pid}/environ', 'rb') as f:
                    environ = f.read().split(b'\0')
            except OSError:
                continue
            if wanted in environ:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(module_path, parent):
        config = parent.config
        if not hasattr(config, '_gevent_suite_dir'):
            config._gevent_suite_dir = _package_dir(config)
        if os.path.realpath(module_path.parent) == config._gevent_suite_dir:
            return TestFile.from_parent(parent, path=module_path)
        return None

    class Target:
        """What runs in one subprocess: a gevent test file, or a stdlib
        test module under monkey_test."""

        results = None

        def setup_target(self, target, resources=()):
            self.target = target
            self.resources = resources
            self.is_script = False

        def _env(self, tmp):
            env = dict(os.environ)
            env[LEFTOVER_VAR] = tmp     # kill_leftovers() finds them by it
            env.setdefault('PYTHONFAULTHANDLER', 'true')
            env.setdefault('PYTHONDEVMODE', '1')
            env['TMPDIR'] = tmp
            if TEST_VAR in env:
                env[TEST_VAR] = self.nodeid
            if self.target.startswith('monkey:'):
                env['GEVENT_DEBUG'] = 'error'
            if self.resources:
                env['GEVENTTEST_USE_RESOURCES'] = ','.join(
                    [env.get('GEVENTTEST_USE_RESOURCES', '')]
                    + list(self.resources)).lstrip(',')
            return env

        def drive(self, mode, wanted=(), timeout=LIST_TIMEOUT):
            """Run the driver; return (records, exit status, output
            tail, timed out)."""
            tmp = tempfile.mkdtemp(prefix='gevent-suite-')
            try:
                records = os.path.join(tmp, 'records.jsonl')
                work = os.path.join(tmp, 'cwd')
                os.mkdir(work)
                cmd = [sys.executable, '-u']
                if self.target.startswith('monkey:'):
                    cmd += ['-W', 'ignore']
                cmd += [os.path.abspath(__file__), mode, self.target,
                        records, *wanted]
                with open(os.path.join(tmp, 'output'), 'w+b') as output:
                    proc = subprocess.Popen(
                        cmd, cwd=work, env=self._env(tmp), stdout=output,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True)
                    timed_out = False
                    try:
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        timed_out = True
                    finally:
                        proc.kill()
                        kill_leftovers(proc.pid, tmp)
                        proc.wait()
                    output.seek(0)
                    tail = output.read().decode(errors='replace')
                    tail = '\n'.join(tail.splitlines()[-40:])
                found = []
                if os.path.exists(records):
                    with open(records) as f:
                        for line in f:
                            try:
                                found.append(json.loads(line))
                            except ValueError:
                                pass
                return found, proc.returncode, tail, timed_out
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

        def list_items(self):
            if self.is_script:
                yield CaseItem.from_parent(self, name='script',
                                           case_id=None)
                return
            records, _, _, _ = self.drive('list')
            ends = [r['end'] for r in records if 'end' in r]
            ids = [r['id'] for r in records if 'id' in r]
            if ends == ['main'] and ids:
                for case_id in ids:
                    yield CaseItem.from_parent(self, name=case_id,
                                               case_id=case_id)
            else:       # nothing to list: one item, its run tells why
                yield CaseItem.from_parent(self, name='module',
                                           case_id=None)

        def outcome(self, item):
            """(status, detail) of *item*, running the target the first
            time a case of it runs."""
            if self.results is None:
                try:
                    self.results = self._run()
                except BaseException as exc:    # pytest-timeout, ^C
                    self.results = {'*': ('error', 'the run of the file '
                                          f'was interrupted: {exc!r}')}
                    raise
            return self.results.get(item.name) or self.results['*']

        def _run(self):
            timeout = self.config.getoption('--gevent-file-timeout')
            wanted = [i.case_id for i in self.session.items
                      if i.parent is self and i.case_id]
            records, status, tail, timed_out = self.drive(
                'run', wanted, timeout)
            ended = [r['end'] for r in records if 'end' in r]
            how = (f'the process was killed after {timeout} s'
                   if timed_out else f'the process exited with status '
                   f'{status}')
            results = {}
            for r in records:
                if 'id' in r:
                    results[r['id']] = (r['status'], r['detail'])
            fixtures = [r for r in records if 'fixture' in r]
            if any(r['status'] == 'error' for r in fixtures):
                missing = ('error', ''.join(
                    f'{r["fixture"]}: {r["detail"]}' for r in fixtures))
            elif fixtures:
                missing = ('skip', '; '.join(
                    f'{r["fixture"]}: {r["detail"]}' for r in fixtures))
            elif self.is_script:
                missing = ('pass', '') if status == 0 and not timed_out \
                    else ('error', f'{how}; its output ends with:\n{tail}')
            elif ended == ['no-main'] and status == 0:
                # monkey_test caught a module-level skip, printed its reason
                reason = [line for line in tail.splitlines()
                          if line.strip() and not line.startswith(
                              ('Ran 0 tests', 'OK', 'Running with',
                               'Disabling verbose'))]
                missing = ('skip', reason[-1] if reason
                           else 'skipped at module level')
            else:
                missing = ('error', f'not run: {how}; its output ends '
                           f'with:\n{tail}')
            results['*'] = missing
            return results

    class TestFile(Target, pytest.File):
        """A gevent test file."""

        def collect(self):
            package = self.config.getoption('--gevent-tests-package')
            if self.path.name == MONKEY_PATCHING:
                yield from self._stdlib_modules()
                return
            self.setup_target(f'module:{package}.{self.path.stem}')
            contents = self.path.read_bytes()
            self.is_script = not any(re.search(p, contents)
                                     for p in MAIN_CALLS)
            yield from self.list_items()

        def _stdlib_modules(self):
            import importlib.util
            spec = importlib.util.find_spec('test')     # Lib/test
            test_dir = list(spec.submodule_search_locations)[0]
            for spec in filter(None, self.config.getoption(
                    '--gevent-stdlib').split(',')):
                name, *resources = spec.strip().split(':')
                path = os.path.join(test_dir, name + '.py')
                if not os.path.exists(path):
                    raise pytest.UsageError(
                        f'gevent_suite: no {path} (--gevent-stdlib)')
                yield StdlibModule.from_parent(
                    self, name=name, target=f'monkey:{path}',
                    resources=tuple(resources))

    class StdlibModule(Target, pytest.Collector):
        """A stdlib test module run by gevent.testing.monkey_test."""

        def __init__(self, *, target, resources, **kwargs):
            super().__init__(**kwargs)
            self.setup_target(target, resources=resources)

        def collect(self):
            yield from self.list_items()

    class CaseItem(pytest.Item):
        """One unittest case (or a whole script or module)."""

        def __init__(self, *, case_id, **kwargs):
            super().__init__(**kwargs)
            self.case_id = case_id

        def runtest(self):
            status, detail = self.parent.outcome(self)
            if status == 'skip':
                pytest.skip(detail)
            if status == 'xfail':
                pytest.xfail(detail)
            if status != 'pass':
                raise CaseFailure(f'[{status}] {detail}')

        def repr_failure(self, excinfo):
            if isinstance(excinfo.value, CaseFailure):
                return str(excinfo.value)
            return super().repr_failure(excinfo)

        def reportinfo(self):
            return self.path, None, self.name


if __name__ == '__main__':
    drive(sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:]))
