"""build: configure stamp, incrementality, failures, dependency check."""

import json
import os
import re

import pytest

from conftest import commit_all, fake_checkout, fake_source
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


def test_a_build_in_use_is_not_rebuilt_nor_used_while_built(src, tmp_path):
    """A folder a test or a bench runs is not rebuilt under it, and one
    being built is not run (the lock is another process's: a child)."""
    import subprocess
    import sys
    from pep433tool.util import build_in_use
    out = tmp_path / 'out'
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys; from pep433tool.util import '
         'build_in_use\nwith build_in_use(sys.argv[1], "test of patched", '
         'exclusive=sys.argv[2] == "1"):\n    print("held", flush=True)\n'
         '    sys.stdin.read()', str(out), '0'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(build.__file__) + '/..')
    assert holder.stdout.readline() == 'held\n'
    try:
        with pytest.raises(PreconditionError) as info:
            build.build_tree('t', src, out, [])
        assert 'is in use' in info.value.message
        assert not (out / 'python').exists()
        with build_in_use(out, 'bench'):      # another user: shared
            pass
    finally:
        holder.communicate('')
    build.build_tree('t', src, out, [])     # released when it ended
    # and the other way: a build holds it, a test is refused, naming it
    with build_in_use(out, 'build of patched', exclusive=True):
        probe = subprocess.run(
            [sys.executable, '-c', 'import sys; from pep433tool.util import '
             'build_in_use\nwith build_in_use(sys.argv[1], "bench"):\n'
             '    pass', str(out)], capture_output=True, text=True,
            cwd=os.path.dirname(build.__file__) + '/..')
    assert probe.returncode != 0
    assert 'being built (build of patched, pid' in probe.stderr


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


# --- build --optimized: PGO + LTO --------------------------------------------

def fake_run_build(monkeypatch, tmp_path):
    """run_build() with its checks faked and build_tree() recorded: return
    (paths, the list of (label, src, builddir, flags) it builds)."""
    from pep433tool import gitutil
    from pep433tool.util import Paths
    paths = Paths(workdir=tmp_path / 'work', repo=tmp_path / 'project',
                  base='3.13.5')
    built = []
    monkeypatch.setattr(deps, 'ensure_build_deps', lambda: None)
    monkeypatch.setattr(build, 'require_checkout', lambda p: p.cpython)
    monkeypatch.setattr(build, 'require_branch', lambda repo: None)
    monkeypatch.setattr(gitutil, 'is_repo', lambda path: True)
    monkeypatch.setattr(gitutil, 'dirty_files', lambda repo: [])
    monkeypatch.setattr(
        build, 'build_tree',
        lambda label, src, builddir, flags, jobs=None, extra_env=None:
        built.append((label, src, builddir, list(flags), extra_env)))
    return paths, built


def test_optimized_variant_builds_both_with_pgo_and_lto(monkeypatch,
                                                        tmp_path):
    from pep433tool import config
    paths, built = fake_run_build(monkeypatch, tmp_path)
    paths.update_state(configure_args=['--with-system-expat'])
    assert build.run_build(paths, variant='optimized') == 0
    flags = ['--with-system-expat', '--enable-optimizations', '--with-lto']
    assert config.VARIANTS['optimized'] == ('--enable-optimizations',
                                            '--with-lto')
    # identical flags on both sides, each in its own folder
    assert built == [
        ('baseline-optimized', paths.baseline_src,
         paths.workdir / 'baseline-optimized', flags, None),
        ('patched-optimized', paths.cpython,
         paths.workdir / 'patched-optimized', flags, None)]
    built.clear()
    assert build.run_build(paths, only='patched', variant='optimized') == 0
    assert [b[0] for b in built] == ['patched-optimized']
    # the plain builds keep their folders and flags
    built.clear()
    build.run_build(paths)
    assert [(b[2].name, b[3]) for b in built] == [
        ('baseline', ['--with-system-expat']),
        ('patched', ['--with-system-expat'])]


def test_cli_build_optimized(monkeypatch, project):
    seen = {}

    def fake(paths, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(build, 'run_build', fake)
    assert project.run('build', '--optimized', '--only', 'patched') == 0
    assert seen['variant'] == 'optimized' and seen['only'] == 'patched'
    assert project.run('build', '--optimized', '--asan') == 2


#: make.log of a PGO build (profile-opt), as make writes it, in pieces:
#: the instrumented build, the training run (regrtest --pgo, whose tests
#: print their own lines), the rebuild with the profile.
PGO_LOG = (
    '$ make -j2\n'
    'Running code to generate profile data (this can take a while):\n'
    '# First, we need to create a clean build with profile generation\n'
    'make profile-gen-stamp\n'
    'touch profile-clean-stamp\n'
    'Building with support for profile generation:\n'
    'make build_all CFLAGS_NODIST=" -fprofile-generate"\n',
    'gcc -c -fprofile-generate -flto ../src/Python/ceval.c '
    '-o Python/ceval.o\n',
    'touch profile-gen-stamp\n'
    '# Next, run the profile task to generate the profile information.\n'
    './python -m test --pgo --timeout=\n'
    'Using random seed: 1234\n'
    '0:00:00 load avg: 1.53 Run 44 tests sequentially\n',
    '0:00:00 load avg: 1.53 [ 1/44] test_array\n'
    '0:00:03 load avg: 1.60 [ 2/44] test_ast\n',
    'some output of test_ast, with gcc -o lookalike.o in it\n'
    'and a partial line with no end',
    ' yet\n0:01:10 load avg: 1.90 [13/44] test_bytes\n',
    'true\nmake clean-retain-profile\ntouch profile-run-stamp\n'
    'Rebuilding with profile guided optimizations:\n'
    'rm -f profile-clean-stamp\n'
    'gcc -c -fprofile-use -fprofile-correction -flto '
    '../src/Objects/abstract.c -o Objects/abstract.o\n',
)


def test_pgo_progress_says_the_stage_and_the_training_test(tmp_path):
    builddir = tmp_path / 'b'
    (builddir / 'Python').mkdir(parents=True)
    (builddir / 'Python' / 'ceval.o').write_text('')
    logfile = builddir / 'make.log'
    progress = build.PgoProgress(builddir)
    seen = []
    for piece in PGO_LOG:
        with open(logfile, 'a') as f:
            f.write(piece)
        seen.append(progress(logfile))
    assert seen[0] == ('PGO 1/3 profile-gen (instrumented build): 1 objects '
                       'built; make build_all CFLAGS_NODIST=" '
                       '-fprofile-generate"')
    assert seen[1] == ('PGO 1/3 profile-gen (instrumented build): 1 objects '
                       'built; last target: Python/ceval.o')
    # the training run: the test it is at, not a target of the build
    assert seen[2] == 'PGO 2/3 run_profile_task: starting'
    assert seen[3] == 'PGO 2/3 run_profile_task: test_ast (2/44)'
    assert seen[4] == 'PGO 2/3 run_profile_task: test_ast (2/44)'
    assert seen[5] == 'PGO 2/3 run_profile_task: test_bytes (13/44)'
    assert seen[6] == ('PGO 3/3 profile-use (optimized rebuild): 1 objects '
                       'built; last target: Objects/abstract.o')
    # a new log (make runs again) starts over
    logfile.write_text('$ make -j2\ngcc -c x.c -o x.o\n')
    assert progress(logfile) == '1 objects built; last target: x.o'


PGO_CONFIGURE = '''#!/bin/sh
echo "configure $*" >> "$(dirname "$0")/configure-runs"
cat > Makefile <<'EOT'
all:
\t@echo "Building with support for profile generation:"
\t@sleep 0.3
\t@echo "touch profile-gen-stamp"
\t@echo "0:00:00 load avg: 1.00 [ 1/2] test_array"
\t@sleep 0.3
\t@echo "0:00:01 load avg: 1.00 [ 2/2] test_bytes"
\t@echo "a test's own output"
\t@sleep 0.3
\t@echo "Rebuilding with profile guided optimizations:"
\t@sleep 0.3
\t@echo built > python
EOT
'''


def test_pgo_build_logs_its_stages(tmp_path, monkeypatch, caplog):
    import logging
    src = fake_source(tmp_path, PGO_CONFIGURE)
    monkeypatch.setattr(build, 'PROGRESS_INTERVAL', 0.05)
    caplog.set_level(logging.INFO, logger='pep433tool.build')
    python = build.build_tree('patched-optimized', src, tmp_path / 'out',
                              ['--enable-optimizations', '--with-lto'])
    assert python.read_text() == 'built\n'
    text = caplog.text
    assert 'patched-optimized make:' in text
    assert 'PGO 1/3 profile-gen (instrumented build)' in text
    assert 'PGO 2/3 run_profile_task: test_bytes (2/2)' in text
    assert "a test's own output" not in text
    assert 'PGO 3/3 profile-use (optimized rebuild)' in text
    # configure once, with the flags
    assert runs(src) == ['configure --enable-optimizations --with-lto']


def test_configure_tree_alone_runs_no_make(src, tmp_path):
    out = tmp_path / 'out'
    env = build.configure_tree('t', src, out, ['--with-lto'])
    assert (out / 'Makefile').exists() and not (out / 'python').exists()
    assert not (out / 'make.log').exists()
    assert 'PATH' in env
    assert build.build_tree('t', src, out, ['--with-lto']).exists()
    assert runs(src) == ['configure --with-lto']     # configured once


@pytest.mark.slow
def test_optimized_configure_of_the_patched_tree(tmp_path, request):
    """configure --enable-optimizations --with-lto on the patched checkout
    (the configure step of build --optimized --only patched; the builds
    themselves are too long for CI): make would run profile-opt with LTO."""
    from conftest import BASEDIR, WORKDIR
    from pep433tool import config
    from pep433tool.checkout import require_checkout
    from pep433tool.util import Paths
    if not (BASEDIR / 'cpython' / '.git').exists():
        request.getfixturevalue('all_run')   # a fresh clone: fetch, apply
    paths = Paths(workdir=WORKDIR)
    repo = require_checkout(paths)
    build.require_branch(repo)
    flags = build.configure_flags(paths) + list(config.VARIANTS['optimized'])
    builddir = tmp_path / 'patched-optimized'
    build.configure_tree('patched-optimized', repo, builddir, flags)
    makefile = (builddir / 'Makefile').read_text()
    assert re.search(r'^all:\s+profile-opt$', makefile, re.M), \
        'configure --enable-optimizations did not make profile-opt the ' \
        'default target'
    assert re.search(r'^PROFILE_TASK=\s*\S', makefile, re.M)
    assert re.search(r'^PGO_PROF_GEN_FLAG=.*-fprofile-generate', makefile,
                     re.M)
    assert '-flto' in makefile
    assert json.loads((builddir / build.STAMP).read_text()) == {
        'src': str(repo.resolve()), 'configure_args': flags}


def test_a_pgo_build_forgets_the_profile_of_changed_sources(tmp_path):
    # The base's Makefile would reuse profile-run-stamp's profile for a
    # changed tree, which gcc refuses: a change must remove the stamps.
    paths, repo = fake_checkout(tmp_path, {'Python/x.c': 'int x;\n'})
    builddir = tmp_path / 'patched-optimized'
    builddir.mkdir()

    def profile_kept():
        """Stamp a finished PGO cycle, check the source: are the stamps
        still all there (True) or all gone (False)?"""
        for name in build.PGO_STAMPS:
            (builddir / name).write_text('')
        build.forget_stale_profile('p', repo, builddir)
        left = [name for name in build.PGO_STAMPS
                if (builddir / name).exists()]
        assert left in ([], list(build.PGO_STAMPS))
        return bool(left)

    # a profile with no record of its source: made again
    assert not profile_kept()
    # the same source: kept
    assert profile_kept()
    # an uncommitted change: made again, then kept
    (repo / 'Python/x.c').write_text('int x = 1;\n')
    assert not profile_kept()
    assert profile_kept()
    # committed: another commit, made again
    commit_all(repo, 'change')
    assert not profile_kept()
