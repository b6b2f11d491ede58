"""``tinymm.pretrain``: self-supervised pre-training of modality encoders.

    from tinymm.pretrain import pretrain_encoders, info_nce
"""

from .contrastive import ContrastiveAligner, PretrainedEncoders, info_nce, pretrain_encoders

__all__ = ["ContrastiveAligner", "PretrainedEncoders", "info_nce", "pretrain_encoders"]
