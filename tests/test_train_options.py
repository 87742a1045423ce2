"""Facts of TrainConfig's fields that the command line and the resume rule rely on."""

from __future__ import annotations

from hsc_jax.train.config import fields_fixed_on_resume


def test_architecture_choices_agree_with_the_model_code():
    from hsc_jax.models import config as model_config
    from hsc_jax.train import config

    assert config.ARCH_VARIANTS == model_config.ARCH_VARIANTS
    assert config.HEAD_VARIANTS == model_config.HEAD_VARIANTS
    assert config.RECOMPUTE[0] == "auto"
    assert config.RECOMPUTE[1:] == model_config.RECOMPUTE


def test_the_wild_share_default_agrees_with_the_augmentation():
    from hsc_jax.train import augment_wild, config

    assert config.TrainConfig(data_root="x").wild_share == config.WILD_SHARE
    assert config.WILD_SHARE == augment_wild.SPOILT_SHARE


def test_fields_fixed_on_resume():
    assert set(fields_fixed_on_resume()) == {
        "seed",
        "train_resampling",
        "image_size",
        "train_ratio",
        "val_ratio",
        "test_ratio",
        "batch_size",
        "size",
        "base_channels",
        "num_blocks",
        "dropout",
        "arch_variant",
        "head_variant",
        "token_mixer_grid",
        "token_mixer_layers",
        "rgb_to_yuv_to_y",
        "rgb_to_lab",
        "rgb_to_luv",
        "skip_bad_rows",
        "augment",
        "wild_share",
        "soft_labels",
        "teacher",
        "teacher_weight",
        "lr_schedule",
        "mixup",
        "ema_decay",
    }
