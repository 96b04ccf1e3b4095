"""asr-dist: plan and launch wav2vec2 / XLS-R CTC fine-tuning on whatever GPUs you have.

    import asr_dist
    asr_dist.profile(simulate="8xV100-16GB")
    p = asr_dist.plan(model="xls-r-1b", simulate="8xV100-16GB"); p.to_dict()
    summary = asr_dist.launch(max_steps=100)           # `accelerate launch` as a subprocess
    summary = asr_dist.notebook_launch(max_steps=100)  # from a Jupyter cell (notebook_launcher)
    asr_dist.evaluate(summary["run_dir"], "data/dev.jsonl")
"""
from .errors import RunFailed, UserError

__version__ = "0.1.0"
_API = ("profile", "plan", "launch", "notebook_launch", "evaluate", "demo_data", "data_report")
__all__ = ["UserError", "RunFailed", *_API]


def __getattr__(name):  # keep `import asr_dist` light: torch/transformers load on first use
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
