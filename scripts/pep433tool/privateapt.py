"""A private apt configuration: Debian packages downloaded from the
archive this machine already uses, without touching the system's apt
configuration (fetch's source packages, check's libkqueue)."""

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import config


def parse_one_line_sources(text):
    """Entries of a one-line-style sources.list.

    Each entry is a dict with keys types, uris, suites, components.
    """
    entries = []
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        words = line.split()
        kind = words.pop(0)
        if kind not in ('deb', 'deb-src'):
            continue
        if words and words[0].startswith('['):
            # options: [ arch=amd64 signed-by=... ]
            while words and not words[0].endswith(']'):
                words.pop(0)
            if words:
                words.pop(0)
        if len(words) < 2:
            continue
        entries.append({'types': [kind], 'uris': [words[0]],
                        'suites': [words[1]], 'components': words[2:]})
    return entries


def parse_deb822_sources(text):
    """Entries of a deb822 ``.sources`` file (disabled stanzas skipped)."""
    entries = []
    stanzas = re.split(r'\n\s*\n', text)
    for stanza in stanzas:
        fields = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith('#') or not raw.strip():
                continue
            if raw[0] in ' \t' and key:
                fields[key] += ' ' + raw.strip()
                continue
            key, sep, value = raw.partition(':')
            if not sep:
                key = None
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields or fields.get('enabled', 'yes').lower() == 'no':
            continue
        if 'types' not in fields or 'uris' not in fields:
            continue
        entries.append({
            'types': fields['types'].split(),
            'uris': fields['uris'].split(),
            'suites': fields.get('suites', '').split(),
            'components': fields.get('components', '').split(),
        })
    return entries


def system_sources(etc_apt='/etc/apt'):
    """All entries of the machine's apt sources."""
    etc_apt = Path(etc_apt)
    entries = []
    main = etc_apt / 'sources.list'
    if main.is_file():
        entries += parse_one_line_sources(main.read_text(errors='replace'))
    parts = etc_apt / 'sources.list.d'
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == '.list':
                entries += parse_one_line_sources(
                    path.read_text(errors='replace'))
            elif path.suffix == '.sources':
                entries += parse_deb822_sources(
                    path.read_text(errors='replace'))
    return entries


def os_codename(os_release='/etc/os-release'):
    """VERSION_CODENAME from os-release (None if absent)."""
    try:
        text = Path(os_release).read_text()
    except FileNotFoundError:
        return None
    match = re.search(r'^VERSION_CODENAME="?([^"\n]*)"?$', text, re.M)
    return match.group(1) if match and match.group(1) else None


def archive_uri(entries, codename):
    """URI of the machine's Debian archive: a ``deb`` entry for *codename*.

    Entries for ``<codename>-security``/``-updates`` do not count.
    """
    for entry in entries:
        if 'deb' in entry['types'] and codename in entry['suites']:
            return entry['uris'][0].rstrip('/')
    return None


def private_apt_config(aptdir, uri, suites, types='deb-src'):
    """Write a private apt configuration under *aptdir* for *suites*:
    source packages by default, *types* ``'deb'`` for binary ones.

    Return the list of ``-o`` options that make apt-get use it instead of
    the system's sources, lists and cache.
    """
    aptdir = Path(aptdir)
    for sub in ('lists/partial', 'cache/archives/partial', 'sources.list.d'):
        (aptdir / sub).mkdir(parents=True, exist_ok=True)
    parts = aptdir / 'sources.list.d'
    for old in parts.glob('pep433-*.sources'):
        old.unlink()
    name = 'src' if types == 'deb-src' else types
    sources = parts / f'pep433-{name}.sources'
    sources.write_text(
        f'Types: {types}\n'
        f'URIs: {uri}\n'
        f'Suites: {" ".join(suites)}\n'
        'Components: main\n'
        f'Signed-By: {config.DEBIAN_KEYRING}\n')
    empty = aptdir / 'empty.list'
    empty.write_text('')
    return [
        '-o', f'Dir::Etc::SourceList={empty}',
        '-o', f'Dir::Etc::SourceParts={aptdir / "sources.list.d"}',
        '-o', f'Dir::State::Lists={aptdir / "lists"}',
        '-o', f'Dir::Cache={aptdir / "cache"}',
        '-o', 'Dir::Cache::pkgcache=',
        '-o', 'Dir::Cache::srcpkgcache=',
        '-o', 'APT::Get::List-Cleanup=0',
    ]


def machine_archive(etc_apt='/etc/apt', os_release='/etc/os-release'):
    """(codename, URI of its Debian archive) of this machine; either may be
    None."""
    codename = os_codename(os_release)
    uri = archive_uri(system_sources(etc_apt), codename) if codename else None
    return codename, uri


@contextmanager
def download_dir():
    """A temporary directory apt can download into: its _apt sandbox user
    must write there."""
    with tempfile.TemporaryDirectory(prefix='pep433-apt-') as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)
