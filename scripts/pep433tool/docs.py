"""``docs``: build the HTML documentation of both trees, compare warnings.

Each tree (``baseline`` = v3.13.5, ``patched`` = branch pep433 or --ref) is
exported as a detached git worktree of the checkout under
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
warning that only moved is no change.
"""

import collections
import difflib
import html.parser
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import config, deps, gitutil, options, venvs
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


# --- Sphinx warnings: parsing and normalisation ------------------------------

#: The first line of a warning record: ``[location: ]LEVEL: message``, where
#: location is ``path``, ``path:line`` or ``path:None``.
RECORD_RE = re.compile(
    r'^(?:(?P<location>\S.*?): )?(?P<level>WARNING|ERROR|CRITICAL|SEVERE): '
    r'(?P<message>.*)$')
LOCATION_RE = re.compile(r'^(?P<path>.*?)(?::(?P<line>\d+|None))?$')
#: Sphinx >= 7.3 ends a warning with its type: `` [ref.const]``.
TYPE_RE = re.compile(r'^(?P<message>.*?) \[(?P<type>[a-z][\w.-]*)\]$')
#: An absolute path into some Doc/ directory, in a message.
ABS_DOC_RE = re.compile(r'(?<![\w.])/(?:[^\s/:]+/)*Doc/')


@dataclass(frozen=True)
class SphinxWarning:
    """One warning of a build, its path relative to Doc/."""

    path: str           # '' when Sphinx gave no location
    line: object        # int or None
    level: str          # WARNING, ERROR, ...
    message: str        # without the [type] suffix; continuation lines kept
    type: str = ''      # e.g. ref.const ('' in Sphinx < 7.3's format)
    phase: str = ''     # init, read, consistency, write ('' if unknown)

    @property
    def key(self):
        """What is compared: no line number, no type."""
        return (self.path, self.level, self.message)

    @property
    def docname(self):
        """The document the path names (None for other files)."""
        if self.path.endswith('.rst') and not self.path.startswith('../'):
            return self.path[:-len('.rst')]
        return None

    def __str__(self):
        return format_key(self.key, type=self.type, line=self.line)


def format_key(key, type='', line=None):
    """``path[:line]: LEVEL: message [type]`` (the message's first line)."""
    path, level, message = key
    text = message.splitlines()[0] if message else ''
    if '\n' in message:
        text += ' ...'
    where = path if line is None else f'{path}:{line}'
    suffix = f' [{type}]' if type else ''
    return f'{where}: {level}: {text}{suffix}' if path else \
        f'{level}: {text}{suffix}'


def normalise_path(path, srcdir=None):
    """*path* relative to the Doc/ directory *srcdir*, with / separators.

    Without *srcdir*, or for a path outside its tree, everything up to the
    last ``Doc/`` component is dropped.
    """
    if srcdir is not None and os.path.isabs(path):
        srcdir = Path(srcdir)
        for root in (srcdir, srcdir.parent):
            try:
                Path(path).relative_to(root)
            except ValueError:
                continue
            return Path(os.path.relpath(path, srcdir)).as_posix()
    match = re.search(r'(?:^|/)Doc/(.*)$', path)
    return match.group(1) if match else path


def normalise_message(message, srcdir=None):
    """*message* without the absolute paths of the source tree in it."""
    if srcdir is not None:
        srcdir = str(srcdir).rstrip('/')
        message = message.replace(srcdir + '/', '')
        message = message.replace(os.path.dirname(srcdir) + '/', '../')
    return ABS_DOC_RE.sub('', message)


def parse_warnings(text, srcdir=None, phases=None):
    """The warning records of Sphinx output *text* (a --warning-file).

    A line that does not start a record continues the previous one.  Paths
    are made relative to *srcdir* (the Doc/ directory; see
    normalise_path).  *phases*, if given, is the phase of each record in
    order (see record_phases).
    """
    records = []
    for line in text.splitlines():
        match = RECORD_RE.match(line)
        if match is None:
            if records and line.strip():
                records[-1]['message'] += '\n' + line.rstrip()
            continue
        location = match.group('location') or ''
        loc = LOCATION_RE.match(location)
        lineno = loc.group('line')
        message = match.group('message').rstrip()
        typ = ''
        tmatch = TYPE_RE.match(message)
        if tmatch:
            message, typ = tmatch.group('message'), tmatch.group('type')
        records.append({
            'path': normalise_path(loc.group('path'), srcdir)
            if location else '',
            'line': int(lineno) if lineno and lineno != 'None' else None,
            'level': match.group('level'),
            'message': message, 'type': typ})
    result = []
    for i, rec in enumerate(records):
        phase = phases[i] if phases is not None and i < len(phases) else ''
        result.append(SphinxWarning(
            rec['path'], rec['line'], rec['level'],
            normalise_message(rec['message'], srcdir), rec['type'], phase))
    return result


#: Sphinx's status lines that start each phase of a build (in order).
PHASE_MARKERS = (
    ('updating environment: ', 'read'),
    ('checking consistency', 'consistency'),
    ('preparing documents', 'write'),
)


def record_phases(log_text):
    """The phase of each warning record in Sphinx's output *log_text*.

    *log_text* is stdout and stderr of sphinx-build in one file (the
    warnings are the same records, in the same order, as in the
    --warning-file).  Phases: ``init`` (before reading), ``read`` (the
    documents Sphinx re-reads), ``consistency`` (global checks, only when
    something was re-read), ``write`` (resolving references and writing).
    """
    phase, phases = 'init', []
    for line in log_text.splitlines():
        if RECORD_RE.match(line):
            phases.append(phase)
            continue
        for marker, name in PHASE_MARKERS:
            if marker in line:
                phase = name
    return phases


def seen_phases(log_text):
    """The phases that Sphinx's output *log_text* went through."""
    seen = {'init'}
    for line in log_text.splitlines():
        if RECORD_RE.match(line):
            continue
        for marker, name in PHASE_MARKERS:
            if marker in line:
                seen.add(name)
    return seen


def _group(records):
    """{key: [record dicts]}: by document, or '@path' for other files."""
    groups = collections.defaultdict(list)
    for rec in records:
        key = rec.docname if rec.docname is not None else '@' + rec.path
        groups[key].append(asdict(rec))
    return dict(groups)


def empty_store():
    return {'init': [], 'read': {}, 'consistency': [], 'write': {}}


def merge_warnings(store, records, *, reread, written, phases_seen,
                   exists=None):
    """Update *store* (the saved warnings of a tree) with a build's records.

    *records* are this build's warnings (with phases); *reread* and
    *written* the documents it read and wrote; *phases_seen* the phases it
    went through.  The warnings of a document are replaced for the phase in
    which the build processed it, or in which it reported something about
    it; everything else is kept.  A warning in a file that is not a
    document (an included file) is kept until a build reports that file
    again or rebuilds everything.  *exists(key)* tells whether a document or
    file still exists (its saved warnings are dropped otherwise).  Return
    the new store.
    """
    by_phase = collections.defaultdict(list)
    for rec in records:
        by_phase[rec.phase or 'write'].append(rec)
    new = {'init': [asdict(r) for r in by_phase['init']],
           'consistency': store.get('consistency', [])}
    if 'consistency' in phases_seen:
        new['consistency'] = [asdict(r) for r in by_phase['consistency']]
    for phase, done in (('read', set(reread)), ('write', set(written))):
        groups = _group(by_phase[phase])
        merged = dict(store.get(phase, {}))
        for key in done | set(groups):
            merged[key] = groups.get(key, [])
        if exists is not None:
            merged = {key: recs for key, recs in merged.items()
                      if exists(key)}
        new[phase] = {key: recs for key, recs in sorted(merged.items())
                      if recs}
    return new


def store_warnings(store):
    """Every warning in *store*, as SphinxWarning, sorted by path and line."""
    recs = list(store.get('init', [])) + list(store.get('consistency', []))
    for phase in ('read', 'write'):
        for group in store.get(phase, {}).values():
            recs.extend(group)
    result = [SphinxWarning(**rec) for rec in recs]
    return sorted(result, key=lambda w: (w.path, w.line or 0, w.message))


def compare_warnings(baseline, patched):
    """(added, removed): Counters of warning keys, patched vs baseline."""
    base = collections.Counter(w.key for w in baseline)
    new = collections.Counter(w.key for w in patched)
    return new - base, base - new


def compare_report(baseline, patched, labels=('baseline', 'patched')):
    """The comparison of two lists of warnings as text, and the number of
    warnings the patched tree adds.

    Each added (removed) warning is listed once with its count and the
    lines where each tree has it, so that the new occurrence can be found
    among the old ones that only moved.
    """
    added, removed = compare_warnings(baseline, patched)
    lines = collections.defaultdict(list)
    types = {}
    for name, warnings in zip(labels, (baseline, patched)):
        for w in warnings:
            lines[name, w.key].append(w.line)
            types.setdefault(w.key, w.type)
    out = [f'docs warnings: {labels[0]} {len(baseline)}, '
           f'{labels[1]} {len(patched)}']
    for title, counter, sign in (
            (f'added by the {labels[1]} tree', added, '+'),
            (f'removed by the {labels[1]} tree (for information)', removed,
             '-')):
        out.append(f'{title}: {sum(counter.values())}')
        for key in sorted(counter):
            out.append(f'  {sign}{counter[key]} '
                       + format_key(key, type=types.get(key, '')))
            where = []
            for name in labels:
                numbers = sorted(n for n in lines.get((name, key), ())
                                 if n is not None)
                if numbers:
                    where.append(f'{name} at line '
                                 + ', '.join(map(str, numbers)))
            if where:
                out.append('      ' + '; '.join(where))
    return '\n'.join(out) + '\n', sum(added.values())


def write_warning_list(path, warnings):
    text = ''.join(f'{w}\n' for w in warnings)
    path.write_text(text, encoding='utf-8')


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


# --- the review bundle's docs (scripts/pep433 review) -------------------------

#: Elements after which the text of a page starts a new paragraph.
BLOCKS = {'p', 'div', 'section', 'pre', 'li', 'dt', 'dd', 'dl', 'ul', 'ol',
          'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'tr', 'blockquote',
          'br', 'hr', 'figure', 'caption', 'aside', 'nav'}
#: Elements that indent what they contain (definition bodies, lists).
INDENTS = {'dd', 'ul', 'ol', 'blockquote'}
VOID = {'br', 'hr', 'img', 'meta', 'link', 'input', 'wbr', 'col', 'area',
        'base', 'source', 'embed', 'param', 'track'}


class _TextExtractor(html.parser.HTMLParser):
    """The text a reader sees in a Sphinx page's main content."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []           # open elements (tag, role)
        self.in_body = 0          # depth inside <div role="main">
        self.skip = 0             # depth inside script/style/headerlink
        self.pre = 0
        self.blocks = []          # [(indent, is_pre, text)]
        self.current = []
        self.indent = 0

    def _flush(self):
        text = ''.join(self.current)
        self.current = []
        if self.pre:
            if text.strip('\n'):
                self.blocks.append((self.indent, True, text.strip('\n')))
        elif text.strip():
            self.blocks.append((self.indent, False,
                                ' '.join(text.split())))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get('class') or '').split()
        if tag in VOID:
            if tag == 'br' and self.in_body:
                self._flush()
            return
        role = None
        if not self.in_body and tag == 'div' and (
                attrs.get('role') == 'main' or 'body' in classes):
            role = 'main'
        elif self.in_body and (tag in ('script', 'style') or
                               'headerlink' in classes or self.skip):
            role = 'skip'
        elif self.in_body and tag in BLOCKS:
            self._flush()
            role = 'block'
            if tag in INDENTS:
                role = 'indent'
                self.indent += 1
            if tag == 'pre':
                self.pre += 1
            if tag == 'li':
                self.current.append('* ')
        self.stack.append((tag, role))
        if role == 'main':
            self.in_body += 1
        elif role == 'skip':
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        # close up to the matching element (tolerates unclosed <p> etc.)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                break
        else:
            return
        while len(self.stack) > i:
            open_tag, role = self.stack.pop()
            if role == 'main':
                self._flush()
                self.in_body -= 1
            elif role == 'skip':
                self.skip -= 1
            elif role in ('block', 'indent'):
                self._flush()
                if open_tag == 'pre':
                    self.pre -= 1
                if role == 'indent':
                    self.indent -= 1

    def handle_data(self, data):
        if self.in_body and not self.skip:
            self.current.append(data)


def html_text(html_source, width=79):
    """The readable text of a Sphinx HTML page: its main content, one
    paragraph per block, wrapped at *width*, indented by nesting; code
    blocks kept as they are; permalink marks left out."""
    parser = _TextExtractor()
    parser.feed(html_source)
    parser.close()
    parser._flush()
    lines = []
    for indent, is_pre, text in parser.blocks:
        prefix = '    ' * min(indent, 8)
        if lines:
            lines.append('')
        if is_pre:
            lines.extend(prefix + line.rstrip() for line in
                         text.splitlines())
        else:
            lines.extend(textwrap.wrap(
                text, width=max(width - len(prefix), 30),
                initial_indent=prefix, subsequent_indent=prefix,
                break_on_hyphens=False, break_long_words=False))
    return '\n'.join(lines) + '\n'


def text_diff(old_html, new_html, name):
    """Unified diff of the text of two renderings of page *name* ('' when
    the texts are equal).  None for a page missing on one side."""
    old = html_text(old_html).splitlines(keepends=True) if old_html else []
    new = html_text(new_html).splitlines(keepends=True) if new_html else []
    return ''.join(difflib.unified_diff(
        old, new, f'a/{name}', f'b/{name}'))


def changed_pages(repo, base, tip=config.BRANCH):
    """Documents (``library/os``) whose .rst the series changes."""
    text = gitutil.out(repo, 'diff', '--name-only', '--no-renames',
                       f'{base}..{tip}', '--', 'Doc/')
    return [path[len('Doc/'):-len('.rst')] for path in text.splitlines()
            if path.endswith('.rst')]


def built_commit(dpaths, name, repo, rev):
    """The commit *name*'s docs were built from, if they are up to date
    with *rev* (no change under DOC_INPUTS); else None, after logging why."""
    state = load_state(dpaths, name)
    if not state or state.get('building') or not dpaths.html(name).is_dir():
        log.info('review: no finished docs build of the %s tree', name)
        return None
    commit = state.get('commit')
    want = gitutil.rev_parse(repo, rev)
    if state.get('dirty'):
        log.info('review: the %s docs were built from a modified tree', name)
        return None
    if commit != want:
        proc = gitutil.git(repo, 'diff', '--quiet', f'{commit}', want, '--',
                           *DOC_INPUTS, check=False, quiet=True)
        if proc.returncode != 0:
            log.info('review: the %s docs were built from %s, not %s (%s), '
                     'and the docs differ', name, (commit or '?')[:12], rev,
                     want[:12])
            return None
    return commit


_IMAGE_RE = re.compile(r'''(?:src|href)="(?:\.\./)*(_images/[^"#?]+)"''')


def write_review_docs(paths, repo, outdir):
    """Write *outdir*/html/ (the changed pages, rendered, with _static/)
    and *outdir*/diff/<page>.diff (the text diff of each page, baseline vs
    patched) from the HTML that ``scripts/pep433 docs`` built.  Builds
    nothing: when the builds are missing or stale, log how to make them and
    return False."""
    dpaths = DocsPaths(paths)
    commits = [built_commit(dpaths, 'baseline', repo, paths.base.tag),
               built_commit(dpaths, 'patched', repo, config.BRANCH)]
    if None in commits:
        log.info('review: docs/ left out; run scripts/pep433 docs, then '
                 'scripts/pep433 review again')
        return False
    pages = changed_pages(repo, paths.base.tag)
    base_html, new_html = dpaths.html('baseline'), dpaths.html('patched')
    html_out, diff_out = outdir / 'html', outdir / 'diff'
    html_out.mkdir(parents=True, exist_ok=True)
    images = set()
    for page in pages:
        new = new_html / f'{page}.html'
        old = base_html / f'{page}.html'
        new_text = new.read_text(encoding='utf-8') if new.exists() else ''
        old_text = old.read_text(encoding='utf-8') if old.exists() else ''
        if new.exists():
            target = html_out / f'{page}.html'
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(new, target)
            images.update(_IMAGE_RE.findall(new_text))
        diff = text_diff(old_text, new_text, f'{page}.html')
        target = diff_out / f'{page}.diff'
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(diff, encoding='utf-8')
    shutil.copytree(new_html / '_static', html_out / '_static',
                    dirs_exist_ok=True)
    for image in sorted(images):
        if (new_html / image).is_file():
            (html_out / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(new_html / image, html_out / image)
    log.info('review: %d changed pages in %s, their text diffs in %s',
             len(pages), html_out, diff_out)
    return True


# --- the command line --------------------------------------------------------

SUMMARY = 'build the HTML docs of both trees, compare the warnings'


def add_arguments(parser):
    """``docs``' options."""
    options.add_only(parser, 'of the two trees')
    parser.add_argument('--ref', metavar='REF',
                        help='build the patched tree from REF, not the branch')
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
