#!/usr/bin/env python3
"""Re-encodes the Beijing streets attribute table (../shared/data/china/beijing_streets/beijing.dbf,
UTF-8) as GBK, the way ArcGIS and older Chinese GIS tools write it, for the import tests.

Fixed-width dBase text fields keep their width: GBK needs 2 bytes per Chinese character where
UTF-8 needs 3, so every value fits and is padded with spaces. The language driver byte is left 0
(no declared code page), so only a .cpg file can tell a reader that the text is GBK.
Run: python3 scripts/gbk-dbf.py ../shared/data/china/beijing_streets/beijing.dbf crates/gengxin-io/tests/data/beijing_gbk.dbf
"""
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
fields = []
pos = 32
while data[pos] != 0x0D:
    name = data[pos:pos + 11].rstrip(b"\0").decode("utf-8")
    ftype, width = chr(data[pos + 11]), data[pos + 16]
    fields.append((name, ftype, width))
    pos += 32
# Field names are ASCII-compatible bytes in the header: re-encode them too (ljust to 11).
pos = 32
for name, _, _ in fields:
    data[pos:pos + 11] = name.encode("gbk").ljust(11, b"\0")[:11]
    pos += 32
data[29] = 0
for r in range(n_records):
    off = header_len + r * record_len + 1  # skip the deletion flag
    for name, ftype, width in fields:
        if ftype == "C":
            text = bytes(data[off:off + width]).decode("utf-8").rstrip(" ")
            data[off:off + width] = text.encode("gbk").ljust(width, b" ")
        off += width
open(dst, "wb").write(data)
