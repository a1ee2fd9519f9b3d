"""The dynamic half of ``audit``: regrtest under the tracer, and its records.

The patched interpreter runs regrtest with ``probes/audit/sitecustomize.py``
on its path, which records at each stdlib site how the flag was resolved
(from the default, or ``cloexec=True``/``False``), one file of records per
process; load_dynamic() adds them up by key.
"""

import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path

from . import config, junit, regrtest
from .util import format_cmd

log = logging.getLogger(__name__)

TRACER = Path(__file__).resolve().parent / 'probes' / 'audit'


def workload(tests=None):
    """The test modules the tracer runs."""
    if tests:
        return [name for name in re.split(r'[,\s]+', tests) if name]
    return list(dict.fromkeys(config.TEST_SUBSET + config.AUDIT_WORKLOAD))


def run_workload(paths, names, jobs, dyndir):
    """regrtest on the patched build with the tracer; records go to
    *dyndir*.  Test failures do not matter (they are logged)."""
    python, src = regrtest.interpreter(paths, 'patched')
    tests = regrtest.existing_tests(src, names)
    missing = sorted(set(names) - set(tests))
    if missing:
        log.info('audit: not in %s, not run: %s', src, ' '.join(missing))
    if dyndir.exists():
        shutil.rmtree(dyndir)
    dyndir.mkdir(parents=True)
    logfile = dyndir / 'regrtest.log'
    tmp = Path(tempfile.mkdtemp(prefix='pep433-audit-'))
    start = time.monotonic()
    try:
        home = tmp / 'home'
        home.mkdir()
        env = regrtest.test_env(home)
        env.update(PYTHONPATH=str(TRACER), PEP433_AUDIT_LOG=str(dyndir))
        cmd = [*python, '-m', 'test', f'-j{jobs}', '-u', 'network',
               '--timeout', str(config.REGRTEST_TIMEOUT),
               '--tempdir', str(tmp / 'regrtest'), *tests]
        log.info('audit: PYTHONPATH=%s PEP433_AUDIT_LOG=%s $ %s (log: %s)',
                 TRACER, dyndir, format_cmd(cmd), logfile)
        output, returncode = regrtest.stream(cmd, env, tmp, logfile,
                                             'audit')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = round(time.monotonic() - start)
    modules, _ = junit.parse_output(''.join(output))
    failed = sorted(name for name, state in modules.items()
                    if not state.startswith(('passed', 'skipped',
                                             'ran no tests')))
    if failed:
        log.warning('audit: under the tracer, regrtest reported (this does '
                    'not matter for the audit): %s',
                    ', '.join(f'{name} {modules[name]}' for name in failed))
    log.info('audit: workload done in %d s (regrtest exit status %d)',
             seconds, returncode)
    info = {'tests': tests, 'jobs': jobs, 'seconds': seconds,
            'returncode': returncode, 'not_passed': failed}
    (dyndir / 'run.json').write_text(json.dumps(info, indent=1) + '\n')
    return info


def load_dynamic(dyndir):
    """Aggregate the tracer's records of *dyndir*.

    Return (sites, other, processes): sites maps a key to {'modes': {mode:
    count}, 'lines': set}; other maps a callee to {mode: count} (calls from
    tests and non-stdlib code).  A (pid, site, mode) counts with its
    largest recorded count.
    """
    best = {}
    processes = 0
    broken = 0
    for path in sorted(Path(dyndir).glob('*.jsonl')):
        processes += 1
        for text in path.read_text(encoding='utf-8',
                                   errors='replace').splitlines():
            try:
                rec = json.loads(text)
                ident = (rec['pid'], rec.get('file'), rec.get('line'),
                         rec.get('function'), rec['call'], rec['mode'])
                count = int(rec['count'])
            except (ValueError, KeyError, TypeError):
                broken += 1
                continue
            best[ident] = max(best.get(ident, 0), count)
    if broken:
        log.warning('audit: %d unreadable records in %s', broken, dyndir)
    sites, other = {}, {}
    for (_, file, line, function, call, mode), count in best.items():
        if file is None:
            modes = other.setdefault(call, {})
        else:
            site = sites.setdefault((file, function, call),
                                    {'modes': {}, 'lines': set()})
            site['lines'].add(line)
            modes = site['modes']
        modes[mode] = modes.get(mode, 0) + count
    return sites, other, processes
