"""Everything a run settles before its first step: processes, packed data, model shape, mesh, batch layout."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from gecko_cli.console import log
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pack.reader import PackedDataset
from gecko_cli.pretrain import mesh as meshlib
from gecko_cli.pretrain.config import PretrainConfig
from gecko_cli.pretrain.data import BatchShape, batch_shape
from gecko_cli.pretrain.model_config import ModelConfig, parse_overrides, resolve


def init_processes(cfg: PretrainConfig) -> None:
    """Join the other processes of a multi-process run (before anything touches the devices).

    Explicit --coordinator/--num-processes/--process-id win; otherwise a cluster environment jax knows (TPU pod
    slice, SLURM, JAX_COORDINATOR_ADDRESS) is detected by jax.distributed.initialize() itself; a plain single
    process does nothing.
    """
    import jax

    if cfg.coordinator or cfg.num_processes or cfg.process_id is not None:
        if not (cfg.coordinator and cfg.num_processes and cfg.process_id is not None):
            raise ConfigError("a multi-process launch needs --coordinator, --num-processes and --process-id together")
        host, _, port = cfg.coordinator.rpartition(":")
        if not (host and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"--coordinator must be host:port (process 0's address and a free port), not "
                              f"{cfg.coordinator!r}", hint="e.g. --coordinator 10.0.0.1:1234")
        if not 0 <= cfg.process_id < cfg.num_processes:
            raise ConfigError(f"--process-id must be within 0..{cfg.num_processes - 1}, not {cfg.process_id}")
        # CPU devices of several processes need a collectives library; it changes nothing on accelerators.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=cfg.coordinator, num_processes=cfg.num_processes,
                                   process_id=cfg.process_id)
    elif _multi_host_env():
        jax.distributed.initialize()


def _multi_host_env() -> bool:
    hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")
    if "," in hosts:
        return True
    if int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return True
    return any(os.environ.get(k) for k in ("JAX_COORDINATOR_ADDRESS", "MEGASCALE_COORDINATOR_ADDRESS"))


def check_run_folder(cfg: PretrainConfig) -> None:
    """Refuse a run folder that is a file, the packed input itself, or another stage's output; a folder holding
    an earlier run (config.json, checkpoints/) is this stage's own and is resumed."""
    from gecko_cli.config import check_apart
    from gecko_cli.stage import check_output_folder

    out = cfg.output
    check_output_folder(out)
    hint = "choose another run folder, e.g. runs/<name>/"
    if os.path.exists(cfg.input):
        check_apart(cfg.input, out, "run folder")
    held = _other_output(out)
    if held:
        raise ConfigError(f"{out} is not empty and is not a gecko pretrain run: it holds {held}", hint=hint)


def _other_output(folder: str) -> str | None:
    """What shows that a folder holds another stage's output (a run writes no manifest, work folder or shards)."""
    import glob
    import json

    from gecko_cli.stage import WORK_DIR

    manifest = os.path.join(folder, "manifest.json")
    if os.path.exists(manifest):
        try:
            with open(manifest, encoding="utf-8") as fh:
                stage = json.load(fh).get("stage")
        except (OSError, ValueError, AttributeError, RecursionError):
            stage = None
        return f"the output of gecko {stage} (manifest.json)" if isinstance(stage, str) else "a manifest.json"
    if os.path.isdir(os.path.join(folder, WORK_DIR)):
        return f"an unfinished output of another gecko stage ({WORK_DIR}/)"
    shards = sorted(glob.glob(os.path.join(glob.escape(folder), "shard-*.arrow")))
    return f"shards ({os.path.basename(shards[0])})" if shards else None


@dataclass(frozen=True)
class Plan:
    model: ModelConfig
    sizes: dict
    shape: BatchShape
    dtype: str
    data_id: dict   # what identifies the packed data (tokenizer, seq_len, vocab): a resumed run must match it


def open_data(cfg: PretrainConfig) -> tuple[PackedDataset, PackedDataset | None]:
    train = PackedDataset(cfg.input, "train", languages=False)  # languages per token: validation only
    splits = train.manifest.get("splits") or {}
    val = PackedDataset(cfg.input, "val") if "val" in splits and cfg.eval_every else None
    return train, val


def data_identity(train: PackedDataset) -> dict:
    m = train.manifest
    tok = m.get("tokenizer") or {}
    return {"packed_fingerprint": m.get("fingerprint"), "tokenizer_fingerprint": tok.get("fingerprint"),
            "seq_len": m["seq_len"], "vocab_size": m["vocab_size"]}


def model_for(cfg: PretrainConfig, train: PackedDataset) -> ModelConfig:
    """The model: preset < --model-arg overrides, with the packed data's vocabulary."""
    overrides = parse_overrides(cfg.model_args)
    vocab = train.manifest["vocab_size"]
    if overrides.get("vocab_size", vocab) != vocab:
        raise ConfigError(f"--model-arg vocab_size={overrides['vocab_size']} differs from the packed data's vocabulary "
                          f"of {vocab}", hint="leave vocab_size out: it is taken from the packed data")
    model = resolve(cfg.model, {**overrides, "vocab_size": vocab})
    if model.max_seq_len < train.seq_len:
        raise ConfigError(f"model {cfg.model} has a context of {model.max_seq_len} tokens, shorter than the packed rows' "
                          f"{train.seq_len}", hint=f"pass --model-arg max_seq_len={train.seq_len}, or pack shorter rows")
    return model


def check_divisible(model: ModelConfig, sizes: dict) -> None:
    """Every sharded dimension must split evenly over its mesh axes."""
    dims = {"d_model (over fsdp)": (model.d_model, sizes["fsdp"]), "n_heads (over tensor)": (model.n_heads, sizes["tensor"]),
            "n_kv_heads (over tensor)": (model.kv_heads, sizes["tensor"]), "d_ff (over tensor)": (model.d_ff, sizes["tensor"]),
            "vocab_size (over tensor)": (model.vocab_size, sizes["tensor"])}
    for name, (dim, n) in dims.items():
        if dim % n:
            raise ConfigError(f"model {name.split()[0]} = {dim} does not split over {n} devices {name.split(' ', 1)[1]}",
                              hint="choose a mesh whose fsdp and tensor sizes divide the model's dimensions")


def plan(cfg: PretrainConfig, train: PackedDataset) -> Plan:
    import jax

    model = model_for(cfg, train)
    sizes = meshlib.resolve_mesh(meshlib.parse_mesh(cfg.mesh), jax.device_count())
    check_divisible(model, sizes)
    shape = batch_shape(cfg.batch_tokens, cfg.micro_batch, train.seq_len, sizes["data"] * sizes["fsdp"],
                        jax.process_count())
    platform = jax.devices()[0].platform
    dtype = cfg.dtype if cfg.dtype != "auto" else ("float32" if platform == "cpu" else "bfloat16")
    devices = jax.devices()
    log.info("mesh %s on %d %s device(s) (%s), %d process(es); model %s: %s parameters; batch %d rows x %d tokens "
             "(%d micro-batch(es) of %d), %s compute", meshlib.describe(sizes), len(devices), platform,
             devices[0].device_kind, jax.process_count(), cfg.model, f"{model.num_params():,}", shape.rows,
             shape.seq_len, shape.accum, shape.micro_rows, dtype)
    return Plan(model=model, sizes=sizes, shape=shape, dtype=dtype, data_id=data_identity(train))


def check_resume(run_dir: str, cfg: PretrainConfig, p: Plan) -> dict:
    """The run record to write in config.json; when one exists with other settings or data, a clear error."""
    import json

    record = {"settings": cfg.fingerprint_settings(), "data": p.data_id, "model": dataclasses.asdict(p.model)}
    path = os.path.join(run_dir, "config.json")
    if os.path.exists(path) and not cfg.overwrite:
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"{path}: unreadable ({e})", hint="pass --overwrite to start afresh") from None
        for part in ("data", "settings", "model"):
            for key, value in record[part].items():
                if (old.get(part) or {}).get(key) != value:
                    what = "packed data" if part == "data" else "settings"
                    raise ConfigError(f"{run_dir} holds a run with other {what}: {key} was "
                                      f"{(old.get(part) or {}).get(key)!r}, now {value!r}",
                                      hint="use another run folder, or pass --overwrite to start this one afresh")
    return record
