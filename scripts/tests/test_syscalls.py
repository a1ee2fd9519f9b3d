"""The strace log parser and the Rule 1 checker (on made-up logs)."""

from pep433tool import syscalls

CALLS = {'os.open': ['openat', 'O_CLOEXEC'],
         'os.dup': ['fcntl dup', 'F_DUPFD_CLOEXEC']}

LOG = '''\
execve("./python", ["./python"], 0x7ffc /* 20 vars */) = 0
write(-1, "@@begin os.open True first", 26) = -1 EBADF (Bad file descriptor)
openat(AT_FDCWD, "/dev/null", O_RDONLY|O_CLOEXEC) = 7
fcntl(7, F_GETFD)                       = 0x1 (flags FD_CLOEXEC)
write(-1, "@@end", 5)                   = -1 EBADF (Bad file descriptor)
close(7)                                = 0
write(-1, "@@begin os.open True second", 27) = -1 EBADF (Bad file descriptor)
openat(AT_FDCWD, "/dev/null", O_RDONLY|O_CLOEXEC) = 7
write(-1, "@@end", 5)                   = -1 EBADF (Bad file descriptor)
write(-1, "@@begin os.dup False second", 27) = -1 EBADF (Bad file descriptor)
dup(3)                                  = 7
write(-1, "@@end", 5)                   = -1 EBADF (Bad file descriptor)
'''


def test_parse_splits_by_marker():
    traces = syscalls.parse(LOG)
    assert sorted(traces) == [('os.dup', 'False', 'second'),
                              ('os.open', 'True', 'first'),
                              ('os.open', 'True', 'second')]
    first = traces['os.open', 'True', 'first']
    assert first.syscalls == ['openat', 'fcntl']
    assert first.flag_calls() == ['fcntl(7, F_GETFD)                       '
                                  '= 0x1 (flags FD_CLOEXEC)']
    assert traces['os.dup', 'False', 'second'].creating('fcntl dup') == [
        'dup(3)                                  = 7']


def test_check_accepts_the_first_round_probe():
    traces = syscalls.parse(LOG)
    assert syscalls.check(traces, CALLS, {'True': True, 'False': False}) == []


def test_check_reports_each_rule():
    bad = (LOG.replace('O_RDONLY|O_CLOEXEC) = 7\nwrite(-1, "@@end"',
                       'O_RDONLY) = 7\nioctl(7, FIOCLEX) = 0\n'
                       'write(-1, "@@end"')
           .replace('dup(3)          ', 'fcntl(3, F_DUPFD_CLOEXEC, 0)'))
    problems = syscalls.check(syscalls.parse(bad), CALLS,
                              {'True': True, 'False': False})
    assert problems == [
        'os.dup (False, second call): fcntl() with F_DUPFD_CLOEXEC: '
        'fcntl(3, F_DUPFD_CLOEXEC, 0)                        = 7',
        'os.open (True, second call): openat() without O_CLOEXEC: '
        'openat(AT_FDCWD, "/dev/null", O_RDONLY) = 7',
        'os.open (True, second call): extra system call: '
        'ioctl(7, FIOCLEX) = 0',
    ]


def test_check_reports_a_missing_call():
    traces = syscalls.parse(LOG.replace('dup(3)', 'close(3)'))
    assert syscalls.check(traces, CALLS, {'True': True, 'False': False}) == [
        'os.dup (False, second call): no fcntl() call']
