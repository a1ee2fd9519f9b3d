"""One run of a package's test suite in one mode, and reading it back.

The suite runs with pytest in the package's venv (impact_venvs), in a
directory of its own; the junit XML, the log and the census of the Python
processes it started are saved beside a small JSON file, from which
load_suite() gives the same SuiteRun again (``impact render``).

``-e`` in patched-e.  The test command runs ``python -e``, and the
environment has ``PYTHONCLOEXEC=1``.  ``-e`` alone reaches only the
children that ``subprocess._args_from_interpreter_flags()`` starts
(multiprocessing); a package that starts ``sys.executable`` itself (execnet,
sh, pytest's pytester, uvicorn's tests) drops it, while the environment
variable reaches every child that keeps the environment.  The census shows
what reached whom: the report counts the Python processes of each mode and
their default.
"""

import io
import json
import logging
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .impact_venvs import impact_dir, unpack
from .junit import Outcome, count, parse_junit
from .util import clean_env, format_cmd, run_logged

log = logging.getLogger(__name__)

PROGRESS_EVERY = 30     # seconds between progress lines
#: pytest exit codes that mean "the run completed" (ok, tests failed,
#: nothing collected).
PYTEST_COMPLETED = (0, 1, 5)


@dataclass
class SuiteRun:
    """The results of one test-suite run in one mode."""

    results: dict                   # {test id: Outcome}
    rerun_ids: dict = field(default_factory=dict)   # {test id: argument}
    fds: dict = field(default_factory=dict)         # {test id: {...}}
    returncode: int = 0
    seconds: float = 0.0
    census: list = field(default_factory=list)


def expand(words, python, src, site):
    out = []
    for word in words:
        if word == '{python}':
            out.extend(python)
        else:
            out.append(word.replace('{src}', str(src))
                       .replace('{site}', str(site)))
    return out


def normalise_junit(data):
    """pytest's junit XML (bytes) with each test case named by its node
    id, for junit.parse_junit; also return {id: rerun argument} and
    {id: fds at the failure} from the plugin's properties."""
    root = ET.fromstring(data)
    rerun_ids, fds = {}, {}
    for case in root.iter('testcase'):
        props = {p.get('name'): p.get('value')
                 for p in case.iter('property')}
        classname, name = case.get('classname', ''), case.get('name', '')
        nodeid = props.get('pep433_nodeid') or (
            f'{classname}::{name}' if classname else name)
        path = props.get('pep433_path')
        if path and '::' in nodeid:
            rerun_ids[nodeid] = path + nodeid[nodeid.index('::'):]
        if 'pep433_fds' in props:
            try:
                fds[nodeid] = json.loads(props['pep433_fds'])
            except ValueError:
                pass
        case.set('name', nodeid)
    return io.BytesIO(ET.tostring(root)), rerun_ids, fds


def parse_results(xml_path):
    """(results, rerun ids, fds at failure) of a pytest junit file."""
    try:
        data = Path(xml_path).read_bytes()
    except FileNotFoundError:
        return {}, {}, {}
    try:
        stream, rerun_ids, fds = normalise_junit(data)
    except ET.ParseError as exc:
        log.warning('cannot parse %s: %s', xml_path, exc)
        return {}, {}, {}
    return parse_junit(stream), rerun_ids, fds


def read_census(path):
    """The census records of a run (a list of dicts)."""
    records = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return records


def run_suite(paths, package, mode, python, site, tests_file, outdir,
              select=None, tag=''):
    """Run *package*'s tests in *mode* (only *select*, a list of pytest
    arguments, when given); save <mode><tag>.xml/.log/-census.jsonl in
    *outdir*; return a SuiteRun."""
    name = f'{package.name}/{mode}{tag}'
    outdir.mkdir(parents=True, exist_ok=True)
    xml = outdir / f'{mode}{tag}.xml'
    logfile = outdir / f'{mode}{tag}.log'
    census = outdir / f'{mode}{tag}-census.jsonl'
    for path in (xml, census):
        path.unlink(missing_ok=True)
    # a directory of its own: two runs at the same time do not collide
    (impact_dir(paths) / 'tmp').mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'{package.name}-{mode}{tag}-',
                                dir=impact_dir(paths) / 'tmp'))
    (tmp / 'home').mkdir()
    (tmp / 'empty').mkdir()
    if package.tests_from_wheel:
        src = site
    else:
        src = unpack(tests_file, tmp / 'src')
    interpreter = [str(python)] + (['-e'] if mode == 'patched-e' else [])
    cmd = expand(package.command, interpreter, src, site)
    cmd += ['-p', '_pep433_impact_plugin', '-p', 'no:cacheprovider',
            '--junitxml', str(xml), '--timeout', str(package.case_timeout)]
    root = site if package.tests_from_wheel else src
    for item in package.deselect:
        if '::' in item.test:
            cmd += ['--deselect', item.test]
        else:       # a file or directory: not even imported
            cmd += ['--ignore', str(root / item.test)]
    cmd += expand(select or package.paths, interpreter, src, site)
    env = clean_env({'HOME': str(tmp / 'home'),
                     'PEP433_IMPACT_LOG': str(census),
                     **package.env})
    env.pop('PEP433_IMPACT_TEST', None)
    if mode == 'patched-e':
        env['PYTHONCLOEXEC'] = '1'
    cwd = tmp / 'empty' if package.cwd == 'empty' else src
    log.info('%s: $ %s (log: %s)', name, format_cmd(cmd), logfile)
    returncode, seconds, timed_out = run_logged(
        cmd, logfile, cwd=cwd, env=env, every=PROGRESS_EVERY,
        timeout=package.timeout, own_session=True,
        progress=lambda seconds: log.info('%s: %.0f s, %s', name, seconds,
                                          _progress(logfile)))
    results, rerun_ids, fds = parse_results(xml)
    # a rerun unpacks the sources elsewhere
    rerun_ids = {key: portable(arg, src) for key, arg in rerun_ids.items()}
    if timed_out:
        results['(whole run)'] = Outcome(
            'error', f'the run was killed after {package.timeout} s '
            f'(timeout of {package.name} in impact/packages.toml)')
    elif returncode not in PYTEST_COMPLETED or not xml.exists():
        tail = logfile.read_text(errors='replace').splitlines()[-15:]
        results['(whole run)'] = Outcome(
            'error', f'pytest exited with status {returncode}:\n'
            + '\n'.join(tail))
    suite = SuiteRun(results, rerun_ids, fds, returncode, seconds,
                     read_census(census))
    whole = results.get('(whole run)')
    (outdir / f'{mode}{tag}.json').write_text(json.dumps({
        'returncode': returncode, 'seconds': round(seconds, 1),
        'whole_run_error': whole.detail if whole else None}, indent=1))
    counts = count(results)
    log.info('%s: %d passed, %d failed, %d skipped in %.0f s', name,
             counts['pass'], counts['fail'] + counts['error'],
             counts['skip'], seconds)
    shutil.rmtree(tmp, ignore_errors=True)
    return suite


def load_suite(outdir, mode, tag=''):
    """The SuiteRun that run_suite() saved in *outdir* (None if there is
    none)."""
    xml = outdir / f'{mode}{tag}.xml'
    meta_file = outdir / f'{mode}{tag}.json'
    if not xml.exists() and not meta_file.exists():
        return None
    results, rerun_ids, fds = parse_results(xml)
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        meta = {'returncode': None, 'seconds': _seconds_from_log(
            outdir / f'{mode}{tag}.log'), 'whole_run_error': None}
        if not xml.exists():
            meta['whole_run_error'] = 'no junit XML was written'
    if meta.get('whole_run_error'):
        results['(whole run)'] = Outcome('error', meta['whole_run_error'])
    return SuiteRun(results, rerun_ids, fds, meta.get('returncode'),
                    meta.get('seconds') or 0.0,
                    read_census(outdir / f'{mode}{tag}-census.jsonl'))


def _seconds_from_log(path):
    """pytest's "in 72.38s" on the last line of a log, or 0."""
    try:
        lines = path.read_text(errors='replace').splitlines()
    except FileNotFoundError:
        return 0.0
    for line in reversed(lines[-5:]):
        words = line.replace('(', ' ').split()
        for before, word in zip(words, words[1:]):
            if before == 'in' and word.endswith('s'):
                try:
                    return float(word[:-1])
                except ValueError:
                    pass
    return 0.0


def portable(arg, src):
    """A test argument under the unpacked sources *src*, as ``{src}/...``."""
    prefix = str(src).rstrip('/') + '/'
    return '{src}/' + arg[len(prefix):] if arg.startswith(prefix) else arg


def _progress(logfile):
    """pytest's last "[ NN%]" in *logfile*, or its last line."""
    try:
        with open(logfile, 'rb') as f:
            f.seek(max(0, os.path.getsize(logfile) - 4096))
            tail = f.read().decode(errors='replace')
    except OSError:
        return 'running'
    marks = [part.split(']')[0].strip() for part in tail.split('[')
             if part.split(']')[0].strip().endswith('%')]
    if marks:
        return f'{marks[-1]} of the tests'
    return 'running'
