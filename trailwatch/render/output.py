"""Write a render into its folder atomically: all files or none, and nothing stale from an earlier render.

The files are written into a fresh folder beside ``--out`` and then swapped in by renaming, so a failure half
way leaves the previous render (or nothing) in place, never a mix. A manifest (``MANIFEST``) lists what a
render wrote; a folder holding anything else is refused rather than replaced, so a render never deletes a
user's own files, and a re-render in another mode cannot leave the previous mode's files behind. No rendered
file holds a secret or its placeholder (the Teams URL and the adapter's token live in files the user provides
and the rendered configs only name), so every file is 0644.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

from .options import RenderError

MANIFEST = ".trailwatch-render"
FILE_MODE = 0o644
FOLDER_MODE = 0o755
_SHOWN = 3


def foreign_files(out: Path) -> Iterator[str]:
    """Files under ``out`` that no earlier render wrote (every file, when there is no manifest), lazily: a
    mistaken ``--out ~`` is refused after a few entries, not after walking the home folder."""
    try:
        listed = set((out / MANIFEST).read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        listed = set()
    except OSError as exc:
        raise RenderError(f"--out: cannot read {out / MANIFEST} ({exc.strerror})") from None
    for folder, subfolders, names in os.walk(out):
        subfolders.sort()
        for name in sorted(names):
            relative = os.path.relpath(os.path.join(folder, name), out)
            if relative != MANIFEST and relative not in listed:
                yield relative


def check_out(out: Path) -> None:
    """``out`` is missing, empty, or holds only an earlier render; anything else is refused."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RenderError(f"--out: {out} exists and is not a folder")
    foreign = list(itertools.islice(foreign_files(out), _SHOWN + 1))
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (" and more" if len(foreign) > _SHOWN else "")
        raise RenderError(f"--out: {out} holds files a render did not write ({shown}); choose an empty or new "
                          f"folder (a render replaces the whole folder)")


def _write(folder: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, FILE_MODE)  # O_CREAT's mode is filtered by the umask
    (folder / MANIFEST).write_text("".join(f"{name}\n" for name in sorted(files)), encoding="utf-8")
    for sub in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        os.chmod(sub, FOLDER_MODE)


def _failed_path(exc: OSError, staging: Path, out: Path) -> Path:
    """The path the failed call was about, shown under ``out`` (not the staging folder the user never saw)."""
    name = Path(os.fsdecode(exc.filename)) if exc.filename is not None else out
    try:
        return out / name.relative_to(staging)
    except ValueError:
        return name


def write_render(out: Path, files: Mapping[str, str]) -> None:
    """Replace ``out`` with exactly ``files`` (plus the manifest); see the module docstring."""
    check_out(out)
    out = out.resolve()
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name or 'render'}.new-", dir=parent))
    except OSError as exc:
        raise RenderError(f"--out: cannot create a folder in {parent} ({exc.strerror})") from None
    old = None
    try:
        _write(staging, files)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rename(out, old / "render")
        os.rename(staging, out)
    except OSError as exc:
        if old is not None and not out.exists():
            os.rename(old / "render", out)  # put the earlier render back
        shutil.rmtree(staging, ignore_errors=True)
        raise RenderError(f"--out: cannot write {_failed_path(exc, staging, out)} ({exc.strerror or exc}); nothing "
                          f"was changed") from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
