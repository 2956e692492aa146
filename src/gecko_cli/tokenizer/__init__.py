"""Training and measuring the BPE tokenizer: LLaMA layout, byte fallback, single digits."""
