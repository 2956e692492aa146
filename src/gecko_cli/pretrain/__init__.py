"""gecko pretrain: a LLaMA decoder trained with JAX on a device mesh (FSDP x tensor parallelism)."""
