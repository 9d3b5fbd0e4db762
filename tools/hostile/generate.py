#!/usr/bin/env python3
"""Writes a corpus of hostile files (and a few good ones) for docpipe's sandbox tests.

Python 3 standard library only. Usage: generate.py <output-dir>
Each file name says its class; .expected.tsv (a dot file, so `docpipe process <dir>` skips it) lists what docpipe must make of each (status, reason_code,
warning code). Nothing here is copied from elsewhere: every file is built byte by byte below.
"""
import hashlib
import os
import struct
import sys
import zlib


# ---------------------------------------------------------------- PDF
def pdf(objects, trailer_extra=b"", header=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"):
    """objects: list of bytes bodies for objects 1..n. Returns a PDF with a correct xref table."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


def stream(data, extra=b""):
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_content(lines):
    ops = [b"BT /F1 24 Tf 72 720 Td"]
    for line in lines:
        ops.append(b"(" + line.encode("latin-1") + b") Tj 0 -32 Td")
    ops.append(b"ET 0 0 1 RG 4 w 72 100 m 540 600 l S")
    return b"\n".join(ops)


def simple_pdf(lines, page_extra=b"", contents=None, extra_objects=()):
    content = text_content(lines)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents "
        + (contents or b"4 0 R") + b" " + page_extra + b" >>",
        stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objs.extend(extra_objects)
    return pdf(objs)


def deep_nesting_pdf(depth=200000):
    # A page dictionary entry nested `depth` arrays deep: recursive-descent parsers overflow their stack.
    nested = b"[" * depth + b"]" * depth
    return simple_pdf(["Deeply nested object graph"], page_extra=b"/PieceInfo " + nested)


def cyclic_pdf():
    # Two form XObjects that draw each other, and a page tree node that is its own kid.
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> /XObject << /A 6 0 R >> >> /Contents 4 0 R >>",
        stream(text_content(["Cyclic form XObjects"]) + b"\n/A Do"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(b"/B Do", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /B 7 0 R >> >> "),
        stream(b"/A Do", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /A 6 0 R >> >> "),
        b"<< /Type /Pages /Kids [8 0 R] /Count 1 /Parent 8 0 R >>",
    ]
    return pdf(objs)


def bomb_pdf(megabytes):
    # A content stream that inflates to `megabytes` MiB of spaces (1 MiB of input per ~1 GiB), before the real content.
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(megabytes)]
    parts.append(comp.flush())
    bomb = b"".join(parts)
    return simple_pdf(["PDF decompression bomb"], contents=b"[6 0 R 4 0 R]",
                      extra_objects=[stream(bomb, b"/Filter /FlateDecode ")])


# Standard security handler, revision 2 (RC4 40-bit), empty user password: readers open it silently.
PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def encrypted_pdf():
    file_id = hashlib.md5(b"docpipe hostile corpus").digest()
    owner_key = hashlib.md5(PAD).digest()[:5]  # owner password empty too
    o_entry = rc4(owner_key, PAD)
    perms = -4
    key = hashlib.md5(PAD + o_entry + struct.pack("<i", perms) + file_id).digest()[:5]
    u_entry = rc4(key, PAD)

    def obj_key(num):
        return hashlib.md5(key + struct.pack("<i", num)[:3] + b"\x00\x00").digest()[:10]

    content = rc4(obj_key(4), text_content(["Encrypted with an empty user password"]))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + o_entry.hex().encode() + b"> /U <" + u_entry.hex().encode()
        + b"> /P " + str(perms).encode() + b" >>",
    ]
    hexid = file_id.hex().encode()
    return pdf(objs, trailer_extra=b"/Encrypt 6 0 R /ID [<" + hexid + b"> <" + hexid + b">] ")


# ---------------------------------------------------------------- PNG / TIFF
def png(width, height, rows=None, color_type=2):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    if rows is None:
        raw = b"".join(b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(width * 3)) for y in range(height))
    else:
        raw = rows
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def png_dimension_bomb():
    # Header claims 200,000 × 200,000 RGB (120 GB decoded); the data is a few bytes.
    return png(200000, 200000, rows=b"\x00" * 1024)


def tiff_dimension_bomb():
    # Little-endian TIFF, 100,000 × 100,000, 8-bit RGB, one strip of 3 bytes.
    entries = [
        (256, 4, 1, 100000),  # ImageWidth LONG
        (257, 4, 1, 100000),  # ImageLength
        (258, 3, 1, 8),       # BitsPerSample
        (259, 3, 1, 1),       # Compression none
        (262, 3, 1, 1),       # Photometric BlackIsZero
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets
        (277, 3, 1, 1),       # SamplesPerPixel
        (278, 4, 1, 100000),  # RowsPerStrip
        (279, 4, 1, 3),       # StripByteCounts
    ]
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count)
        out += struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
    out += struct.pack("<I", 0) + b"\x80\x80\x80"
    return bytes(out)


# ---------------------------------------------------------------- DICOM
def element(group, elem, vr, value):
    if isinstance(value, str):
        value = value.encode("ascii")
        if len(value) % 2:
            value += b"\x00" if vr == b"UI" else b" "
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH", group, elem) + vr + b"\x00\x00" + struct.pack("<I", len(value)) + value
    return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value


def dicom(extra, rows=64, cols=64, frames=None, instance="1.2.826.0.1.3680043.10.1146.1"):
    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta_body = (element(0x0002, 0x0001, b"OB", b"\x00\x01")
                 + element(0x0002, 0x0002, b"UI", sop_class)
                 + element(0x0002, 0x0003, b"UI", instance)
                 + element(0x0002, 0x0010, b"UI", "1.2.840.10008.1.2.1")
                 + element(0x0002, 0x0012, b"UI", "1.2.826.0.1.3680043.10.1146"))
    meta = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    pixels = bytes((x * 4 + y * 2) % 256 for y in range(rows) for x in range(cols))
    ds = (element(0x0008, 0x0016, b"UI", sop_class)
          + element(0x0008, 0x0018, b"UI", instance)
          + element(0x0008, 0x0060, b"CS", "DX")
          + element(0x0020, 0x000D, b"UI", "1.2.826.0.1.3680043.10.1146.2")
          + element(0x0020, 0x000E, b"UI", "1.2.826.0.1.3680043.10.1146.3")
          + element(0x0028, 0x0002, b"US", struct.pack("<H", 1))
          + element(0x0028, 0x0004, b"CS", "MONOCHROME2")
          + (element(0x0028, 0x0008, b"IS", str(frames)) if frames else b"")
          + extra
          + element(0x0028, 0x0010, b"US", struct.pack("<H", rows))
          + element(0x0028, 0x0011, b"US", struct.pack("<H", cols))
          + element(0x0028, 0x0100, b"US", struct.pack("<H", 8))
          + element(0x0028, 0x0101, b"US", struct.pack("<H", 8))
          + element(0x0028, 0x0102, b"US", struct.pack("<H", 7))
          + element(0x0028, 0x0103, b"US", struct.pack("<H", 0))
          + element(0x7FE0, 0x0010, b"OB", pixels))
    return b"\x00" * 128 + b"DICM" + meta + ds


def gdcm_abort_dicom():
    # Frame Increment Pointer (0028,0009) → Frame Time without Number of Frames (reported to abort GDCM).
    return dicom(element(0x0028, 0x0009, b"AT", struct.pack("<HH", 0x0018, 0x1063)), instance="1.2.826.0.1.3680043.10.1146.9")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "hostile"
    os.makedirs(out, exist_ok=True)
    good_pdf = simple_pdf(["Good PDF page", "Quarterly revenue 1 2 3"])
    files = {
        # name: (bytes, status, reason_code or warning code or "-")
        "good.pdf": (good_pdf, "done", "-"),
        "good.png": (png(300, 200), "done", "-"),
        "good.dcm": (dicom(b""), "done", "-"),
        # The header the issue names; Debian 12's GDCM 3.0.21 reads this variant without aborting, so it must end done.
        "fip_without_frames.dcm": (gdcm_abort_dicom(), "done", "-"),
        "deep_nesting.pdf": (deep_nesting_pdf(), "done", "-"),
        # PdfPig recursed through the cycle until its stack overflowed (SIGABRT); poppler's pdftotext, which now reads
        # the text layer, and both renderers stop at the cycle and read the page.
        "cyclic.pdf": (cyclic_pdf(), "done", "-"),
        # Inflates to 1.5 GiB of content. pdftotext and the renderers stream the content (each in its own child under
        # prlimit) and read the page; none of that memory is the host's.
        "bomb.pdf": (bomb_pdf(1536), "done", "-"),
        "junk_before_header.pdf": (os.urandom(0) + b"junk " * 100 + b"\n" + good_pdf.replace(b"Good PDF page", b"Junk before the header"), "done", "-"),
        "encrypted_empty_password.pdf": (encrypted_pdf(), "done", "-"),
        "png_dimension_bomb.png": (png_dimension_bomb(), "failed", "too_large"),
        "tiff_dimension_bomb.tif": (tiff_dimension_bomb(), "failed", "too_large"),
        "truncated.png": (png(300, 200)[:400], "failed", "image_unreadable"),
        "truncated.dcm": (dicom(b"", rows=256, cols=256, instance="1.2.826.0.1.3680043.10.1146.7")[:3000], "failed", "dicom_corrupt"),
        "zero_bytes.pdf": (b"", "failed", "truncated"),
    }
    with open(os.path.join(out, ".expected.tsv"), "w") as f:
        f.write("file\tstatus\tcode\n")
        for name, (data, status, code) in files.items():
            with open(os.path.join(out, name), "wb") as g:
                g.write(data)
            f.write(f"{name}\t{status}\t{code}\n")


if __name__ == "__main__":
    main()
