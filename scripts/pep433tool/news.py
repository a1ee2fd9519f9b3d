"""``news``: a Misc/NEWS.d entry for bpo-17036, written by blurb.

blurb only runs inside a CPython tree and its ``-i`` takes GitHub numbers
only, so ``blurb add`` is run in the checkout with an editor that fills its
template: ``.. bpo: 17036``, the section, and the text.  blurb then names
the file ``<date>.bpo-17036.<nonce>.rst`` and ``git add``s it; the commit
that takes it, and ``export``, carry it back to this repository.
"""

import logging
import os
import shlex
import sys

from .checkout import require_checkout
from .errors import PreconditionError
from .selftest import ensure_tools
from .util import run

log = logging.getLogger(__name__)

BPO = '17036'


def fill_template(path, section, text, bpo=BPO):
    """Fill blurb's template at *path* (the editor's job)."""
    with open(path, encoding='utf-8') as f:
        template = f.read()
    # blurb add -s SECTION has already chosen the section line
    chosen = f'\n.. section: {section}\n' in template
    if ('.. gh-issue:' not in template
            or not chosen and f'#.. section: {section}' not in template):
        raise SystemExit(f'unexpected blurb template in {path}')
    template = template.replace('.. gh-issue:', f'.. bpo: {bpo}', 1)
    if not chosen:
        template = template.replace(f'#.. section: {section}',
                                    f'.. section: {section}', 1)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(template + text.strip() + '\n')


def run_news(paths, section, text):
    """Implement the ``news`` subcommand; return the exit code."""
    if not text.strip():
        raise PreconditionError('the NEWS text is empty',
                                hint='scripts/pep433 news -s Library "..."')
    repo = require_checkout(paths)
    blurb = ensure_tools(paths) / 'blurb'
    editor = shlex.join([sys.executable, '-m', 'pep433tool.news', '--fill'])
    env = dict(os.environ, EDITOR=editor, PEP433_NEWS_TEXT=text,
               PEP433_NEWS_SECTION=section,
               PYTHONPATH=str(paths.repo / 'scripts'))
    env.pop('GIT_EDITOR', None)
    proc = run([blurb, 'add', '-s', section], cwd=repo, env=env)
    log.info('%s', proc.stdout.strip())
    added = run(['git', '-C', repo, 'diff', '--cached', '--name-only',
                 '--diff-filter=A', '--', 'Misc/NEWS.d/next'],
                quiet=True).stdout.split()
    for name in added:
        log.info('added %s (staged; commit it with the topic it belongs to)',
                 name)
    return 0


if __name__ == '__main__':
    # Called by blurb as its EDITOR: news.py --fill PATH
    if len(sys.argv) == 3 and sys.argv[1] == '--fill':
        fill_template(sys.argv[2], os.environ['PEP433_NEWS_SECTION'],
                      os.environ['PEP433_NEWS_TEXT'])
    else:
        sys.exit(f'usage: {sys.argv[0]} --fill PATH')


# --- the command line --------------------------------------------------------

SUMMARY = 'add a NEWS entry (blurb) to the checkout'


def add_arguments(parser):
    """``news``' options."""
    parser.add_argument('-s', '--section', default='Library',
                        help='blurb section (default: Library)')
    parser.add_argument('text', nargs='+',
                        help='the entry: one reST paragraph')
    parser.set_defaults(func=handle)


def handle(args, paths):
    return run_news(paths, section=args.section, text=' '.join(args.text))
