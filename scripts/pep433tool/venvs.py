"""Virtual environments made from a requirements text, with a stamp.

One helper for every venv the tool makes (its own in <workdir>/venv, the
docs' per tree, impact's per build and package): the venv is made with a
given Python, and the packages are installed only when the requirements
differ from those its stamp file records.
"""

import logging
import shutil
import sys
from pathlib import Path

from .util import run

log = logging.getLogger(__name__)


def ensure_venv(venv, wanted, install, *, stamp, maker=None, env=None,
                fresh=False):
    """*venv* with the packages *wanted* names; return its python.

    *wanted* is the requirements text (what the stamp file *stamp* in the
    venv records once installed); *install(python)* installs it.  A missing
    venv is made with ``maker -m venv`` (default: the Python running the
    tool).  With *fresh*, a venv whose stamp differs is removed and made
    again first, so that nothing of the old requirements stays.
    """
    venv = Path(venv)
    python = venv / 'bin' / 'python'
    stamp = venv / stamp
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        log.debug('%s is up to date', venv)
        return python
    if fresh and venv.exists():
        log.info('%s: the requirements changed: making the venv again',
                 venv)
        shutil.rmtree(venv)
    if not python.exists():
        maker = maker or Path(sys.executable)
        log.debug('creating %s with %s', venv, maker)
        venv.parent.mkdir(parents=True, exist_ok=True)
        run([str(maker), '-m', 'venv', str(venv)], env=env)
    install(python)
    stamp.write_text(wanted)
    return python
