"""Tree-sitter parsing on the host, for `search`'s outline and symbol lookup."""
