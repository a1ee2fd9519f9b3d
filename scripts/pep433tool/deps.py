"""Debian packages the tool needs (CPython's build dependencies, chromium
for the docs screenshots), checked with dpkg-query."""

import logging
import os
import shutil

from . import config
from .errors import ExternalError, PreconditionError
from .util import format_cmd, run

log = logging.getLogger(__name__)


def missing_packages(packages):
    """The packages of *packages* that dpkg does not list as installed.

    Return None when dpkg-query is not available (not a Debian system).
    """
    if shutil.which('dpkg-query') is None:
        return None
    proc = run(['dpkg-query', '-W', '-f=${Package} ${db:Status-Abbrev}\n',
                *packages], check=False, quiet=True)
    installed = set()
    for line in proc.stdout.splitlines():
        name, _, status = line.partition(' ')
        if status.startswith('ii'):
            installed.add(name.split(':')[0])
    return [pkg for pkg in packages if pkg not in installed]


def install_command(packages):
    """The apt-get command that installs *packages*."""
    return ['apt-get', 'install', '-y', '--no-install-recommends', *packages]


def ensure_build_deps(packages=config.BUILD_DEPS + config.TOOL_DEPS):
    """Make sure the build dependencies are installed.

    As root, missing packages are installed (``apt-get update`` first when
    apt cannot find them); otherwise raise PreconditionError naming the
    command to run.
    """
    ensure_packages(packages, 'build dependencies')


def ensure_packages(packages, what):
    """Make sure the Debian *packages* (*what* they are, for the messages)
    are installed, as ensure_build_deps() does."""
    missing = missing_packages(packages)
    if missing is None:
        log.warning('dpkg-query not found: not checking %s (%s)', what,
                    ' '.join(packages))
        return
    if not missing:
        log.debug('%s installed: %s', what, ' '.join(packages))
        return
    cmd = install_command(missing)
    if os.geteuid() != 0:
        raise PreconditionError(
            f'missing {what}: ' + ' '.join(missing),
            hint='sudo ' + format_cmd(cmd))
    log.info('installing missing %s: %s', what, ' '.join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    proc = run(cmd, env=env, check=False)
    if proc.returncode != 0:
        log.info('apt-get install failed; updating the package lists first')
        run(['apt-get', 'update', '-q'], env=env)
        run(cmd, env=env)
    still = missing_packages(missing)
    if still:
        raise ExternalError('still missing after apt-get install: '
                            + ' '.join(still))
