"""Bench: one run of ``bench``, where it writes and with which tools.

It holds what the measurements share (the work directory, the output
folder, the plan, the venv's bin directory, the shuffling RNG and the
environment the built interpreters run in); each measurement is a
function of its own module that takes it (micro, systemcalls,
instructions, perf), called through the methods below.
"""

import random
from pathlib import Path

from ..util import clean_env, run
from . import instructions, micro, perf, systemcalls
from .plan import INSTR_LOOPS, MICRO_CALLS
from .pyperfio import link_pyperf

#: The directory holding the package pep433tool (scripts/).
TOOL_PATH = Path(__file__).resolve().parent.parent.parent


def build_dir(paths, build, variant=None):
    """The directory of *build* ('baseline' or 'patched'): the plain build
    of the work directory, or that of a build variant (bench --optimized:
    'optimized', baseline-optimized/ made by build --optimized)."""
    if variant:
        return paths.workdir / f'{build}-{variant}'
    return getattr(paths, build)


class Bench:
    """One run of the ``bench`` subcommand."""

    def __init__(self, paths, output, plan, tools, seed=None, variant=None):
        self.paths = paths
        self.output = Path(output)
        self.plan = plan
        self.tools = Path(tools)        # the venv's bin directory
        self.rng = random.Random(seed)
        self.pylib = self.output / 'pylib'
        self.env = None
        self.variant = variant          # None: the plain builds

    def python(self, build):
        return build_dir(self.paths, build, self.variant) / 'python'

    def prepare(self):
        """The output folder and a PYTHONPATH with the venv's pyperf."""
        self.output.mkdir(parents=True, exist_ok=True)
        proc = run([self.tools / 'python', '-c',
                    'import os, pyperf; '
                    'print(os.path.dirname(pyperf.__file__))'], quiet=True)
        link_pyperf(self.pylib, proc.stdout.strip())
        self.env = clean_env({'PYTHONPATH': str(self.pylib)})

    def run_micro(self):
        """Micro-benchmarks and the PEP table: see micro.run_micro()."""
        return micro.run_micro(self)

    def run_syscalls(self):
        """System calls per call: see systemcalls.run_syscalls()."""
        return systemcalls.run_syscalls(self)

    def run_instructions(self, calls=MICRO_CALLS, loops=INSTR_LOOPS):
        """Instructions per call: see instructions.run_instructions()."""
        return instructions.run_instructions(self, calls, loops)

    def measure_instructions(self, calls=MICRO_CALLS, loops=INSTR_LOOPS):
        """Instructions per call and per function: see
        instructions.measure_instructions()."""
        return instructions.measure_instructions(self, calls, loops)

    def run_pyperformance(self, benchmarks):
        """pyperformance, pass by pass: see perf.run_pyperformance()."""
        return perf.run_pyperformance(self, benchmarks)

    def plot(self, results):
        """Draw the ratios of results.json: see draw_ratios()."""
        return draw_ratios(self.tools, self.output)


def draw_ratios(tools, output):
    """ratios.png of the bench output folder *output*, from its
    results.json (bench/plot.py in the venv of *tools*, matplotlib Agg)."""
    png = output / 'ratios.png'
    env = clean_env({'PYTHONPATH': str(TOOL_PATH)})
    run([tools / 'python', '-m', 'pep433tool.bench.plot',
         output / 'results.json', png], env=env, quiet=True)
    return png
