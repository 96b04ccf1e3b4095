"""asr-dist: plan and launch wav2vec2 / XLS-R CTC fine-tuning on whatever GPUs you have.

    import asr_dist
    asr_dist.profile(simulate="8xV100-16GB")
    p = asr_dist.plan(model="xls-r-1b", simulate="8xV100-16GB"); p.to_dict()
    summary = asr_dist.launch(max_steps=100)
    asr_dist.evaluate("outputs/run", "data/dev.jsonl")
"""
from .errors import RunFailed, UserError

__version__ = "0.1.0"
__all__ = ["UserError", "RunFailed", "profile", "plan", "launch", "evaluate"]


def __getattr__(name):  # keep `import asr_dist` light: torch/transformers load on first use
    if name in ("profile", "plan", "launch", "evaluate"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
