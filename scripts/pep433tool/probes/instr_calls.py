"""Make one call of bench_calls a given number of times, for callgrind.

Usage::

    python [-e] instr_calls.py NAME MODE LOOPS

NAME and MODE are those of bench_calls.py (``--name``, ``--cloexec``).
The calls, their closes and their untimed preparations are made exactly as
in the timed benchmark, LOOPS times, on one thread, and nothing is printed.
bench.py runs this under ``valgrind --tool=callgrind`` with two values of
LOOPS: the difference of the two instruction counts over the difference of
the loops is the user-space cost of one call, start-up and imports
cancelling out.  pyperf is imported from PYTHONPATH (bench_calls needs it).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_calls import time_func  # noqa: E402


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    name, mode, loops = sys.argv[1], sys.argv[2], int(sys.argv[3])
    time_func(loops, name, mode)


if __name__ == '__main__':
    main()
