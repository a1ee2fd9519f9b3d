"""The blurb template filler of ``news``."""

import pytest

from pep433tool import news

TEMPLATE = '''
#
# Please enter the relevant GitHub issue number here:
#
.. gh-issue:

#.. section: Security
#.. section: Core and Builtins
#.. section: Library

###########################################################################

'''


def test_fill_template(tmp_path):
    path = tmp_path / 'blurb.rst'
    path.write_text(TEMPLATE)
    news.fill_template(path, 'Core and Builtins', '  Add *cloexec*.\n')
    text = path.read_text()
    assert '.. bpo: 17036\n' in text
    assert '.. gh-issue:' not in text
    assert '\n.. section: Core and Builtins\n' in text
    assert '#.. section: Library\n' in text
    assert text.endswith('####\n\nAdd *cloexec*.\n')


def test_fill_template_section_already_chosen(tmp_path):
    # What blurb add -s writes
    path = tmp_path / 'blurb.rst'
    path.write_text(TEMPLATE.replace('#.. section: Library',
                                     '.. section: Library'))
    news.fill_template(path, 'Library', 'Text.')
    text = path.read_text()
    assert text.count('\n.. section: Library\n') == 1
    assert '.. bpo: 17036\n' in text


def test_fill_template_refuses_an_unknown_template(tmp_path):
    path = tmp_path / 'blurb.rst'
    path.write_text('something else\n')
    with pytest.raises(SystemExit):
        news.fill_template(path, 'Library', 'text')
    assert path.read_text() == 'something else\n'
