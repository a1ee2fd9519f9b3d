"""AddressSanitizer and UBSan logs, and test --asan on canned runs."""

import pytest

from pep433tool import asan, config, junit, regrtest, sanitizers, testcmd
from pep433tool.errors import ProblemFound

from conftest import commit_all, fake_checkout, write

#: gcc's ASan, as a regrtest worker prints it to log_path (asan.<pid>): the
#: access, the free (too early), the allocation; the runtime's own
#: interceptor frames have a source place too.
USE_AFTER_FREE = """\
=================================================================
==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020000a1b30 at pc 0x55d0c5a1b2c3 bp 0x7ffd2a1c0e20 sp 0x7ffd2a1c0e18
READ of size 4 at 0x6020000a1b30 thread T0
    #0 0x55d0c5a1b2c2 in sock_recvmsg_guts /src/cpython/Modules/socketmodule.c:40
    #1 0x55d0c5a1c001 in sock_recvmsg /src/cpython/Modules/socketmodule.c:90
    #2 0x55d0c59e0a11 in _PyEval_EvalFrameDefault /src/cpython/Python/generated_cases.c.h:1355
    #3 0x7f3b1c229d8f in __libc_start_call_main ../sysdeps/nptl/libc_start_call_main.h:58
    #4 0x55d0c57c1234 in _start (/work/build/patched-asan/python+0x1c1234)

0x6020000a1b30 is located 0 bytes inside of 16-byte region [0x6020000a1b30,0x6020000a1b40)
freed by thread T0 here:
    #0 0x7f3b1c6b4537 in __interceptor_free ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:127
    #1 0x55d0c5a1b100 in PyMem_RawFree /src/cpython/Objects/obmalloc.c:702
    #2 0x55d0c5a1b0aa in sock_recvmsg_guts /src/cpython/Modules/socketmodule.c:35

previously allocated by thread T0 here:
    #0 0x7f3b1c6b4887 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:145
    #1 0x55d0c5a1b000 in PyMem_RawMalloc /src/cpython/Objects/obmalloc.c:680
    #2 0x55d0c5a1b050 in sock_recvmsg_guts /src/cpython/Modules/socketmodule.c:30

SUMMARY: AddressSanitizer: heap-use-after-free /src/cpython/Modules/socketmodule.c:40 in sock_recvmsg_guts
Shadow bytes around the buggy address:
  0x0c0480014310: fa fa 00 00 fa fa 00 00 fa fa fd fd fa fa fd fd
=>0x0c0480014360: fa fa fd fa fa fa[fd]fd fa fa fa fa fa fa fa fa
==4242==ABORTING
"""

#: UBSan (clang's runtime: the whole report in the log) without a stack:
#: one line (print_stacktrace=0, or a check that has none)
OVERFLOW = ("/src/cpython/Objects/longobject.c:120:22: runtime error: signed "
            "integer overflow: 9223372036854775807 + {} cannot be represented "
            "in type 'long int'\n")

#: UBSan with print_stacktrace=1: the notes, then the stack, then the
#: summary
MISALIGNED = """\
/src/cpython/Objects/obmalloc.c:50:9: runtime error: load of misaligned address 0x7ffd2a1c0e21 for type 'int', which requires 4 byte alignment
0x7ffd2a1c0e21: note: pointer points here
 00 00 00  01 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
              ^
    #0 0x55d0c5b00000 in pymalloc_thing /src/cpython/Objects/obmalloc.c:50
    #1 0x55d0c5b00100 in PyObject_Malloc /src/cpython/Objects/obmalloc.c:60
    #2 0x55d0c5b00200 in _PyEval_EvalFrameDefault /src/cpython/Python/generated_cases.c.h:1355
    #3 0x7f3b1c229d8f in __libc_start_call_main (/lib/x86_64-linux-gnu/libc.so.6+0x29d8f)

SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior /src/cpython/Objects/obmalloc.c:50:9 in
"""

#: a UBSan one-liner on a line the series changes
SHIFT = ("/src/cpython/Modules/posixmodule.c:20:15: runtime error: shift "
         "exponent 32 is too large for 32-bit type 'int'\n")


def test_parse_asan():
    [report] = asan.parse(USE_AFTER_FREE)
    assert (report.tool, report.kind) == (asan.ASAN, 'heap-use-after-free')
    # the access and the free count; not the allocation, not the runtime's
    # interceptor, not a frame without a source place
    assert report.stacks == [
        [('sock_recvmsg_guts', '/src/cpython/Modules/socketmodule.c', 40),
         ('sock_recvmsg', '/src/cpython/Modules/socketmodule.c', 90),
         ('_PyEval_EvalFrameDefault',
          '/src/cpython/Python/generated_cases.c.h', 1355),
         ('__libc_start_call_main', '../sysdeps/nptl/libc_start_call_main.h',
          58)],
        [('PyMem_RawFree', '/src/cpython/Objects/obmalloc.c', 702),
         ('sock_recvmsg_guts', '/src/cpython/Modules/socketmodule.c', 35)]]
    assert report.text.startswith('==4242==ERROR: AddressSanitizer')
    assert 'Shadow bytes' not in report.text


@pytest.mark.parametrize('header, kind', [
    ('SEGV on unknown address 0x000000000000 (pc 0x1 bp 0x2 sp 0x3 T0)',
     'SEGV'),
    ('attempting double-free on 0x602000000010 in thread T0:',
     'attempting double-free'),
    ('stack-buffer-overflow on address 0x7ffd at pc 0x1 bp 0x2 sp 0x3',
     'stack-buffer-overflow'),
])
def test_asan_kinds(header, kind):
    [report] = asan.parse(f'==1==ERROR: AddressSanitizer: {header}\n')
    assert report.kind == kind


def test_parse_ubsan_with_and_without_stack():
    one, two, three = asan.parse(OVERFLOW.format(1) + MISALIGNED + SHIFT)
    assert one.tool == two.tool == three.tool == asan.UBSAN
    assert one.kind.startswith('signed integer overflow: ')
    # the one-liner: its own place is its only frame
    assert one.stacks == [[('', '/src/cpython/Objects/longobject.c', 120)]]
    assert two.kind.startswith('load of misaligned address')
    assert two.stacks == [
        [('', '/src/cpython/Objects/obmalloc.c', 50)],
        [('pymalloc_thing', '/src/cpython/Objects/obmalloc.c', 50),
         ('PyObject_Malloc', '/src/cpython/Objects/obmalloc.c', 60),
         ('_PyEval_EvalFrameDefault',
          '/src/cpython/Python/generated_cases.c.h', 1355)]]
    assert three.stacks == [[('', '/src/cpython/Modules/posixmodule.c', 20)]]
    # the same error in two processes is one, twice
    grouped = sanitizers.group(asan.parse(OVERFLOW.format(1)
                                          + OVERFLOW.format(2)))
    assert [times for _, times in grouped] == [2]


#: what gcc's runtimes write to the log file of a process with two UBSan
#: errors and then an ASan one: of a UBSan report only its summary line
#: (report_error_type=1), the rest went to the process's stderr
GCC_LOG = """\
SUMMARY: UndefinedBehaviorSanitizer: signed-integer-overflow /src/cpython/Objects/longobject.c:120:22 in 
SUMMARY: UndefinedBehaviorSanitizer: invalid-shift-exponent /src/cpython/Modules/posixmodule.c:20:15 in 
""" + USE_AFTER_FREE


def test_parse_gcc_log():
    one, two, three = asan.parse(GCC_LOG)
    assert (one.tool, one.kind, one.stacks) == (
        asan.UBSAN, 'signed-integer-overflow',
        [[('', '/src/cpython/Objects/longobject.c', 120)]])
    assert (two.kind, two.stacks) == (
        'invalid-shift-exponent',
        [[('', '/src/cpython/Modules/posixmodule.c', 20)]])
    assert (three.tool, three.kind) == (asan.ASAN, 'heap-use-after-free')
    # clang's: the summary line of a whole report is not a report again
    assert len(asan.parse(MISALIGNED)) == 1


def test_both_kinds_in_one_log():
    reports = asan.parse(SHIFT + USE_AFTER_FREE + OVERFLOW.format(1))
    assert [r.tool for r in reports] == [asan.UBSAN, asan.ASAN, asan.UBSAN]
    # the UBSan report before the ASan one did not take its frames
    assert reports[0].stacks == [[('', '/src/cpython/Modules/posixmodule.c',
                                   20)]]


def test_environment(tmp_path):
    env = asan.environment(tmp_path / 'patched-asan', tmp_path)
    assert env['ASAN_OPTIONS'].split() == [
        f'log_path={tmp_path}/patched-asan/asan', 'detect_leaks=0',
        'allocator_may_return_null=1', 'handle_segv=0']
    # the same file: with gcc, UBSAN_OPTIONS' log_path is also ASan's
    assert env['UBSAN_OPTIONS'].split() == [
        f'log_path={tmp_path}/patched-asan/asan', 'halt_on_error=0',
        'print_stacktrace=1', 'print_summary=1', 'report_error_type=1']
    write(tmp_path, 'Tools/ubsan/suppressions.txt', '')
    env = asan.environment(tmp_path / 'patched-asan', tmp_path)
    assert (f'suppressions={tmp_path}/Tools/ubsan/suppressions.txt'
            in env['UBSAN_OPTIONS'])
    assert asan.plain_mode('patched-asan-e') == 'patched-e'


def test_crashed_worker_is_named():
    output = ('0:00:02 load avg: 0.20 [1/3] test_select passed\n'
              '0:00:12 load avg: 0.50 [2/3/1] test_socket worker non-zero '
              'exit code (Exit code 1) -- running (1): test_os (5.0 sec)\n'
              '0:00:13 load avg: 0.50 [3/3/1] test_os passed\n')
    assert testcmd.crashed_modules(output) == {
        'test_socket': 'worker non-zero exit code (Exit code 1)'}


# --- test --asan on canned runs ----------------------------------------------

def lines(count):
    return ''.join(f'/* {i} */\n' for i in range(1, count + 1))


@pytest.fixture
def checkout(tmp_path):
    """A checkout whose series changes socketmodule.c:35 and 40 and
    posixmodule.c:20."""
    paths, repo = fake_checkout(tmp_path, {
        'Modules/socketmodule.c': lines(100),
        'Modules/posixmodule.c': lines(30),
        'Objects/longobject.c': lines(200),
        'Objects/obmalloc.c': lines(800),
        'Lib/test/test_os.py': 'import unittest\n'})
    for rel, number in (('Modules/socketmodule.c', 35),
                        ('Modules/socketmodule.c', 40),
                        ('Modules/posixmodule.c', 20)):
        text = (repo / rel).read_text()
        write(repo, rel, text.replace(f'/* {number} */', 'int changed;'))
    write(repo, 'Lib/test/test_cloexec_x.py', 'import unittest\n')
    commit_all(repo, 'the series')
    return paths


OUTPUT_OK = """\
0:00:00 load avg: 0.10 Run 2 tests in parallel using 2 worker processes
0:00:02 load avg: 0.20 [1/2] test_os passed
0:00:03 load avg: 0.20 [2/2] test_cloexec_x passed

== Tests result: SUCCESS ==
"""

OUTPUT_FAIL = """\
0:00:00 load avg: 0.10 Run 2 tests in parallel using 2 worker processes
0:00:09 load avg: 0.40 [1/2/1] test_os failed (2 failures)
======================================================================
FAIL: test_b (test.test_os.T.test_b)
----------------------------------------------------------------------
AssertionError: b"Objects/obmalloc.c:50:9: runtime error: load of misaligned address" != b''
======================================================================
FAIL: test_a (test.test_os.T.test_a)
----------------------------------------------------------------------
AssertionError: 1 != 2
0:00:13 load avg: 0.50 [2/2/1] test_cloexec_x passed

== Tests result: FAILURE ==

1 test failed:
    test_os
"""

#: regrtest's output when a worker dies (of ASan's first error, a signal)
OUTPUT_CRASH = OUTPUT_FAIL.replace('[2/2/1]', """\
[2/3/2] test_socket worker non-zero exit code (Exit code 1)
0:00:13 load avg: 0.50 [3/3/2]""").replace(
    '1 test failed:\n    test_os', '2 tests failed:\n    test_os test_socket')


def fake_runs(monkeypatch, runs):
    """Make regrtest.run_mode write, for each mode, the logs of *runs*
    ({mode: (output, returncode, {log file name: text})}) where the
    environment's log_path says, and return what regrtest's output says."""
    seen = {}

    def run_mode(paths, mode, names, jobs, tag='', extra_args=(), env=None):
        output, returncode, logs = runs[mode]
        options = dict(item.split('=', 1)
                       for item in env['ASAN_OPTIONS'].split())
        assert options['log_path'].endswith('/asan')
        assert f'log_path={options["log_path"]} ' in env['UBSAN_OPTIONS']
        logdir = options['log_path'].rsplit('/', 1)[0]
        for name, text in logs.items():
            write(logdir, name, text)
        paths.results.mkdir(parents=True, exist_ok=True)
        (paths.results / f'{mode}.log').write_text(output)
        seen[mode] = names
        return junit.mode_results(paths.results / 'none.xml', output,
                                  returncode)

    monkeypatch.setattr(regrtest, 'run_mode', run_mode)
    return seen


def test_a_report_in_the_series_fails(checkout, monkeypatch):
    paths = checkout
    seen = fake_runs(monkeypatch, {
        'patched-asan': (OUTPUT_OK, 0, {
            'asan.4242': USE_AFTER_FREE,
            'asan.4243': OVERFLOW.format(1),
            'asan.4244': OVERFLOW.format(7),
            'asan.4245': SHIFT}),
        'patched-asan-e': (OUTPUT_FAIL, 2, {})})
    with pytest.raises(ProblemFound, match='4 problems under AddressSanitizer'
                       ' and UBSan'):
        testcmd.run_asan(paths, jobs=2)
    # the tests of `test`: the subset and the series' own
    assert seen['patched-asan'] == [*config.TEST_SUBSET, 'test_cloexec_x']
    summary = (paths.results / 'summary-asan.txt').read_text()
    assert summary.startswith("# test --asan (20 test modules, the subset "
                              "and the series' own)\n")
    assert ('patched-asan: 0 passed, 0 failed, 0 skipped; 1 AddressSanitizer '
            'and 3 UndefinedBehaviorSanitizer reports, 2 in code the series '
            'adds or changes\n') in summary
    assert ('  heap-use-after-free in sock_recvmsg_guts '
            '(Modules/socketmodule.c:40), sock_recvmsg_guts '
            '(Modules/socketmodule.c:35) [AddressSanitizer]\n') in summary
    # a UBSan one-liner with no stack counts by its own place
    assert ("  shift exponent 32 is too large for 32-bit type 'int' in "
            "Modules/posixmodule.c:20 [UndefinedBehaviorSanitizer]\n"
            in summary)
    # the one in stock code is listed, not counted, once for both processes
    assert ('  not counted: signed integer overflow: 9223372036854775807 + 1 '
            "cannot be represented in type 'long int' in "
            'Objects/longobject.c:120 [UndefinedBehaviorSanitizer] (x2)\n'
            in summary)
    assert ('patched-asan-e: 0 passed, 2 failed, 0 skipped; 0 '
            'AddressSanitizer and 0 UndefinedBehaviorSanitizer reports, 0 in '
            'code the series adds or changes\n'
            '  (no results of patched-e saved by test: every failure counts; '
            'scripts/pep433 test --mode patched-e saves them)\n'
            '  failed: test_os.T.test_a\n'
            '  failed: test_os.T.test_b (a UBSan report on its stderr: gcc\'s UBSan prints there, not to the log)\n') in summary


def test_reports_in_stock_code_only_are_listed(checkout, monkeypatch):
    paths = checkout
    fake_runs(monkeypatch, {
        'patched-asan': (OUTPUT_OK, 0, {'asan.11': MISALIGNED}),
        'patched-asan-e': (OUTPUT_OK, 0, {'asan.12': OVERFLOW.format(1)})})
    assert testcmd.run_asan(paths, jobs=2) == 0
    summary = (paths.results / 'summary-asan.txt').read_text()
    assert ('  not counted: load of misaligned address 0x7ffd2a1c0e21 for '
            "type 'int', which requires 4 byte alignment in "
            'Objects/obmalloc.c:50 [UndefinedBehaviorSanitizer]\n' in summary)
    assert summary.count('not counted:') == 2


def test_a_crashed_worker_fails_naming_the_test(checkout, monkeypatch):
    paths = checkout
    # test_a fails without the sanitizers too (test saved it): known
    paths.results.mkdir(parents=True)
    regrtest._save(paths.results, 'patched-e', {
        'test_os.T.test_a': junit.Outcome('fail', 'x'),
        'test_os.T.test_b': junit.Outcome('pass')}, 1, ['test_os'])
    fake_runs(monkeypatch, {
        'patched-asan': (OUTPUT_OK, 0, {}),
        # the worker of test_socket died of an ASan error in stock code
        'patched-asan-e': (OUTPUT_CRASH, 2, {
            'asan.4242': USE_AFTER_FREE.replace(':40', ':41').replace(
                ':35', ':36')})})
    with pytest.raises(ProblemFound, match='2 problems'):
        testcmd.run_asan(paths, jobs=2)
    summary = (paths.results / 'summary-asan.txt').read_text()
    # with no failure, no word of the results without the sanitizers
    assert 'no results of patched saved' not in summary
    assert ('  crashed: test_socket (worker non-zero exit code (Exit code 1)); '
            'its worker died: ASan stops a process at its first error') in (
        summary)
    # its output tells why it failed: no UBSan report in stock python
    assert ('  failed: test_os.T.test_b (a UBSan report on its stderr: gcc\'s UBSan prints there, not to the log)\n') in summary
    assert ('  failed, as without the sanitizer (patched-e): '
            'test_os.T.test_a\n') in summary
    assert ('  not counted: heap-use-after-free in sock_recvmsg_guts '
            '(Modules/socketmodule.c:41) [AddressSanitizer]') in summary
    assert 'test_socket (whole module)' not in summary


def test_the_cover_letter_lists_the_tier():
    from pep433tool import review
    assert ('summary-asan.txt', 'test --asan') in review.TIERS
    assert regrtest.build_hint('patched-asan-e') == 'scripts/pep433 build --asan'
