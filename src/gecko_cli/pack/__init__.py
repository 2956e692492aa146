"""Tokenizing documents and packing them into fixed-length training rows, and reading them back."""
