"""pyperf's JSON files, read, merged and written with the json module.

pyperf's format: suite metadata, benchmarks, runs with values; what is
common to the runs is stored at the highest level.  The tool's own Python
needs no pyperf for this.  link_pyperf() gives the built interpreters the
venv's pyperf package, alone on their PYTHONPATH.
"""

import json
from pathlib import Path


def load_json(path):
    """A pyperf JSON file as a dict."""
    with open(path, encoding='utf-8') as fp:
        return json.load(fp)


def benchmarks_of(suite):
    """{name: [run, ...]} of a pyperf suite; each run's metadata complete.

    The metadata of a run is the suite's, then the benchmark's, then the
    run's own (pyperf stores what is common at the highest level).
    """
    common = suite.get('metadata', {})
    result = {}
    for bench in suite['benchmarks']:
        bench_meta = dict(common, **bench.get('metadata', {}))
        runs = []
        for run_ in bench['runs']:
            full = dict(run_)
            full['metadata'] = dict(bench_meta, **run_.get('metadata', {}))
            runs.append(full)
        result[bench_meta['name']] = runs
    return result


def values(runs):
    """The measured values (not the warmups) of *runs*."""
    return [v for run_ in runs for v in run_.get('values', ())]


def _common(dicts):
    """The items that all *dicts* share (same key, same value)."""
    dicts = list(dicts)
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items()
            if all(k in d and d[k] == v for d in dicts[1:])}


def merge(suites):
    """Merge pyperf suites (dicts) into one: the runs of each benchmark.

    Benchmarks keep the order in which they first appear.  Metadata common
    to every run of a benchmark moves up to the benchmark, what all
    benchmarks share up to the suite, as pyperf writes it.
    """
    runs = {}
    for suite in suites:
        for name, bench_runs in benchmarks_of(suite).items():
            runs.setdefault(name, []).extend(bench_runs)
    bench_common = {name: _common(r['metadata'] for r in bench_runs)
                    for name, bench_runs in runs.items()}
    suite_common = _common(bench_common.values())
    suite_common.pop('name', None)
    benchmarks = []
    for name, bench_runs in runs.items():
        common = bench_common[name]
        out_runs = []
        for run_ in bench_runs:
            out = {k: v for k, v in run_.items() if k != 'metadata'}
            out['metadata'] = {k: v for k, v in run_['metadata'].items()
                               if k not in common}
            out_runs.append(out)
        benchmarks.append({
            'metadata': {k: v for k, v in common.items()
                         if k not in suite_common or k == 'name'},
            'runs': out_runs})
    return {'version': '1.0', 'metadata': suite_common,
            'benchmarks': benchmarks}


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, sort_keys=True) + '\n')


def link_pyperf(pylib, target):
    """Make *pylib* a directory holding only a link to pyperf (*target*)."""
    pylib.mkdir(parents=True, exist_ok=True)
    link = pylib / 'pyperf'
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)
