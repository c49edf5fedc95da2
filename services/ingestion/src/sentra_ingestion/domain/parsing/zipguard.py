"""Safety checks for ZIP-based office files (DOCX, XLSX) before opening them.

The sizes recorded in the archive's central directory are an upper bound of
what `zipfile` will ever decompress (it stops at the declared size and fails
the CRC check otherwise), so checking them protects against zip bombs.
"""

from __future__ import annotations

import io
import logging
import zipfile
from typing import TYPE_CHECKING

from .model import ParseError

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
# Entries smaller than this are not checked for their compression ratio:
# small, highly repetitive XML parts legitimately compress very well.
RATIO_CHECK_MIN_BYTES = 1024 * 1024


def check_zip(data: bytes, limits: ParseLimits, label: str, required: str) -> None:
    """Raise ParseError unless `data` is a readable ZIP that holds `required`
    and passes the zip-bomb limits. `label` names the format in messages."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
    except Exception as exc:  # zipfile raises BadZipFile, ValueError, OSError, ...
        logger.debug("%s container unreadable: %s", label, type(exc).__name__)
        raise ParseError(
            f"{label} file is damaged or truncated (not a readable ZIP archive); "
            "open it in your office application, save it again and upload the new copy"
        ) from exc
    if required not in names:
        raise ParseError(
            f"file is not a valid {label} document (it is a ZIP archive without {required}); "
            f"save it as {label} and upload again"
        )
    if len(infos) > MAX_ENTRIES:
        raise ParseError(
            f"{label} file has {len(infos)} internal parts, more than {MAX_ENTRIES}; "
            "it looks like a zip bomb or a damaged file and was not opened"
        )
    total = 0
    compressed = 0
    for info in infos:
        total += info.file_size
        compressed += info.compress_size
        if info.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise ParseError(_bomb(label, f"one part expands {ratio:.0f} times"))
    if total > limits.max_uncompressed_bytes:
        raise ParseError(
            _bomb(
                label,
                f"it expands to {_mb(total)}, more than the limit of {_mb(limits.max_uncompressed_bytes)}",
            )
        )
    if total >= RATIO_CHECK_MIN_BYTES and total / max(compressed, 1) > limits.max_compression_ratio:
        raise ParseError(_bomb(label, f"it expands {total / max(compressed, 1):.0f} times"))


def _bomb(label: str, detail: str) -> str:
    return (
        f"{label} file looks like a zip bomb ({detail}) and was not opened; upload a smaller or the original document"
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"
