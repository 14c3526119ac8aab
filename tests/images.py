"""Test images, made in memory with Pillow."""

import io
import struct
import zlib

from PIL import Image


def image_bytes(
    width: int = 640,
    height: int = 480,
    *,
    fmt: str = "JPEG",
    mode: str = "RGB",
    color: object = (200, 80, 40),
    **save_options: object,
) -> bytes:
    image = Image.new(mode, (width, height), color)  # type: ignore[arg-type]
    out = io.BytesIO()
    image.save(out, fmt, **save_options)
    return out.getvalue()


def upload(content: bytes, name: str = "bild.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid 1-bit greyscale PNG of width x height, compressed to a few hundred KB."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size (also 0), with no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")
