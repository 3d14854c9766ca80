"""Geography: districts > streets > communities > grids, their import, lookup and GeoJSON API."""
