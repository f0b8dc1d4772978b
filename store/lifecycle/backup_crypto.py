"""The backup file's envelope: authenticated encryption in chunks, so a backup of any size streams.

Layout: ``HLBAK1\\n``, a 4-byte length and a JSON header (key derivation and
its parameters, a random salt and nonce prefix), then frames of
``final flag (1 byte) | length (4) | AES-256-GCM ciphertext``. Frame ``i`` is
sealed with nonce ``prefix || i`` and, as associated data, the header's
SHA-256, ``i`` and the flag: a changed byte anywhere, frames reordered,
dropped or appended, or a file cut short (no final frame) fail to open.

The key comes from ``HELPLINE_BACKUP_PASSPHRASE`` through scrypt, or, without
a passphrase, from ``HELPLINE_SECRET_KEY`` through HKDF: such a backup leaves
the keys out and opens only where the same secret key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
from typing import Any, BinaryIO, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"HLBAK1\n"
CHUNK = 1 << 20
MAX_HEADER = 4096
MAX_FRAME = CHUNK + 16
SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}  # ~32 MiB and a fraction of a second per derivation
SCRYPT_MAX_N = 1 << 20  # a header asking for more is refused, not obeyed


class BackupError(ValueError):
    """The backup cannot be read or trusted; the message says what is wrong."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object, size: int) -> bytes:
    try:
        raw = base64.b64decode(str(text), validate=True)
    except ValueError:
        raise BackupError("the backup's header is damaged") from None
    if len(raw) != size:
        raise BackupError("the backup's header is damaged")
    return raw


def derive(header: dict[str, Any], passphrase: str, secret_keys: Sequence[str]) -> list[bytes]:
    """Candidate keys for the header's derivation (one per secret key in rotation for HKDF)."""
    salt = _unb64(header.get("salt"), 16)
    if header.get("kdf") == "scrypt":
        if not passphrase:
            raise BackupError(
                "this backup is encrypted with a passphrase: set HELPLINE_BACKUP_PASSPHRASE "
                "(or HELPLINE_BACKUP_PASSPHRASE_FILE)"
            )
        n, r, p = (header.get(k) for k in ("n", "r", "p"))
        if (
            not (isinstance(n, int) and isinstance(r, int) and isinstance(p, int))
            or not (2 <= n <= SCRYPT_MAX_N and n & (n - 1) == 0)
            or not (1 <= r <= 32 and 1 <= p <= 16)
        ):
            raise BackupError("the backup's header asks for key derivation parameters out of range")
        return [Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())]
    if header.get("kdf") == "hkdf-secret-key":
        if not secret_keys:
            raise BackupError(
                "this backup was made without a passphrase: it opens only with the same "
                "HELPLINE_SECRET_KEY as the installation that made it"
            )
        return [
            HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"helpline backup v1").derive(k.encode())
            for k in secret_keys
        ]
    raise BackupError(f"unknown key derivation {header.get('kdf')!r}: made by a newer release?")


class SealedWriter:
    """A write-only file object: what is written comes out sealed into ``out``."""

    def __init__(self, out: BinaryIO, passphrase: str, secret_keys: Sequence[str], meta: dict[str, Any]) -> None:
        salt = os.urandom(16)
        if passphrase:
            header = {"kdf": "scrypt", **SCRYPT}
        elif secret_keys:
            header = {"kdf": "hkdf-secret-key"}
        else:
            raise BackupError("no HELPLINE_BACKUP_PASSPHRASE and no HELPLINE_SECRET_KEY to seal the backup with")
        self.prefix = os.urandom(8)
        header.update({"v": 1, "salt": _b64(salt), "nonce": _b64(self.prefix), **meta})
        self.header = json.dumps(header, sort_keys=True).encode()
        self.aead = AESGCM(derive(header, passphrase, secret_keys[:1])[0])
        self.digest = hashlib.sha256(self.header).digest()
        self.out = out
        self.buf = bytearray()
        self.index = 0
        self.written = 0  # plaintext bytes taken, what ``tell`` answers
        out.write(MAGIC + struct.pack(">I", len(self.header)) + self.header)

    def write(self, data: bytes) -> int:
        self.buf += data
        self.written += len(data)
        while len(self.buf) > CHUNK:
            self._frame(bytes(self.buf[:CHUNK]), final=False)
            del self.buf[:CHUNK]
        return len(data)

    def _frame(self, chunk: bytes, final: bool) -> None:
        flag = b"\x01" if final else b"\x00"
        aad = self.digest + struct.pack(">Q", self.index) + flag
        sealed = self.aead.encrypt(self.prefix + struct.pack(">I", self.index), chunk, aad)
        self.out.write(flag + struct.pack(">I", len(sealed)) + sealed)
        self.index += 1

    def close(self) -> None:
        self._frame(bytes(self.buf), final=True)
        self.buf.clear()

    def flush(self) -> None:
        pass

    # tarfile's stream mode ("w|") only writes; the rest of a file object's interface says so plainly.
    def tell(self) -> int:
        return self.written

    def read(self, size: int = -1, /) -> bytes:
        raise io.UnsupportedOperation("SealedWriter is write-only: read a backup with open_frames")

    def seek(self, pos: int, whence: int = 0, /) -> int:
        raise io.UnsupportedOperation("SealedWriter writes a stream: it cannot seek")


def read_header(fh: BinaryIO) -> tuple[dict[str, Any], bytes]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a Helpline backup (no HLBAK1 mark at the start)")
    raw_len = fh.read(4)
    if len(raw_len) != 4:
        raise BackupError("the backup is cut short (in its header)")
    (size,) = struct.unpack(">I", raw_len)
    if size > MAX_HEADER:
        raise BackupError("the backup's header is too large: damaged or not ours")
    raw = fh.read(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise BackupError("the backup's header is damaged") from None
    if not isinstance(header, dict) or header.get("v") != 1:
        raise BackupError("the backup's header is damaged or from a newer release")
    return header, raw


def open_frames(fh: BinaryIO, passphrase: str, secret_keys: Sequence[str]) -> tuple[dict[str, Any], Iterator[bytes]]:
    """(header, plaintext chunks); each chunk is authenticated before it is handed out."""
    header, raw = read_header(fh)
    prefix = _unb64(header.get("nonce"), 8)
    digest = hashlib.sha256(raw).digest()
    candidates = derive(header, passphrase, secret_keys)

    def frames() -> Iterator[bytes]:
        aead: AESGCM | None = None
        index = 0
        while True:
            head = fh.read(5)
            if len(head) < 5:
                raise BackupError("the backup is cut short (truncated): its last part is missing")
            flag, size = head[:1], struct.unpack(">I", head[1:])[0]
            if flag not in (b"\x00", b"\x01") or size > MAX_FRAME:
                raise BackupError(f"the backup is damaged at part {index}")
            sealed = fh.read(size)
            if len(sealed) != size:
                raise BackupError("the backup is cut short (truncated): its last part is missing")
            aad = digest + struct.pack(">Q", index) + flag
            nonce = prefix + struct.pack(">I", index)
            plain = None
            for key in [aead] if aead else [AESGCM(k) for k in candidates]:
                try:
                    plain = key.decrypt(nonce, sealed, aad)
                    aead = key
                    break
                except InvalidTag:
                    continue
            if plain is None:
                if index == 0:
                    raise BackupError("the backup cannot be opened: wrong passphrase or secret key, or it was altered")
                raise BackupError(f"the backup was altered or damaged (part {index} fails its check)")
            yield plain
            index += 1
            if flag == b"\x01":
                if fh.read(1):
                    raise BackupError("the backup has data after its end: altered")
                return

    return header, frames()
