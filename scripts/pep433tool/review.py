"""``review DIR``: the bundle a reviewer of bpo-17036 reads.

``vN-0000-cover-letter.patch`` and ``vN-NNNN-*.patch`` (``[PATCH vN n/M]``,
made by ``git format-patch`` from branch pep433, the same commits as
``patches/<version>/``), ``pep433-combined.diff``, and the rendered docs
pages the series changes with their text diffs (``docs/``, when
``scripts/pep433 docs`` has built them).

The cover letter says what the series changes against stock CPython and
why, the default flip of the series first, one line per patch, the evidence
as the committed reports in docs/ give it (each figure with its base and
date), what was not tested, and how to apply the series.

DIR is the tool's only when it holds the marker file ``review.json``: a
non-empty DIR without it is refused, and a DIR with it has only the files
the marker lists replaced, so a reviewer's own notes beside them stay.
Re-running into a bundle's DIR makes the next version (v2, v3...), with
``git range-diff`` against the previous one in the cover letter, as
``git format-patch --range-diff`` and b4 do; each version's tip is kept in
the checkout as ``refs/pep433/review/v<N>``.
"""

import json
import logging
import re
import tempfile
from pathlib import Path

from . import config, gitutil, patchset
from .checkout import require_checkout
from .reviewdocs import write_review_docs
from .errors import PreconditionError
from .util import tool_command

log = logging.getLogger(__name__)

MARKER = 'review.json'
REVIEW_REF_PREFIX = 'refs/pep433/review/v'

WHY = """\
PEP 433 (Victor Stinner, 2013) proposed a cloexec= keyword on every
function that creates a file descriptor, and a process-wide default that
starts False (file descriptors inheritable, as in Python 3.3) and that an
application can turn True (-e, PYTHONCLOEXEC, sys.setdefaultcloexec()).
PEP 446 was accepted instead: since 3.4 every file descriptor Python
creates is non-inheritable, with no default to change, and inheriting one
takes os.set_inheritable().  This series makes PEP 433 real on today's
CPython so that the two designs can be compared on code, tests and
numbers rather than on paper: what the flag costs where it is asked for,
what a configurable default breaks, and what the standard library must do
for its own file descriptors when it cannot rely on the default."""

DEFAULT_FLIP = """\
Read this first: patch {number}/{total} changes the default.
{rule}
After it, sys.getdefaultcloexec() is False at start-up: every file
descriptor Python creates without cloexec= (open(), os.open(), os.pipe(),
os.dup(), socket.socket(), accept(), select.epoll(), ...) is inheritable,
as in Python 3.3, and a child started with fork + exec keeps it open:
subprocess with close_fds=False, os.posix_spawn(), os.system(),
os.exec*() after os.fork().  On stock 3.13 (PEP 446) none of them is.
This is a security-relevant change in what leaks into child processes:
PEP 446 was accepted because of it.  What limits it in this series:
- the standard library asks for the flag on the file descriptors it makes
  for itself (subprocess's pipes, socketserver, tempfile, multiprocessing,
  selectors, asyncio, ...: {own});
- the interpreter's own file descriptors (imports, /dev/urandom, the
  files it reads) stay close-on-exec;
- subprocess.Popen's close_fds=True (its default) closes everything but
  pass_fds in the child, whatever the flag;
- -e (or PYTHONCLOEXEC=1) gives back PEP 446's behaviour for the whole
  process and its Python children.
Code that relies on PEP 446's promise sees inheritable file descriptors
(see the third-party evidence below)."""

NOT_TESTED = """\
- Windows: the series' MS_WINDOWS paths (O_NOINHERIT, handle
  inheritance, WSA_FLAG_NO_HANDLE_INHERIT, os.pipe, dup and dup2) are
  compiled at every commit with mingw-w64 for the x64 desktop
  configuration (gcc, not MSVC); nothing is linked or run there.
- macOS, the BSDs and Solaris: the kqueue path of select is compiled
  against libkqueue on Linux at every commit (scripts/pep433 check); the
  F_DUP2FD_CLOEXEC, devpoll and other non-Linux paths are not built.
- Kernels without the atomic flags are simulated with a seccomp filter
  (test_cloexec_fallbacks), not run.
- CPython 3.14 and later: their sources cannot be fetched where this was
  made; the series exists for 3.13 maintenance releases only."""


def _marker(outdir):
    try:
        return json.loads((outdir / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        raise PreconditionError(
            f'{outdir / MARKER} is not a review marker this tool wrote: '
            f'{exc}', hint='choose another directory') from None


def prepare_dir(outdir):
    """Check that *outdir* may be written; return the earlier marker (or
    None).  Refuse (exit 3, nothing changed) a file, or a non-empty
    directory the tool did not write."""
    if outdir.exists() and not outdir.is_dir():
        raise PreconditionError(f'{outdir} exists and is not a directory',
                                hint='name a new or empty directory')
    if not outdir.exists():
        return None
    marker = _marker(outdir)
    if marker is None:
        if any(outdir.iterdir()):
            raise PreconditionError(
                f'{outdir} is not empty and holds no review bundle of this '
                f'tool ({MARKER} is missing); nothing was written or '
                'removed there',
                hint='name a new or empty directory, or one an earlier '
                     f'{tool_command("review", "DIR")} wrote')
        return None
    return marker


def remove_written(outdir, marker):
    """Remove the files an earlier run listed in its marker, and nothing
    else (directories only if that leaves them empty)."""
    for rel in marker.get('files', []):
        path = (outdir / rel)
        if not path.resolve().is_relative_to(outdir.resolve()):
            continue                    # never outside DIR
        if path.is_file() or path.is_symlink():
            path.unlink()
    for rel in sorted({str(Path(rel).parent) for rel in
                       marker.get('files', [])}, key=len, reverse=True):
        directory = outdir / rel
        while directory != outdir and directory.is_dir():
            try:
                directory.rmdir()
            except OSError:
                break
            directory = directory.parent


# --- the evidence, read from the committed reports ---------------------------

def _read(repo, rel):
    path = Path(repo) / rel
    return path.read_text(encoding='utf-8') if path.is_file() else None


#: The summaries of ``test``, by tier, that the cover letter reports.
TIERS = (('summary.txt', 'test (the subset, or --full)'),
         ('summary-ft.txt', 'test --free-threading'),
         ('summary-refleaks.txt', 'test --refleaks'),
         ('summary-tsan.txt', 'test --tsan'),
         ('summary-asan.txt', 'test --asan'))


def regrtest_evidence(repo, version):
    """The summaries of ``test`` kept in docs/results/<version>/, one per
    tier; a tier without one is said to be missing."""
    out = []
    folder = Path(repo) / 'docs' / 'results' / version
    for name, tier in TIERS:
        path = folder / name
        if not path.is_file():
            out.append(f'- {tier}: no report in docs/results/{version}/ '
                       'for this series')
            continue
        keep = []
        listing = False
        for line in path.read_text(encoding='utf-8').splitlines():
            if line.startswith('# '):
                keep.append(line[2:])
            elif (re.match(r'^  \S+ +\d+ pass', line)
                  or re.match(r'^\S+: (no new failure|\d+ failures)', line)
                  or line.startswith('NEW FAILURES')
                  or re.match(r'^patched\S*: \d+ passed', line)):
                keep.append('  ' + line.strip())
                listing = line.rstrip().endswith(':')
                continue
            elif listing and line.startswith('  ') and line.strip():
                keep.append('    ' + line.strip())
                continue
            listing = False
        out.append(f'- docs/results/{version}/{name}:')
        out.extend('    ' + line for line in keep)
    return out


def audit_evidence(repo):
    """Totals of the stdlib audit's table (docs/audit-latest.md)."""
    text = _read(repo, 'docs/audit-latest.md')
    if text is None:
        return []
    intro = next((line for line in text.splitlines()
                  if line.startswith('`scripts/pep433 audit`')), '')
    kinds, verdicts = {}, {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 8 or cells[6] in ('kind', '---'):
            continue
        kinds[cells[6]] = kinds.get(cells[6], 0) + 1
        verdicts[cells[7]] = verdicts.get(cells[7], 0) + 1
    total = sum(kinds.values())
    problems = total - verdicts.get('ok', 0)
    when = (intro.split('(', 1)[1].split(';')[0].split(')')[0]
            if '(' in intro else 'date not given')
    base = re.search(r'the (\d+\.\d+\.\d+) series', intro)
    return [f'- The stdlib audit (docs/audit-latest.md; base '
            f'{base.group(1) if base else "?"}, {when}): {total} '
            'fd-creating call sites, '
            + ', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))
            + f'; {problems} problems.']


def impact_evidence(repo):
    """New failures per package and mode (docs/impact-latest.md)."""
    text = _read(repo, 'docs/impact-latest.md')
    if text is None:
        return []
    title = text.splitlines()[0].lstrip('# ')
    base = re.search(r'base (\d+\.\d+\.\d+)', title)
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 9 and cells[1] in ('patched', 'patched-e'):
            rows.setdefault(cells[0], []).append(
                f'{cells[1]} {cells[2]} passed, new failures: {cells[5]}')
    out = [f'- Third-party test suites (docs/impact-latest.md; base '
           f'{base.group(1) if base else "?"}), against the baseline:']
    out.extend(f'    {name}: ' + '; '.join(modes)
               for name, modes in rows.items())
    return out


def bench_evidence(repo):
    """The targets of the committed benchmark reports."""
    out = []
    for rel in ('docs/bench-combined-latest.md', 'docs/bench-suite-latest.md'):
        text = _read(repo, rel)
        if text is None:
            continue
        lines = text.splitlines()
        when = re.search(r'(\d{4}-\d\d-\d\d \d\d:\d\d UTC)', text)
        out.append(f'- {lines[0].lstrip("# ")} ({rel}, '
                   f'{when.group(1) if when else "date not given"}):')
        seen = set()
        for line in lines:
            if line.startswith('- target ') and line not in seen:
                seen.add(line)
                out.append('    ' + line[2:])
    return out


def evidence(repo, version):
    """The evidence section of the cover letter."""
    sections = [
        ('regrtest, baseline vs patched in each mode',
         regrtest_evidence(repo, version)),
        ('the standard library', audit_evidence(repo)),
        ('third-party code', impact_evidence(repo)),
        ('cost', bench_evidence(repo)),
    ]
    out = []
    for title, lines in sections:
        out.append(f'{title[0].upper()}{title[1:]}:')
        out.extend(lines or ['- no committed report in docs/'])
        out.append('')
    return '\n'.join(out).rstrip() + '\n'


# --- the bundle ----------------------------------------------------------------

def subjects_of(repo, base):
    """The subjects of base..pep433, oldest first."""
    return [gitutil.out(repo, 'log', '-1', '--format=%s', commit)
            for commit in gitutil.commits(repo, f'{base}..{config.BRANCH}')]


def heading(title, char='-'):
    return f'{title}\n{char * len(title)}\n'


def default_flip(subjects):
    """The paragraph on the patch that makes sys.getdefaultcloexec() False
    at start-up (found by its subject), or '' if the series has none."""
    total = len(subjects)
    own = [str(n) for n, subject in enumerate(subjects, 1)
           if subject.startswith('bpo-17036: Create ')
           and 'cloexec=True' in subject]
    for number, subject in enumerate(subjects, 1):
        if 'inheritable by default' in subject:
            rule = '=' * len(f'Read this first: patch {number}/{total} '
                             'changes the default.')
            return DEFAULT_FLIP.format(
                number=number, total=total, rule=rule,
                own='patches ' + ', '.join(own) if own else 'no patch')
    return ''


def how_to_apply(version, total, reroll):
    return f"""\
How to apply (no tool needed), on a pristine {version} tree (the release
tarball committed into git, or a clone at tag v{version}):
    git am $(ls v{reroll}-*.patch | sed 1d)             # this bundle, but 0000
    git am /path/to/patches/{version}/*.patch          # the project's copy
    for p in $(sed 's/#.*//' patches/{version}/series); do patch -p1 < patches/{version}/$p; done
    QUILT_PATCHES=/path/to/patches/{version} quilt push -a
Each of the {total} patches builds on its own.  Check the result with the
series' own tests, in both modes:
    ./python -m test test_cloexec_leaks test_cloexec_stdlib test_os test_socket
    ./python -e -m test test_cloexec_leaks test_cloexec_stdlib test_os test_socket
"""


def cover_text(paths, repo, total, reroll):
    """The body of the cover letter (before git's shortlog and diffstat)."""
    version = paths.base.version
    subjects = subjects_of(repo, paths.base.tag)
    parts = [
        f'PEP 433 on CPython {version}: a cloexec= keyword on every '
        'function that creates\na file descriptor, and a process-wide '
        'default (bpo-17036).\n',
        default_flip(subjects),
        heading('Why PEP 433, against stock CPython (PEP 446)') + WHY,
        heading('The patches') + '\n'.join(
            f'{n:>2}/{total} {s}' for n, s in enumerate(subjects, 1)),
        heading('Evidence, from the reports committed in docs/ (each with '
                'its base and date)') + evidence(paths.repo, version),
        heading('Not tested') + NOT_TESTED,
        how_to_apply(version, total, reroll),
    ]
    return '\n'.join(part.rstrip('\n') + '\n' for part in parts if part)


def run_review(paths, outdir):
    """Implement the ``review`` subcommand; return the exit code."""
    outdir = Path(outdir).absolute()
    earlier = prepare_dir(outdir)
    repo = require_checkout(paths)
    base = paths.base.tag
    commits = patchset.linear_commits(repo, base,
                                      hint_base=paths.base.version)
    if not commits:
        raise PreconditionError(f'branch {config.BRANCH} has no commits on '
                                f'{base}: nothing to review')
    total = len(commits)
    version = 1
    previous = None
    if earlier:
        version = int(earlier.get('version', 0)) + 1
        previous = gitutil.rev_parse(
            repo, f'{REVIEW_REF_PREFIX}{version - 1}')
        if previous is None or earlier.get('base') != paths.base.version:
            log.warning('the v%d bundle in %s is not in this checkout (or '
                        'is of another base): no range-diff against it',
                        version - 1, outdir)
            previous = None
    tip = gitutil.rev_parse(repo, config.BRANCH)
    flags = ['--cover-letter', '--numbered', f'--reroll-count={version}',
             '--subject-prefix=PATCH', '--cover-from-description=none']
    if previous:
        flags.append(f'--range-diff={base}..{previous}')
    with tempfile.TemporaryDirectory(prefix='pep433-review-') as tmp:
        files = patchset.format_patches(repo, f'{base}..{config.BRANCH}',
                                        tmp, *flags)
        cover = files[0]
        text = cover.read_text(encoding='utf-8')
        text = text.replace(
            '*** SUBJECT HERE ***',
            f'PEP 433 for CPython {paths.base.version}: cloexec= and a '
            'process-wide default (bpo-17036)')
        text = text.replace('*** BLURB HERE ***',
                            cover_text(paths, repo, total, version))
        cover.write_text(text, encoding='utf-8')
        combined = gitutil.git(repo, 'diff', '--full-index', '--no-renames',
                               '--no-ext-diff', '--no-color',
                               f'{base}..{config.BRANCH}', isolated=True,
                               quiet=True).stdout
        outputs = {f.name: f.read_bytes() for f in files}
    outputs['pep433-combined.diff'] = combined.encode('utf-8')
    clashes = [name for name in outputs if (outdir / name).exists()
               and name not in (earlier or {}).get('files', [])]
    if clashes:
        raise PreconditionError(
            f'{outdir} holds files of yours the bundle would overwrite: '
            + ', '.join(clashes), hint='move them away, or name another '
                                       'directory')
    if earlier:
        remove_written(outdir, earlier)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in outputs.items():
        (outdir / name).write_bytes(data)
        written.append(name)
    docs_dir = outdir / 'docs'
    if not docs_dir.exists() and write_review_docs(paths, repo, docs_dir):
        written += sorted(p.relative_to(outdir).as_posix()
                          for p in docs_dir.rglob('*') if p.is_file())
    gitutil.git(repo, 'update-ref', '-m', 'pep433 review',
                f'{REVIEW_REF_PREFIX}{version}', tip, quiet=True)
    (outdir / MARKER).write_text(json.dumps({
        'version': version, 'base': paths.base.version, 'tip': tip,
        'files': sorted(written + [MARKER])}, indent=2) + '\n')
    log.info('review: v%d of the %s series (%d patches) written to %s%s',
             version, paths.base.version, total, outdir,
             f', with the range-diff against v{version - 1}'
             if previous else '')
    return 0


# --- the command line --------------------------------------------------------

SUMMARY = 'write the review bundle a bpo-17036 reviewer reads'


def add_arguments(parser):
    """``review``'s argument."""
    parser.add_argument('dir', metavar='DIR', help="the bundle's directory")
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_review(paths, args.dir)
