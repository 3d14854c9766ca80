"""The city map: a choropleth of the grids and the aggregate statistics behind it (figures per grid, community,
street or district; never a record, a name or any personal data)."""
