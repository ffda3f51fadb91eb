"""The files in a zip someone else made, read into memory with every bound checked: nothing is extracted.

A Teachable Machine download is a zip; a model with TFLite metadata carries its labels in a zip appended to
it. Either may be crafted: a member named ``../../.bashrc`` or ``/etc/passwd`` (refused, though nothing is
written), thousands of members, or a few KB that inflate to gigabytes (each member is inflated only up to
its bound, whatever its header claims).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from piclassify.shared.errors import PiclassifyError

MAX_MEMBERS = 64  # a Teachable Machine zip holds two files, a Model Maker model's one or two
MAX_MEMBER_BYTES = 64 << 20  # the largest model piclassify opens
MAX_TOTAL_BYTES = 128 << 20


class ZipContentError(PiclassifyError):
    """A zip that is not one, or whose members escape its folder, are too many or inflate beyond their bound."""


def zip_members(data: bytes, where: str) -> dict[str, bytes]:
    """Every regular member of the zip in ``data`` (or at the end of it) by its name, inflated within the bounds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ZipContentError(f"{where}: not a readable zip ({' '.join(str(exc).split())[:100]})") from None
    if len(infos) > MAX_MEMBERS:
        raise ZipContentError(f"{where}: {len(infos)} files in the zip, more than {MAX_MEMBERS}; not a model's")
    members: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = _checked_name(info.filename, where)
        if info.is_dir():
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ZipContentError(f"{where}: {name!r} is a symbolic link; a model's zip holds files")
        content = _inflate(archive, info, name, where)
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise ZipContentError(f"{where}: inflates to more than {MAX_TOTAL_BYTES >> 20} MiB; not a model's zip")
        members[name] = content
    return members


def _checked_name(name: str, where: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in name or not name.isprintable() or len(name) > 255:
        raise ZipContentError(f"{where}: the zip names {name[:80]!r}, outside its own folder; refused")
    return name


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, where: str) -> bytes:
    """A member's bytes, read in chunks and stopped at ``MAX_MEMBER_BYTES`` (a header's sizes prove nothing)."""
    content = bytearray()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 20):
                content += chunk
                if len(content) > MAX_MEMBER_BYTES:
                    raise ZipContentError(f"{where}: {name!r} inflates to more than {MAX_MEMBER_BYTES >> 20} MiB; "
                                          "not a model's zip")
    except ZipContentError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ZipContentError(f"{where}: cannot read {name!r} in the zip ({' '.join(str(exc).split())[:100]})") \
            from None
    return bytes(content)
