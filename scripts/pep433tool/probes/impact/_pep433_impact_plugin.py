"""pytest plugin of ``pep433 impact`` (``-p _pep433_impact_plugin``).

Copied into each impact venv's site-packages.  For every test it records
in the junit XML its node id and file (properties ``pep433_nodeid`` and
``pep433_path``: the XML's own names depend on the junit family and lose
the file), exports the running test's id as ``$PEP433_IMPACT_TEST`` for
the census of the processes the test starts (``_pep433_impact.py``), and
for a failing test records the fds the test process holds at the failure,
with what they point to and their close-on-exec flag (``pep433_fds``).
"""

import fcntl
import json
import os

import pytest

from _pep433_impact import TEST_VAR, open_fds


def _cloexec(fd):
    try:
        return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    except OSError:
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.user_properties.append(('pep433_nodeid', item.nodeid))
    item.user_properties.append(('pep433_path', str(item.path)))
    previous = os.environ.get(TEST_VAR)
    os.environ[TEST_VAR] = item.nodeid
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TEST_VAR, None)
        else:
            os.environ[TEST_VAR] = previous


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and not any(name == 'pep433_fds'
                                 for name, _ in item.user_properties):
        fds = {str(fd): [target, _cloexec(fd)]
               for fd, target in open_fds().items()}
        item.user_properties.append(
            ('pep433_fds', json.dumps({'when': call.when, 'fds': fds})))
        report.user_properties = list(item.user_properties)
