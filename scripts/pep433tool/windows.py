"""``check`` (g): compile the Windows code of every commit with mingw-w64.

The series edits ``MS_WINDOWS`` code (``O_NOINHERIT``, handle inheritance,
``WSA_FLAG_NO_HANDLE_INHERIT``, the Windows ``os.pipe`` and ``dup``) that no
Linux build compiles.  This step compiles, with the cross-compiler
``x86_64-w64-mingw32-gcc`` (Debian's ``gcc-mingw-w64-x86-64``, installed
with apt-get when missing and the tool runs as root) and ``-fsyntax-only``
(nothing is written), each C file the series changes that the Windows build
compiles (the ``PCbuild/*.vcxproj`` that lists it gives its macros), at the
base tag and at every commit of ``<base tag>..pep433``:

- the tree's own ``PC/pyconfig.h.in`` (``pyconfig.h`` of the Windows build:
  it defines ``MS_WINDOWS``, ``MS_WINDOWS_DESKTOP`` and the rest), copied as
  ``pyconfig.h`` into a directory of the step's, ``-I Include -I
  Include/internal -I Include/internal/mimalloc -I PC``, as PCbuild does;
- the macros of the project (``pythoncore``: ``Py_BUILD_CORE``,
  ``Py_BUILD_CORE_BUILTIN``, ``Py_ENABLE_SHARED``...; an extension module's
  file defines ``Py_BUILD_CORE_MODULE`` itself) and of pyproject.props;
- ``-Wall`` (PCbuild builds with ``/W3``), less ``-Wunknown-pragmas``
  (MSVC's ``#pragma warning`` is unknown to gcc);
- the SHIMS of windows_mingw, first in the include path: what the stock
  files need that mingw-w64 does not give as MSVC's SDK does.

A diagnostic (error or warning) of a commit's file that the base's same file
does not have is a problem; diagnostics are compared on file, kind and
message text (normalised), not line numbers, and counted.  A file whose
includes did not change since the previous commit is not compiled again.

At the tip, the step also records which of the series' changed lines a
compiler now sees: the preprocessed output (``-E``) of each file tells
which lines survive the Windows configuration; the series' changed code
lines that do not (``#ifndef MS_WINDOWS`` code, ``MS_WINDOWS_APP``-only
branches, macOS-only code...) are written, block by block with their
conditions, to ``<workdir>/windows-coverage.txt``.

The parts: windows_pcbuild says which files to compile and with which
macros, windows_mingw compiles one, windows_ifdefs reads a file's ``#if``
branches and windows_coverage writes what the compiler did not see.  This
module is the step: it compiles at each commit, and judges each commit's
diagnostics against the base's.
"""

import collections
import logging
import tempfile
import time
from pathlib import Path

from . import config, gitutil
from .diagnostics import new_diagnostics, plural, summary
from .util import format_cmd, run
from .windows_coverage import COVERAGE_REPORT, coverage_report, seen_lines
from .windows_mingw import (CompileResult, compile_command, compile_file,
                            compiler_env, ensure_mingw, write_pyconfig,
                            write_shims)
from .windows_pcbuild import select_sources, windows_sources

log = logging.getLogger(__name__)


def problems_of(what, path, result, baseline, limit=15):
    """The problems of one compile: diagnostics *baseline* lacks."""
    new = new_diagnostics(baseline.diagnostics if baseline else [],
                          result.diagnostics)
    if not new:
        if result.returncode != 0 and (baseline is None
                                       or baseline.returncode == 0):
            return [f'the Windows compile of {path} fails at {what}:\n    '
                    + '\n    '.join(result.output.splitlines()[-limit:])]
        return []
    return [f'the Windows compile of {path} has '
            f'{plural(len(new), "new diagnostic")} at {what} (not in the '
            'base\'s file):\n    '
            + '\n    '.join(str(d) for d in new[:limit])]


def run_step(repo, base, tip, worktree, scratch, report=None, label=''):
    """Compile the series' Windows files at *base* and each commit of
    *base*..*tip*; return (problems, results).

    *worktree(commit)* checks *commit* out and returns the tree; *scratch*
    is a directory of the step's own.  *results* maps each commit (and
    *base*) to ``{path: CompileResult}``.  The coverage of the series'
    changed lines at *tip* is written to *report* when given.
    """
    tip = gitutil.rev_parse(repo, tip) or tip
    commits = gitutil.commits(repo, f'{base}..{tip}')
    if not commits:
        return [], {}
    start = time.monotonic()
    scratch = Path(scratch)
    shim_dir = write_shims(scratch / 'shim')
    pyconfig_dir = scratch / 'pyconfig'
    depfile = scratch / 'deps.d'
    changed = gitutil.out(repo, 'diff', '--name-only', base, tip).split()

    tree = worktree(tip)
    projects = windows_sources(tree)

    def read(path):
        file = Path(tree, path)
        return file.read_text(errors='replace') if file.is_file() else None
    sources, skipped = select_sources(changed, projects, read)
    for path, why in skipped:
        log.info('check (g)%s: %s: not compiled: %s', label, path, why)
    if not sources:
        log.info('check (g)%s: the series changes no C file the Windows '
                 'build compiles', label)
        return [], {}
    cc = ensure_mingw()
    log.info('check (g)%s: compiling for Windows with %s: %s', label, cc,
             ', '.join(f'{s.path} ({s.project}'
                       + (', Windows code)' if s.windows_code else ')')
                       for s in sources))
    roots = ((shim_dir, '<shim>/'), (pyconfig_dir, '<pyconfig>/'))

    def compile_all(commit, previous, tree):
        pyconfig = write_pyconfig(tree, pyconfig_dir)
        projects = windows_sources(tree)
        results = {}
        for source in sources:
            if not Path(tree, source.path).is_file():
                continue
            entries = projects.get(source.path)
            if entries:
                source = source._replace(macros=tuple(entries[0][1]))
            before = previous.get(source.path)
            if before is not None and before[1] == source.macros:
                moved = set(gitutil.out(
                    repo, 'diff', '--name-only', before[2], commit).split())
                if before[0].deps is not None and not (
                        moved & (before[0].deps | {pyconfig})):
                    results[source.path] = (before[0], source.macros,
                                            before[2], True)
                    continue
            cmd = compile_command(cc, source, shim_dir, pyconfig_dir,
                                  depfile)
            log.debug('check (g): $ %s (in %s)', format_cmd(cmd), tree)
            result = compile_file(cmd, tree, roots, depfile)
            results[source.path] = (result, source.macros, commit, False)
        return results

    problems = []
    tree = worktree(base)
    base_results = compile_all(base, {}, tree)
    all_results = {base: {p: r[0] for p, r in base_results.items()}}
    for path, (result, _, _, _) in base_results.items():
        log.info('check (g)%s base %s: %s: %s (%.1fs)', label, base, path,
                 summary(result), result.seconds)
        if result.returncode != 0:
            errors = [str(d) for d in result.diagnostics
                      if d.kind == 'error'][:15]
            problems.append(
                f'the Windows compile of {path} fails at the base {base} (a '
                'shim is missing: see SHIMS in '
                'pep433tool/windows_mingw.py):\n    '
                + '\n    '.join(errors or result.output.splitlines()[-15:]))
    previous = base_results
    for number, commit in enumerate(commits, 1):
        subject = gitutil.out(repo, 'log', '-1', '--format=%s', commit)
        tree = worktree(commit)
        results = compile_all(commit, previous, tree)
        log.info('check (g)%s commit %d/%d %s "%s":', label, number,
                 len(commits), commit[:12], subject)
        for path, (result, _, since, reused) in results.items():
            baseline = base_results.get(path, (None,))[0]
            empty = CompileResult(0, [], '', 0.0, None)
            text = summary(result, baseline or empty)
            if reused:
                text += f' (its includes unchanged since {since[:12]})'
            else:
                text += f' ({result.seconds:.1f}s)'
            log.info('    %s: %s', path, text)
            if not reused:
                problems += problems_of(
                    f'commit {number} ({commit[:12]} "{subject}")', path,
                    result, baseline)
        all_results[commit] = {p: r[0] for p, r in results.items()}
        previous = {**previous, **results}

    # what the compiler sees of the series' changed lines, at the tip
    seen = collections.defaultdict(set)
    for source in sources:
        if not Path(tree, source.path).is_file():
            continue
        cmd = compile_command(cc, source, shim_dir, pyconfig_dir,
                              preprocess=True)
        proc = run(cmd, cwd=tree, env=compiler_env(), check=False,
                   quiet=True)
        for name, numbers in seen_lines(proc.stdout, tree).items():
            seen[name] |= numbers
    text, summaries = coverage_report(repo, base, tip, tree, seen, label)
    for line in summaries:
        log.info('check (g)%s seen at the tip: %s', label, line)
    if report:
        Path(report).write_text(text)
        log.info('check (g)%s: the blocks not seen are listed in %s', label,
                 report)
    if not problems:
        log.info('check (g)%s: the Windows files compile at each of the %d '
                 'commits with no new diagnostic (%.0fs)', label,
                 len(commits), time.monotonic() - start)
    return problems, all_results


def check_windows(paths, repo, worktree):
    """(g) Compile the series' Windows code at each commit; return problems.

    *worktree(commit)* returns the detached worktree checked out at
    *commit* (check.py's check-src/).
    """
    with tempfile.TemporaryDirectory(prefix='pep433-windows-') as scratch:
        problems, _ = run_step(
            repo, paths.base.tag, config.BRANCH, worktree, scratch,
            report=paths.workdir / COVERAGE_REPORT)
    return problems
