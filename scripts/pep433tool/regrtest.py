"""Running regrtest on one mode (a build, with or without ``-e``): the
interpreter and its environment, the test modules, the run with its log,
and the saved results (junit.py reads them)."""

import json
import logging
import subprocess
import tempfile
from pathlib import Path

from . import config, gitutil
from .errors import PreconditionError
from .junit import PROGRESS_RE, Outcome, mode_results
from .util import build_in_use, clean_env, format_cmd, run_logged

log = logging.getLogger(__name__)


def _changed_tests(repo, tag, diff_filter=None):
    """Paths under Lib/test/ of the test files the series changes, split
    after Lib/test/ (e.g. ['test_os.py'], ['test_asyncio', 'test_events.py'])."""
    args = ['diff', '--name-only', '--no-renames']
    if diff_filter:
        args.append(f'--diff-filter={diff_filter}')
    text = gitutil.out(repo, *args, tag, config.BRANCH,
                       '--', 'Lib/test/')
    for path in text.splitlines():
        parts = path.split('/')[2:]
        if parts and parts[0].startswith('test_'):
            yield parts


def touched_tests(repo, tag):
    """Test modules (package members by dotted name) the series adds or
    changes: test_os, test_asyncio.test_events..."""
    names = set()
    for parts in _changed_tests(repo, tag):
        if parts[-1].startswith('test_') and parts[-1].endswith('.py'):
            names.add('.'.join(parts[:-1] + [parts[-1][:-3]]))
    return sorted(names)


def series_tests(repo, tag):
    """Test modules/packages that the series adds under Lib/test."""
    names = set()
    for parts in _changed_tests(repo, tag, diff_filter='A'):
        if len(parts) == 1 and parts[0].endswith('.py'):
            names.add(parts[0][:-3])
        elif len(parts) > 1:
            names.add(parts[0])
    return sorted(names)


def existing_tests(src, names):
    """The names of *names* that exist in the source tree *src*."""
    testdir = Path(src) / 'Lib' / 'test'
    found = []
    for name in names:
        path = testdir.joinpath(*name.split('.'))  # test_asyncio.test_events
        if (path.with_suffix('.py').is_file()
                or (path / '__init__.py').is_file()):
            found.append(name)
    return found


def build_of(mode):
    """The build directory name of a mode: ``patched-ft-e`` -> ``patched-ft``
    (a mode is a build, then ``-e`` for the patched ones run with -e)."""
    return mode[:-2] if mode.endswith('-e') else mode


def interpreter(paths, mode):
    """(python command, source tree) of a mode."""
    build = build_of(mode)
    python = [str(paths.workdir / build / 'python')]
    if mode.endswith('-e'):
        python.append('-e')
    if build.startswith('baseline'):
        return python, paths.baseline_src
    return python, paths.cpython


def build_hint(mode):
    """The command that builds the interpreter of *mode*."""
    variant = build_of(mode).partition('-')[2]
    option = {'debug': ' --debug', 'ft': ' --free-threading',
              'tsan': ' --tsan', 'asan': ' --asan'}.get(variant, '')
    return f'scripts/pep433 build{option}'


def test_env(home):
    """Environment for regrtest: no PYTHON* variable, a private HOME."""
    return clean_env({'HOME': str(home)})


def check_cloexec_option(python, env):
    """Return an error message unless ``python -e`` sets sys.flags.cloexec."""
    cmd = [*python, '-c', 'import sys; assert sys.flags.cloexec == 1']
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode == 0:
        return None
    return (f'{format_cmd(cmd)} failed (exit {proc.returncode}): the patched '
            'interpreter does not support -e / sys.flags.cloexec:\n'
            + proc.stderr.strip())


def stream(cmd, env, cwd, logfile, label):
    """Run regrtest *cmd*, its output to *logfile* and its per-module
    progress lines to the log (as *label*); return (output, exit status)."""
    seen = 0

    def follow(seconds=None):
        nonlocal seen
        with open(logfile, 'rb') as f:
            f.seek(seen)
            text = f.read()
        lines = text[:text.rfind(b'\n') + 1]     # whole lines only
        seen += len(lines)
        for line in lines.decode(errors='replace').splitlines():
            if PROGRESS_RE.search(line):
                log.info('%s: %s', label, line.rstrip())

    returncode, _, _ = run_logged(cmd, logfile, cwd=cwd, env=env,
                                  progress=follow, every=1)
    follow()
    with open(logfile, errors='replace') as f:
        return f.readlines(), returncode


def run_mode(paths, mode, names, jobs, tag='', extra_args=(), env=None):
    """Run regrtest for *mode*; save <mode><tag>.xml/.log/.json; return
    the results."""
    python, src = interpreter(paths, mode)
    if not Path(python[0]).exists():
        raise PreconditionError(f'{python[0]} does not exist',
                                hint=build_hint(mode))
    tests = existing_tests(src, names)
    skipped = sorted(set(names) - set(tests))
    if skipped:
        log.info('%s: not in %s, not run: %s', mode, src, ' '.join(skipped))
    results_dir = paths.results
    results_dir.mkdir(parents=True, exist_ok=True)
    xml = results_dir / f'{mode}{tag}.xml'
    logfile = results_dir / f'{mode}{tag}.log'
    # Held in use (refused while it is being built, before anything of an
    # earlier run is removed) until regrtest ends.
    with (build_in_use(Path(python[0]).parent, f'test of {mode}'),
          tempfile.TemporaryDirectory(prefix=f'regrtest-{mode}-',
                                      ignore_cleanup_errors=True) as tmpdir):
        tmp = Path(tmpdir)
        xml.unlink(missing_ok=True)
        home = tmp / 'home'
        home.mkdir()
        env = {**test_env(home), **(env or {})}
        if mode.endswith('-e'):
            error = check_cloexec_option(python, env)
            if error:
                log.error('%s', error)
                logfile.write_text(error + '\n')
                results = {'python -e (sys.flags.cloexec)': Outcome(
                    'error', error)}
                _save(results_dir, mode + tag, results, 1, tests)
                return results
        cmd = [*python, '-m', 'test', '--junit-xml', str(xml),
               f'-j{jobs}', '-u', 'network',
               '--timeout', str(config.REGRTEST_TIMEOUT),
               '--tempdir', str(tmp / 'regrtest'), *extra_args, *tests]
        log.info('%s: $ %s (log: %s)', mode, format_cmd(cmd), logfile)
        output, returncode = stream(cmd, env, tmp, logfile, mode)
        log.info('%s: regrtest exit status %d', mode, returncode)
    results = mode_results(xml, ''.join(output), returncode)
    _save(results_dir, mode + tag, results, returncode, tests)
    return results


def _save(results_dir, mode, results, returncode, tests):
    data = {'returncode': returncode, 'tests': tests,
            'results': {k: [v.status, v.detail] for k, v in results.items()}}
    (results_dir / f'{mode}.json').write_text(json.dumps(data, indent=1))


def load_saved(paths, mode):
    """Results of an earlier run of *mode* (None if there is none)."""
    try:
        data = json.loads((paths.results / f'{mode}.json').read_text())
    except FileNotFoundError:
        return None
    return {k: Outcome(*v) for k, v in data['results'].items()}
