#!/usr/bin/env python3
"""Writes a GeoJSON FeatureCollection of generated building footprints (not real data) of about
SIZE megabytes to standard output: rotated rectangles of 8-40 m with 5-9 vertices around central
Wuhan, with the attributes of Gengxin's `buildings` layer. Deterministic for a seed.

    python3 bench/gen_buildings.py SIZE_MB [SEED] > buildings.geojson
"""
import math
import random
import sys

size = int(float(sys.argv[1]) * 1_000_000)
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
out = sys.stdout
out.write('{"type":"FeatureCollection","features":[\n')
written = 0
n = 0
m_lon = 1 / (111_320 * math.cos(math.radians(30.55)))
m_lat = 1 / 110_540
while written < size:
    n += 1
    cx = 114.0 + rng.random() * 0.8
    cy = 30.3 + rng.random() * 0.5
    w, h = rng.uniform(8, 40), rng.uniform(8, 40)
    a = rng.random() * math.pi
    extra = rng.randint(0, 4)  # points along the edges: 5-9 vertices
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    pts = []
    for i, (x0, y0) in enumerate(corners):
        pts.append((x0, y0))
        if i < extra:
            x1, y1 = corners[(i + 1) % 4]
            pts.append(((x0 + x1) / 2, (y0 + y1) / 2))
    ring = []
    for x, y in pts + pts[:1]:
        rx = x * math.cos(a) - y * math.sin(a)
        ry = x * math.sin(a) + y * math.cos(a)
        ring.append("[%.8f,%.8f]" % (cx + rx * m_lon, cy + ry * m_lat))
    floors = rng.randint(1, 33)
    line = (
        '%s{"type":"Feature","properties":{"name":"生成建筑%d","floors":%d,"height_m":%.1f,'
        '"year_built":%d,"footprint_m2":%.1f,"district_code":"420106"},'
        '"geometry":{"type":"Polygon","coordinates":[[%s]]}}\n'
        % ("," if n > 1 else "", n, floors, floors * 3.1, rng.randint(1950, 2024), w * h, ",".join(ring))
    )
    out.write(line)
    written += len(line.encode())
out.write("]}\n")
