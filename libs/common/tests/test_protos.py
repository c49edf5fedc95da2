"""The generated code in libs/proto must match the .proto files."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_code_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_has_a_versioned_package():
    for domain in ("gateway", "ingestion", "embedding", "retrieval", "inference", "training", "events"):
        proto = ROOT / "protos" / "sentra" / domain / "v1" / f"{domain}.proto"
        assert f"package sentra.{domain}.v1;" in proto.read_text()
