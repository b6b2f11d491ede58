"""tinymm.optim: optimizers and learning-rate schedules (see optimizer.py)."""
