"""Plot the ratios of a ``bench`` run (results.json) to a PNG.

Usage: python -m pep433tool.bench.plot RESULTS.json OUT.png

Runs in the tool venv (matplotlib, Agg backend), called by Bench.plot().
Left (when they ran, not with --suite): the micro-benchmarks, one row per
call, a marker per series at the median ratio to the baseline with the
interquartile range as error bar, the target band 1.00 +- 0.02 shaded,
the legend below the panel (inside it, it covered points).  Right (when
pyperformance ran): the ratio per benchmark and the geometric mean, the
band 1.00 +- 0.01.  The two-line title, which names the builds, hangs
a fixed number of inches from the top, where tight_layout() keeps the
panels below it: at matplotlib's default height, a fraction of the
figure's, it came down over the panel's own title in the tall figure of
--suite.
"""

import json
import math
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from .report import builds_title  # noqa: E402

MARKERS = 'osD^v'
#: Inches the figure grows by for its two-line title, so that the panels
#: keep their height.
TITLE_INCHES = 0.5
#: The legend of the micro-benchmarks, below the figure: series per row,
#: and inches per row.
LEGEND_COLUMNS = 3
LEGEND_ROW_INCHES = 0.25


def figure(results):
    """The figure of *results* (the dict of results.json)."""
    micro = results.get('micro') or {}
    series = [(name, title) for name, title in results['series']
              if name != 'baseline']
    calls = [c for c in results.get('syscall_calls', [])
             if any(f'{c}|{s}' in micro for s, _ in series)]
    perf = results.get('pyperformance')
    legend = 0.0
    if micro or not perf:
        ncols = 2 if perf else 1
        height = max(4.0, 0.45 * len(calls) + 1.5)
        rows = math.ceil(len(series) / LEGEND_COLUMNS)
        legend = LEGEND_ROW_INCHES * rows + 0.1 if micro else 0.0
    else:       # --suite: pyperformance alone, many benchmarks
        ncols = 1
        height = max(4.0, 0.25 * (len(perf['rows']) + 1) + 1.5)
    height += TITLE_INCHES + legend
    fig, axes = plt.subplots(1, ncols, figsize=(7 * ncols, height),
                             squeeze=False)
    if micro or not perf:
        ax = axes[0][0]
        _micro_panel(ax, micro, series, calls)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            # below the figure, centred under the micro-benchmarks' panel
            fig.legend(handles, labels, loc='lower center',
                       bbox_to_anchor=(0.5 / ncols, 0.05 / height),
                       ncol=LEGEND_COLUMNS, fontsize='small',
                       frameon=False)
    if perf:
        _perf_panel(axes[0][ncols - 1], perf)
    machine = results.get('machine') or {}
    fig.suptitle(f'PEP 433 patched vs stock CPython {results["version"]}, '
                 f'{builds_title(results)}\n'
                 f'{results.get("kind", "")} run, {machine.get("date", "")},'
                 f' Linux {machine.get("kernel", "")}, '
                 f'{machine.get("nproc", "")} CPUs', fontsize='medium',
                 y=1 - 0.1 / height, va='top')
    fig.tight_layout(rect=(0, legend / height, 1, 1))
    return fig


def plot(results, png):
    """Draw *results* (the dict of results.json) into *png*."""
    fig = figure(results)
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _micro_panel(ax, micro, series, calls):
    """The micro-benchmarks: a marker per series and call."""
    ax.axvspan(0.98, 1.02, color='0.9', zorder=0)
    ax.axvline(1.0, color='0.5', lw=0.8, zorder=1)
    n = len(series)
    for i, (name, title) in enumerate(series):
        ys, xs, lo, hi = [], [], [], []
        for j, call in enumerate(calls):
            entry = micro.get(f'{call}|{name}')
            if not entry or 'median' not in entry:
                continue
            ys.append(j + (i - (n - 1) / 2) * 0.15)
            xs.append(entry['median'])
            lo.append(entry['median'] - entry['q1'])
            hi.append(entry['q3'] - entry['median'])
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt=MARKERS[i % len(MARKERS)],
                    ms=5, capsize=2, label=title, zorder=2)
    ax.set_yticks(range(len(calls)))
    ax.set_yticklabels(calls)
    ax.invert_yaxis()
    ax.set_xlabel('time ratio to stock CPython (median, IQR over rounds)')
    ax.set_title('fd-creating call + close')


def _perf_panel(ax, perf):
    """pyperformance: a bar per benchmark, and the geometric mean."""
    names = list(perf['rows'])
    ratios = [perf['rows'][b]['ratio'] for b in names]
    if perf.get('geomean') is not None:
        names.append('geometric mean')
        ratios.append(perf['geomean'])
    ax.axvspan(0.99, 1.01, color='0.9', zorder=0)
    ax.axvline(1.0, color='0.5', lw=0.8, zorder=1)
    ax.barh(range(len(names)), [r - 1 for r in ratios], left=1,
            color=['C0'] * (len(names) - 1) + ['C3'], zorder=2)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel('time ratio patched / stock CPython')
    ax.set_title('pyperformance')
    span = max([abs(r - 1) for r in ratios] + [0.02]) * 1.3
    ax.set_xlim(1 - span, 1 + span)


def main(argv):
    with open(argv[0], encoding='utf-8') as fp:
        results = json.load(fp)
    plot(results, argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
