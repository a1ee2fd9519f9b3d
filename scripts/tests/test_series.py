"""patches/series parsing and rendering, commit message trailers."""

import pytest

from pep433tool import series
from pep433tool.errors import PreconditionError
from pep433tool.util import Paths

SAMPLE = """\
# PEP 433 series

# the os part
0001-os.patch  # open, dup, pipe
0002-socket.patch

# trailing remark
"""


def test_parse_comments_blanks_and_trailing_comments():
    parsed = series.parse(SAMPLE)
    assert parsed.names == ['0001-os.patch', '0002-socket.patch']
    first = parsed.entries[0]
    assert first.comment == 'open, dup, pipe'
    assert first.leading == ['# PEP 433 series', '', '# the os part']
    assert first.number == 1
    assert parsed.trailing == ['', '# trailing remark']


def test_render_keeps_comments_with_same_number():
    parsed = series.parse(SAMPLE)
    text = series.render(['0001-os-renamed.patch', '0002-socket.patch',
                          '0003-new.patch'], parsed)
    assert text == ('# PEP 433 series\n\n# the os part\n'
                    '0001-os-renamed.patch  # open, dup, pipe\n'
                    '0002-socket.patch\n0003-new.patch\n\n'
                    '# trailing remark\n')
    # rendering its own output again changes nothing
    again = series.render(series.parse(text).names, series.parse(text))
    assert again == text


def test_empty_and_missing_series(tmp_path):
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path, base='3.13.5')
    assert series.load(paths).names == []
    (tmp_path / 'patches' / '3.13.5').mkdir(parents=True)
    (tmp_path / 'patches' / '3.13.5' / 'series').write_text('# nothing yet\n\n')
    assert series.load(paths).names == []


def test_missing_patch_file_is_a_precondition_error(tmp_path):
    paths = Paths(workdir=tmp_path / 'w', repo=tmp_path, base='3.13.5')
    (tmp_path / 'patches' / '3.13.5').mkdir(parents=True)
    (tmp_path / 'patches' / '3.13.5' / 'series').write_text('0001-gone.patch\n')
    with pytest.raises(PreconditionError, match='0001-gone.patch'):
        series.load(paths)
    assert series.load(paths, check_files=False).names == ['0001-gone.patch']


def test_bad_line():
    with pytest.raises(PreconditionError):
        series.parse('two words.patch\n')


def test_new_file_trailers_replace_and_sort():
    msg = 'Subject\n\nBody text.\n\nBug: bpo-17036\nNew-File: z\n'
    out = series.with_new_file_trailers(msg, ['b/y', 'a/x'])
    assert out == ('Subject\n\nBody text.\n\nBug: bpo-17036\n'
                   'New-File: a/x\nNew-File: b/y\n')
    assert series.with_new_file_trailers(out, ['b/y', 'a/x']) == out
    assert series.new_file_trailers(out) == ['a/x', 'b/y']
    bare = series.with_new_file_trailers('Subject\n', ['a'])
    assert bare == 'Subject\n\nNew-File: a\n'
    assert series.with_new_file_trailers('Subject\n\nBody\n', []) == \
        'Subject\n\nBody\n'
