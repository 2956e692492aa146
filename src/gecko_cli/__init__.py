"""gecko: a toolkit for training a bilingual Korean-English-code language model from scratch."""

__version__ = "0.1.0"
