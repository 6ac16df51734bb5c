"""Report templates of the demo city (YAML data files; see README.md)."""
