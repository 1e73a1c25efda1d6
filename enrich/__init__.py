"""loomline: enrich."""
