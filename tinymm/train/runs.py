"""One training run exactly as ``tinymm train`` does it, for sweeps and learning curves.

    model, trainer = fit_like_cli(train_set, val_set, fusion="concat", seed=0)

``fit_like_cli`` builds ``build_model(train_set, fusion, ...)`` after ``tm.manual_seed(seed)``,
trains it with ``TRAIN_DEFAULTS`` (the CLI's epochs, batch size, learning rate, optimizer,
schedule, modality dropout; any key a later round adds is forwarded to whichever of
``Trainer`` or ``build_model`` accepts it) and ends, like ``tinymm train``, with the weights
of the **best validation epoch** (the first epoch with the highest validation accuracy): the
Trainer writes its checkpoints into a temporary folder and restores ``best.npz``.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Mapping

# run options applied between building and training, as `tinymm train` does
BUILD_STEPS = ("fusion_init",)


def _accepted(fn: Callable) -> set[str]:
    return set(inspect.signature(fn).parameters)


def split_options(defaults: Mapping, trainer_options: Mapping | None = None,
                  model_options: Mapping | None = None) -> tuple[dict, dict]:
    """(Trainer kwargs, build_model kwargs) from the CLI defaults and explicit overrides.

    A default goes to the Trainer when its ``__init__`` takes it, else to ``build_model``
    when that takes it (a keyword or an encoder option of ``tinymm.models.factory.DEFAULTS``,
    e.g. ``image_activation``) or is a build step (``fusion_init``, applied to the built
    model); ``seed`` goes to neither: it seeds the generator. Explicit options
    win over defaults; an option neither accepts raises ValueError naming it.
    """
    from ..models import build_model
    from ..models.factory import DEFAULTS
    from .trainer import Trainer

    trainer_keys = _accepted(Trainer.__init__) - {"self", "model", "train_data", "val_data"}
    model_keys = ((_accepted(build_model) - {"dataset", "fusion", "encoder_options"})
                  | set(DEFAULTS) | set(BUILD_STEPS))
    t_opts, m_opts = {}, {}
    for key, value in defaults.items():
        if key == "seed":
            continue
        if key in trainer_keys:
            t_opts[key] = value
        elif key in model_keys:
            m_opts[key] = value
    for key, value in dict(trainer_options or {}).items():
        if key not in trainer_keys:
            raise ValueError(f"fit_like_cli: Trainer has no option {key!r}; it takes "
                             f"{sorted(trainer_keys)}")
        t_opts[key] = value
    m_opts.update(dict(model_options or {}))
    return t_opts, m_opts


def fit_like_cli(train_set, val_set, *, fusion: str, seed: int, epochs: int | None = None,
                 text_encoder: str | None = None, trainer_options: Mapping | None = None,
                 model_options: Mapping | None = None, before_fit: Callable | None = None,
                 reporter=None):
    """Train one model as ``tinymm train`` would; return (model with best-epoch weights, trainer).

    fusion: any name of ``tinymm.models.model_names`` — a fusion method (or alias), "early"
    or "unimodal:<modality>" (built by ``build_named``; a unimodal model trains without
    modality dropout). epochs: default ``TRAIN_DEFAULTS["epochs"]``. trainer_options /
    model_options: extra keyword arguments of ``Trainer`` / the model builder (e.g. a
    collapse remedy).
    before_fit(model): called after the model is built and before training (e.g. to load
    pre-trained encoder weights). reporter: default a quiet one.
    """
    from .. import manual_seed
    from ..cli_parser import DEFAULT_TEXT_ENCODER, TRAIN_DEFAULTS
    from ..models import build_named
    from .balance import balanced_init
    from .progress import Reporter
    from .trainer import Trainer

    t_opts, m_opts = split_options(TRAIN_DEFAULTS, trainer_options, model_options)
    if epochs is not None:
        t_opts["epochs"] = epochs
    steps = {k: m_opts.pop(k) for k in BUILD_STEPS if k in m_opts}
    manual_seed(int(seed))
    model = build_named(train_set, fusion, text_encoder or DEFAULT_TEXT_ENCODER, **m_opts)
    if steps.get("fusion_init", "default") == "balanced":  # as tinymm train's --fusion-init
        balanced_init(model)
    if before_fit is not None:
        before_fit(model)
    with tempfile.TemporaryDirectory(prefix="tinymm-run-") as tmp:
        trainer = Trainer(model, train_set, val_set, out_dir=tmp,
                          reporter=reporter if reporter is not None else Reporter(quiet=True),
                          **t_opts)
        trainer.fit()  # restores best.npz (the best validation epoch) before the folder goes
    return model, trainer
