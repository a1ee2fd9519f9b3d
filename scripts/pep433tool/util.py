"""Subprocess helpers, the work directory layout and the state file."""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from .errors import ExternalError, PreconditionError

log = logging.getLogger(__name__)

#: Root of the project repository (the one holding scripts/ and patches/).
DEFAULT_REPO = Path(__file__).resolve().parent.parent.parent


@contextlib.contextmanager
def build_in_use(builddir, why, exclusive=False):
    """Hold the lock of the build folder *builddir* while this process
    builds it (*exclusive*) or runs its interpreter (shared): a build never
    replaces an interpreter that a test or a benchmark is running, nor
    runs beside another build of the same folder.

    The lock file is beside the folder (``<name>.lock``) and the kernel
    drops the lock when the process ends, however it ends.  Refuses
    (PreconditionError) rather than waits.  *why* names the command in
    the refusal another process gets.
    """
    builddir = Path(builddir).resolve()      # one lock, whatever the path
    builddir.parent.mkdir(parents=True, exist_ok=True)
    lockfile = builddir.parent / f'{builddir.name}.lock'
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                        | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lockfile.read_text().strip()
            raise PreconditionError(
                f'{builddir} is in use: '
                + (f'being built ({holder})' if holder and not exclusive
                   else 'a test, a benchmark or a build runs its '
                        'interpreter'),
                hint='wait for that command to end, then run this one '
                     'again') from None
        if exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, f'{why}, pid {os.getpid()}\n'.encode())
        try:
            yield
        finally:
            if exclusive:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def format_cmd(cmd):
    """Return *cmd* (a sequence) as a string that can be pasted in a shell."""
    return shlex.join(str(arg) for arg in cmd)


def run(cmd, *, cwd=None, env=None, check=True, capture=True, input=None,
        error_class=ExternalError, hint=None, quiet=False, display=None):
    """Run *cmd*, log it, and return the CompletedProcess.

    Output is captured as text unless *capture* is false.  When *check* is
    true and the command fails, raise *error_class* with the command, its
    directory and the tail of its output in the message.  *display* is the
    command as logged (default: *cmd*); *quiet* logs it at DEBUG level.
    """
    cmd = [str(arg) for arg in cmd]
    shown = [str(arg) for arg in display] if display else cmd
    where = f' (in {cwd})' if cwd else ''
    (log.debug if quiet else log.info)('$ %s%s', format_cmd(shown), where)
    kwargs = {}
    if capture:
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      text=True, errors='replace')
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, input=input,
                              check=False, **kwargs)
    except FileNotFoundError as exc:
        raise error_class(f'cannot run {cmd[0]!r}: {exc}', hint=hint) from exc
    if check and proc.returncode != 0:
        raise error_class(command_failure(shown, proc, cwd), hint=hint)
    return proc


def command_failure(cmd, proc, cwd=None, lines=30):
    """Describe the failure of *proc* (which ran *cmd*) for the user."""
    msg = [f'command failed with exit code {proc.returncode}: '
           f'{format_cmd(cmd)}']
    if cwd:
        msg.append(f'  in directory: {cwd}')
    for name in ('stdout', 'stderr'):
        text = getattr(proc, name, None)
        if text:
            tail = text.rstrip('\n').splitlines()[-lines:]
            msg.append(f'  {name} (last {len(tail)} lines):')
            msg.extend('    ' + line for line in tail)
    return '\n'.join(msg)


def run_logged(cmd, logfile, *, cwd=None, env=None, progress=None,
               every=10.0, timeout=None, own_session=False, header=False):
    """Run *cmd* with its output (stdout and stderr) in *logfile*; return
    (exit status, seconds, timed out).

    Every *every* seconds while it runs, ``progress(seconds)`` is called
    (it logs what it has to say).  *header* writes ``$ cmd`` first in the
    log.  With *own_session*, the command runs in a session of its own and
    what is left of its process group is killed at the end; after
    *timeout* seconds it is killed.  Interrupted, the command is stopped
    too.
    """
    start = time.monotonic()
    timed_out = False
    with open(logfile, 'wb') as out:
        if header:
            out.write(f'$ {format_cmd(cmd)}\n'.encode())
            out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=own_session)

        def stop(kill):
            if own_session:
                _kill_group(proc.pid)
            elif kill:
                proc.terminate()
            proc.wait()

        last = start
        try:
            while True:
                now = time.monotonic()
                wait = every - (now - last)
                if timeout is not None:
                    wait = min(wait, 2, max(0, start + timeout - now))
                try:
                    proc.wait(timeout=max(wait, 0))
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if timeout is not None and now - start > timeout:
                    timed_out = True
                    stop(kill=True)
                    break
                if now - last >= every:
                    last = now
                    if progress is not None:
                        progress(now - start)
        except BaseException:
            stop(kill=True)
            raise
        if own_session:
            _kill_group(proc.pid)
    return proc.returncode, time.monotonic() - start, timed_out


def run_step(cmd, logfile, label, progress, *, cwd=None, env=None,
             every=10.0, logger=None):
    """Run *cmd* as one step of a command: its output in *logfile* (after
    a ``$ cmd`` line), a line every *every* seconds with the time so far
    and what ``progress(logfile)`` says, logged as *label* (with *logger*:
    the caller's).  Raise ExternalError with the log's tail on failure."""
    logger = logger or log
    logger.info('%s: $ %s (log: %s)', label, format_cmd(cmd), logfile)

    def report(elapsed):
        logger.info('%s: %3dm%02ds, %s', label, elapsed // 60, elapsed % 60,
                    progress(logfile))

    rc, elapsed, _ = run_logged(cmd, logfile, cwd=cwd, env=env,
                                progress=report, every=every, header=True)
    if rc != 0:
        raise ExternalError(
            f'{label}: {format_cmd(cmd)} failed with exit code {rc} after '
            f'{elapsed:.0f}s; last lines of {logfile}:\n'
            + log_tail(logfile) + f'\n(full log: {logfile})')
    logger.info('%s: done in %.0fs', label, elapsed)


def log_tail(path, lines=30):
    """The last *lines* lines of the file at *path* ('' if there is none)."""
    try:
        text = Path(path).read_text(errors='replace')
    except FileNotFoundError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tool_command(*args, base=None):
    """The ``scripts/pep433`` command line a hint names (with ``--base``
    when given, so that it works for the base the user is on)."""
    words = ['scripts/pep433']
    if base:
        words += ['--base', str(base)]
    return ' '.join(words + [str(arg) for arg in args])


def clean_env(extra=None):
    """Return os.environ without PYTHON* variables, updated with *extra*."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('PYTHON')}
    if extra:
        env.update(extra)
    return env


def sha256_of(path):
    """Hex sha256 of the file at *path*."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def cpu_count():
    """Number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def write_if_changed(path, data):
    """Write bytes *data* to *path* unless it already holds them.

    Return True if the file was written.
    """
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


class Paths:
    """The layout of the work directory and of the project repository.

    Everything of one base lives in ``<root>/<version>/`` (``workdir``):
    its checkout, builds, results and bench output, so that two bases never
    share a build.  The tarball cache, the private apt state and the tool's
    venv are shared by all bases, in the root.  The base's patches are in
    ``patches/<version>/`` of the project repository; the new files (Lib/,
    Modules/, Doc/, Misc/ at its top) serve every base.
    """

    def __init__(self, workdir=None, repo=None, base=None):
        from . import bases
        self.repo = Path(repo or os.environ.get('PEP433_REPO')
                         or DEFAULT_REPO).resolve()
        self.root = Path(workdir or os.environ.get('PEP433_WORKDIR')
                         or self.repo / 'build').resolve()
        self.base = (base if isinstance(base, bases.Base)
                     else bases.get(base))
        self.workdir = self.root / self.base.version

    def for_base(self, base):
        """The same layout for another base (a version or a Base)."""
        return Paths(workdir=self.root, repo=self.repo, base=base)

    # project repository
    @property
    def patches(self):
        return self.repo / 'patches' / self.base.version

    @property
    def series(self):
        return self.patches / 'series'

    # shared by every base, in the root of the work directory
    @property
    def cache(self):
        return self.root / 'cache'

    @property
    def venv(self):
        return self.root / 'venv'

    @property
    def apt(self):
        return self.root / 'apt'

    # one base's work directory
    @property
    def cpython(self):
        """The CPython checkout: <workdir>/cpython or the user's own."""
        checkout = self.load_state().get('checkout')
        return Path(checkout) if checkout else self.workdir / 'cpython'

    @property
    def baseline_src(self):
        return self.workdir / 'baseline-src'

    @property
    def baseline(self):
        return self.workdir / 'baseline'

    @property
    def patched(self):
        return self.workdir / 'patched'

    @property
    def results(self):
        return self.workdir / 'results'

    @property
    def state_file(self):
        return self.workdir / 'state.json'

    def load_state(self):
        """Return the saved state (a dict, empty if there is none)."""
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}

    def update_state(self, **values):
        """Merge *values* into the state file (None removes a key)."""
        state = self.load_state()
        for key, value in values.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix('.tmp')
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + '\n')
        tmp.replace(self.state_file)
