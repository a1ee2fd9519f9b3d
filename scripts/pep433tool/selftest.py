"""``selftest``: the tooling's own pytest suite, in a private venv."""

import logging
import subprocess

from . import config, deps, venvs
from .errors import PreconditionError
from .util import clean_env, format_cmd, run

log = logging.getLogger(__name__)

STAMP = '.pep433-requirements'


def ensure_venv(paths, requirements='requirements-test.txt'):
    """The tool's venv with *requirements* (a file of scripts/) installed;
    return its python.  A stamp per requirements file, so a second call
    installs nothing unless the file changed."""
    path = paths.repo / 'scripts' / requirements
    return venvs.ensure_venv(
        paths.venv, path.read_text(),
        lambda python: run([str(python), '-m', 'pip', 'install', '--quiet',
                            '-r', str(path)]),
        stamp=f'{STAMP}-{requirements}')


def ensure_tools(paths):
    """The venv with the developer tools of scripts/requirements-dev.txt
    (blurb for news; pyperf, pyperformance and matplotlib for bench);
    return its bin directory."""
    return ensure_venv(paths, 'requirements-dev.txt').parent


def ensure_test_packages():
    """Install the Debian packages some tests skip without (as root); as
    another user, say which tests will skip and the command that fixes it."""
    try:
        deps.ensure_packages(config.TEST_PACKAGES, 'packages the tests use')
    except PreconditionError as exc:
        log.warning('%s: the tests that need them will be skipped '
                    '(to fix: %s)', exc.message, exc.hint)


def run_selftest(paths, fast=False, pytest_args=()):
    """Implement the ``selftest`` subcommand; return pytest's exit code."""
    ensure_test_packages()
    python = ensure_venv(paths)
    tests = paths.repo / 'scripts' / 'tests'
    cmd = [str(python), '-m', 'pytest', str(tests), '-rs', '-p',
           'no:cacheprovider']
    if not fast:
        cmd.append('--run-slow')
    cmd += list(pytest_args)
    log.info('$ %s', format_cmd(cmd))
    env = clean_env({'PEP433_WORKDIR': str(paths.root),
                     'PEP433_REPO': str(paths.repo)})
    proc = subprocess.run(cmd, cwd=paths.repo / 'scripts', env=env,
                          check=False)
    return proc.returncode


# --- the command line --------------------------------------------------------

SUMMARY = "run the tooling's own tests"


def add_arguments(parser):
    """``selftest``'s options."""
    parser.add_argument('--fast', action='store_true',
                        help='skip the slow end-to-end tests')
    parser.add_argument('pytest_args', nargs='*', metavar='PYTEST_ARG',
                        help='extra pytest arguments (after --)')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_selftest(paths, fast=args.fast, pytest_args=args.pytest_args)
