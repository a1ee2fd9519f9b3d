"""The options several commands share (``--only``, ``--jobs``,
``--tests``, ``--output``), declared once for the commands'
add_arguments()."""


def add_only(parser, what):
    """``--only baseline|patched``: one of the two, *what*."""
    parser.add_argument('--only', choices=('baseline', 'patched'),
                        help=f'only one {what}')


def add_jobs(parser, what='parallel jobs'):
    """``--jobs N`` / ``-j N``: *what*, by default as many as CPUs."""
    parser.add_argument('--jobs', '-j', type=int, metavar='N',
                        help=f'{what} (default: number of CPUs)')


def add_tests(parser, instead_of):
    """``--tests NAMES``: the test modules to run *instead_of* the usual."""
    parser.add_argument('--tests', metavar='NAMES',
                        help=f'test modules instead of {instead_of}')


def add_output(parser, usual, **kwargs):
    """``--output DIR`` / ``-o DIR``: where the results go (*usual*
    without it); *kwargs* as argparse's."""
    parser.add_argument('--output', '-o', metavar='DIR',
                        help=f'default: {usual}', **kwargs)
