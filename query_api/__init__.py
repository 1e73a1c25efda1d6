"""loomline: query_api."""
