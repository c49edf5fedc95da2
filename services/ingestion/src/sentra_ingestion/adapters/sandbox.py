"""The command line that starts one parser slot's fork server (`parse_worker`), in a
bubblewrap sandbox or (on a development machine, on purpose) as a plain child process.

The bubblewrap sandbox has no network (its own, empty network namespace), no environment
variables, its own process, IPC and host-name namespaces, a private /tmp as large as the
file-size limit (the only place it can write), a minimal read-only /dev, no /proc, and a
read-only view of only what Python needs:
/usr, the Python installation and virtual environment, and the directory holding
`sentra_ingestion`. The document is not a file at all: it arrives on a socket of its own.
Started as root, bubblewrap sets the namespaces up with privilege, keeps only CAP_SETUID and
CAP_SETGID, and each document's parser process drops to a user of its own (`uid_base` + its
slot) before it reads anything, so the process limit counts its processes alone; started as another user, it
runs in a user namespace as that user and may not create further user namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

BWRAP = "bwrap"
NONE = "none"

# Prepends the import roots to sys.path (-I leaves out the environment and the working
# directory), then runs the worker module's main with the confinement spec.
BOOTSTRAP = (
    "import importlib, json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "importlib.import_module(sys.argv[2]).main(sys.argv[3:])"
)


@dataclass(frozen=True)
class Confinement:
    """Resource limits of one parser process (the `SENTRA_INGESTION_LIMITS__PARSE_*` settings)."""

    memory_mb: int
    cpu_seconds: int
    file_mb: int
    processes: int


def _python_dirs() -> list[Path]:
    """The Python installation and virtual environment (deduplicated, outside /usr)."""
    dirs = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    dirs.add(Path(os.path.realpath(sys.executable)).parent.parent)
    return _outermost(d for d in dirs if not _under(d, Path("/usr")))


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _outermost(paths) -> list[Path]:
    result: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(_under(path, kept) for kept in result):
            result.append(path)
    return result


def _directories_above(paths: list[Path]) -> list[str]:
    """Every directory above the bound paths, parents first: created world-traversable
    inside the sandbox (bubblewrap would copy the host's mode, e.g. /root's 0700)."""
    above = {str(parent) for path in paths for parent in path.parents if str(parent) != "/"}
    return sorted(above, key=lambda p: len(PurePosixPath(p).parts))


@dataclass(frozen=True)
class ParserSandbox:
    """How parser processes start: `mode` is "bwrap" or "none" (plain child processes)."""

    mode: str
    confinement: Confinement
    bwrap: str = "bwrap"
    uid_base: int = 61000
    worker: str = "sentra_ingestion.adapters.parse_worker"
    # Directories of extra modules the worker needs (tests put their probe there).
    extra_roots: tuple[Path, ...] = ()

    def problem(self) -> str | None:
        """Why this sandbox cannot start here (bubblewrap missing), or None."""
        if self.mode == BWRAP and shutil.which(self.bwrap) is None:
            return (
                f"bubblewrap ({self.bwrap}) is not installed, and parsers run in its sandbox: no network, "
                "no environment, nothing of the file system but Python. Install it (apt-get install bubblewrap; "
                "scripts/setup.sh does), or on a development machine set SENTRA_INGESTION_PARSER_SANDBOX=none "
                "to run parsers as plain child processes"
            )
        return None

    def import_roots(self) -> list[Path]:
        import sentra_ingestion

        return [Path(sentra_ingestion.__file__).resolve().parent.parent, *self.extra_roots]

    def command(self, slot: int) -> list[str]:
        """The command line of a parser process in `slot` (0 … workers - 1)."""
        roots = self.import_roots()
        if self.mode == NONE:
            return self._python(roots, uid=None)
        as_root = os.geteuid() == 0
        uid = self.uid_base + slot if as_root else None
        return self._bwrap(roots, as_root) + self._python(roots, uid)

    def _python(self, roots: list[Path], uid: int | None) -> list[str]:
        spec = {**self.confinement.__dict__, "uid": uid, "sandboxed": self.mode == BWRAP}
        return [sys.executable, "-I", "-B", "-c", BOOTSTRAP, json.dumps([str(p) for p in roots]), self.worker,
                json.dumps(spec)]

    def _bwrap(self, roots: list[Path], as_root: bool) -> list[str]:
        usr = Path("/usr")
        binds = _outermost([*_python_dirs(), *roots])
        command = [self.bwrap, "--die-with-parent", "--new-session", "--clearenv"]
        if as_root:
            command += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                        "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            command += ["--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                        "--unshare-cgroup-try", "--disable-userns", "--cap-drop", "ALL"]
        command += ["--ro-bind", "/usr", "/usr"]
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(name):
                command += ["--symlink", os.readlink(name), name]
            elif os.path.isdir(name):
                command += ["--ro-bind", name, name]
        if os.path.exists("/etc/ld.so.cache"):  # the dynamic loader's index, nothing else of /etc
            command += ["--perms", "0755", "--dir", "/etc", "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        size = self.confinement.file_mb * 1024 * 1024
        command += ["--dev", "/dev", "--perms", "1777", "--size", str(size), "--tmpfs", "/tmp"]
        # After /tmp: an installation under /tmp (a CI clone, a virtual environment there) is
        # bound on top of the private /tmp instead of being hidden by it.
        outside_usr = [b for b in binds if not _under(b, usr)]
        for directory in _directories_above(outside_usr):
            command += ["--perms", "0755", "--dir", directory]
        for path in outside_usr:
            command += ["--ro-bind", str(path), str(path)]
        command += ["--chdir", "/tmp"]
        # Its root and /dev are bubblewrap's own memory file systems, without a size: read-only
        # once set up (in a user namespace the parser owns them), so /tmp is all it may fill.
        command += ["--remount-ro", "/dev", "--remount-ro", "/"]
        return [*command, "--"]
