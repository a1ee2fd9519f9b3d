"""ThreadSanitizer logs: parsing, and telling the series' races apart."""

import pytest

from pep433tool import junit, regrtest, testcmd, tsan
from pep433tool.errors import ProblemFound

from conftest import commit_all, fake_checkout, git, make_base, write

LOG = """\
==================
WARNING: ThreadSanitizer: data race (pid=4242)
  Write of size 4 at 0x55d0 by thread T2:
    #0 sys_setdefaultcloexec_impl /src/cpython/Python/sysmodule.c:12 (python+0x1)
    #1 sys_setdefaultcloexec /src/cpython/Python/clinic/sysmodule.c.h:40 (python+0x2)
    #2 _PyEval_EvalFrameDefault /src/cpython/Python/generated_cases.c.h:1 (python+0x3)

  Previous read of size 4 at 0x55d0 by thread T1:
    #0 _Py_GetDefaultCloexec ../cpython/Python/fileutils.c:30 (python+0x4)
    #1 os_pipe ../cpython/Modules/clinic/posixmodule.c.h:5 (python+0x5)

  Location is global '_PyRuntime' of size 1 at 0x55d0 (python+0x6)

  Thread T2 (tid=4244, running) created by main thread at:
    #0 pthread_create <null> (libtsan.so.2+0x7)
    #1 do_start_joinable_thread ../cpython/Python/thread_pthread.h:9 (python+0x8)

SUMMARY: ThreadSanitizer: data race /src/cpython/Python/sysmodule.c:12 in sys_setdefaultcloexec_impl
==================
==================
WARNING: ThreadSanitizer: data race (pid=4243)
  Read of size 8 at 0x7b by thread T3:
    #0 dict_lookup /src/cpython/Objects/dictobject.c:100 (python+0x9)

  Previous write of size 8 at 0x7b by main thread:
    #0 insertdict /src/cpython/Objects/dictobject.c:200 (python+0xa)

SUMMARY: ThreadSanitizer: data race /src/cpython/Objects/dictobject.c:100 in dict_lookup
==================
"""


def test_parse():
    first, second = tsan.parse(LOG)
    assert first.kind == 'data race'
    assert [frames[0][0] for frames in first.stacks] == [
        'sys_setdefaultcloexec_impl', '_Py_GetDefaultCloexec']
    # the thread-creation stack is not an access
    assert all('pthread_create' != f[0] for s in first.stacks for f in s)
    assert first.stacks[1][0] == ('_Py_GetDefaultCloexec',
                                  '../cpython/Python/fileutils.c', 30)
    assert second.stacks == [[('dict_lookup',
                               '/src/cpython/Objects/dictobject.c', 100)],
                             [('insertdict',
                               '/src/cpython/Objects/dictobject.c', 200)]]


def test_only_races_on_changed_lines_count(tmp_path):
    repo = make_base(tmp_path / 'cpython')
    write(repo, 'Python/fileutils.c',
          ''.join(f'/* {i} */\n' for i in range(1, 41)))
    write(repo, 'Objects/dictobject.c',
          ''.join(f'/* {i} */\n' for i in range(1, 201)))
    commit_all(repo, 'more of the base')
    git(repo, 'tag', 'base')
    text = (repo / 'Python/fileutils.c').read_text()
    write(repo, 'Python/fileutils.c', text.replace('/* 30 */', 'int d;'))
    commit_all(repo, 'the series')
    changed = tsan.changed_lines(repo, 'base', 'pep433')
    assert changed == {'Python/fileutils.c': {30}}
    first, second = tsan.parse(LOG)
    assert tsan.in_series(first, changed, repo) == [
        ('_Py_GetDefaultCloexec', 'Python/fileutils.c', 30)]
    assert tsan.in_series(second, changed, repo) == []


def test_read_logs(tmp_path):
    (tmp_path / 'tsan.101').write_text('a\n')
    (tmp_path / 'tsan.102').write_text('b\n')
    (tmp_path / 'other').write_text('c\n')
    assert tsan.read_logs(tmp_path) == 'a\nb\n'


def test_run_tsan_counts_the_series_races(tmp_path, monkeypatch):
    paths, repo = fake_checkout(tmp_path, {
        'Python/fileutils.c': ''.join(f'/* {i} */\n' for i in range(1, 41)),
        'Objects/dictobject.c': ''.join(f'/* {i} */\n'
                                        for i in range(1, 201))})
    text = (repo / 'Python/fileutils.c').read_text()
    write(repo, 'Python/fileutils.c', text.replace('/* 30 */', 'int d;'))
    write(repo, 'Lib/test/test_cloexec_x.py', 'import unittest\n')
    commit_all(repo, 'the series')

    def run_mode(paths, mode, names, jobs, tag='', extra_args=(), env=None):
        assert names == ['test_cloexec_x']
        options = dict(item.split('=', 1)
                       for item in env['TSAN_OPTIONS'].split())
        assert options['halt_on_error'] == '0'
        write(options['log_path'].rsplit('/', 1)[0], 'tsan.4242', LOG)
        paths.results.mkdir(parents=True, exist_ok=True)
        (paths.results / f'{mode}.log').write_text(
            '0:00:02 load avg: 0.2 [1/1] test_cloexec_x passed\n')
        return {'test_cloexec_x.T.test_a': junit.Outcome('pass')}

    monkeypatch.setattr(regrtest, 'run_mode', run_mode)
    with pytest.raises(ProblemFound, match='2 problems under '
                                           'ThreadSanitizer'):
        testcmd.run_tsan(paths, jobs=2)
    summary = (paths.results / 'summary-tsan.txt').read_text()
    assert summary.startswith("# test --tsan (1 test modules, the series' "
                              "own)\n")
    assert ('patched-tsan: 1 passed, 0 failed, 0 skipped; 2 ThreadSanitizer '
            'reports, 1 in code the series adds or changes\n'
            '  data race in _Py_GetDefaultCloexec (Python/fileutils.c:30)\n'
            '  not counted: data race in dict_lookup '
            '(Objects/dictobject.c:100)\n') in summary
