"""Tooling faults: interrupted runs, bad tarballs, foreign checkouts.

* ``apply`` or ``build`` killed midway and run again ends in the state a
  clean run gives;
* a corrupted or wrong-version tarball is refused (exit 3) and a bad one in
  the cache is removed;
* a dirty or foreign checkout is refused (exit 3) and left byte for byte as
  it was (work tree files with their modes, refs, HEAD, index).

The kills are real SIGKILLs: ``apply`` runs as ``scripts/pep433`` in a
subprocess whose PATH starts with a fake ``git`` that kills its parent on
the Nth call of a chosen git subcommand; ``build`` runs in a subprocess
whose process group is killed while the fake configure or make waits.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import (Project, SCRIPTS, bases_table, commit_all,
                      exported_project,
                      fake_source, git, make_base, make_series_commits,
                      write, write_tarball)
from pep433tool import bases, build, fetch
from pep433tool.util import sha256_of

SCRIPT = SCRIPTS / 'pep433'


# --- snapshots ---------------------------------------------------------------

def tree_snapshot(root, skip_git=True):
    """{relpath: (bytes, mode)} of every file and symlink under *root*."""
    root = Path(root)
    result = {}
    for path in sorted(root.rglob('*')):
        rel = path.relative_to(root)
        if skip_git and rel.parts[0] == '.git':
            continue
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            result[str(rel)] = (os.readlink(path).encode(), st.st_mode)
        elif stat.S_ISREG(st.st_mode):
            result[str(rel)] = (path.read_bytes(), st.st_mode)
        else:
            result[str(rel)] = (None, st.st_mode)
    return result


def repo_snapshot(repo):
    """What the user sees of a checkout: files, refs, HEAD, index, state."""
    repo = Path(repo)
    gitdir = Path(git(repo, 'rev-parse', '--absolute-git-dir'))
    return {
        'files': tree_snapshot(repo),
        'refs': git(repo, 'for-each-ref',
                    '--format=%(refname) %(objectname)'),
        'HEAD': (gitdir / 'HEAD').read_bytes(),
        'index': git(repo, 'ls-files', '-s', '--debug'),
        'status': git(repo, 'status', '--porcelain=v1', '--ignored',
                      '--untracked-files=all'),
        'worktrees': git(repo, 'worktree', 'list', '--porcelain'),
        'config': git(repo, 'config', '--list', '--show-origin'),
        'exclude': tree_snapshot(
            Path(git(repo, 'rev-parse', '--path-format=absolute',
                     '--git-common-dir')) / 'info', skip_git=False),
        'am': sorted(str(p.relative_to(gitdir)) for p in gitdir.rglob('*')
                     if p.name in ('rebase-apply', 'rebase-merge')),
    }


def user_view(repo):
    """repo_snapshot without the stat data of ``ls-files --debug``."""
    snap = repo_snapshot(repo)
    snap['index'] = git(repo, 'ls-files', '-s')
    return snap


# --- a series of four patches ---------------------------------------------

def make_four_commits(repo):
    """make_series_commits plus a commit adding a file and one editing it."""
    make_series_commits(repo)
    write(repo, 'Lib/test/test_y.py', 'import unittest\n\n# test_y\n')
    os.chmod(repo / 'Lib/test/test_y.py', 0o755)
    commit_all(repo, 'Add test_y\n\nA new test module.\n\n'
               'Bug: bpo-17036\n', date='2026-01-04T00:00:00Z')
    text = (repo / 'Lib/os.py').read_text().replace('line 25\n',
                                                    'line 25 (cloexec)\n')
    write(repo, 'Lib/os.py', text)
    commit_all(repo, 'Document cloexec in os\n\nComments.\n\n'
               'Bug: bpo-17036\n', date='2026-01-05T00:00:00Z')


@pytest.fixture
def exported4(tmp_path):
    """A project whose patches/ holds a series of four patches."""
    proj = exported_project(tmp_path, make_four_commits)
    assert len((proj.patches / 'series').read_text().split()) == 4
    return proj


def sibling(exported, tmp_path, name):
    """A project sharing *exported*'s repository, with a fresh base."""
    other = Project(tmp_path / name)
    other.repo = other.paths.repo = exported.repo
    make_base(other.cpython)
    return other


def end_state(proj):
    """The state an apply leaves, for comparison with a clean apply."""
    snap = user_view(proj.cpython)
    del snap['config']
    snap['worktrees'] = snap['worktrees'].replace(str(proj.root), '<root>')
    leftovers = sorted(p.name for p in proj.workdir.iterdir()
                       if p.name.startswith(('apply-', 'unpack-')))
    return {**snap, 'leftovers': leftovers}


# --- a fake git that kills the tool ------------------------------------------

FAKE_GIT = '''\
#!{python} -S
"""Fake git: on the Nth call matching FAKE_GIT_KILL, SIGKILL the caller.

FAKE_GIT_KILL is "WORD[,WORD...]:N:WHEN": the call matches when its
subcommand (after -C/-c options) is the first WORD and it has the others
among its arguments.  WHEN: before (kill, do not run git), after (run git,
then kill) or broken (git am only: run it on a copy of the patch whose
removed lines are altered, so that it stops with an am in progress, then
kill).
"""
import os, signal, subprocess, sys
REAL = {real!r}
args = sys.argv[1:]
i = 0
while i < len(args) and args[i] in ('-C', '-c'):
    i += 2
sub = args[i:]
words, count, when = os.environ['FAKE_GIT_KILL'].split(':')
words = words.split(',')
hit = False
if sub and sub[0] == words[0] and all(w in sub for w in words[1:]):
    counter = os.environ['FAKE_GIT_COUNTER']
    n = int(open(counter).read() or 0) + 1 if os.path.exists(counter) else 1
    with open(counter, 'w') as f:
        f.write(str(n))
    hit = n == int(count)
def kill_caller():
    with open(os.environ['FAKE_GIT_COUNTER'] + '.killed', 'w') as f:
        f.write(' '.join(sub))
    os.kill(os.getppid(), signal.SIGKILL)
if hit and when == 'before':
    kill_caller()
    sys.exit(1)
if hit and when == 'broken':
    patch = args[-1]
    text = open(patch).read().splitlines(True)
    broken = [('-BROKEN ' + l[1:]) if l.startswith('-') and not
              l.startswith('---') else l for l in text]
    copy = os.environ['FAKE_GIT_COUNTER'] + '.patch'
    with open(copy, 'w') as f:
        f.writelines(broken)
    args[-1] = copy
rc = subprocess.call([REAL, *args])
if hit:
    kill_caller()
sys.exit(rc)
'''


def run_killed(proj, tmp_path, kill, *args):
    """Run scripts/pep433 *args* with the fake git; expect it SIGKILLed."""
    fakebin = tmp_path / 'fakebin'
    fakebin.mkdir(exist_ok=True)
    fake = fakebin / 'git'
    real = shutil.which('git')
    fake.write_text(FAKE_GIT.format(python=sys.executable, real=real))
    fake.chmod(0o755)
    counter = tmp_path / ('counter-' + re.sub(r'\W', '_', kill))
    env = dict(os.environ, PATH=f'{fakebin}{os.pathsep}{os.environ["PATH"]}',
               FAKE_GIT_KILL=kill, FAKE_GIT_COUNTER=str(counter))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), '--workdir', str(proj.workroot),
         '--repo', str(proj.repo), '--base', proj.base, *args], env=env,
        capture_output=True,
        text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f'not killed at {kill} (exit {proc.returncode}):\n'
        + proc.stdout + proc.stderr)
    assert Path(str(counter) + '.killed').exists()
    return proc


# --- apply killed midway -----------------------------------------------------

KILL_POINTS = [
    'worktree,add:1:after',          # temporary worktree made, nothing in it
    'am:1:after',                    # first patch committed
    'am:3:broken',                   # git am in progress in the worktree
    'worktree,remove:1:before',      # series built, branch not moved
    'reset,--keep:1:before',         # ... nor the checked-out branch
    'update-ref,refs/pep433/applied:1:before',   # moved, not recorded
]


@pytest.mark.parametrize('kill', KILL_POINTS)
def test_apply_killed_midway_then_rerun(exported4, tmp_path, kill):
    clean = sibling(exported4, tmp_path, 'clean')
    victim = sibling(exported4, tmp_path, 'victim')
    for proj in (clean, victim):
        write(proj.cpython, 'my-notes.txt', 'untracked, mine\n')
    assert clean.run('apply') == 0
    expected = end_state(clean)
    run_killed(victim, tmp_path, kill, 'apply')
    assert victim.run('apply') == 0
    assert end_state(victim) == expected
    # a third run is a no-op
    assert victim.run('apply') == 0
    assert end_state(victim) == expected


def test_apply_killed_with_other_branch_checked_out(exported4, tmp_path):
    clean = sibling(exported4, tmp_path, 'clean')
    victim = sibling(exported4, tmp_path, 'victim')
    for proj in (clean, victim):
        git(proj.cpython, 'switch', '-q', '-c', 'mine')
        write(proj.cpython, 'Lib/os.py', 'my work\n')
        git(proj.cpython, 'commit', '-qam', 'mine')
    assert clean.run('apply') == 0
    run_killed(victim, tmp_path, 'am:2:broken', 'apply')
    assert victim.run('apply') == 0
    assert end_state(victim) == end_state(clean)
    assert git(victim.cpython, 'branch', '--show-current') == 'mine'


def test_apply_killed_during_series_change_keeps_one_backup(exported4,
                                                            tmp_path):
    """The series changed: the old tip is kept once, however often run."""
    clean = sibling(exported4, tmp_path, 'clean')
    victim = sibling(exported4, tmp_path, 'victim')
    for proj in (clean, victim):
        assert proj.run('apply') == 0
    series = exported4.patches / 'series'
    names = series.read_text().split()
    series.write_text('\n'.join(names[:2]) + '\n')
    assert clean.run('apply') == 0
    # killed after the backup ref is written, before the branch moves
    run_killed(victim, tmp_path, 'reset,--keep:1:before', 'apply')
    assert victim.run('apply') == 0
    assert end_state(victim) == end_state(clean)
    assert git(victim.cpython, 'for-each-ref', '--format=%(refname)',
               'refs/pep433/backup/') == 'refs/pep433/backup/1'


# --- build killed midway -----------------------------------------------------

SLOW_CONFIGURE = '''#!/bin/sh
echo "configure $*" >> "$(dirname "$0")/configure-runs"
cat > Makefile <<'EOT'
all:
\t@echo "gcc -c foo.c -o foo.o"
\t@if test -e {src}/slow-make; then \\
\t    rm {src}/slow-make; touch make-started; sleep 30; fi
\t@echo built > python
EOT
if test -e "$(dirname "$0")/slow-configure"; then
    rm "$(dirname "$0")/slow-configure"; touch configure-started; sleep 30
fi
'''


@pytest.fixture
def slow_src(tmp_path):
    return fake_source(tmp_path, SLOW_CONFIGURE)


def build_killed_at(src, out, marker, flags=()):
    """Run build_tree in a subprocess; SIGKILL its group when *marker*
    appears in *out* (the fake configure or make then waits 30 s)."""
    code = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(SCRIPTS)!r})
        from pep433tool import build
        build.build_tree('t', {str(src)!r}, {str(out)!r}, {list(flags)!r})
    ''')
    (out / marker).unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, '-c', code],
                            start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (out / marker).exists():
            assert proc.poll() is None, 'build ended before the kill'
            assert time.monotonic() < deadline, f'no {marker}'
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def configure_runs(src):
    return (src / 'configure-runs').read_text().splitlines()


def test_build_killed_during_make_then_rerun(slow_src, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (slow_src / 'slow-make').write_text('')
    build_killed_at(slow_src, out, 'make-started')
    assert not (out / 'python').exists()
    python = build.build_tree('t', slow_src, out, [])
    assert python.read_text() == 'built\n'
    assert configure_runs(slow_src) == ['configure ']   # not re-run
    assert json.loads((out / build.STAMP).read_text()) == {
        'src': str(slow_src.resolve()), 'configure_args': []}


def test_build_killed_during_configure_reruns_it(slow_src, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (slow_src / 'slow-configure').write_text('')
    build_killed_at(slow_src, out, 'configure-started')
    assert (out / 'Makefile').exists()          # configure got that far
    assert not (out / build.STAMP).exists()     # but did not claim success
    build.build_tree('t', slow_src, out, [])
    assert configure_runs(slow_src) == ['configure ', 'configure ']
    assert (out / 'python').read_text() == 'built\n'


def test_build_killed_during_reconfigure_reruns_it(slow_src, tmp_path):
    """New flags, configure killed: the old stamp must not be trusted."""
    out = tmp_path / 'out'
    build.build_tree('t', slow_src, out, [])
    (slow_src / 'slow-configure').write_text('')
    build_killed_at(slow_src, out, 'configure-started', ['--with-pydebug'])
    assert not (out / build.STAMP).exists()
    build.build_tree('t', slow_src, out, ['--with-pydebug'])
    assert configure_runs(slow_src) == [
        'configure ', 'configure --with-pydebug', 'configure --with-pydebug']
    assert json.loads((out / build.STAMP).read_text())[
        'configure_args'] == ['--with-pydebug']


# --- tarballs ----------------------------------------------------------------

def fake_tarball(path, version='3.13.5', top='Python-3.13.5'):
    return write_tarball(path, top, {
        'Include/patchlevel.h': f'#define PY_VERSION "{version}"\n',
        'README.rst': f'This is Python version {version}\n',
        'Lib/os.py': 'pass\n'})


@pytest.fixture
def good_sha(monkeypatch, tmp_path):
    """Make a fake 3.13.5 tarball "the release" (its sha256 expected)."""
    good = fake_tarball(tmp_path / 'good.tar.xz')
    pin_sha256(monkeypatch, tmp_path, sha256_of(good))
    return good


def pin_sha256(monkeypatch, tmp_path, digest):
    """A bases table whose 3.13.5 is pinned to *digest*."""
    monkeypatch.setenv('PEP433_BASES', str(bases_table(
        tmp_path / 'bases.toml', {'sha256': digest})))


CACHED = 'python3.13_3.13.5.orig.tar.xz'


def no_download(monkeypatch):
    calls = []

    def fake(paths, *args, **kwargs):
        calls.append(paths)
        from pep433tool.errors import PreconditionError
        raise PreconditionError('(test) no download')
    monkeypatch.setattr(fetch, 'download_debian_tarball', fake)
    monkeypatch.setattr(fetch, 'download_url', lambda paths: None)
    return calls


def assert_nothing_created(proj):
    assert not proj.cpython.exists()
    assert not (proj.workdir / 'baseline-src').exists()
    assert not list(proj.workdir.glob('unpack-*'))
    assert not (proj.workroot / 'cache' / CACHED).exists()


def test_corrupted_tarball_is_refused(good_sha, tmp_path, caplog):
    proj = Project(tmp_path / 'p')
    bad = tmp_path / 'truncated.tar.xz'
    bad.write_bytes(good_sha.read_bytes()[:-100])
    assert proj.run('fetch', '--tarball', str(bad)) == 3
    assert 'sha256' in caplog.text and str(bad) in caplog.text
    assert_nothing_created(proj)
    assert bad.exists()              # the user's own file is not removed


def test_wrong_version_tarball_is_refused_by_checksum(tmp_path, caplog):
    """A valid tarball of 3.13.4: its sha256 is not the 3.13.5 one."""
    proj = Project(tmp_path / 'p')
    other = fake_tarball(tmp_path / 'Python-3.13.4.tar.xz', '3.13.4')
    assert proj.run('fetch', '--tarball', str(other)) == 3
    assert bases.get('3.13.5').sha256 in caplog.text
    assert 'the CPython 3.13.5 release tarball' in caplog.text
    assert_nothing_created(proj)


def test_wrong_version_inside_a_matching_tarball_is_refused(
        good_sha, monkeypatch, tmp_path, caplog):
    """Belt and braces: the version check after the checksum."""
    proj = Project(tmp_path / 'p')
    other = fake_tarball(tmp_path / 'x.tar.xz', '3.13.4')
    pin_sha256(monkeypatch, tmp_path, sha256_of(other))
    assert proj.run('fetch', '--tarball', str(other)) == 3
    assert 'contains Python 3.13.4, not 3.13.5' in caplog.text
    assert not proj.cpython.exists()
    assert not list(proj.workdir.glob('unpack-*'))


@pytest.mark.parametrize('content', ['corrupt', 'wrong-version'])
def test_bad_cached_tarball_is_removed(good_sha, monkeypatch, tmp_path,
                                       caplog, content):
    proj = Project(tmp_path / 'p')
    cached = proj.workroot / 'cache' / CACHED
    cached.parent.mkdir(parents=True)
    if content == 'corrupt':
        cached.write_bytes(good_sha.read_bytes()[:-100])
    else:
        fake_tarball(cached, '3.13.4')
    calls = no_download(monkeypatch)
    assert proj.run('fetch') == 3            # no download in the test
    assert calls, 'fetch did not try to download a good tarball'
    assert not cached.exists()
    assert 'removing it' in caplog.text
    assert not proj.cpython.exists()
    # with a good file in the cache, fetch uses it without downloading
    cached.write_bytes(good_sha.read_bytes())
    calls.clear()
    assert proj.run('fetch') == 0
    assert not calls
    assert fetch.checkout_ok(proj.cpython, proj.paths.base)


def test_checkout_whose_tag_is_another_version_is_refused(tmp_path, caplog):
    proj = Project(tmp_path / 'p')
    mine = make_base(tmp_path / 'my-cpython')
    write(mine, 'Include/patchlevel.h', '#define PY_VERSION "3.13.4"\n')
    git(mine, 'commit', '-qam', '3.13.4, tagged wrongly')
    git(mine, 'tag', '-f', 'v3.13.5')
    before = repo_snapshot(mine)
    raw_before = tree_snapshot(mine, skip_git=False)
    assert proj.run('fetch', '--checkout', str(mine)) == 3
    assert "says '3.13.4', not '3.13.5'" in caplog.text
    assert repo_snapshot(mine) == before
    assert tree_snapshot(mine, skip_git=False) == raw_before
    assert not (proj.workdir / 'baseline-src').exists()
    assert 'checkout' not in proj.paths.load_state()


# --- dirty or foreign checkouts: refused, untouched --------------------------

def assert_refused_untouched(proj, caplog, *messages):
    """apply exits 3, names the problem, and changes nothing visible."""
    repo = proj.cpython
    before = repo_snapshot(repo)
    raw_before = tree_snapshot(repo / '.git', skip_git=False)
    state_before = workdir_snapshot(proj)
    caplog.clear()
    assert proj.run('apply') == 3
    for message in messages:
        assert message in caplog.text
    assert repo_snapshot(repo) == before
    # nothing written into .git either, except objects and the index's
    # cached stat data (git status refreshes it)
    raw_after = tree_snapshot(repo / '.git', skip_git=False)
    changed = {path for path in raw_before.keys() | raw_after.keys()
               if raw_before.get(path) != raw_after.get(path)}
    assert {p for p in changed
            if not p.startswith('objects/') and p != 'index'} == set()
    assert workdir_snapshot(proj) == state_before


def workdir_snapshot(proj):
    """The work directory but the checkout (compared on its own)."""
    return {path: value
            for path, value in tree_snapshot(proj.workdir).items()
            if not Path(path).parts[0] == 'cpython'}


@pytest.fixture
def applied(exported4, tmp_path):
    """A fresh base with the series applied, pep433 checked out."""
    proj = sibling(exported4, tmp_path, 'user')
    assert proj.run('apply') == 0
    return proj


def change_series(proj):
    """A "git pull" that brings a shorter series: apply would rebuild."""
    series = proj.patches / 'series'
    series.write_text('\n'.join(series.read_text().split()[:3]) + '\n')


def test_refuses_uncommitted_changes(applied, caplog):
    change_series(applied)
    write(applied.cpython, 'Lib/os.py', 'my edit\n')
    git(applied.cpython, 'add', 'Lib/os.py')
    write(applied.cpython, 'Modules/posixmodule.c', 'unstaged edit\n')
    assert_refused_untouched(applied, caplog, 'uncommitted changes',
                             'Lib/os.py', 'Modules/posixmodule.c')


def test_refuses_untracked_file_the_series_would_overwrite(applied, caplog):
    """pep433 checked out, a new series adds a file the user has as an
    untracked file: moving the branch would overwrite it."""
    repo = applied.cpython
    git(repo, 'reset', '-q', '--hard', 'v3.13.5')   # as after a fetch
    git(repo, 'update-ref', '-d', 'refs/pep433/applied')
    write(repo, 'Lib/test/test_y.py', 'my own test_y, not committed\n')
    write(repo, 'scratch/untracked.txt', 'mine\n')
    assert_refused_untouched(applied, caplog, 'Lib/test/test_y.py',
                             'untracked')


def test_untracked_files_elsewhere_are_kept(applied, caplog):
    repo = applied.cpython
    write(repo, 'scratch/untracked.txt', 'mine\n')
    os.chmod(repo / 'scratch/untracked.txt', 0o600)
    change_series(applied)
    before = tree_snapshot(repo / 'scratch')
    assert applied.run('apply') == 0
    assert tree_snapshot(repo / 'scratch') == before


def test_refuses_am_in_progress(applied, caplog):
    repo = applied.cpython
    change_series(applied)
    patch = applied.patches / sorted(
        (applied.patches).glob('0002-*'))[0].name
    git(repo, 'switch', '-q', '--detach', 'v3.13.5')
    proc = subprocess.run(['git', '-C', str(repo), 'am', '--no-3way',
                           str(patch)], capture_output=True)
    assert proc.returncode != 0                  # stops: am in progress
    assert (repo / '.git' / 'rebase-apply').exists()
    assert_refused_untouched(applied, caplog, 'git am or rebase is in '
                             'progress')


def test_refuses_dirty_worktree_holding_pep433(applied, tmp_path,
                                                        caplog):
    """pep433 checked out in a second worktree with uncommitted edits."""
    repo = applied.cpython
    git(repo, 'switch', '-q', '--detach')
    other = tmp_path / 'wt'
    git(repo, 'worktree', 'add', '-q', str(other), 'pep433')
    write(other, 'Lib/os.py', 'edited in the other worktree\n')
    change_series(applied)
    before = user_view(other)
    assert_refused_untouched(applied, caplog, 'uncommitted changes',
                             str(other))
    assert user_view(other) == before


def test_refuses_foreign_pep433_branch(exported4, tmp_path, caplog):
    """A branch pep433 the user made, with commits apply did not create."""
    proj = sibling(exported4, tmp_path, 'user')
    write(proj.cpython, 'Lib/os.py', 'my own pep433 work\n')
    commit_all(proj.cpython, 'my own idea')
    assert_refused_untouched(proj, caplog, 'has commits that are not in '
                             'patches/3.13.5/ and that apply did not create')


def test_refuses_foreign_pep433_branch_not_checked_out(exported4, tmp_path,
                                                       caplog):
    proj = sibling(exported4, tmp_path, 'user')
    git(proj.cpython, 'switch', '-q', '-c', 'main')
    git(proj.cpython, 'branch', '-f', 'pep433', 'main')
    git(proj.cpython, 'switch', '-q', 'pep433')
    write(proj.cpython, 'Lib/os.py', 'work\n')
    commit_all(proj.cpython, 'work')
    git(proj.cpython, 'switch', '-q', 'main')
    assert_refused_untouched(proj, caplog, 'apply did not create')


def test_other_branch_checked_out_is_left_alone(exported4, tmp_path):
    """A user's branch of another name: apply creates pep433 beside it and
    changes nothing the user has (files, HEAD, index, their refs)."""
    proj = sibling(exported4, tmp_path, 'user')
    repo = proj.cpython
    git(repo, 'switch', '-q', '-c', 'feature')
    write(repo, 'Lib/os.py', 'my feature\n')
    commit_all(repo, 'feature')
    write(repo, 'notes.txt', 'untracked\n')
    before = user_view(repo)
    assert proj.run('apply') == 0
    after = user_view(repo)
    new_refs = set(after.pop('refs').splitlines()) - set(
        before.pop('refs').splitlines())
    assert {line.split()[0] for line in new_refs} == {
        'refs/heads/pep433', 'refs/pep433/applied'}
    after.pop('status'), before.pop('status')
    assert after == before


# --- fetch on a foreign cpython/ ---------------------------------------------

@pytest.mark.parametrize('kind', ['plain-dir', 'other-project', 'no-tag',
                                  'other-version'])
def test_fetch_refuses_foreign_cpython_dir(good_sha, tmp_path, caplog, kind):
    proj = Project(tmp_path / 'p')
    target = proj.cpython
    if kind == 'plain-dir':
        write(target, 'notes/todo.txt', 'mine\n')
        os.symlink('notes/todo.txt', target / 'link')
    else:
        target.mkdir(parents=True)
        git(target, 'init', '-q', '-b', 'main')
        write(target, 'setup.py', 'print("another project")\n')
        if kind == 'other-version':
            write(target, 'Include/patchlevel.h',
                  '#define PY_VERSION "3.12.0"\n')
        commit_all(target, 'initial')
        if kind != 'no-tag':
            git(target, 'tag', 'v3.13.5')
        write(target, 'wip.txt', 'untracked\n')
    before = tree_snapshot(target, skip_git=False)
    assert proj.run('fetch', '--tarball', str(good_sha)) == 3
    assert 'not touching it' in caplog.text
    assert tree_snapshot(target, skip_git=False) == before
    assert not (proj.workdir / 'baseline-src').exists()


def test_fetch_checkout_refuses_foreign_repos(tmp_path, caplog):
    plain = tmp_path / 'plain'
    write(plain, 'a.txt', 'x\n')
    other = tmp_path / 'other'
    other.mkdir()
    git(other, 'init', '-q', '-b', 'main')
    write(other, 'setup.py', 'pass\n')
    commit_all(other, 'initial')
    for target, message in ((plain, 'is not a git checkout'),
                            (other, 'has no tag v3.13.5')):
        before = tree_snapshot(target, skip_git=False)
        proj = Project(tmp_path / f'p-{target.name}')
        caplog.clear()
        assert proj.run('fetch', '--checkout', str(target)) == 3
        assert message in caplog.text
        assert tree_snapshot(target, skip_git=False) == before
        assert not (proj.workdir / 'baseline-src').exists()


def test_stale_worktree_cleanup_removes_only_its_own(tmp_path):
    """Only apply-* worktrees locked by a dead apply are removed."""
    from pep433tool import checkout
    repo = make_base(tmp_path / 'cpython')
    parent = tmp_path / 'work'
    parent.mkdir()
    dead = subprocess.Popen(['true'])
    dead.wait()

    def add(path, *lock):
        git(repo, 'worktree', 'add', '-q', '--detach', *lock, str(path),
            'v3.13.5')
    add(parent / 'apply-dead', '--lock', '--reason',
        f'{checkout.LOCK_REASON} {dead.pid}')
    add(parent / 'apply-live', '--lock', '--reason',
        f'{checkout.LOCK_REASON} {os.getpid()}')
    add(parent / 'apply-user')                       # not locked: not ours
    add(parent / 'mine', '--lock', '--reason',       # not named apply-*
        f'{checkout.LOCK_REASON} {dead.pid}')
    add(tmp_path / 'elsewhere' / 'apply-x', '--lock', '--reason',
        f'{checkout.LOCK_REASON} {dead.pid}')
    (parent / 'apply-empty').mkdir()
    write(parent, 'apply-files/keep.txt', 'not empty\n')
    checkout.remove_stale_worktrees(repo, parent)
    listed = git(repo, 'worktree', 'list', '--porcelain')
    assert 'apply-dead' not in listed
    assert not (parent / 'apply-dead').exists()
    assert not (parent / 'apply-empty').exists()
    for kept in ('apply-live', 'apply-user', 'mine', 'elsewhere/apply-x'):
        assert kept in listed
    assert (parent / 'apply-files' / 'keep.txt').exists()
