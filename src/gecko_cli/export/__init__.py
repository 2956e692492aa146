"""gecko export: a trained gecko model as an HF LlamaForCausalLM folder."""
