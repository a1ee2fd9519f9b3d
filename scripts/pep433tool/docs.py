"""``docs``: build the HTML documentation of both trees, compare warnings.

Each tree (``baseline`` = v<version>, ``patched`` = branch pep433 or
--ref) is exported as a detached git worktree of the checkout under
``<workdir>/docs/src-<name>`` and built the way CPython's ``make -C Doc
html`` does (``sphinx-build --builder html --nitpicky --keep-going``) with
the packages of that tree's ``Doc/requirements.txt`` in ``docs/venv``.

Sphinx only reports the warnings of the documents it reads or writes, so an
incremental build prints only a few of them.  The tool therefore keeps the
warnings of every document (``docs/state-<name>.json``): after each build,
the read-phase warnings of the documents Sphinx re-read and the write-phase
warnings of the documents it re-wrote replace the saved ones.  Which phase a
warning belongs to is read from Sphinx's output (``docs/sphinx-<name>.log``)
and which documents were re-read or re-written from the mtimes of their
doctree and HTML files.

Warnings are compared as multisets of (path relative to Doc/, level,
message): line numbers and Sphinx's ``[type]`` suffix are left out, so a
warning that only moved is no change (sphinxwarnings.py).  What the review
bundle takes of the built pages is reviewdocs.py.
"""

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import config, deps, gitutil, options, venvs
from .sphinxwarnings import (RECORD_RE, compare_report, empty_store,
                             merge_warnings, parse_warnings, record_phases,
                             seen_phases, store_warnings, write_warning_list)
from .checkout import require_checkout
from .errors import ExternalError, PreconditionError, ProblemFound, UsageError
from .util import clean_env, cpu_count, run, run_step

log = logging.getLogger(__name__)

TREES = ('baseline', 'patched')
VENV_STAMP = '.pep433-docs-requirements'
#: Paths whose change makes built HTML stale (Doc/conf.py reads the version
#: from patchlevel.h; the changelog page renders Misc/NEWS).
DOC_INPUTS = ('Doc', 'Misc/NEWS', 'Include/patchlevel.h')
SCREENSHOT_SIZE = '1200,1600'
CHROMIUM = 'chromium'
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--hide-scrollbars')

# --- the work directory ------------------------------------------------------


class DocsPaths:
    """Where the docs of tree *name* live: <workdir>/docs/..."""

    def __init__(self, paths):
        self.root = paths.workdir / 'docs'
        self.baseline_python = paths.baseline / 'python'

    @property
    def venv(self):
        return self.root / 'venv'

    def src(self, name):
        """The worktree of *name* (its Doc/ is Sphinx's source dir)."""
        return self.root / f'src-{name}'

    def html(self, name):
        return self.root / f'html-{name}'

    def doctrees(self, name):
        return self.root / f'doctrees-{name}'

    def log(self, name):
        return self.root / f'sphinx-{name}.log'

    def raw_warnings(self, name):
        """Sphinx's --warning-file: this run's warnings only."""
        return self.root / f'sphinx-warnings-{name}.txt'

    def warnings(self, name):
        """Every warning of the tree, normalised (what is compared)."""
        return self.root / f'warnings-{name}.txt'

    def state(self, name):
        return self.root / f'state-{name}.json'

    @property
    def screenshots(self):
        return self.root / 'screenshots'


def load_state(dpaths, name):
    try:
        return json.loads(dpaths.state(name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def save_state(dpaths, name, state):
    path = dpaths.state(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + '\n')
    tmp.replace(path)


# --- source trees and the venv -----------------------------------------------


def sync_worktree(repo, path, commit):
    """Make *path* a detached worktree of *repo* at *commit*.

    An existing worktree is moved with ``git checkout --force --detach``,
    which rewrites only the files that differ (the others keep their mtime,
    so Sphinx re-reads only changed pages) and discards local changes.
    Return True if anything changed.
    """
    path = Path(path)
    if gitutil.is_repo(path):
        head = gitutil.rev_parse(path, 'HEAD')
        if head == commit and not gitutil.dirty_files(path):
            return False
        gitutil.git(path, 'checkout', '--force', '--detach', commit,
                    quiet=True)
        return True
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # --force: the path may still be registered from a worktree someone
    # deleted; nothing else of the checkout is touched.
    gitutil.git(repo, 'worktree', 'add', '--force', '--detach', str(path),
                commit)
    return True


def prepare_news(src, venv_bin):
    """Doc/build/NEWS, as ``make -C Doc html`` makes it: a copy of
    Misc/NEWS (release tarballs) or ``blurb merge`` of Misc/NEWS.d."""
    target = src / 'Doc' / 'build' / 'NEWS'
    news = src / 'Misc' / 'NEWS'
    if news.is_file():
        data = news.read_bytes()
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        return
    if not (src / 'Misc' / 'NEWS.d').is_dir():
        raise PreconditionError(f'neither Misc/NEWS nor Misc/NEWS.d in {src}')
    with tempfile.TemporaryDirectory() as tmp:
        run([str(venv_bin / 'blurb'), 'merge', '-f', f'{tmp}/NEWS'],
            cwd=src / 'Doc', quiet=True)
        data = Path(tmp, 'NEWS').read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)


def requirements_key(doc):
    """What the venv must match: Doc/requirements.txt + constraints.txt."""
    parts = []
    for name in ('requirements.txt', 'constraints.txt'):
        path = doc / name
        text = path.read_text() if path.exists() else ''
        parts.append(f'== {name}\n{text}')
    return ''.join(parts)


def ensure_docs_venv(dpaths, doc):
    """The venv with the packages of *doc*/requirements.txt; its bin dir.

    A stamp remembers the requirements (and constraints) installed, so a
    second call with the same files installs nothing.  The venv is made by
    the base's own baseline build when there is one (its docs may need
    packages that want that Python: 3.13.15's linklint needs >= 3.12), else
    by the Python running the tool.
    """
    if sys.version_info < (3, 11):
        raise PreconditionError(
            'Sphinx 8.2 (Doc/requirements.txt) needs Python >= 3.11; this '
            f'is {sys.version.split()[0]}',
            hint='run scripts/pep433 with python3.11 or newer')
    venv = dpaths.venv

    def install(python):
        log.info('installing %s into %s', doc / 'requirements.txt', venv)
        # pip reads "-c constraints.txt" relative to the requirements file.
        run([str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-'
             'version-check', '-r', str(doc / 'requirements.txt')],
            hint=f'check the network, or remove {venv} and run again')

    return venvs.ensure_venv(
        venv, requirements_key(doc), install, stamp=VENV_STAMP,
        maker=(dpaths.baseline_python if dpaths.baseline_python.exists()
               else None)).parent


# --- the build ---------------------------------------------------------------


def sphinx_command(venv_bin, dpaths, name, jobs):
    """``make -C Doc html``'s sphinx-build, without --fail-on-warning."""
    return [str(venv_bin / 'sphinx-build'), '--builder', 'html',
            '--doctree-dir', str(dpaths.doctrees(name)),
            '--jobs', str(jobs), '--nitpicky', '--keep-going',
            '--warning-file', str(dpaths.raw_warnings(name)), '--no-color',
            '.', str(dpaths.html(name))]


class SphinxProgress:
    """The progress line of a build: Sphinx's last status line and the
    number of warnings so far, read from its output file."""

    def __init__(self):
        self.status = 'starting'

    def __call__(self, logfile):
        try:
            text = Path(logfile).read_text(errors='replace')
        except FileNotFoundError:
            return self.status
        warnings = 0
        for line in text.splitlines():
            line = line.replace('\r', '').strip()
            if not line:
                continue
            if RECORD_RE.match(line):
                warnings += 1
            elif not line.startswith('$ '):
                self.status = line
        status = self.status
        if len(status) > 60:
            status = status[:57] + '...'
        return f'{warnings} warnings; {status}'


def _touched_since(directory, suffix, start_ns):
    """Names (relative, without *suffix*) of files written since start."""
    found = set()
    directory = Path(directory)
    if not directory.is_dir():
        return found
    for path in directory.rglob('*' + suffix):
        try:
            if path.stat().st_mtime_ns >= start_ns:
                rel = path.relative_to(directory).as_posix()
                found.add(rel[:-len(suffix)])
        except FileNotFoundError:
            pass
    return found


def build_docs(dpaths, name, src, jobs=None, label=None, clean=False):
    """Build the HTML docs of the tree *src* as *name*; return its warnings.

    Incremental: the doctrees of the previous build are kept.  A previous
    build that did not finish, or *clean*, starts from scratch.
    """
    label = label or f'docs {name}'
    doc = Path(src) / 'Doc'
    venv_bin = ensure_docs_venv(dpaths, doc)
    prepare_news(Path(src), venv_bin)
    state = load_state(dpaths, name) or {}
    full = (clean or not state.get('store') or state.get('building')
            or not dpaths.doctrees(name).is_dir())
    if full:
        if state.get('building'):
            log.info('%s: the previous build did not finish: building from '
                     'scratch', label)
        shutil.rmtree(dpaths.doctrees(name), ignore_errors=True)
        if clean:
            shutil.rmtree(dpaths.html(name), ignore_errors=True)
        state = {}
    state['building'] = True
    save_state(dpaths, name, state)
    jobs = jobs or cpu_count()
    env = clean_env({'PATH': str(venv_bin) + os.pathsep
                     + os.environ.get('PATH', ''),
                     'PYTHONUNBUFFERED': '1', 'LC_ALL': 'C.UTF-8',
                     'LANGUAGE': 'en'})
    env.pop('LANG', None)
    start_ns = time.time_ns()
    start = time.monotonic()
    run_step(sphinx_command(venv_bin, dpaths, name, jobs), dpaths.log(name),
             label, SphinxProgress(), cwd=doc, env=env, logger=log)
    elapsed = time.monotonic() - start
    log_text = dpaths.log(name).read_text(errors='replace')
    raw = dpaths.raw_warnings(name).read_text(errors='replace')
    phases = record_phases(log_text)
    records = parse_warnings(raw, srcdir=doc, phases=phases)
    if len(phases) != len(records):
        # Never seen; the saved warnings cannot be trusted then.
        log.warning('%s: %d warnings in %s but %d in %s: the next build '
                    'starts from scratch', label, len(phases),
                    dpaths.log(name), len(records), dpaths.raw_warnings(name))
        save_state(dpaths, name, {'building': True})
        raise ExternalError(f'{label}: cannot tell the phase of the warnings; '
                            'run the command again')
    reread = _touched_since(dpaths.doctrees(name), '.doctree', start_ns)
    written = _touched_since(dpaths.html(name), '.html', start_ns)

    def exists(key):
        if key.startswith('@'):
            path = key[1:]
            return (not path or path.startswith('<')
                    or (doc / path).exists())
        return (doc / (key + '.rst')).exists()

    store = merge_warnings(state.get('store') or empty_store(), records,
                           reread=reread, written=written,
                           phases_seen=seen_phases(log_text), exists=exists)
    warnings = store_warnings(store)
    write_warning_list(dpaths.warnings(name), warnings)
    commit = gitutil.rev_parse(src, 'HEAD')
    dirty = bool(gitutil.dirty_files(src))
    save_state(dpaths, name, {
        'building': False, 'commit': commit, 'dirty': dirty, 'store': store,
        'seconds': round(elapsed), 'reread': len(reread),
        'written': len(written)})
    log.info('%s: %d documents read, %d written, %d warnings in this run, '
             '%d in all (%s); HTML in %s', label, len(reread), len(written),
             len(records), len(warnings), dpaths.warnings(name),
             dpaths.html(name))
    return warnings


def resolve_trees(repo, tag, only=None, ref=None):
    """[(name, rev, commit)] of the trees to build (*tag*: the base's)."""
    revs = {'baseline': tag, 'patched': ref or config.BRANCH}
    trees = []
    for name in TREES:
        if only not in (None, name):
            continue
        rev = revs[name]
        commit = gitutil.rev_parse(repo, rev)
        if commit is None:
            hint = ('scripts/pep433 apply' if rev == config.BRANCH
                    else 'scripts/pep433 fetch' if rev == tag
                    else f'git -C {repo} log {rev}')
            raise PreconditionError(f'no commit {rev} in {repo}', hint=hint)
        trees.append((name, rev, commit))
    return trees


def run_docs(paths, only=None, ref=None, jobs=None, clean=False,
             screenshots=(), tree_for_screenshots='patched'):
    """Implement the ``docs`` subcommand; return the exit code."""
    if ref and only == 'baseline':
        raise UsageError('--ref names the patched tree; it makes no sense '
                         'with --only baseline')
    repo = require_checkout(paths)
    dpaths = DocsPaths(paths)
    dpaths.root.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, rev, commit in resolve_trees(repo, paths.base.tag, only, ref):
        src = dpaths.src(name)
        if sync_worktree(repo, src, commit):
            log.info('docs %s: %s is now %s (%s)', name, src, rev,
                     commit[:12])
        else:
            log.info('docs %s: %s already at %s (%s)', name, src, rev,
                     commit[:12])
        results[name] = build_docs(dpaths, name, src, jobs, clean=clean)
    for page in screenshots:
        out = take_screenshot(dpaths, page, tree=tree_for_screenshots)
        print(out)
    for name in TREES:
        if name not in results:
            state = load_state(dpaths, name)
            if not state or state.get('building') or 'store' not in state:
                log.info('docs: no finished %s build to compare with: run '
                         'scripts/pep433 docs --only %s', name, name)
                return 0
            log.info('docs: comparing with the %s build of %s', name,
                     state['commit'][:12])
            results[name] = store_warnings(state['store'])
    report, added = compare_report(results['baseline'], results['patched'])
    print(report, end='')
    (dpaths.root / 'warnings-compare.txt').write_text(report)
    if added:
        raise ProblemFound(
            f'the patched tree adds {added} documentation warnings (listed '
            f'above; all warnings in {dpaths.warnings("patched")})')
    return 0


# --- screenshots -------------------------------------------------------------


#: Headless chromium paints a blank page when it scrolls to a #fragment
#: before the screenshot, so the page is shifted up instead.
SHIFT_SCRIPT = """<script>window.addEventListener("load", function () {
  var el = document.getElementById(%s);
  if (!el) return;
  var top = el.getBoundingClientRect().top + window.scrollY - 8;
  document.body.style.transform = "translateY(" + (-top) + "px)";
});</script>"""


def screenshot_page(html_path, anchor, tmpdir):
    """A copy of *html_path* in *tmpdir* that shows element *anchor* at
    the top (its links still resolve: a <base> names the original's
    directory); its file:// URL."""
    text = Path(html_path).read_text(encoding='utf-8')
    base = f'<base href="{Path(html_path).parent.resolve().as_uri()}/">'
    text, count = re.subn(r'<head[^>]*>', lambda m: m.group(0) + base,
                          text, count=1)
    if not count:
        text = base + text
    script = SHIFT_SCRIPT % json.dumps(anchor)
    if '</body>' in text:
        text = text.replace('</body>', script + '</body>', 1)
    else:
        text += script
    copy = Path(tmpdir) / 'page.html'
    copy.write_text(text, encoding='utf-8')
    return copy.as_uri()


def take_screenshot(dpaths, page, tree='patched', out=None,
                    size=SCREENSHOT_SIZE):
    """Screenshot of the built *page* (``library/os.html#anchor``: the
    element with that id at the top) with headless chromium (installed
    with apt-get when missing); return the PNG's path."""
    html_dir = dpaths.html(tree)
    path, _, anchor = page.partition('#')
    if not path.endswith('.html'):
        path += '.html'
    target = html_dir / path
    if not target.is_file():
        raise PreconditionError(f'{target} does not exist',
                                hint=f'scripts/pep433 docs --only {tree}')
    deps.ensure_packages((CHROMIUM,), 'packages for the screenshots')
    if out is None:
        stem = path[:-len('.html')].replace('/', '-')
        out = dpaths.screenshots / (f'{tree}-{stem}'
                                    + (f'-{anchor}' if anchor else '')
                                    + '.png')
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix='pep433-chromium-') as tmp:
        profile = Path(tmp) / 'profile'
        profile.mkdir()
        url = (screenshot_page(target, anchor, tmp) if anchor
               else target.resolve().as_uri())
        run([CHROMIUM, *CHROMIUM_FLAGS, f'--user-data-dir={profile}',
             f'--screenshot={out}', f'--window-size={size}', url],
            hint=f'apt-get install {CHROMIUM}')
    if not out.is_file():
        raise ExternalError(f'chromium wrote no screenshot to {out}')
    return out


# --- the command line --------------------------------------------------------

SUMMARY = 'build the HTML docs of both trees, compare the warnings'


def add_arguments(parser):
    """``docs``' options."""
    options.add_only(parser, 'of the two trees')
    parser.add_argument('--ref', metavar='REF',
                        help='build the patched tree from REF')
    options.add_jobs(parser, 'sphinx-build --jobs')
    parser.add_argument('--clean', action='store_true',
                        help='forget the previous build; build from scratch')
    parser.add_argument('--screenshot', action='append',
                        metavar='PAGE[#ANCHOR]',
                        help='then take a screenshot of PAGE (repeatable)')
    parser.add_argument('--screenshot-tree', choices=('baseline', 'patched'),
                        default='patched',
                        help='the tree the screenshots show (default: '
                             'patched)')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_docs(paths, only=args.only, ref=args.ref, jobs=args.jobs,
                    clean=args.clean, screenshots=args.screenshot or (),
                    tree_for_screenshots=args.screenshot_tree)
