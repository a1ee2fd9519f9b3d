"""The review bundle's docs (``scripts/pep433 review``): the pages the
series changes, as the docs command built them, with their text diffs."""

import difflib
import html.parser
import logging
import re
import shutil
import textwrap

from . import config, gitutil
from .docs import DOC_INPUTS, DocsPaths, load_state

log = logging.getLogger(__name__)


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
