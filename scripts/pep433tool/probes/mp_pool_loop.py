"""pyperformance's bench_mp_pool (concurrent_imap) in a plain loop.

Run by a built interpreter, ``python mp_pool_loop.py LOOPS``: prints a JSON
list of the seconds each loop took.  The loop is the benchmark's own (a
Pool of 2 processes, imap(f, range(1000), 10), the pool left by ``with``,
which terminates it), timed with time.perf_counter(), after one loop of
warm-up, with no pyperf, no venv and no worker process around it.
"""

import json
import sys
import time
from multiprocessing.pool import Pool


def f(x):
    return x


def bench_mp_pool(p, n, chunk):
    with Pool(p) as pool:
        for _ in pool.imap(f, range(n), chunk):
            pass


def main():
    loops = int(sys.argv[1])
    bench_mp_pool(2, 1000, 10)
    times = []
    for _ in range(loops):
        start = time.perf_counter()
        bench_mp_pool(2, 1000, 10)
        times.append(time.perf_counter() - start)
    print(json.dumps(times))


if __name__ == '__main__':
    main()
