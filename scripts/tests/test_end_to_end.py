"""The slow end-to-end test: ``scripts/pep433 all`` on the real work dir.

It fetches CPython 3.13.5, applies the series, builds both interpreters
(a few minutes on two cores) and runs the regrtest subset.  The work
directory is $PEP433_WORKDIR, or <repo>/build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ORIGINAL_WORKDIR

SCRIPT = Path(__file__).resolve().parent.parent / 'pep433'
WORKDIR = Path(ORIGINAL_WORKDIR or SCRIPT.parent.parent / 'build')


def run(*args, **kwargs):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PYTHON', 'PEP433_'))}
    env['PEP433_WORKDIR'] = str(WORKDIR)
    return subprocess.run([str(a) for a in args], env=env, text=True,
                          **kwargs)


@pytest.mark.slow
def test_all_builds_and_tests_the_series():
    workdir = WORKDIR
    proc = run(sys.executable, SCRIPT, 'all', stdout=subprocess.PIPE,
               stderr=subprocess.STDOUT)
    print(proc.stdout[-20000:])
    for name in ('baseline', 'patched'):
        python = workdir / name / 'python'
        assert python.exists(), f'{python} was not built'
        check = run(python, '-c', 'import sys; print(sys.version)',
                    capture_output=True)
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith('3.13.5')
    flags = run(workdir / 'patched' / 'python', '-e', '-c',
                'import sys; print(sys.getdefaultcloexec(), '
                'sys.flags.cloexec)', capture_output=True)
    assert flags.stdout.strip() == 'True 1', flags.stderr
    export = run(sys.executable, SCRIPT, 'export', '--check',
                 capture_output=True)
    assert export.returncode == 0, export.stderr
    assert proc.returncode == 0, 'scripts/pep433 all failed (output above)'
