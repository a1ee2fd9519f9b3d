"""Time one fixed piece of pure-Python work over and over: the machine's
clock, for ``bench clock``.

Usage::

    python clock_trace.py SECONDS

Prints a JSON object: 'starts' (seconds since the first sample) and
'durations' (seconds), a pair per sample, each sample the same loop of
additions (well under a millisecond), back to back for SECONDS, timed with
time.perf_counter().
"""

import json
import sys
import time


def work():
    total = 0
    for i in range(20000):
        total += i
    return total


def main():
    seconds = float(sys.argv[1])
    work()
    starts, durations = [], []
    clock = time.perf_counter
    first = clock()
    end = first + seconds
    while True:
        t0 = clock()
        if t0 >= end:
            break
        work()
        starts.append(t0 - first)
        durations.append(clock() - t0)
    print(json.dumps({'starts': starts, 'durations': durations}))


if __name__ == '__main__':
    main()
