#!/usr/bin/env python3
"""Writes the reference coordinates that test Gengxin's CRS transformations.

Computed by independent tools: pyproj (PROJ) for the EPSG systems and coord-convert (a widely
used implementation of the published GCJ-02 formula, Krasovsky semi-major axis 6378245 m, and of
BD-09) for the Chinese web-map systems.
Run: pip install pyproj coord-convert && python3 scripts/crs-vectors.py > crates/gengxin-engine/tests/data/crs_vectors.csv
Columns: source CRS, x and y in that CRS, lon and lat in EPSG:4490 (degrees).
"""
import random

import pyproj
from coord_convert import transform as cc

rng = random.Random(20261123)
print("crs,x,y,lon,lat")
# Wuhan and other Chinese cities, plus random points inside China.
places = [(114.3055, 30.5928), (116.4074, 39.9042), (121.4737, 31.2304), (113.2644, 23.1291),
          (104.0665, 30.5723), (126.6424, 45.7567), (87.6168, 43.8256), (91.1322, 29.6604)]
places += [(rng.uniform(80, 132), rng.uniform(20, 50)) for _ in range(12)]

for lon, lat in places:
    # EPSG:4326 -> 4490: PROJ treats the datums as equal (no transformation is registered).
    x, y = pyproj.Transformer.from_crs(4326, 4490, always_xy=True).transform(lon, lat)
    print(f"EPSG:4326,{lon!r},{lat!r},{x!r},{y!r}")
    t = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
    mx, my = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    rlon, rlat = t.transform(mx, my)
    print(f"EPSG:3857,{mx!r},{my!r},{rlon!r},{rlat!r}")
    glon, glat = cc.wgs2gcj(lon, lat)
    print(f"GCJ-02,{glon!r},{glat!r},{lon!r},{lat!r}")
    blon, blat = cc.wgs2bd(lon, lat)
    print(f"BD-09,{blon!r},{blat!r},{lon!r},{lat!r}")

# Every CGCS2000 3-degree Gauss-Kruger zone without zone prefix: EPSG:4534 (75E) ... 4554 (135E).
for epsg in range(4534, 4555):
    cm = 75 + 3 * (epsg - 4534)
    for _ in range(2):
        lon, lat = cm + rng.uniform(-1.5, 1.5), rng.uniform(18, 53)
        e, n = pyproj.Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
        # Round the projected point to the millimetre, as survey data is, and invert that point.
        e, n = round(e, 3), round(n, 3)
        rlon, rlat = pyproj.Transformer.from_crs(epsg, 4490, always_xy=True).transform(e, n)
        print(f"EPSG:{epsg},{e!r},{n!r},{rlon!r},{rlat!r}")
