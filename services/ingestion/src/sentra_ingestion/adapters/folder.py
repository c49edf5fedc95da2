"""A local directory as a folder connector's `SourceFolder`.

Every file is opened one path component at a time, relative to a descriptor of the
directory above it, with O_NOFOLLOW: a file or a directory swapped for a symlink after
the scan (a symlink race, e.g. to the platform's keys) is refused instead of read. The
scan walks with `os.fwalk`, which does not follow symlinks either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO put in place of a file must not hang the connector.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$")


class LocalFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def is_available(self) -> bool:
        return self.root.is_dir()

    def _open_root(self) -> int:
        # The configured root may itself be a symlink (the operator's choice); below it, nothing is followed.
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        root_fd = self._open_root()
        try:
            for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=root_fd, follow_symlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
                base = os.path.normpath(dirpath)
                for filename in sorted(filenames):
                    if _hidden(filename):
                        continue
                    try:
                        info = os.stat(filename, dir_fd=dir_fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed while scanning
                    if stat.S_ISREG(info.st_mode):
                        rel_path = filename if base == "." else f"{base}/{filename}"
                        found[rel_path] = (info.st_mtime_ns, info.st_size)
        finally:
            os.close(root_fd)
        return found

    def open(self, rel_path: str) -> BinaryIO:
        parts = rel_path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise OSError(f"{rel_path!r} is not a path inside the folder")
        fd = self._open_root()
        try:
            for part in parts[:-1]:
                parent, fd = fd, os.open(part, _DIRECTORY, dir_fd=fd)
                os.close(parent)
            parent, fd = fd, os.open(parts[-1], _FILE, dir_fd=fd)
            os.close(parent)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{rel_path!r} is not a regular file")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
