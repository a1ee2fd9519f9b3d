"""A compiler's diagnostics against a base's (pep433tool/diagnostics.py).

The compile steps of ``check`` share them: (f) the kqueue path of select,
whose compiler's text is kept as it is, and (g) the Windows compile, whose
text is normalized.  No compiler is run.
"""

import collections

from pep433tool.diagnostics import (Diagnostic, new_diagnostics, normalize,
                                    parse_diagnostics, plural, summary)

#: gcc on the kqueue path of select: a worktree, a build and libkqueue
GCC_OUTPUT = """\
/w/src/Modules/selectmodule.c: In function 'kqueue_tracking_init':
/w/src/Modules/selectmodule.c:1988:35: warning: cast between incompatible \
function types [-Wcast-function-type]
 1988 |     "kqueue_tracking_after_fork", (PyCFunction)kqueue_tracking_after...
      |                                   ^
/w/src/Modules/selectmodule.c:2805:37: error: 'NOTE_REVOKE' undeclared \
(first use in this function); did you mean 'NOTE_RENAME'?
/w/src/Modules/selectmodule.c:2805:37: note: each undeclared identifier is \
reported only once
In file included from /w/src/Modules/selectmodule.c:60:
/w/kq/usr/include/kqueue/sys/event.h:40:1: warning: odd header [-Wodd]
/w/build/pyconfig.h:3:9: error: implicit declaration of function 'f' \
[-Werror=implicit-function-declaration]
cc1: warning: command-line option '-Wx' is valid for C++ only
cc1: some warnings being treated as errors
"""

ROOTS = (('/w/src', ''), ('/w/build', '<build>/'), ('/w/kq', '<kqueue>/'))

#: mingw-w64 on the Windows code, in a UTF-8 locale: typographic quotes,
#: positions in a text, ``./``
MINGW_OUTPUT = """\
In file included from Modules/posixmodule.c:14:
Include/internal/pycore_time.h:200:12: warning: \u2018struct timeval\u2019 \
declared inside parameter list will not be visible outside of this \
definition or declaration
Modules/posixmodule.c: In function \u2018os_pipe_impl\u2019:
Modules/posixmodule.c:12292:34: warning: unused variable \u2018x\u2019 \
[-Wunused-variable]
Modules/posixmodule.c:285: warning: "IPPROTO_ICMP" redefined
/tmp/pep433-windows-ab/shim/Rpc.h:3:1: error: expected ';' before 'enum'
./Modules/x.c:9:2: fatal error: Foo.h: No such file or directory
Modules/posixmodule.c:5:3: note: previous definition of 'x' at x.c:12:4
<command-line>: error: stray '\\' in program
compilation terminated.
"""

MINGW_ROOTS = (('/tmp/pep433-windows-ab/shim', '<shim>/'),
               ('/tmp/pep433-windows-ab/pyconfig', '<pyconfig>/'))


# --- parsing ----------------------------------------------------------------

def test_parse_diagnostics():
    diags = parse_diagnostics(GCC_OUTPUT, ROOTS)
    assert [(d.kind, d.file, d.option) for d in diags] == [
        ('warning', 'Modules/selectmodule.c', '-Wcast-function-type'),
        ('error', 'Modules/selectmodule.c', ''),
        ('warning', '<kqueue>/usr/include/kqueue/sys/event.h', '-Wodd'),
        ('error', '<build>/pyconfig.h',
         '-Werror=implicit-function-declaration'),
        ('warning', 'cc1', ''),
    ]
    assert diags[0].text == 'cast between incompatible function types'
    assert diags[0].where == 'Modules/selectmodule.c:1988:35'
    assert str(diags[1]).startswith(
        "Modules/selectmodule.c:2805:37: error: 'NOTE_REVOKE' undeclared")
    assert str(diags[0]).endswith(' [-Wcast-function-type]')
    assert diags[4].where == 'cc1'


def test_fatal_error_is_an_error():
    (diag,) = parse_diagnostics(
        '/w/src/Modules/selectmodule.c:12:10: fatal error: sys/event.h: No '
        'such file or directory\n', ROOTS)
    assert diag.kind == 'error'
    assert diag.text == 'sys/event.h: No such file or directory'


def test_parse_normalized_diagnostics():
    diags = parse_diagnostics(MINGW_OUTPUT, MINGW_ROOTS, normalized=True)
    assert [(d.kind, d.file, d.option) for d in diags] == [
        ('warning', 'Include/internal/pycore_time.h', ''),
        ('warning', 'Modules/posixmodule.c', '-Wunused-variable'),
        ('warning', 'Modules/posixmodule.c', ''),
        ('error', '<shim>/Rpc.h', ''),
        ('error', 'Modules/x.c', ''),          # ./ dropped, fatal: error
        ('error', '<command-line>', ''),
    ]
    # ASCII quotes whatever the locale, notes left out
    assert diags[0].text.startswith("'struct timeval' declared inside")
    assert diags[1].text == "unused variable 'x'"
    assert diags[1].where == 'Modules/posixmodule.c:12292:34'
    assert diags[2].where == 'Modules/posixmodule.c:285'
    assert str(diags[1]) == ("Modules/posixmodule.c:12292:34: warning: "
                             "unused variable 'x' [-Wunused-variable]")


def test_not_normalized_the_text_is_the_compilers():
    diags = parse_diagnostics(MINGW_OUTPUT, MINGW_ROOTS)
    assert len(diags) == 6
    assert diags[1].text == 'unused variable \u2018x\u2019'
    assert diags[4].file == './Modules/x.c'
    (diag,) = parse_diagnostics(
        'x.c:3:1: error: previous  definition at x.c:12:4\n', normalized=True)
    assert diag.text == 'previous definition at x.c:N'
    (diag,) = parse_diagnostics(
        'x.c:3:1: error: previous  definition at x.c:12:4\n')
    assert diag.text == 'previous  definition at x.c:12:4'


def test_normalize_drops_positions_and_directories():
    assert normalize(
        "previous  definition at Modules/x.c:12:4 and line 7",
        MINGW_ROOTS) == 'previous definition at Modules/x.c:N and line N'
    assert normalize(
        "in /tmp/pep433-windows-ab/pyconfig/pyconfig.h", MINGW_ROOTS) == \
        'in <pyconfig>/pyconfig.h'
    assert normalize('\u2018a\u2019 \u201cb\u201d') == '\'a\' "b"'
    # a number that is not a position stays
    assert normalize('array of 64 bytes') == 'array of 64 bytes'


# --- against the base -------------------------------------------------------

def D(text, where='Modules/x.c:1:1', kind='warning', file='Modules/x.c',
      option=''):
    return Diagnostic(kind, file, text, option, where)


def test_new_diagnostics_ignore_positions_and_count():
    base = [D('unused variable a', 'Modules/x.c:10:1'),
            D('redefined', 'Modules/x.c:20')]
    moved = [D('redefined', 'Modules/x.c:25'),
             D('unused variable a', 'Modules/x.c:99:1')]
    assert new_diagnostics(base, moved) == []
    others = [D('unused variable a', 'Modules/x.c:120:1'),  # twice: new
              D('unused variable b'),                       # other text
              D('redefined', file='Modules/y.c'),           # other file
              D('redefined', kind='error'),                 # other kind
              D('redefined', option='-Wbar')]               # other option
    assert new_diagnostics(base, moved + others) == others
    assert new_diagnostics(moved + others, base) == []


Compile = collections.namedtuple('Compile', 'returncode diagnostics')


def test_summary():
    base = Compile(0, [D('a')])
    same = Compile(0, [D('a', 'Modules/x.c:50:1')])
    worse = Compile(0, [D('a'), D('b', 'Modules/x.c:7:3')])
    broken = Compile(1, [D('a'), D('c', kind='error')])
    assert summary(base) == 'compiles, 1 diagnostic'
    assert summary(same, base) == 'compiles, 1 diagnostic (0 new)'
    assert summary(worse, base) == 'compiles, 2 diagnostics (1 new)'
    assert summary(broken, base) == \
        'does not compile (1 error), 2 diagnostics (1 new)'
    # of one kind: a new error is no new warning
    assert summary(broken, base, kind='warning', no_new='none new') == \
        'does not compile (1 error), 1 warning (none new)'
    assert summary(worse, kind='warning') == 'compiles, 2 warnings'
    assert plural(0, 'line') == '0 lines'
