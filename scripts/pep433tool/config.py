"""Constants of the tool: what is built and tested, on every base.

The bases themselves (versions, tarballs, checksums, where to get them) are
data: ``bases.toml``, read by ``bases.py``.
"""

BRANCH = 'pep433'
APPLIED_REF = 'refs/pep433/applied'
BACKUP_REF_PREFIX = 'refs/pep433/backup/'

DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'

#: check (f) compiles select's kqueue path (built only on BSD and macOS)
#: against the sys/event.h of libkqueue (a Linux implementation of kqueue):
#: this Debian binary package, from this suite
KQUEUE_PACKAGE = 'libkqueue-dev'
KQUEUE_SUITE = 'experimental'

#: check (g) compiles the series' Windows code (MS_WINDOWS) with this
#: cross-compiler, from this Debian package (installed when missing)
WINDOWS_PACKAGE = 'gcc-mingw-w64-x86-64'
WINDOWS_CC = 'x86_64-w64-mingw32-gcc'

#: Identity of the base commit, so that its hash is the same on every
#: machine (its date is the base's release day, from the bases table).
BASE_IDENTITY = ('PEP 433 tooling', 'pep433-tooling@localhost')
#: Committer of the commits `apply` creates.
COMMITTER = BASE_IDENTITY

#: A file a commit adds under one of these directories is also written
#: whole into the project repository (the readable new-file tree).
NEW_FILE_DIRS = ('Lib/', 'Modules/', 'Doc/', 'Misc/')
BUG_TRAILER = 'Bug: bpo-17036'

BUILD_DEPS = ('build-essential', 'pkg-config', 'libssl-dev', 'libffi-dev',
              'zlib1g-dev', 'libbz2-dev', 'liblzma-dev', 'libsqlite3-dev',
              'libreadline-dev', 'libncurses-dev', 'uuid-dev')
TOOL_DEPS = ('ccache', 'strace', 'valgrind', 'xz-utils')
#: Debian packages of check (h), CPython's CI checks: libabigail, and the
#: headers the dbm modules need for the ABI dump
ABI_PACKAGES = ('abigail-tools', 'libgdbm-compat-dev')
#: Debian packages the tool's own tests use and skip without (the ABI
#: check's fixture, the Windows compile, quilt on a patch set); selftest
#: installs them as root, so that a fresh machine runs every test
TEST_PACKAGES = ('quilt', WINDOWS_PACKAGE) + ABI_PACKAGES

TEST_SUBSET = ('test_os', 'test_posix', 'test_socket', 'test_select',
               'test_epoll', 'test_subprocess', 'test_tempfile',
               'test_socketserver', 'test_io', 'test_fileio', 'test_builtin',
               'test_cmd_line', 'test_sys', 'test_embed', 'test_pty',
               'test_fcntl', 'test_mmap', 'test_xmlrpc', 'test_httpservers')
TEST_FULL_EXTRA = ('test_multiprocessing_spawn',
                   'test_multiprocessing_forkserver',
                   'test_multiprocessing_fork', 'test_asyncio')
TEST_MODES = ('baseline', 'patched', 'patched-e')
#: test --all: every test module of the base's regrtest, with every
#: resource but those that need the network or a display (regrtest applies
#: its -u options in order: ``all`` replaces the ``-u network`` of every run)
ALL_TESTS_ARGS = ('-u', 'all,-network,-urlfetch,-gui')
#: Builds beside the default pair, each in baseline-<name>/ and
#: patched-<name>/ with these configure flags added: --with-pydebug (build
#: --debug, for test --refleaks), the free-threaded build (build
#: --free-threading), ThreadSanitizer on it (build --tsan), and
#: AddressSanitizer with UndefinedBehaviorSanitizer (build --asan: the
#: flags of CPython's ASan buildbot, python/buildmaster-config, with UBSan
#: added; --without-pymalloc, which configure implies for ASan, is said as
#: the buildbot says it: ASan then sees every allocation).
VARIANTS = {
    'debug': ('--with-pydebug',),
    'ft': ('--disable-gil',),
    'tsan': ('--disable-gil', '--with-thread-sanitizer'),
    'asan': ('--with-address-sanitizer', '--with-undefined-behavior-sanitizer',
             '--without-pymalloc'),
    # build --optimized (for bench --optimized): PGO + LTO, as python.org,
    # distributions and published pyperformance results build CPython;
    # make runs the base's own profile-opt target (its PROFILE_TASK).
    'optimized': ('--enable-optimizations', '--with-lto'),
}
#: ASAN_OPTIONS of every process of the ASan build, from configure on (its
#: test programs and the interpreter make runs must not fail on a leak) to
#: test --asan, which adds log_path: those of CPython's ASan buildbot.
#: No LeakSanitizer: the interpreter does not free everything at exit;
#: allocator_may_return_null: a huge allocation is a MemoryError, as tests
#: expect, not an ASan error; handle_segv=0: faulthandler handles SIGSEGV
#: (bpo-42985).  ASan stops a process at its first error whatever
#: halt_on_error says (the build has no -fsanitize-recover=address).
ASAN_OPTIONS = ('detect_leaks=0', 'allocator_may_return_null=1',
                'handle_segv=0')
#: UBSAN_OPTIONS of test --asan (with log_path): every error reported with
#: its stack, and none stops the process (the UBSan job of CPython's main
#: branch CI stops at the first; here every report is wanted, to tell the
#: series' apart); the summary line names the check (with gcc it is all
#: the log file gets of a UBSan report: asan.py).
UBSAN_OPTIONS = ('halt_on_error=0', 'print_stacktrace=1', 'print_summary=1',
                 'report_error_type=1')
#: The environment of configure and make of a variant, beside build_env()'s
VARIANT_ENV = {'asan': {'ASAN_OPTIONS': ' '.join(ASAN_OPTIONS)}}
REFLEAK_MODES = ('baseline-debug', 'patched-debug')
#: The modes of test --free-threading, compared with baseline-ft
FT_MODES = ('baseline-ft', 'patched-ft', 'patched-ft-e')
#: The modes of test --tsan (the series' tests; no baseline to compare)
TSAN_MODES = ('patched-tsan', 'patched-tsan-e')
#: The modes of test --asan; the failures of each are compared with those
#: saved by test in the same mode without the sanitizers
ASAN_MODES = ('patched-asan', 'patched-asan-e')
#: regrtest stops hunting leaks in a module at its first failure, so the
#: test that fails on this kind of machine whatever the build (no VSOCK
#: device) is left out, or test_socket would never be checked for leaks.
REFLEAK_ARGS = ('-R', '3:3', '-i', '*VSOCK*')
REGRTEST_TIMEOUT = 1200
#: What the tracer of ``audit`` runs, with TEST_SUBSET: the tests that reach
#: the stdlib modules that make fds.
AUDIT_WORKLOAD = ('test_asyncio', 'test_selectors',
                  'test_multiprocessing_spawn',
                  'test_multiprocessing_forkserver',
                  'test_multiprocessing_fork', 'test_logging', 'test_httplib',
                  'test_httpservers', 'test_urllib', 'test_urllib2',
                  'test_urllib2_localnet', 'test_urllibnet',
                  'test_concurrent_futures', 'test_socketserver',
                  'test_ftplib', 'test_smtplib', 'test_poplib',
                  'test_imaplib', 'test_shutil', 'test_glob', 'test_getpass',
                  'test_mailbox', 'test_pathlib', 'test_fileinput',
                  'test_tarfile', 'test_zipfile', 'test_ssl', 'test_pty',
                  'test_tempfile', 'test_subprocess', 'test_http_cookiejar')
