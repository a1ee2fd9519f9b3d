"""Instructions per call: probes/instr_calls.py under valgrind's callgrind.

The user-space instructions one call costs, on the baseline, patched and
patched -e: (count at INSTR_LOOPS[1] calls - count at INSTR_LOOPS[0]) /
their difference, start-up cancelling out.  Repeatable to the instruction
(PYTHONHASHSEED=0, a fixed empty working directory and PYTHONPATH), so it
tells what the patch adds to the interpreter's own work from what only the
clock says (to a few dozen instructions: see run_instructions()).
"""

import logging
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ExternalError, PreconditionError
from ..util import run
from .plan import COMPARED_SERIES, INSTR_LOOPS, MICRO_CALLS, SERIES
from .pyperfio import link_pyperf, write_json

log = logging.getLogger(__name__)

INSTR_PROBE = Path(__file__).resolve().parent.parent / 'probes' / \
    'instr_calls.py'


def run_instructions(bench, calls=MICRO_CALLS, loops=INSTR_LOOPS):
    """{(call, series): user-space instructions per call} (callgrind).

    Each (call, series) runs twice under callgrind, with the two loop
    counts of *loops*, two runs at a time; a run without valgrind first
    writes the probes' .pyc files, so that every counted run reads them.

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

    def count(job):
        call, s, n = job
        proc = run(['valgrind', '--tool=callgrind',
                    '--callgrind-out-file=/dev/null',
                    bench.python(s.build), *s.args, INSTR_PROBE,
                    call, s.mode, str(n)], cwd=cwd, env=env,
                   quiet=True)
        return collected_instructions(proc.stderr)

    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(count, jobs)))
    counts = {}
    for call in calls:
        for name in COMPARED_SERIES:
            low, high = (totals[call, series[name], n] for n in loops)
            counts[call, name] = (high - low) / (loops[1] - loops[0])
    write_json(bench.output / 'instructions.json',
               {f'{call} {name}': value
                for (call, name), value in sorted(counts.items())})
    return counts


def collected_instructions(stderr):
    """The instruction count of callgrind's "Collected : N" line."""
    found = re.findall(r'^==\d+== Collected : (\d+)$', stderr, re.M)
    if not found:
        raise ExternalError('no "Collected" line in the output of '
                            'callgrind:\n' + stderr[-2000:])
    return int(found[-1])
