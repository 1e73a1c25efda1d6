"""loomline: receiver."""
