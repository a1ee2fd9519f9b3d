"""build: configure stamp, incrementality, failures, dependency check."""

import os

import pytest

from conftest import fake_source
from pep433tool import build, deps
from pep433tool.errors import ExternalError, PreconditionError

CONFIGURE = '''#!/bin/sh
echo "configure $*" >> "$(dirname "$0")/configure-runs"
cat > Makefile <<'EOT'
all:
\t@echo "gcc -c foo.c -o foo.o"
\t@test ! -e {src}/fail || (echo "error: broken" && exit 2)
\t@echo built > python
EOT
'''


@pytest.fixture
def src(tmp_path):
    return fake_source(tmp_path, CONFIGURE)


def runs(src):
    return (src / 'configure-runs').read_text().splitlines()


def test_configure_once_then_incremental(src, tmp_path):
    out = tmp_path / 'out'
    python = build.build_tree('t', src, out, [])
    assert python.read_text() == 'built\n'
    build.build_tree('t', src, out, [])
    assert runs(src) == ['configure ']
    build.build_tree('t', src, out, ['--with-pydebug'])
    assert runs(src) == ['configure ', 'configure --with-pydebug']
    assert 'gcc -c foo.c' in (out / 'make.log').read_text()


def test_make_failure_shows_tail_and_log(src, tmp_path):
    (src / 'fail').write_text('')
    with pytest.raises(ExternalError) as info:
        build.build_tree('t', src, tmp_path / 'out', [])
    message = str(info.value)
    assert 'error: broken' in message
    assert str(tmp_path / 'out' / 'make.log') in message


def test_in_tree_build_is_refused(src, tmp_path):
    (src / 'Makefile').write_text('')
    with pytest.raises(PreconditionError) as info:
        build.build_tree('t', src, tmp_path / 'out', [])
    assert f'make -C {src} distclean' in str(info.value)


def test_missing_deps_as_user(monkeypatch):
    monkeypatch.setattr(deps, 'missing_packages', lambda pkgs: ['uuid-dev'])
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    with pytest.raises(PreconditionError) as info:
        deps.ensure_build_deps()
    assert ('sudo apt-get install -y --no-install-recommends uuid-dev'
            in str(info.value))


def test_missing_packages_real_dpkg():
    result = deps.missing_packages(['dpkg', 'no-such-package-pep433'])
    if result is None:
        pytest.skip('not a Debian system')
    assert result == ['no-such-package-pep433']


def test_cli_build_missing_deps_exit_3(monkeypatch, project):
    monkeypatch.setattr(deps, 'missing_packages', lambda pkgs: ['ccache'])
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert project.run('build') == 3
