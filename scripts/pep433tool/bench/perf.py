"""pyperformance, baseline vs patched, in interleaved passes.

The passes run in the plan's order (ABBA...: plan.interleaved()), each in
its own file (pyperformance/<n>-<build>.json), all with the first pass's
loop counts (--same-loops), so that drift cancels and both builds run the
same loops.  The passes of each build are merged into
pyperformance-<build>.json, compared with ``pyperf compare_to``; the
geometric mean of the ratios of medians pools all passes, and that of each
pair of neighbouring passes is the noise of a single comparison.
"""

import logging
import subprocess

from ..errors import ExternalError, PreconditionError
from ..util import clean_env, format_cmd, run
from .pyperfio import load_json, merge, write_json
from .stats import pyperformance_ratios

log = logging.getLogger(__name__)


def pass_pairs(passes):
    """The pyperformance passes paired with their neighbour: a list of
    (baseline index, patched index), passes taken two by two in order.

    ABBAABBA gives [(0, 1), (3, 2), (4, 5), (7, 6)]: each pair ran close
    together in time, so the spread of the pairs' geometric means is the
    noise of one baseline-vs-patched comparison on this machine.  A pair
    that is not one baseline and one patched pass is left out.
    """
    pairs = []
    for i in range(0, len(passes) - 1, 2):
        two = {passes[i]: i, passes[i + 1]: i + 1}
        if set(two) == {'baseline', 'patched'}:
            pairs.append((two['baseline'], two['patched']))
    return pairs


def pass_file(output, number, build):
    """The result file of pass *number* (from 1), on *build*."""
    return output / 'pyperformance' / f'{number}-{build}.json'


def pass_files_of(folder, passes):
    """The result file of each pyperformance pass of the bench output
    *folder* (*passes*: the build of each), or PreconditionError (a folder
    that is not a complete bench output)."""
    files = [pass_file(folder, i, build) for i, build in enumerate(passes, 1)]
    for path in files:
        if not path.exists():
            raise PreconditionError(f'{path}: missing, the folder is not a '
                                    'complete bench output')
    return files


def run_passes(bench, benchmarks, tolerate=False):
    """Run the plan's pyperformance passes; return [(file, log text)].

    *benchmarks* None runs pyperformance's default suite (no -b).  A pass
    that fails raises ExternalError, unless *tolerate* is true and it
    wrote its file: pyperformance exits 1 when some benchmark failed but
    writes the others.  The log text is what this pass wrote into
    pyperformance-<build>.log, where the failures are told.
    """
    cwd = bench.paths.workdir / 'bench'   # venvs kept between runs
    cwd.mkdir(parents=True, exist_ok=True)
    (bench.output / 'pyperformance').mkdir(parents=True, exist_ok=True)
    passes = bench.plan.pyperformance_passes
    done = []
    for i, build in enumerate(passes, 1):
        out = pass_file(bench.output, i, build)
        if out.exists():
            out.unlink()
        cmd = [bench.tools / 'pyperformance', 'run', '--python',
               bench.python(build)]
        if benchmarks is not None:
            cmd += ['-b', ','.join(benchmarks)]
        cmd += ['-o', out]
        if bench.plan.pyperformance_fast:
            cmd.append('--fast')
        if done:
            cmd += ['--same-loops', done[0][0]]
        log.info('pyperformance pass %d/%d: %s (%s)', i, len(passes),
                 build, ', '.join(benchmarks) if benchmarks is not None
                 else 'the default suite')
        logfile = bench.output / f'pyperformance-{build}.log'
        start = logfile.stat().st_size if logfile.exists() else 0
        # Where failures are read from the log, pyperformance writes it
        # unbuffered, so that its own lines and the output of pip and of
        # the benchmarks (other processes) come in the order they happen.
        # pyperf passes no such variable to the workers it times.
        env = clean_env({'PYTHONUNBUFFERED': '1'} if tolerate else None)
        with open(logfile, 'a') as fp:
            fp.write(f'$ {format_cmd(cmd)}\n')
            fp.flush()
            proc = subprocess.run([str(c) for c in cmd], cwd=cwd,
                                  stdout=fp, stderr=subprocess.STDOUT,
                                  env=env, check=False)
        with open(logfile, 'rb') as fp:
            fp.seek(start)
            text = fp.read().decode(errors='replace')
        if proc.returncode != 0 or not out.exists():
            if tolerate and out.exists():
                log.warning('pyperformance pass %d: some benchmarks did not '
                            'run (exit %d); log: %s', i, proc.returncode,
                            logfile)
            else:
                tail = logfile.read_text(
                    errors='replace').splitlines()[-30:]
                raise ExternalError(
                    f'pyperformance failed (exit {proc.returncode}); '
                    f'log: {logfile}\n' + '\n'.join('    ' + t
                                                    for t in tail))
        done.append((out, text))
    return done


def merge_passes(output, passes, pass_files):
    """pyperformance-<build>.json: the passes of each build, merged."""
    files = {}
    for build in dict.fromkeys(passes):
        files[build] = output / f'pyperformance-{build}.json'
        write_json(files[build], merge(
            [load_json(f) for f, b in zip(pass_files, passes)
             if b == build]))
    return files


def compare_to(tools, output, files):
    """``pyperf compare_to --table`` of *files*, saved as compare_to.txt;
    return its table of all benchmarks."""
    proc = run([tools / 'python', '-m', 'pyperf', 'compare_to',
                files['baseline'], files['patched'], '--table',
                '--table-format', 'md'], check=False, quiet=True)
    if proc.returncode != 0:     # older pyperf: no --table-format
        proc = run([tools / 'python', '-m', 'pyperf', 'compare_to',
                    files['baseline'], files['patched'], '--table'],
                   quiet=True)
    (output / 'compare_to.txt').write_text(proc.stdout)
    return all_benchmarks_table(proc.stdout)


def run_pyperformance(bench, benchmarks):
    """pyperformance on baseline and patched, pass by pass.

    Each pass writes its own file, pyperformance/<n>-<build>.json; the
    passes after the first run the first one's loop counts
    (--same-loops), so both builds run the same loops.  The passes of
    each build are merged into pyperformance-<build>.json.  Return
    ({build: merged file}, the compare_to table, [pass files]).
    """
    pass_files = [f for f, _ in run_passes(bench, benchmarks)]
    files = merge_passes(bench.output, bench.plan.pyperformance_passes,
                         pass_files)
    return files, compare_to(bench.tools, bench.output, files), pass_files


def pyperformance_results(benchmarks, passes, files, compare, pass_files,
                          runs=None):
    """The pyperformance part of the results, from run_pyperformance()'s.

    The ratios and the geometric mean pool every pass of each build
    (*files*: {build: merged file}); 'pair_geomeans', 'pair_ratios' and
    'same_build' are what each pair of passes says alone (pair_results()),
    taken within each of *runs* ([(passes, pass files)] of each run pooled,
    as bench combine pools them; default: one run, *passes*).
    """
    rows, geomean = pyperformance_ratios(load_json(files['baseline']),
                                         load_json(files['patched']))
    return {'benchmarks': list(benchmarks), 'passes': list(passes),
            'rows': rows, 'geomean': geomean,
            **pair_results(runs or [(passes, pass_files)], rows),
            'compare_to': compare}


def same_build_pairs(passes):
    """Each build's passes paired with its next one: {build: [(earlier
    index, later index)]}.

    ABBA gives {'baseline': [(0, 3)], 'patched': [(1, 2)]}: one binary
    against itself, passes apart as a comparison's are, so their ratios
    are what the machine's drift alone makes of a comparison.
    """
    found = {}
    for build in dict.fromkeys(passes):
        indices = [i for i, b in enumerate(passes) if b == build]
        found[build] = list(zip(indices, indices[1:]))
    return found


def _compare_passes(pairs, suites, names):
    """([geometric mean of each pair], {name: [its ratio in each pair,
    None where the pair lacks it]}): pass b over pass a of each (a, b) of
    *suites* (the pass files, loaded)."""
    geomeans, ratios = [], {name: [] for name in names}
    for a, b in pairs:
        rows, geomean = pyperformance_ratios(suites[a], suites[b])
        geomeans.append(geomean)
        for name, found in ratios.items():
            found.append(rows[name]['ratio'] if name in rows else None)
    return geomeans, ratios


def pair_results(runs, names):
    """What each pair of passes says alone, for the benchmarks *names*,
    of each run of *runs* ([(passes, pass files)]) in turn.

    'pair_geomeans' and 'pair_ratios' ({name: [ratio]}): each pair of
    neighbouring passes (pass_pairs()), patched over baseline.  A
    benchmark whose pairs fall on both sides of the band moved with the
    machine, not with the build.  'same_build': {build: {'passes':
    [[earlier, later]] (numbered from 1 across the runs), 'geomeans',
    'ratios'}}, each build's later pass over its previous one within a run
    (same_build_pairs()): the control that every run with two passes of a
    build carries.
    """
    geomeans, ratios, same, offset = [], {name: [] for name in names}, {}, 0
    for passes, pass_files in runs:
        suites = [load_json(f) for f in pass_files]
        g, r = _compare_passes(pass_pairs(passes), suites, names)
        geomeans += g
        for name in names:
            ratios[name] += r[name]
        for build, pairs in same_build_pairs(passes).items():
            if not pairs:
                continue
            g, r = _compare_passes(pairs, suites, names)
            into = same.setdefault(build, {
                'passes': [], 'geomeans': [],
                'ratios': {name: [] for name in names}})
            into['passes'] += [[offset + a + 1, offset + b + 1]
                               for a, b in pairs]
            into['geomeans'] += g
            for name in names:
                into['ratios'][name] += r[name]
        offset += len(passes)
    return {'pair_geomeans': geomeans, 'pair_ratios': ratios,
            'same_build': same}


def all_benchmarks_table(text):
    """compare_to's output without the per-tag tables (when it has them)."""
    marker = 'All benchmarks:'
    if marker not in text:
        return text
    rest = text.split(marker, 1)[1].lstrip('\n')
    return rest.lstrip('=').lstrip('\n')
