"""The training loop: state creation or restore, jitted steps, metrics, validation, checkpoints, preemption."""

from __future__ import annotations

import os
import shutil
import time
from functools import partial

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from gecko_cli.console import log
from gecko_cli.pack.reader import PackedDataset
from gecko_cli.pretrain import data as datalib
from gecko_cli.pretrain import flops, optim
from gecko_cli.pretrain import mesh as meshlib
from gecko_cli.pretrain import state as statelib
from gecko_cli.pretrain import step as steplib
from gecko_cli.pretrain.attention import select_implementation
from gecko_cli.pretrain.checkpoint import Checkpoints
from gecko_cli.pretrain.config import PretrainConfig
from gecko_cli.pretrain.progress import Reporter
from gecko_cli.pretrain.run import PretrainReport, TrainingDiverged, _Preemption, finite
from gecko_cli.pretrain.setup import Plan
from gecko_cli.pretrain.validation import Validator
from gecko_cli.shards import write_json_atomic


class Trainer:
    def __init__(self, cfg: PretrainConfig, plan: Plan, train: PackedDataset, val: PackedDataset | None):
        self.cfg, self.plan, self.train, self.val = cfg, plan, train, val
        self.main = jax.process_index() == 0
        self.mesh = meshlib.make_mesh(plan.sizes)
        self.lr = optim.schedule(cfg.lr, cfg.warmup_steps, cfg.steps, cfg.final_lr_ratio)
        self.tx = optim.adamw(self.lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay,
                              clip_norm=cfg.clip_norm)
        impl = select_implementation(cfg.attention, jax.devices()[0].platform, plan.dtype)
        self.settings = steplib.StepSettings(impl=impl, dtype=plan.dtype, doc_mask=cfg.doc_mask, z_loss=cfg.z_loss,
                                             remat=cfg.remat)
        ckpt_dir = os.path.join(cfg.output, "checkpoints")
        if cfg.overwrite and self.main:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
            for name in ("metrics.jsonl", "config.json"):
                if os.path.exists(os.path.join(cfg.output, name)):
                    os.remove(os.path.join(cfg.output, name))
        self.ckpt = Checkpoints(ckpt_dir, cfg.checkpoint_every, cfg.keep_checkpoints)
        self.batch_sharding = datalib.batch_sharding(self.mesh)
        self.peak, self.peak_source = flops.peak_per_device(jax.devices()[0], plan.dtype, cfg.peak_flops)
        self.flops_per_token = plan.model.flops_per_token(plan.shape.seq_len)
        log.info("attention %s; MFU against %.3g FLOP/s per device (%s); %.3g training FLOPs per token",
                 impl, self.peak, self.peak_source, self.flops_per_token)

    # -- state -------------------------------------------------------------------------------------------
    def _state(self) -> tuple[dict, int]:
        """The state to train from and its step: the newest complete checkpoint, else a fresh initialisation."""
        cfg, model = self.cfg, self.plan.model
        latest = self.ckpt.latest()
        self.graphdef, targets, self.shardings = statelib.abstract_state(model, self.tx, self.mesh, cfg.seed)
        if latest is not None:
            state, meta = self.ckpt.restore(latest, targets)
            log.info("resuming from the checkpoint after step %d", meta["step"])
            return state, int(meta["step"])
        if cfg.init_from:
            from gecko_cli.pretrain.hf import load_params

            state = self._from_params(load_params(cfg.init_from, model, self.shardings["params"]))
            log.info("initialised from %s", cfg.init_from)
            return state, 0
        _, state, _ = statelib.create(model, self.tx, self.mesh, cfg.seed)
        return state, 0

    def _from_params(self, params: dict) -> dict:
        init = jax.jit(lambda p: {"params": p, "opt": self.tx.init(p)}, out_shardings=self.shardings)
        with jax.set_mesh(self.mesh):
            return init(params)

    def _keep_tokenizer(self) -> None:
        """Copy the packed data's tokenizer into run/tokenizer/, so that eval and export need only the run."""
        tok = self.train.manifest.get("tokenizer") or {}
        src = os.path.dirname(tok.get("path") or "")
        dst = os.path.join(self.cfg.output, "tokenizer")
        if not os.path.isfile(os.path.join(src, "tokenizer.json")):
            log.warning("the tokenizer the data was packed with (%s) is gone: the run folder will not hold it",
                        tok.get("path"))
            return
        os.makedirs(dst, exist_ok=True)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if os.path.isfile(os.path.join(src, name)):
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name + ".tmp"))
                os.replace(os.path.join(dst, name + ".tmp"), os.path.join(dst, name))

    def _meta(self, step: int) -> dict:
        return {"step": step, "seed": self.cfg.seed, "data_step": step, "rng": [self.cfg.seed, step],
                "rows_per_step": self.plan.shape.rows}

    # -- steps -------------------------------------------------------------------------------------------
    def _compile(self):
        replicated = NamedSharding(self.mesh, P())
        metrics = {"loss": replicated, "grad_norm": replicated, "tokens": replicated}
        fn = partial(steplib.train_step, self.graphdef, self.tx, self.settings)
        self.step_fn = jax.jit(fn, in_shardings=(self.shardings, self.batch_sharding),
                               out_shardings=(self.shardings, metrics), donate_argnums=0)
        self.validator = Validator(self.graphdef, self.settings, self.mesh, self.shardings["params"],
                                   self.plan.shape.micro_rows)

    def _batch(self, step: int) -> dict:
        return datalib.global_batch(self.train, self.plan.shape, step, self.cfg.seed, self.batch_sharding)

    # -- loop --------------------------------------------------------------------------------------------
    def fit(self, record: dict) -> PretrainReport:
        cfg, shape = self.cfg, self.plan.shape
        state, start = self._state()
        self._compile()
        if self.main:
            write_json_atomic(os.path.join(cfg.output, "config.json"),
                       {**record, "mesh": self.plan.sizes, "attention": self.settings.impl, "dtype": self.plan.dtype,
                        "processes": jax.process_count(), "devices": jax.device_count(),
                        "device_kind": jax.devices()[0].device_kind, "batch_rows": shape.rows,
                        "micro_batch_rows": shape.micro_rows, "config": {**record["settings"], "input": cfg.input,
                                                                         "mesh": cfg.mesh}})
            self._keep_tokenizer()
        report = PretrainReport(output=cfg.output, start_step=start, end_step=start, steps=cfg.steps)
        if start >= cfg.steps:
            log.info("the run is complete: %d of %d steps", start, cfg.steps)
            return report
        reporter = Reporter(cfg.output, start, cfg.steps, cfg.log_every, self.main)
        preempt = _Preemption()
        try:
            self._loop(state, start, reporter, preempt, report)
        finally:
            preempt.restore()
            reporter.close()
        return report

    def _loop(self, state, start: int, reporter: Reporter, preempt, report: PretrainReport) -> None:
        cfg, shape = self.cfg, self.plan.shape
        tokens_per_step = shape.rows * shape.seq_len
        batch, last_saved = self._batch(start), start
        t_last, rates = time.perf_counter(), []
        with jax.set_mesh(self.mesh):
            for s in range(start, cfg.steps):
                state, metrics = self.step_fn(state, batch)
                if s + 1 < cfg.steps:
                    batch = self._batch(s + 1)  # read the next rows while the device works
                m = jax.device_get(metrics)
                now = time.perf_counter()
                dt, t_last = now - t_last, now
                loss, gnorm = float(m["loss"]), float(m["grad_norm"])
                if not finite(loss, gnorm):
                    raise TrainingDiverged(
                        f"the loss became {loss} (gradient norm {gnorm}) at step {s}; the run stopped and its last "
                        f"good checkpoint (step {self.ckpt.latest()}) is untouched",
                        hint="lower --lr, raise --warmup-steps or enable --z-loss, then rerun (it resumes from "
                        "that checkpoint)")
                rate = tokens_per_step / dt
                if s > start:
                    rates.append(rate)  # the first step includes compilation
                mfu = rate * self.flops_per_token / (self.peak * jax.device_count())
                rec = {"step": s, "loss": loss, "lr": float(self.lr(s)), "grad_norm": gnorm,
                       "tokens": int(m["tokens"]), "step_s": dt, "tokens_per_s": rate, "mfu": mfu}
                reporter.step(rec)
                done = s + 1
                if self.ckpt.save(done, state, self._meta(done)):
                    last_saved = done
                report.end_step, report.last_loss = done, loss
                if self.val is not None and cfg.eval_every and done % cfg.eval_every == 0:
                    report.val = self.evaluate(state["params"], done - 1, reporter)
                if preempt.hit:
                    report.stopped = "SIGTERM"
                    log.warning("SIGTERM: saving a checkpoint after step %d and stopping", done)
                    break
        if last_saved != report.end_step:
            self.ckpt.save(report.end_step, state, self._meta(report.end_step), force=True)
        self.ckpt.wait()
        if rates:
            report.tokens_per_s = float(np.median(rates))
            report.mfu = report.tokens_per_s * self.flops_per_token / (self.peak * jax.device_count())

    # -- validation --------------------------------------------------------------------------------------
    def evaluate(self, params, step: int, reporter: Reporter) -> dict:
        """Validation loss and bits per byte, overall and per language, on a fixed sample of val/ rows."""
        out = self.validator.sampled(params, self.val, self.cfg.eval_rows, self.cfg.seed)
        if out is None:
            log.warning("val/ has %d rows, fewer than one batch of %d: validation skipped", self.val.num_rows,
                        self.validator.chunk)
            return {}
        out = {"step": step, "kind": "val", **out}
        reporter.record(out)
        return out

    def close(self) -> None:
        self.ckpt.close()

