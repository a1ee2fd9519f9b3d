"""patches/<version>/series parsing and rendering, commit messages."""

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


def test_added_paths_reads_new_file_headers():
    patch = ('Subject: [PATCH] x\n\nBody\n---\n'
             'diff --git a/Lib/test/test_x.py b/Lib/test/test_x.py\n'
             'new file mode 100644\n'
             'diff --git a/Lib/os.py b/Lib/os.py\n'
             'index 1..2 100644\n'
             'diff --git a/Tools/x.sh b/Tools/x.sh\n'
             'new file mode 100755\n'
             'diff --git a/Misc/NEWS.d/next/Library/y.rst '
             'b/Misc/NEWS.d/next/Library/y.rst\n'
             'new file mode 100644\n')
    # only files under the new-file directories, and only added ones
    assert series.added_paths(patch) == [
        'Lib/test/test_x.py', 'Misc/NEWS.d/next/Library/y.rst']
