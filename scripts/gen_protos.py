"""Regenerate the Python code for every proto under protos/ into libs/proto.

Usage:
    python scripts/gen_protos.py            # write libs/proto
    python scripts/gen_protos.py --check    # exit 1 when libs/proto is stale

Generated files (*_pb2.py, *_pb2_grpc.py, *.pyi) are never edited by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc  # dev dependency

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        raise SystemExit("no .proto files under protos/")
    include = Path(protoc.__file__).parent / "_proto"
    # protoc finds the mypy-protobuf plugins on PATH, next to this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    # Packages, so that `sentra.ingestion.v1` imports with tools that need __init__.py.
    for directory in [out_dir / "sentra", *(p for p in (out_dir / "sentra").rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


def generated_files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in (root / "sentra").rglob("*")
        if p.is_file() and (p.name.endswith(GENERATED_SUFFIXES) or p.name == "__init__.py")
    }


def stale_files(fresh: Path, current: Path) -> list[str]:
    """Files that differ between a fresh generation and the committed tree."""
    fresh_files = generated_files(fresh)
    current_files = generated_files(current) if (current / "sentra").exists() else set()
    problems = sorted(fresh_files ^ current_files)
    for name in sorted(fresh_files & current_files):
        if not filecmp.cmp(fresh / name, current / name, shallow=False):
            problems.append(name)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether libs/proto is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        problems = stale_files(fresh, OUT_ROOT)
        if args.check:
            if problems:
                print("libs/proto is stale; run: python scripts/gen_protos.py", file=sys.stderr)
                for name in problems:
                    print(f"  {name}", file=sys.stderr)
                return 1
            print("libs/proto is up to date")
            return 0
        if (OUT_ROOT / "sentra").exists():
            shutil.rmtree(OUT_ROOT / "sentra")
        shutil.copytree(fresh / "sentra", OUT_ROOT / "sentra")
        print(f"generated {len(generated_files(OUT_ROOT))} files into {OUT_ROOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
