"""``docs``: warning parsing, normalisation, comparison; the review bundle."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import (ORIGINAL_WORKDIR, SCRIPTS, commit_all, git,
                      make_base, write)
from pep433tool import docs, reviewdocs
from pep433tool.sphinxwarnings import (SphinxWarning, compare_report,
                                       compare_warnings, empty_store,
                                       merge_warnings, parse_warnings,
                                       record_phases, seen_phases,
                                       store_warnings)


MSG = 'py:const reference target not found: MSG_CMSG_CLOEXEC'
SCM = 'py:const reference target not found: SCM_RIGHTS'
FSE = 'py:func reference target not found: os.fsencode_x'


def lines(src, *items):
    """Warning lines as Sphinx 8 writes them: (path, line, message, type)."""
    return ''.join(
        f'{src}/{path}:{line}: WARNING: {message} [{typ}]\n'
        if path != '<unknown>' else
        f'<unknown>:{line}: WARNING: {message} [{typ}]\n'
        for path, line, message, typ in items)


BASE = '/work/build/docs/src-baseline/Doc'
PATCHED = '/work/build/docs/src-patched/Doc'
SOCKET = PATCHED + '/library/socket.rst'
COMMON = (('<unknown>', 218,
           'c:data reference target not found: PyExc_IOError', 'ref.data'),
          ('build/NEWS', 12, 'py:meth reference target not found: foo.bar',
           'ref.meth'))
BASELINE_TEXT = lines(
    BASE, *[('library/socket.rst', n, SCM, 'ref.const')
            for n in (1404, 1419, 1739, 1755)],
    ('library/os.rst', 88, FSE, 'ref.func'), *COMMON)
PATCHED_TEXT = lines(
    PATCHED, *[('library/socket.rst', n, SCM, 'ref.const')
               for n in (1411, 1426)],
    ('library/socket.rst', 1765, MSG, 'ref.const'),
    ('library/socket.rst', 1765, MSG, 'ref.const'),
    ('library/socket.rst', 1765, SCM, 'ref.const'),
    ('library/socket.rst', 1765, MSG, 'ref.const'),
    *[('library/socket.rst', n, SCM, 'ref.const') for n in (1781, 1949)],
    ('library/os.rst', 97, FSE, 'ref.func'), *COMMON)


def test_the_saved_texts_are_real_sphinx_lines():
    assert PATCHED_TEXT.splitlines()[2] == (
        '/work/build/docs/src-patched/Doc/library/socket.rst:1765: WARNING: '
        'py:const reference target not found: MSG_CMSG_CLOEXEC [ref.const]')


def parse(text, tree='patched'):
    return parse_warnings(
        text, srcdir=f'/work/build/docs/src-{tree}/Doc')


def key(path, message, level='WARNING'):
    return (path, level, message)


# --- parsing and normalisation -----------------------------------------------

def test_parse_new_and_old_format_normalise_alike():
    new = parse_warnings(
        '/path/Doc/library/socket.rst:123: WARNING: py:const reference '
        'target not found: MSG_CMSG_CLOEXEC [ref.const]\n')
    old = parse_warnings(
        '/other/checkout/Doc/library/socket.rst:456: WARNING: py:const '
        'reference target not found: MSG_CMSG_CLOEXEC\n')
    assert [w.key for w in new] == [w.key for w in old] == [
        key('library/socket.rst', MSG)]
    assert (new[0].line, new[0].type) == (123, 'ref.const')
    assert (old[0].line, old[0].type) == (456, '')
    assert new[0].docname == 'library/socket'
    assert str(new[0]) == ('library/socket.rst:123: WARNING: ' + MSG
                           + ' [ref.const]')


def test_parse_paths_relative_to_srcdir_and_odd_locations():
    text = ('/w/src/Doc/build/NEWS:7: WARNING: msg one\n'
            '/w/src/Misc/NEWS: WARNING: msg two\n'
            '<unknown>:218: WARNING: c:data reference target not found: X '
            '[ref.data]\n'
            'WARNING: no location at all\n'
            '/w/src/Doc/library/os.rst:None: ERROR: Unknown directive type '
            '"foo". [docutils]\n'
            '   continuation of the error\n')
    ws = parse_warnings(text, srcdir='/w/src/Doc')
    assert [(w.path, w.line, w.level) for w in ws] == [
        ('build/NEWS', 7, 'WARNING'), ('../Misc/NEWS', None, 'WARNING'),
        ('<unknown>', 218, 'WARNING'), ('', None, 'WARNING'),
        ('library/os.rst', None, 'ERROR')]
    assert ws[4].message == ('Unknown directive type "foo".\n'
                             '   continuation of the error')
    assert ws[4].type == 'docutils'
    assert [w.docname for w in ws] == [None, None, None, None, 'library/os']


def test_absolute_paths_in_messages_are_made_relative():
    text = ('/a/src-patched/Doc/library/os.rst:3: WARNING: duplicate object '
            'description of os.x, other instance in '
            '/a/src-patched/Doc/library/posix.rst, use :no-index:\n')
    (w,) = parse_warnings(text, srcdir='/a/src-patched/Doc')
    (v,) = parse_warnings(text.replace('src-patched', 'elsewhere'))
    assert 'other instance in library/posix.rst' in w.message
    assert w.key == v.key


# --- comparison --------------------------------------------------------------

def test_the_four_added_warnings_are_found():
    added, removed = compare_warnings(parse(BASELINE_TEXT, 'baseline'),
                                      parse(PATCHED_TEXT))
    assert dict(added) == {key('library/socket.rst', MSG): 3,
                           key('library/socket.rst', SCM): 1}
    assert not removed


def test_line_moves_are_ignored():
    # every baseline warning also in the patched tree, at other lines
    added, removed = compare_warnings(
        parse(BASELINE_TEXT, 'baseline'),
        parse(BASELINE_TEXT.replace(':14', ':24').replace(':17', ':27')))
    assert not added and not removed


def test_duplicates_are_counted():
    one = parse(f'{SOCKET}:10: WARNING: {SCM} [ref.const]\n')
    two = parse(f'{SOCKET}:10: WARNING: {SCM} [ref.const]\n'
                f'{SOCKET}:99: WARNING: {SCM} [ref.const]\n')
    added, removed = compare_warnings(one, two)
    assert dict(added) == {key('library/socket.rst', SCM): 1}
    added, removed = compare_warnings(two, one)
    assert not added and dict(removed) == {key('library/socket.rst', SCM): 1}


def test_a_removed_warning_is_not_counted_as_added():
    patched = parse(''.join(line for line in
                            PATCHED_TEXT.splitlines(keepends=True)
                            if 'os.rst:97' not in line))
    report, added = compare_report(parse(BASELINE_TEXT, 'baseline'),
                                   patched)
    assert added == 4
    assert 'removed by the patched tree (for information): 1' in report
    assert '-1 library/os.rst: WARNING: py:func reference target not ' \
           'found: os.fsencode_x [ref.func]' in report


def test_report_lists_counts_and_lines():
    report, added = compare_report(parse(BASELINE_TEXT, 'baseline'),
                                   parse(PATCHED_TEXT))
    assert added == 4
    assert 'docs warnings: baseline 7, patched 11' in report
    assert 'added by the patched tree: 4' in report
    assert f'  +3 library/socket.rst: WARNING: {MSG} [ref.const]' in report
    assert f'  +1 library/socket.rst: WARNING: {SCM} [ref.const]' in report
    assert ('baseline at line 1404, 1419, 1739, 1755; patched at line '
            '1411, 1426, 1765, 1781, 1949') in report
    assert 'removed by the patched tree (for information): 0' in report


# --- phases and the saved warnings of incremental builds ---------------------

LOG = """\
$ sphinx-build ...
Running Sphinx v8.2.3
WARNING: an init warning
loading pickled environment... done
building [html]: targets for 1 source files that are out of date
updating environment: 0 added, 1 changed, 0 removed
reading sources... [100%] library/socket
/s/Doc/library/socket.rst:5: WARNING: a read warning
looking for now-outdated files... none found
pickling environment... done
checking consistency... done
preparing documents... done
copying assets...
writing output... [ 50%] library/ipc
/s/Doc/library/socket.rst:9: WARNING: a write warning
writing output... [100%] library/socket
build succeeded, 3 warnings.
"""


def test_record_phases_and_seen_phases():
    assert record_phases(LOG) == ['init', 'read', 'write']
    assert seen_phases(LOG) == {'init', 'read', 'consistency', 'write'}
    quiet = 'loading pickled environment... done\nupdating environment: ' \
            '0 added, 0 changed\npreparing documents... done\n'
    assert seen_phases(quiet) == {'init', 'read', 'write'}


def records(text, phase):
    return [SphinxWarning(**{**w.__dict__, 'phase': phase})
            for w in parse(text)]


def test_merge_keeps_the_warnings_of_pages_sphinx_did_not_rebuild():
    first = records(PATCHED_TEXT, 'write')
    store = merge_warnings(empty_store(), first, reread={'x'},
                           written={'library/socket'},
                           phases_seen={'init', 'read', 'write'})
    assert len(store_warnings(store)) == 11
    # a rerun that changed nothing reports nothing and keeps everything
    same = merge_warnings(store, [], reread=set(), written={'genindex'},
                          phases_seen={'init', 'read', 'write'})
    assert store_warnings(same) == store_warnings(store)
    # socket.rst fixed: only its page is re-read and re-written
    fixed = records(f'{SOCKET}:1411: WARNING: {SCM} [ref.const]\n', 'write')
    new = merge_warnings(store, fixed, reread={'library/socket'},
                         written={'library/socket', 'library/ipc'},
                         phases_seen={'init', 'read', 'write'})
    ws = store_warnings(new)
    assert len(ws) == 4
    assert [w.path for w in ws] == ['<unknown>', 'build/NEWS',
                                    'library/os.rst', 'library/socket.rst']


def test_merge_by_phase_and_dropped_documents():
    read = records(f'{SOCKET}:5: WARNING: a read warning\n', 'read')
    write_ = records(f'{SOCKET}:9: WARNING: a write warning\n', 'write')
    cons = records(f'{SOCKET}: WARNING: document isn\'t included in any '
                   'toctree\n', 'consistency')
    store = merge_warnings(empty_store(), read + write_ + cons,
                           reread={'library/socket'},
                           written={'library/socket'},
                           phases_seen={'read', 'consistency', 'write'})
    assert len(store_warnings(store)) == 3
    # written again but not re-read: the read warning stays, the write
    # warning is replaced, no consistency check ran
    again = merge_warnings(store, [], reread=set(),
                           written={'library/socket'},
                           phases_seen={'init', 'read', 'write'})
    assert [w.message for w in store_warnings(again)] == [
        "document isn't included in any toctree", 'a read warning']
    # the document was deleted
    gone = merge_warnings(again, [], reread=set(), written=set(),
                          phases_seen={'init', 'read', 'consistency',
                                            'write'},
                               exists=lambda key: key != 'library/socket')
    assert store_warnings(gone) == []


# --- the command -------------------------------------------------------------

@pytest.fixture
def fake_build(monkeypatch):
    """docs.build_docs replaced: the saved warning texts, no Sphinx."""
    texts = {'baseline': BASELINE_TEXT, 'patched': PATCHED_TEXT}
    calls = []

    def build_docs(dpaths, name, src, jobs=None, label=None, clean=False):
        calls.append((name, docs.gitutil.rev_parse(src, 'HEAD')))
        warnings = parse(texts[name], name)
        store = merge_warnings(
            empty_store(), warnings, reread=set(), written=set(),
            phases_seen={'init'})
        docs.save_state(dpaths, name, {
            'building': False, 'store': store,
            'commit': docs.gitutil.rev_parse(src, 'HEAD')})
        return warnings

    monkeypatch.setattr(docs, 'build_docs', build_docs)
    return texts, calls


def test_cli_exit_status(project, fake_build, capsys):
    texts, calls = fake_build
    make_base(project.cpython)
    write(project.cpython, 'Doc/library/socket.rst', 'socket\n')
    commit_all(project.cpython, 'docs')
    assert project.run('docs') == 1
    out = capsys.readouterr().out
    assert 'added by the patched tree: 4' in out
    assert [name for name, _ in calls] == ['baseline', 'patched']
    tip = git(project.cpython, 'rev-parse', 'pep433')
    assert calls[1][1] == tip
    docs_dir = project.workdir / 'docs'
    assert (docs_dir / 'src-patched' / 'Doc/library/socket.rst').exists()
    assert 'added by the patched tree: 4' in (
        docs_dir / 'warnings-compare.txt').read_text()
    # the fix: the patched tree has the baseline's warnings (moved)
    texts['patched'] = BASELINE_TEXT.replace(':1739', ':1765')
    assert project.run('docs', '--only', 'patched') == 0
    out = capsys.readouterr().out
    assert 'added by the patched tree: 0' in out
    assert calls[-1][0] == 'patched'
    # --ref builds the patched tree from another commit
    assert project.run('docs', '--only', 'patched', '--ref',
                       'v3.13.5') == 0
    assert calls[-1][1] == git(project.cpython, 'rev-parse', 'v3.13.5')
    assert project.run('docs', '--only', 'baseline', '--ref', 'x') == 2
    assert project.run('docs', '--ref', 'no-such-ref') == 3


def test_cli_without_checkout_is_a_precondition(project):
    assert project.run('docs') == 3


def test_worktree_moves_only_changed_files(tmp_path):
    repo = make_base(tmp_path / 'cpython')
    first = git(repo, 'rev-parse', 'HEAD')
    write(repo, 'Lib/os.py', 'changed\n')
    commit_all(repo, 'change')
    second = git(repo, 'rev-parse', 'HEAD')
    wt = tmp_path / 'docs' / 'src-x'
    assert docs.sync_worktree(repo, wt, first)
    assert not docs.sync_worktree(repo, wt, first)
    readme = wt / 'README.rst'
    old = readme.stat().st_mtime_ns
    (wt / 'Include/patchlevel.h').write_text('local change\n')
    assert docs.sync_worktree(repo, wt, second)
    assert (wt / 'Lib/os.py').read_text() == 'changed\n'
    assert (wt / 'Include/patchlevel.h').read_text().startswith('#define')
    assert readme.stat().st_mtime_ns == old
    # the checkout's own branch and working tree are untouched
    assert git(repo, 'rev-parse', 'HEAD') == second
    assert git(repo, 'status', '--porcelain') == ''


# --- the review bundle -------------------------------------------------------

def page(body):
    return textwrap.dedent(f"""\
        <!DOCTYPE html>
        <html><head><title>os</title><script>var x = 1;</script></head>
        <body><div class="related" role="navigation">Navigation</div>
        <div class="document"><div class="body" role="main">
        {body}
        </div></div><div class="footer">Last updated</div></body></html>
        """)


OLD_PAGE = page("""
<section id="os"><h1>os &#8212; interfaces<a class="headerlink"
href="#os" title="Link">¶</a></h1>
<p>This module provides a portable way.</p>
<dl class="py function"><dt class="sig" id="os.dup"><span>os.dup(fd)</span>
<a class="headerlink" href="#os.dup">¶</a></dt>
<dd><p>Return a duplicate of a file descriptor.</p>
<div class="versionchanged"><p><span class="versionmodified changed">Changed
in version 3.4: </span>The new file descriptor is now non-inheritable.</p>
</div></dd></dl>
<pre><span>&gt;&gt;&gt; </span>os.dup(1)
3</pre>
</section>""")

NEW_PAGE = OLD_PAGE.replace(
    'os.dup(fd)', 'os.dup(fd, *, cloexec=None)').replace(
    'non-inheritable.</p>\n</div>',
    'non-inheritable.</p>\n</div><div class="versionchanged"><p><span '
    'class="versionmodified changed">Changed in version 3.13.5+pep433: '
    '</span>Added the <em>cloexec</em> parameter.</p></div>')


def test_html_text_keeps_the_reader_visible_text():
    text = reviewdocs.html_text(OLD_PAGE)
    assert 'Navigation' not in text and 'Last updated' not in text
    assert 'var x' not in text and '¶' not in text
    assert text.splitlines()[0] == 'os — interfaces'
    assert '    Return a duplicate of a file descriptor.' in text
    assert ('    Changed in version 3.4: The new file descriptor is now '
            'non-inheritable.') in text
    assert '>>> os.dup(1)\n3\n' in text


def test_text_diff_of_two_pages():
    diff = reviewdocs.text_diff(OLD_PAGE, NEW_PAGE, 'library/os.html')
    lines = diff.splitlines()
    assert lines[:2] == ['--- a/library/os.html', '+++ b/library/os.html']
    assert '-os.dup(fd)' in lines
    assert '+os.dup(fd, *, cloexec=None)' in lines
    assert ('+    Changed in version 3.13.5+pep433: Added the cloexec '
            'parameter.') in lines
    assert reviewdocs.text_diff(OLD_PAGE, OLD_PAGE, 'x') == ''
    assert reviewdocs.text_diff('', NEW_PAGE, 'new.html').startswith(
        '--- a/new')


def test_review_writes_the_docs(exported, tmp_path):
    repo = exported.cpython
    # the series changes library/os.rst (and a file that is no page)
    git(repo, 'checkout', '-q', 'pep433')
    write(repo, 'Doc/library/os.rst', 'os\n==\n\ncloexec\n')
    write(repo, 'Doc/tools/x.py', '# tool\n')
    commit_all(repo, 'Doc: cloexec\n\nBug: bpo-17036\n')
    dpaths = docs.DocsPaths(exported.paths)
    for name, rev, html in (('baseline', 'v3.13.5', OLD_PAGE),
                            ('patched', 'pep433', NEW_PAGE)):
        out = dpaths.html(name)
        write(out, 'library/os.html', html)
        write(out, 'library/sys.html', html)
        write(out, '_static/pydoctheme.css', 'body {}\n')
        docs.save_state(dpaths, name, {
            'building': False, 'store': empty_store(),
            'commit': git(repo, 'rev-parse', rev)})
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    assert (review / 'pep433-combined.diff').exists()
    html_dir = review / 'docs' / 'html'
    assert sorted(p.relative_to(html_dir).as_posix()
                  for p in html_dir.rglob('*') if p.is_file()) == [
        '_static/pydoctheme.css', 'library/os.html']
    diff = (review / 'docs' / 'diff' / 'library' / 'os.diff').read_text()
    assert '+os.dup(fd, *, cloexec=None)' in diff
    # a commit that changes no docs keeps the builds current ...
    write(repo, 'Lib/os.py', 'more\n')
    commit_all(repo, 'Lib only\n\nBug: bpo-17036\n')
    shutil.rmtree(review)
    assert exported.run('review', str(review)) == 0
    assert (review / 'docs' / 'diff' / 'library' / 'os.diff').exists()
    # ... one that changes Doc/ makes them stale: docs/ is left out
    write(repo, 'Doc/library/os.rst', 'os\n==\n\nmore\n')
    commit_all(repo, 'Doc again\n\nBug: bpo-17036\n')
    assert exported.run('review', str(review)) == 0
    assert (review / 'pep433-combined.diff').exists()
    assert not (review / 'docs').exists()


def test_review_without_docs_builds(exported, tmp_path, caplog):
    review = tmp_path / 'review'
    assert exported.run('review', str(review)) == 0
    assert not (review / 'docs').exists()
    assert 'run scripts/pep433 docs' in caplog.text


# --- optional: a tiny real Sphinx project ------------------------------------

def sphinx_python():
    """A Python that has Sphinx: this one, or the venv that ``docs`` made
    in the work directory; None when there is neither."""
    import importlib.util
    if importlib.util.find_spec('sphinx') is not None:
        return sys.executable
    workdir = Path(ORIGINAL_WORKDIR or SCRIPTS.parent / 'build')
    for python in sorted(workdir.glob('*/docs/venv/bin/python')):
        # a venv whose install failed half-way has no Sphinx
        if subprocess.run([python, '-c', 'import sphinx'],
                          capture_output=True).returncode == 0:
            return str(python)
    return None


def test_real_sphinx_incremental_warnings(tmp_path):
    python = sphinx_python()
    if python is None:
        pytest.skip('no Sphinx: neither here nor in <workdir>/docs/venv '
                    '(scripts/pep433 docs creates it)')
    src = tmp_path / 'Doc'
    write(src, 'conf.py', "project = 't'\n")
    write(src, 'index.rst', 'T\n=\n\n.. toctree::\n\n   a\n   b\n')
    write(src, 'a.rst', 'A\n=\n\n:const:`NOPE_A`\n')
    write(src, 'b.rst', 'B\n=\n\n:const:`NOPE_B`\n')

    def build():
        warnfile = tmp_path / 'w.txt'
        logfile = tmp_path / 'log.txt'
        start = docs.time.time_ns()
        with open(logfile, 'w') as out:
            subprocess.run(
                [python, '-m', 'sphinx', '-b', 'html', '-n',
                 '-d', str(tmp_path / 'dt'), '-w', str(warnfile), '-N',
                 str(src), str(tmp_path / 'html')],
                stdout=out, stderr=subprocess.STDOUT, check=True,
                env={**docs.os.environ, 'PYTHONUNBUFFERED': '1',
                     'LC_ALL': 'C.UTF-8'})
        log_text = logfile.read_text()
        recs = parse_warnings(warnfile.read_text(), srcdir=src,
                              phases=record_phases(log_text))
        return (recs, seen_phases(log_text),
                docs._touched_since(tmp_path / 'dt', '.doctree', start),
                docs._touched_since(tmp_path / 'html', '.html', start))

    store = empty_store()
    for step in range(3):
        if step == 2:
            write(src, 'a.rst', 'A\n=\n\n``NOPE_A``\n')
        recs, seen, reread, written = build()
        store = merge_warnings(store, recs, reread=reread,
                               written=written, phases_seen=seen)
        messages = sorted(w.message.split(': ')[-1]
                          for w in store_warnings(store))
        assert messages == (['NOPE_A', 'NOPE_B'] if step < 2
                            else ['NOPE_B']), (step, recs)
        if step == 1:
            assert recs == []   # Sphinx itself reports nothing on a rerun
    assert json.dumps(store)
