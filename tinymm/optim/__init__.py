"""tinymm.optim: optimizers and learning-rate schedules (see optimizer.py).

    opt = optim.AdamW(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(10):
        for batch in loader:
            opt.zero_grad()
            loss_fn(model(batch)).backward()
            opt.step()
        sched.step()
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
