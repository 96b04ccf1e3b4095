"""Plan -> Accelerate config dict and DeepSpeed config dict (pure); names for the written files."""
from .accelerate_yaml import accelerate_config, config_name
from .deepspeed_json import deepspeed_config

__all__ = ["accelerate_config", "config_name", "deepspeed_config"]
