"""`gecko pretrain` end to end: set up, create or restore the state, train, validate, checkpoint."""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass, field

from gecko_cli.errors import GeckoError
from gecko_cli.pretrain.config import PretrainConfig


class TrainingDiverged(GeckoError):
    """The loss or gradient became NaN or infinite."""


@dataclass
class PretrainReport:
    output: str
    start_step: int
    end_step: int
    steps: int
    last_loss: float | None = None
    stopped: str | None = None           # "SIGTERM" when preempted
    val: dict = field(default_factory=dict)
    tokens_per_s: float = 0.0
    mfu: float = 0.0


class _Preemption:
    """Turns SIGTERM into a flag the loop checks between steps (then it checkpoints and stops)."""

    def __init__(self):
        self.hit = False
        self._old = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.hit = True

    def restore(self):
        signal.signal(signal.SIGTERM, self._old)


def run(cfg: PretrainConfig) -> PretrainReport:
    """Train (or resume) the run in cfg.output; returns where it ended and its last figures."""
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
        import orbax.checkpoint  # noqa: F401
        from flax import nnx  # noqa: F401
    except ImportError as e:
        from gecko_cli.errors import DependencyError

        raise DependencyError(f"gecko pretrain needs jax, flax, optax and orbax-checkpoint ({e.name} is missing)",
                              hint="install them: pip install 'gecko-cli[train]'") from None
    from gecko_cli.pretrain import setup
    from gecko_cli.stage import make_output_folder

    setup.check_run_folder(cfg)
    setup.init_processes(cfg)
    train, val = setup.open_data(cfg)
    plan = setup.plan(cfg, train)
    make_output_folder(cfg.output)
    record = setup.check_resume(cfg.output, cfg, plan)
    from gecko_cli.pretrain.trainer import Trainer

    trainer = Trainer(cfg, plan, train, val)
    try:
        return trainer.fit(record)
    finally:
        trainer.close()


def finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)

