"""The CI checks of ``check``: the ABI comparison and c-globals' report."""

import shutil
import subprocess

import pytest

from pep433tool import cichecks

BASE_REPORT = """\
Functions changes summary: 0 Removed, 1 Changed (114 filtered out), 0 Added
Variables changes summary: 0 Removed, 0 Changed, 0 Added variables

1 function with some indirect sub-type change:

  [C] 'function int f(char* const*)' at getargs.c:1250:1 has some changes:
    parameter 1 of type 'char* const*' changed:
      'char* const' changed to 'const char* const'
"""

PATCHED_REPORT = """\
Functions changes summary: 0 Removed, 2 Changed (113 filtered out), 0 Added
Variables changes summary: 0 Removed, 0 Changed, 0 Added variables

2 functions with some indirect sub-type change:

  [C] 'function int f(char* const*)' at getargs.c:1251:1 has some changes:
    parameter 1 of type 'char* const*' changed:
      'char* const' changed to 'const char* const'

  [C] 'function int Py_InitializeFromConfig(const PyConfig*)' at x.c:9:1 has some changes:
    parameter 1 of type 'const PyConfig*' has sub-type changes:
      type size changed from 3584 to 3616 (in bits)
      1 data member insertion:
        'int cloexec', at offset 2144 (in bits) at initconfig.h:182:1
"""


def test_only_what_the_base_does_not_show_counts():
    new, internal = cichecks.new_abi_changes(BASE_REPORT, PATCHED_REPORT)
    assert internal == []
    # the base's own change (another line number) is not the series'
    assert not any("function int f(" in line for line in new)
    assert any("'int cloexec', at offset 2144 (in bits)" in line
               for line in new)
    assert any('type size changed from 3584 to 3616' in line
               for line in new)
    assert cichecks.new_abi_changes(BASE_REPORT, BASE_REPORT) == ([], [])


def test_a_heading_alone_is_not_a_change():
    report = PATCHED_REPORT.replace(
        "      type size changed from 3584 to 3616 (in bits)\n", "")
    new, _ = cichecks.new_abi_changes(BASE_REPORT, report)
    assert len(new) == 1 and new[0].endswith(
        "'int cloexec', at offset 2144 (in bits)")


LIBRARY = """\
typedef struct {{
    int safe_path;
{extra}    int cpu_count;
}} PyConfig;
__attribute__((visibility("default")))
int Py_InitializeFromConfig(const PyConfig *config) {{
    return config->cpu_count;
}}
"""


@pytest.mark.skipif(shutil.which('abidw') is None or shutil.which('gcc')
                    is None, reason='needs abigail-tools and gcc')
def test_a_new_pyconfig_member_fails(tmp_path):
    # A fixture of the real thing: a dump of the stock library (as
    # Doc/data/python3.13.abi is), then the library with a member added in
    # the middle of PyConfig, as the series first did.
    def build(name, extra=''):
        src = tmp_path / f'{name}.c'
        src.write_text(LIBRARY.format(extra=extra))
        lib = tmp_path / name / 'libpython3.13.so'
        lib.parent.mkdir()
        subprocess.run(['gcc', '-g', '-shared', '-fPIC', '-o', lib, src],
                       check=True)
        return lib.parent
    stock = build('stock')
    data = tmp_path / 'src' / 'Doc' / 'data'
    data.mkdir(parents=True)
    subprocess.run(['abidw', stock / 'libpython3.13.so', '--no-architecture',
                    '--out-file', data / 'python3.13.abi'], check=True)
    base_report = cichecks.abidiff(tmp_path / 'src', stock)
    same = build('same')
    assert cichecks.new_abi_changes(
        base_report, cichecks.abidiff(tmp_path / 'src', same)) == ([], [])
    member = build('member', '    int cloexec;\n')
    public, internal = cichecks.new_abi_changes(
        base_report, cichecks.abidiff(tmp_path / 'src', member))
    assert any('cloexec' in line for line in public), public
    assert internal == []


INTERNAL_REPORT = PATCHED_REPORT + """
1 Changed variable:

  [C] '_PyRuntimeState _PyRuntime' was changed at pylifecycle.c:103:1:
    type of variable changed:
      underlying type 'struct pyruntimestate' at pycore_runtime.h:208:1 changed:
        1 data member insertion:
          'struct {PyASCIIObject _ascii; uint8_t _data[8];} _py_cloexec', at offset 120128 (in bits)
"""


def test_internal_structures_are_told_apart():
    public, internal = cichecks.new_abi_changes(PATCHED_REPORT,
                                                INTERNAL_REPORT)
    assert public == []
    assert cichecks.insertions(internal) == [
        'struct {PyASCIIObject _ascii; uint8_t _data[8];} _py_cloexec']


def test_patchcheck_counts_tabs_the_commit_adds(tmp_path):
    (tmp_path / 'Modules').mkdir()
    (tmp_path / 'Modules' / 'a.c').write_text('int a;\n\tint b;\n\tint c;\n')
    problems = cichecks.patchcheck(tmp_path, 'python3', ['Modules/a.c'],
                                   {'Modules/a.c': 1})
    assert problems == ['Modules/a.c: 1 tab characters added (patchcheck)']
    assert cichecks.patchcheck(tmp_path, 'python3', ['Modules/a.c'],
                               {'Modules/a.c': 2}) == []
