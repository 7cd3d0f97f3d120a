#!/usr/bin/env bash
# Import speed: `gengxin import` against GDAL's `ogr2ogr` (what GIS offices use to load files),
# on the same real files from ../shared/data into a fresh GeoPackage, in one run. Prints wall time
# per tool and the ratio. Not a test: run by hand on an idle machine.
#
#   cargo build --release -p gengxin && bash bench/import.sh
#
# The work differs, and the ratio should be read with that in mind: Gengxin also validates every
# geometry (OGC rules), maps fields, writes an R-tree, a content hash record and the import record,
# all in one transaction; ogr2ogr copies features and builds its spatial index.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gengxin
data=../shared/data
[ -x "$bin" ] || { echo "build first: cargo build --release -p gengxin" >&2; exit 1; }
command -v ogr2ogr >/dev/null || { echo "needs ogr2ogr (apt-get install gdal-bin)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
run() { # label, gengxin args..., --, ogr2ogr args...
  local label=$1; shift
  local g=() o=()
  while [ "$1" != "--" ]; do g+=("$1"); shift; done; shift
  o=("$@")
  rm -f "$work"/g.gpkg "$work"/o.gpkg
  local t0 t1 t2
  t0=$(now); "$bin" import --store "$work/g.gpkg" "${g[@]}" >/dev/null 2>&1; t1=$(now)
  ogr2ogr -f GPKG "$work/o.gpkg" "${o[@]}" >/dev/null 2>&1; t2=$(now)
  awk -v l="$label" -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { g = b - a; o = c - b; printf "%-42s gengxin %6.2f s   ogr2ogr %6.2f s   ratio %.2f\n", l, g, o, g / o }'
}

echo "first import into a new store includes creating it (schema, 22 tables)"
run "Hangzhou land use, GeoJSON, 8,707 polygons" --layer landuse "$data/china/hangzhou_landuse_osm.geojson" -- "$data/china/hangzhou_landuse_osm.geojson"
# ogr2ogr needs -lco GEOMETRY_NAME: the file has a text column `geom` that clashes with its default.
run "Beijing streets, Shapefile, 331 polygons" --layer streets "$data/china/beijing_streets/beijing.shp" -- "$data/china/beijing_streets/beijing.shp" -lco GEOMETRY_NAME=shape
run "Liechtenstein buildings, OSM PBF, 15,809" --layer buildings "$data/osm/liechtenstein-2021-10.osm.pbf" -- "$data/osm/liechtenstein-2021-10.osm.pbf" multipolygons -where "building IS NOT NULL"
run "Andorra buildings, OSM PBF, 5,019" --layer buildings "$data/osm/andorra-2021-10.osm.pbf" -- "$data/osm/andorra-2021-10.osm.pbf" multipolygons -where "building IS NOT NULL"
