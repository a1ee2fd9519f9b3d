"""Instructions per call: probes/instr_calls.py under valgrind's callgrind.

The user-space instructions one call costs, on the baseline, patched and
patched -e: (count at INSTR_LOOPS[1] calls - count at INSTR_LOOPS[0]) /
their difference, start-up cancelling out.  Repeatable to the instruction
(PYTHONHASHSEED=0, a fixed empty working directory and PYTHONPATH), so it
tells what the patch adds to the interpreter's own work from what only the
clock says (to a few dozen instructions: see run_instructions()).

Per function (measure_instructions(functions=True)): the same runs keep
their callgrind profiles, which callgrind_annotate sums by function,
inclusive and exclusive; the difference of the two loop counts is what
each function costs per call, and function_rows() picks the functions
where a target series differs from stock: where the extra instructions
are.
"""

import logging
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ExternalError, PreconditionError
from ..util import run
from .plan import (COMPARED_SERIES, INSTR_LOOPS, MICRO_CALLS, REFERENCE,
                   SERIES, TARGET_SERIES)
from .pyperfio import link_pyperf, write_json

log = logging.getLogger(__name__)

INSTR_PROBE = (Path(__file__).resolve().parent.parent / 'probes'
               / 'instr_calls.py')


#: A function whose cost per call, inclusive or exclusive, differs from
#: stock's by at least this many instructions in a target series is a row
#: of the per-function table.
MIN_FUNCTION_DIFF = 1.0
#: The suffixes gcc gives the copies it makes of a function (interprocedural
#: constant propagation, partial inlining, LTO's private names, the cold
#: part): a function and its copies are one row, whose copies the two
#: builds need not number alike.
_CLONE = re.compile(r'(?:\.(?:lto_priv|constprop|isra|part|cold|localalias)'
                    r'(?:\.\d+)?)+$')
#: A function's line of callgrind_annotate: "Ir (percent)  file:fn [object]"
#: (no percentage before valgrind 3.18; no object for the lines of code
#: inlined from another file, a header).
_FUNCTION_LINE = re.compile(r'^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$')


def run_instructions(bench, calls=MICRO_CALLS, loops=INSTR_LOOPS):
    """{(call, series): user-space instructions per call} (callgrind):
    measure_instructions()'s counts, without the functions."""
    return measure_instructions(bench, calls, loops, functions=False)[0]


def measure_instructions(bench, calls=MICRO_CALLS, loops=INSTR_LOOPS,
                         functions=True):
    """({(call, series): user-space instructions per call}, per function).

    Each (call, series) runs twice under callgrind, with the two loop
    counts of *loops*, two runs at a time; a run without valgrind first
    writes the probes' .pyc files, so that every counted run reads them.
    With *functions*, each run keeps its profile, annotated by function
    (annotate()); the second part is then {(call, series): {function:
    {'inclusive', 'exclusive', 'file'}}}, each function's instructions
    per call (per_call_functions()), written to
    instructions-functions.json; without, it is None.

    The runs see the same environment in every bench run: the working
    directory and PYTHONPATH are fixed paths of the work directory
    (bench/instructions/), not of the output folder.  They matter:
    with other paths, some counts move by tens of instructions (open()
    by up to 52, accept() by up to 85; the heap's layout, it seems),
    while the same paths give the same counts.
    """
    if shutil.which('valgrind') is None:
        raise PreconditionError('valgrind is not installed',
                                hint='apt-get install valgrind')
    if functions and shutil.which('callgrind_annotate') is None:
        raise PreconditionError('callgrind_annotate is not installed (it '
                                'comes with valgrind)',
                                hint='apt-get install valgrind')
    series = {s.name: s for s in SERIES}
    jobs = [(call, series[name], n) for call in calls
            for name in COMPARED_SERIES for n in loops]
    log.info('counting instructions under callgrind: %d calls x %d '
             'series x %d runs', len(calls), len(COMPARED_SERIES),
             len(loops))
    fixed = bench.paths.workdir / 'bench' / 'instructions'
    cwd = fixed / 'cwd'
    if cwd.exists():
        shutil.rmtree(cwd)
    cwd.mkdir(parents=True)
    pylib = fixed / 'pylib'
    link_pyperf(pylib, (bench.pylib / 'pyperf').resolve())
    env = dict(bench.env, PYTHONHASHSEED='0', PYTHONPATH=str(pylib))
    for name in COMPARED_SERIES:
        s = series[name]
        run([bench.python(s.build), *s.args, INSTR_PROBE, calls[0],
             s.mode, '1'], cwd=cwd, env=env, quiet=True)

    profiles = fixed / 'profiles'
    if functions:
        profiles.mkdir(exist_ok=True)

    def count(job):
        call, s, n = job
        # a fixed path, as the rest: the profile is written at exit, by
        # valgrind, not by the process counted
        out = (profiles / f'{call}-{s.name}-{n}.callgrind' if functions
               else os.devnull)
        proc = run(['valgrind', '--tool=callgrind',
                    f'--callgrind-out-file={out}',
                    bench.python(s.build), *s.args, INSTR_PROBE,
                    call, s.mode, str(n)], cwd=cwd, env=env,
                   quiet=True)
        total = collected_instructions(proc.stderr)
        if not functions:
            return total, None
        found = annotate(out)
        Path(out).unlink()          # megabytes each; the sums are kept
        return total, found

    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(count, jobs)))
    counts = {}
    per_function = {} if functions else None
    for call in calls:
        for name in COMPARED_SERIES:
            (low, low_fns), (high, high_fns) = (
                totals[call, series[name], n] for n in loops)
            counts[call, name] = (high - low) / (loops[1] - loops[0])
            if functions:
                per_function[call, name] = per_call_functions(
                    low_fns, high_fns, loops)
    write_json(bench.output / 'instructions.json',
               {f'{call} {name}': value
                for (call, name), value in sorted(counts.items())})
    if functions:
        write_json(bench.output / 'instructions-functions.json',
                   {f'{call} {name}': value
                    for (call, name), value in sorted(per_function.items())})
    return counts, per_function


def collected_instructions(stderr):
    """The instruction count of callgrind's "Collected : N" line."""
    found = re.findall(r'^==\d+== Collected : (\d+)$', stderr, re.M)
    if not found:
        raise ExternalError('no "Collected" line in the output of '
                            'callgrind:\n' + stderr[-2000:])
    return int(found[-1])


def function_key(name):
    """A function's name without the suffixes of gcc's copies of it."""
    return _CLONE.sub('', name)


def parse_annotate(text):
    """[(Ir, file, function, object or None)] of callgrind_annotate's
    table of functions (its lines after the "file:function" heading)."""
    rows, started = [], False
    for line in text.splitlines():
        if not started:
            started = line.rstrip().endswith('file:function')
            continue
        match = _FUNCTION_LINE.match(line)
        if not match:
            if rows and not line.strip():
                break       # the end of the table
            continue
        cost, what = int(match.group(1).replace(',', '')), match.group(2)
        obj = None
        found = re.match(r'^(.*) \[(.+)\]$', what)
        if found:
            what, obj = found.groups()
        file, _, function = what.partition(':')
        rows.append((cost, file, function, obj))
    return rows


def sum_functions(exclusive_rows, inclusive_rows):
    """{function: {'exclusive', 'inclusive', 'file'}} of one profile.

    callgrind_annotate gives a function a line per source file its code
    comes from (its own, and each header whose inline functions it holds)
    and each gcc copy of it its own name.  Exclusive costs add up over
    them.  The inclusive cost of a function's own line is what its callers
    paid for it, the inlined code and the copies it calls included, so the
    largest of them is the function's (summing would count them twice).
    'file' is the file of the function's own line (the one with its
    object), or the object's name for code without debug information.
    """
    found = {}
    for cost, file, function, obj in exclusive_rows:
        entry = found.setdefault(function_key(function),
                                 {'exclusive': 0, 'inclusive': 0,
                                  'file': None})
        entry['exclusive'] += cost
        if obj and entry['file'] is None:
            entry['file'] = (os.path.basename(obj) if file == '???'
                             else os.path.basename(file))
    for cost, file, function, obj in inclusive_rows:
        entry = found.setdefault(function_key(function),
                                 {'exclusive': 0, 'inclusive': 0,
                                  'file': None})
        entry['inclusive'] = max(entry['inclusive'], cost)
        if obj and entry['file'] is None:
            entry['file'] = (os.path.basename(obj) if file == '???'
                             else os.path.basename(file))
    return found


def annotate(profile):
    """sum_functions() of the callgrind profile *profile*, annotated by
    callgrind_annotate, exclusive and inclusive, every function shown."""
    texts = [run(['callgrind_annotate', f'--inclusive={inclusive}',
                  '--threshold=100', '--auto=no', profile],
                 quiet=True).stdout for inclusive in ('no', 'yes')]
    return sum_functions(*(parse_annotate(text) for text in texts))


def per_call_functions(low, high, loops=INSTR_LOOPS):
    """{function: {'inclusive', 'exclusive', 'file'}}: what each function
    costs per call, from the profiles *low* and *high* (sum_functions())
    of the two loop counts of *loops*; the functions whose cost does not
    grow with the loops (start-up) are left out."""
    span = loops[1] - loops[0]
    found = {}
    for name in sorted(set(low) | set(high)):
        a, b = low.get(name, {}), high.get(name, {})
        costs = {kind: (b.get(kind, 0) - a.get(kind, 0)) / span
                 for kind in ('inclusive', 'exclusive')}
        if any(costs.values()):
            found[name] = dict(costs, file=b.get('file') or a.get('file'))
    return found


def function_rows(per_function, call, series=TARGET_SERIES,
                  reference=REFERENCE, minimum=MIN_FUNCTION_DIFF):
    """The functions where *call* costs another number of instructions per
    call in one of *series* than in *reference*, inclusive or exclusive,
    by at least *minimum*: {function: {'file', <series>: [inclusive,
    exclusive], ...}} with *reference* and every one of *series*, the
    largest exclusive difference first (where the instructions are), then
    the largest inclusive one (the functions that call them)."""
    base = per_function.get((call, reference))
    if base is None:
        return {}
    names = set(base)
    for s in series:
        names |= set(per_function.get((call, s), {}))

    def costs(name, s):
        entry = per_function.get((call, s), {}).get(name, {})
        return [entry.get('inclusive', 0.0), entry.get('exclusive', 0.0)]

    rows = {}
    for name in names:
        ref = costs(name, reference)
        diffs = [[c - r for c, r in zip(costs(name, s), ref)]
                 for s in series if (call, s) in per_function]
        if not any(abs(d) >= minimum for pair in diffs for d in pair):
            continue
        file = next((per_function[call, s][name]['file']
                     for s in (reference, *series)
                     if name in per_function.get((call, s), {})), None)
        rows[name] = {'file': file, reference: ref,
                      **{s: costs(name, s) for s in series
                         if (call, s) in per_function}}
    return sorted_rows(rows, series, reference)


def sorted_rows(rows, series=TARGET_SERIES, reference=REFERENCE):
    """function_rows()'s *rows* in its order (a JSON file sorts them by
    name): the largest exclusive difference from *reference* in one of
    *series* first, then the largest inclusive one."""
    def order(name):
        row = rows[name]
        diffs = [[c - r for c, r in zip(row[s], row[reference])]
                 for s in series if s in row] or [[0, 0]]
        return (-max(abs(d[1]) for d in diffs),
                -max(abs(d[0]) for d in diffs), name)

    return {name: rows[name] for name in sorted(rows, key=order)}
