"""loomline: dashboards."""
