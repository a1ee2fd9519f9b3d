"""``impact``: what the PEP 433 default breaks and fixes in real packages.

PEP 433 lost to PEP 446 on one argument: with a configurable default,
libraries cannot rely on it.  This runs the test suites of packages whose
behaviour depends on fd inheritance (``impact/packages.toml``: pinned
versions, sha256-checked files, what is deselected and why) in three modes:
``baseline`` (stock CPython of the base), ``patched`` (the PEP 433
default: inheritable) and ``patched-e`` (patched with ``-e``), and compares
each patched mode with the baseline per test case, the way ``test`` does
(``junit.compare``/``confirm``/``format_report``).  Then PEP 433's
"programs taking file descriptors from the parent" (openssl, valgrind), in
the three modes (``probes/impact/fdpass.py``).

Venvs from uninstalled builds.  ``<build>/python -m venv DIR`` works on an
out-of-tree build that was never installed: venv symlinks ``DIR/bin/python``
to the build's ``python`` and writes ``home = <build dir>`` in
``pyvenv.cfg``; at start-up the venv's python follows ``home`` to the build
directory, where ``getpath`` recognises a build tree (``pybuilddir.txt``)
and takes the standard library from the source tree (``Lib/``, found from
the build's ``Makefile`` VPATH) and the extension modules from
``build/lib.*``, while ``sys.prefix`` is the venv.  ensurepip installs pip
from the source tree's bundled wheel, so no pip comes from the index.  The
build must stay where it is (the venv names it), and a rebuild is picked up
by the venv at once.  ``--copies`` is not used: a copied binary finds the
same build through ``home`` anyway, a symlink cannot go stale.

One venv per build and package (``<workdir>/impact/venvs/<build>/<name>``);
``patched`` and ``patched-e`` share the patched one.  Into each go exactly
the pinned wheels (``pip install --require-hashes --no-deps --only-binary
:all:``, then ``pip check``), and ``probes/impact/_pep433_impact*.py``: a
census that every Python process started from the venv runs at start-up
(the fds it inherited, its cloexec default, which test started it) and a
pytest plugin (test ids, the fds held at a failure).  The pip cache and the
downloaded test sources are shared by every base: ``<root>/impact-cache/``.
Tests of this repository (``tests.local``, under ``impact/``) are copied
for each run, as an sdist is unpacked.

``-e`` in patched-e.  The test command runs ``python -e``, and the
environment has ``PYTHONCLOEXEC=1``.  ``-e`` alone reaches only the
children that ``subprocess._args_from_interpreter_flags()`` starts
(multiprocessing); a package that starts ``sys.executable`` itself (execnet,
sh, pytest's pytester, uvicorn's tests) drops it, while the environment
variable reaches every child that keeps the environment.  The census shows
what reached whom: the report counts the Python processes of each mode and
their default.

A difference is confirmed by running the differing tests again in that mode
(a flaky one is reported as flaky, not counted).  Each one is explained in
the data file (``[[package.explain]]``: which fd, created where, inherited
by whom, and the evidence); the report shows the census of the processes
the test started and the fds its process held when it failed, so a
difference nobody explained yet comes with what was seen.  Exit 1 when a
confirmed difference has no explanation, 0 otherwise.
"""

import argparse
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import deps, impact_data, impact_report, options, venvs
from .errors import ExternalError, PreconditionError, ProblemFound
from .impact_data import BUILD_MODES
from .junit import Outcome, compare, confirm, count, parse_junit
from .util import (clean_env, format_cmd, run, run_logged, sha256_of,
                   write_if_changed)

log = logging.getLogger(__name__)

PROBES = Path(__file__).resolve().parent / 'probes' / 'impact'
CENSUS_MODULES = ('_pep433_impact.py', '_pep433_impact_plugin.py')
PTH = '_pep433_impact.pth'
STAMP = '.pep433-impact-requirements'
#: Debian packages of the fd-passing table.
FDPASS_PROGRAMS = ('openssl', 'valgrind')
PROGRESS_EVERY = 30     # seconds between progress lines
#: pytest exit codes that mean "the run completed" (ok, tests failed,
#: nothing collected).
PYTEST_COMPLETED = (0, 1, 5)


def data_file(paths):
    return paths.repo / 'impact' / 'packages.toml'


def impact_dir(paths):
    return paths.workdir / 'impact'


def cache_dir(paths):
    """Shared by every base: the pip cache and the test sources."""
    return paths.root / 'impact-cache'


def build_of(mode):
    return 'baseline' if mode == 'baseline' else 'patched'


def pip_env(paths):
    """The environment of pip: no PYTHON* variable, the shared cache."""
    return clean_env({'PIP_CACHE_DIR': str(cache_dir(paths) / 'pip'),
                      'PIP_DISABLE_PIP_VERSION_CHECK': '1'})


# --- venvs -------------------------------------------------------------------

def build_python(paths, build):
    python = paths.workdir / build / 'python'
    if not python.exists():
        raise PreconditionError(
            f'{python} does not exist: the {build} interpreter of base '
            f'{paths.base.version} is not built',
            hint=f'scripts/pep433 --base {paths.base.version} build')
    return python


def ensure_venv(paths, build, package):
    """The venv of *package* for *build*, with exactly its pins; return
    (python, site-packages)."""
    venv = impact_dir(paths) / 'venvs' / build / package.name
    wanted = package.requirements()
    env = pip_env(paths)

    def install(python):
        requirements = venv / 'requirements.txt'
        requirements.write_text(wanted)
        log.info('%s/%s: installing %d pinned wheels', build, package.name,
                 len(package.deps))
        run([python, '-m', 'pip', 'install', '--quiet', '--require-hashes',
             '--no-deps', '--only-binary', ':all:', '-r', requirements],
            env=env, hint='check the pins in impact/packages.toml (a wheel '
                          'for this platform, its sha256)')
        check = run([python, '-m', 'pip', 'check'], env=env, check=False)
        if check.returncode != 0:
            raise PreconditionError(
                f'package {package.name!r}: its pinned wheels miss a '
                f'dependency:\n{check.stdout.strip()}',
                hint='add the missing distributions to [pins] and to the '
                     'package\'s deps in impact/packages.toml')

    python = venvs.ensure_venv(venv, wanted, install, stamp=STAMP,
                               maker=build_python(paths, build), env=env,
                               fresh=True)
    site = Path(run([python, '-c', 'import sysconfig; '
                     'print(sysconfig.get_path("purelib"))'], env=env,
                    quiet=True).stdout.strip())
    for name in CENSUS_MODULES:     # rewritten only when they changed
        write_if_changed(site / name, (PROBES / name).read_bytes())
    write_if_changed(site / PTH, b'import _pep433_impact\n')
    return python, site


# --- test sources ------------------------------------------------------------

def ensure_tests_file(paths, package, python):
    """The sdist or wheel the tests come from, downloaded once into the
    shared cache with *python*'s pip and checked by sha256; or the
    repository's directory of a package with local tests."""
    if package.tests_local:
        path = paths.repo / package.tests_local
        if not path.is_dir():
            raise PreconditionError(
                f'package {package.name!r}: its tests.local {path} is not '
                'a directory',
                hint='restore it from git, or fix tests.local in '
                     'impact/packages.toml')
        return path
    dist = cache_dir(paths) / 'dist'
    path = dist / package.tests_file
    if not path.exists():
        dist.mkdir(parents=True, exist_ok=True)
        kind = '--only-binary' if package.tests_from_wheel \
            else '--no-binary'
        run([python, '-m', 'pip', 'download', '--quiet', '--no-deps',
             kind, ':all:', '--dest', dist,
             f'{package.name}=={package.version}'], env=pip_env(paths))
        if not path.exists():
            raise ExternalError(
                f'pip download of {package.name}=={package.version} did '
                f'not give {package.tests_file} (in {dist}: '
                + ', '.join(sorted(p.name for p in dist.iterdir())) + ')')
    actual = sha256_of(path)
    if actual != package.tests_sha256:
        path.unlink()
        raise PreconditionError(
            f'{package.tests_file}: sha256 {actual}, the data file pins '
            f'{package.tests_sha256} (the file was removed)',
            hint='check tests.sha256 of ' + package.name
                 + ' in impact/packages.toml, then run again')
    return path


def unpack(archive, dest):
    """Unpack an sdist into *dest* (copy a directory of local tests);
    return its top directory."""
    if archive.is_dir():
        shutil.copytree(archive, dest, ignore=shutil.ignore_patterns(
            '__pycache__', '.pytest_cache'))
        return dest
    dest.mkdir(parents=True)
    if archive.name.endswith('.zip'):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter='data')
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


# --- one run of a test suite -------------------------------------------------

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


# --- one package in every mode -----------------------------------------------

@dataclass
class Difference:
    """A test that fails in one mode only (or passes in one mode only)."""

    package: str
    mode: str           # the patched mode it is about
    test: str
    kind: str           # 'breaks' (fails in mode only) or 'fixes'
    outcome: Outcome    # the failure (in mode, or on the baseline)
    other: str          # the status in the other mode
    flaky: bool = False
    explanation: object = None      # impact_data.Explanation
    evidence: list = field(default_factory=list)   # [str]


@dataclass
class PackageResult:
    package: object
    runs: dict                      # {mode: SuiteRun}
    comparisons: list               # junit.Comparison, breaks
    fixes: list                     # junit.Comparison, fixes
    differences: list
    reruns: dict = field(default_factory=dict)      # {mode: SuiteRun}


def run_package(paths, package, outdir, modes=BUILD_MODES):
    """Every mode of *package*, compared and confirmed."""
    pkgdir = outdir / package.name
    venvs = {}
    for build in dict.fromkeys(build_of(m) for m in modes):
        venvs[build] = ensure_venv(paths, build, package)
    tests_file = ensure_tests_file(paths, package,
                                   next(iter(venvs.values()))[0])
    runs = {}
    for mode in modes:
        python, site = venvs[build_of(mode)]
        runs[mode] = run_suite(paths, package, mode, python, site,
                               tests_file, pkgdir)

    def rerun(mode, ids):
        log.info('%s/%s: %d tests differ from the other mode; running '
                 'them again', package.name, mode, len(ids))
        python, site = venvs[build_of(mode)]
        return run_suite(paths, package, mode, python, site, tests_file,
                         pkgdir, select=ids, tag='-rerun')

    result = compare_package(package, runs, rerun)
    if 'baseline' in runs:
        (pkgdir / 'summary.txt').write_text(summary_text(result))
    return result


def compare_package(package, runs, rerun):
    """Compare each patched mode of *runs* ({mode: SuiteRun}) with the
    baseline, both ways (what breaks, what it fixes); run what differs
    again with ``rerun(mode, [pytest arguments])`` -> SuiteRun, and return
    the PackageResult with its explained differences."""
    result = PackageResult(package, runs, [], [], [])
    if 'baseline' not in runs:
        return result
    base = runs['baseline'].results
    again = {}      # {mode to rerun in: {test ids}}
    for mode in runs:
        if mode == 'baseline':
            continue
        breaks = compare(mode, base, runs[mode].results)
        fixes = compare(mode, runs[mode].results, base)
        fixes.counts = count(base)
        result.comparisons.append(breaks)
        result.fixes.append(fixes)
        again.setdefault(mode, set()).update(k for k, _, _ in breaks.new)
        again.setdefault('baseline', set()).update(
            k for k, _, _ in fixes.new)
    for mode, keys in again.items():
        ids = {}
        for key in sorted(keys):
            arg = (runs[mode].rerun_ids.get(key)
                   or _rerun_from_others(runs, key))
            if arg:
                ids[key] = arg
        if not ids:
            continue
        result.reruns[mode] = rerun(mode, sorted(set(ids.values())))
    for breaks, fixes in zip(result.comparisons, result.fixes):
        _confirm(breaks, result.reruns.get(breaks.mode), runs[breaks.mode])
        _confirm(fixes, result.reruns.get('baseline'), runs['baseline'])
    result.differences = differences(result)
    return result


def _rerun_from_others(runs, key):
    for suite in runs.values():
        if key in suite.rerun_ids:
            return suite.rerun_ids[key]
    return None


def _confirm(comparison, rerun, first):
    """junit.confirm, keeping what could not be run again (a whole-run
    error) as confirmed."""
    if rerun is None:
        return comparison
    results = dict(rerun.results)
    results.pop('(whole run)', None)
    for key, outcome, _ in comparison.new:
        if key not in first.rerun_ids and key not in results:
            results[key] = outcome
    return confirm(comparison, results)


def differences(result):
    """Every difference of a PackageResult, explained when the data file
    explains it, with the census evidence."""
    package = result.package
    out = []
    for kind, comps in (('breaks', result.comparisons),
                        ('fixes', result.fixes)):
        for comp in comps:
            flaky = {key for key, _ in comp.flaky}
            items = [(k, o, b) for k, o, b in comp.new]
            items += [(k, o, '') for k, o in comp.flaky]
            for key, outcome, other in sorted(items, key=lambda i: i[0]):
                diff = Difference(package.name, comp.mode, key, kind,
                                  outcome, other or 'pass',
                                  flaky=key in flaky)
                diff.explanation = package.explanation(comp.mode, key)
                diff.evidence = evidence(result, comp.mode, key)
                out.append(diff)
    return out


def evidence(result, mode, key):
    """What the census and the plugin saw of test *key*."""
    lines = []
    for name in ('baseline', mode):
        suite = result.runs.get(name)
        if suite is None:
            continue
        children = [r for r in suite.census if r.get('test') == key]
        held = [r for r in children if r.get('fds')]
        if children:
            lines.append(
                f'{name}: the test started {len(children)} Python '
                f'process(es), {len(held)} of them holding inherited fds'
                + (': ' + '; '.join(_describe_child(r) for r in held[:4])
                   if held else ''))
        fds = suite.fds.get(key)
        if fds:
            inheritable = {fd: target for fd, (target, cloexec)
                           in fds['fds'].items() if cloexec is False}
            lines.append(
                f'{name}: at the failure ({fds["when"]}) the test process '
                f'held {len(fds["fds"])} fds above 2, '
                f'{len(inheritable)} inheritable'
                + (': ' + ', '.join(f'{fd} {_kind(t)}' for fd, t
                                    in sorted(inheritable.items(),
                                              key=lambda i: int(i[0])))[:300]
                   if inheritable else ''))
    return lines


def _describe_child(record):
    argv = ' '.join(record.get('argv', []))[:70]
    fds = ', '.join(f'{fd} {_kind(t)}' for fd, t in sorted(
        record['fds'].items(), key=lambda i: int(i[0])))
    return f'pid {record["pid"]} `{argv}`: {fds}'[:300]


def _kind(target):
    """socket, pipe, a file's path ... of a /proc/<pid>/fd link."""
    kind = impact_report.fd_class(target)
    return target if kind in ('file', 'deleted file') else kind


def summary_text(result):
    """The regrtest-style summary of a package (junit.format_report),
    breaks then fixes."""
    from .junit import format_report
    base = result.runs['baseline'].results
    text = format_report(base, result.comparisons)
    fixes = [c for c in result.fixes if c.new or c.flaky]
    if fixes:
        text += '\nfailing on the baseline, passing in a patched mode:\n'
        for comp in fixes:
            text += ''.join(f'  {comp.mode}: {key}  [baseline: '
                            f'{outcome.status}]\n'
                            for key, outcome, _ in comp.new)
            text += ''.join(f'  {comp.mode}: {key}  [baseline: flaky]\n'
                            for key, _ in comp.flaky)
    return text


# --- the fd-passing table ----------------------------------------------------

def run_fdpass(paths, outdir, modes=BUILD_MODES):
    """probes/impact/fdpass.py with each interpreter; return {mode: data}."""
    deps.ensure_build_deps(FDPASS_PROGRAMS)
    results = {}
    for mode in modes:
        python = [str(build_python(paths, build_of(mode)))]
        if mode == 'patched-e':
            python.append('-e')
        proc = run([*python, PROBES / 'fdpass.py', *FDPASS_PROGRAMS],
                   env=clean_env())
        results[mode] = json.loads(proc.stdout.splitlines()[-1])
    (outdir / 'fdpass.json').write_text(json.dumps(results, indent=1))
    return results


# --- the subcommand ----------------------------------------------------------

def load_package(package, outdir, modes=BUILD_MODES):
    """A PackageResult from the files a run saved in *outdir*, compared
    again with the data file's explanations of today (no test runs)."""
    pkgdir = outdir / package.name
    runs = {}
    for mode in modes:
        suite = load_suite(pkgdir, mode)
        if suite is not None:
            runs[mode] = suite
    if not runs:
        return None

    def rerun(mode, ids):
        suite = load_suite(pkgdir, mode, '-rerun')
        return suite if suite is not None else SuiteRun({})

    return compare_package(package, runs, rerun)


def default_output(paths):
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    return impact_dir(paths) / stamp


def unexplained(results):
    """The confirmed differences that the data file does not explain."""
    return [d for r in results for d in r.differences
            if not d.flaky and d.explanation is None]


def command_line(paths, quick, packages, output, fdpass):
    """The command that made a report, as the report shows it."""
    words = ['scripts/pep433', '--base', paths.base.version, 'impact']
    if quick:
        words.append('--quick')
    if packages:
        words += ['--packages', ','.join(packages)]
    if output:
        words += ['--output', str(output)]
    if not fdpass:
        words.append('--no-fdpass')
    return ' '.join(words)


def run_impact(paths, quick=False, packages=None, output=None,
               fdpass=True):
    """Implement the ``impact`` subcommand; return the exit code."""
    selected = impact_data.select(impact_data.load(data_file(paths)),
                                  packages, quick)
    for build in ('baseline', 'patched'):
        build_python(paths, build)
    outdir = Path(output).resolve() if output else default_output(paths)
    outdir.mkdir(parents=True, exist_ok=True)
    log.info('impact on base %s: %s; output in %s', paths.base.version,
             ', '.join(p.title for p in selected), outdir)
    start = time.monotonic()
    results = []
    for number, package in enumerate(selected, 1):
        log.info('[%d/%d] %s', number, len(selected), package.title)
        results.append(run_package(paths, package, outdir))
    table = run_fdpass(paths, outdir) if fdpass else None
    seconds = time.monotonic() - start
    report = impact_report.render(
        results, table, base=paths.base.version, seconds=seconds,
        command=command_line(paths, quick, packages, output, fdpass))
    (outdir / 'report.md').write_text(report)
    print(impact_report.console_summary(results, table), end='')
    log.info('report: %s (%.0f s)', outdir / 'report.md', seconds)
    return _finish(results, outdir)


def run_render(paths, outdir, quick=False, packages=None):
    """Implement ``impact render DIR``: run nothing, write DIR/report.md
    again from the files an earlier run saved there and today's data file
    (after adding explanations); return the exit code."""
    selected = impact_data.select(impact_data.load(data_file(paths)),
                                  packages, quick)
    outdir = Path(outdir).resolve()
    if not outdir.is_dir():
        raise PreconditionError(f'{outdir} is not an impact output folder',
                                hint='scripts/pep433 impact --output DIR')
    results = [r for r in (load_package(p, outdir) for p in selected)
               if r is not None]
    if not results:
        raise PreconditionError(f'no results in {outdir}',
                                hint='scripts/pep433 impact --output '
                                     f'{outdir}')
    table = None
    if (outdir / 'fdpass.json').exists():
        table = json.loads((outdir / 'fdpass.json').read_text())
    seconds = sum(s.seconds for r in results for s in r.runs.values())
    report = impact_report.render(
        results, table, base=paths.base.version, seconds=seconds,
        command=f'scripts/pep433 --base {paths.base.version} impact '
                f'render {outdir}')
    (outdir / 'report.md').write_text(report)
    print(impact_report.console_summary(results, table), end='')
    log.info('report: %s', outdir / 'report.md')
    return _finish(results, outdir)


def _finish(results, outdir):
    """Exit 0, or ProblemFound for the differences nobody explained."""
    missing = unexplained(results)
    if missing:
        raise ProblemFound(
            f'{len(missing)} differences have no explanation in '
            'impact/packages.toml: '
            + ', '.join(f'{d.package} {d.test} ({d.mode})'
                        for d in missing[:5])
            + (' ...' if len(missing) > 5 else '')
            + f' (see {outdir / "report.md"})')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'what the PEP 433 default breaks and fixes in real packages'
DOCS = 'docs/impact.md'


def _add_selection(parser, default=None):
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--quick', action='store_true',
                       default=default if default is not None else False,
                       help='only the quick packages of the data file')
    group.add_argument('--packages', metavar='LIST', default=default,
                       help='comma-separated package names of the data file')


def add_arguments(parser):
    """``impact``'s options, and ``impact render``."""
    _add_selection(parser)
    options.add_output(parser, '<workdir>/impact/<timestamp>')
    parser.add_argument('--no-fdpass', action='store_true',
                        help='skip the fd-passing table')
    parser.set_defaults(func=handle)
    actions = parser.add_subparsers(dest='impact_action', metavar='render')
    render = actions.add_parser(
        'render', help='run nothing: write DIR/report.md again',
        description='Run nothing: write DIR/report.md again from the '
                    'results saved in DIR and the data file as it is now.')
    render.add_argument('dir', metavar='DIR', help='an impact output folder')
    # given before or after "render" alike
    _add_selection(render, default=argparse.SUPPRESS)
    render.set_defaults(func=handle_render)


def _packages(args):
    if not args.packages:
        return None
    return [p for p in args.packages.replace(',', ' ').split() if p]


def handle(args, paths):
    return run_impact(paths, quick=args.quick, packages=_packages(args),
                      output=args.output, fdpass=not args.no_fdpass)


def handle_render(args, paths):
    return run_render(paths, args.dir, quick=args.quick,
                      packages=_packages(args))
