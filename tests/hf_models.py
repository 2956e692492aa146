"""A small random transformers LlamaForCausalLM and the same weights loaded into gecko, for comparisons."""

from __future__ import annotations

import torch
import transformers

from gecko_cli.pretrain import hf
from gecko_cli.pretrain.mesh import make_mesh
from gecko_cli.pretrain.model_config import ModelConfig
from gecko_cli.pretrain.state import abstract_model, param_shardings


def twin_models(folder, *, max_len: int, seed: int, std: float, kv_heads: int = 2, d_model: int = 64,
                n_heads: int = 4):
    """(transformers model, gecko graphdef, gecko params): vocab 1024, d 64, 2 layers, 4 heads, `kv_heads` key/value
    heads (2: grouped-query attention; 4: plain multi-head attention, which gecko lays out differently). Heads of
    64 (d_model 128, 2 heads) are the size the CPU attention kernel takes (kernels/attention_cpu.py)."""
    cfg = ModelConfig(vocab_size=1024, max_seq_len=max_len, d_model=d_model, n_layers=2, n_heads=n_heads,
                      n_kv_heads=kv_heads, d_ff=128)
    torch.manual_seed(seed)
    ref = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=1024, hidden_size=d_model, intermediate_size=128, num_hidden_layers=2, num_attention_heads=n_heads,
        num_key_value_heads=kv_heads, max_position_embeddings=max_len, rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)).float().eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0.0, std)
    ref.save_pretrained(folder)
    graphdef, abstract = abstract_model(cfg, 0)
    params = hf.load_params(str(folder), cfg, param_shardings(abstract, make_mesh({"data": 1, "fsdp": 1, "tensor": 1})))
    return ref, graphdef, params
