"""Where the project's shared third-party files are: the evaluation sets (XQuAD, SQuAD-es),
the upstream NATS and Qdrant charts and the KubeRay/Prometheus Operator/KEDA CRDs. They sit
beside the checkout (`../shared`); `SENTRA_SHARED_DIR` names the folder when it is elsewhere
(a CI clone in another directory)."""

from __future__ import annotations

import os
from pathlib import Path

# libs/common/src/sentra_common/shared_files.py → the checkout's root is four folders up
_BESIDE_THE_CHECKOUT = Path(__file__).resolve().parents[4].parent / "shared"


def shared_dir() -> Path:
    return Path(os.environ.get("SENTRA_SHARED_DIR") or _BESIDE_THE_CHECKOUT)
