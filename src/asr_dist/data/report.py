"""`asr-dist data-report`: what a manifest holds and what a run would drop, with reasons."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import RunConfig
from ..runs import load_data
from .filtering import UNK_MAPPED


@dataclass(frozen=True)
class DataReport:
    manifest: str
    stats: dict
    vocab: list[str]
    skipped: dict
    dropped: list[tuple[str, int, str]]

    def to_dict(self) -> dict:
        """Exactly the contract's keys (count, hours, mean, p50, p95, max, vocab, skipped) plus
        `dropped`: every dropped utterance as {"reason", "line", "audio_filepath"}."""
        return {**self.stats, "vocab": self.vocab, "skipped": self.skipped,
                "dropped": [{"reason": r, "line": ln, "audio_filepath": p} for r, ln, p in self.dropped]}

    def render(self) -> str:
        s = self.stats
        lines = [f"{self.manifest}",
                 f"  utterances kept  {s['count']}",
                 f"  hours            {s['hours']:.3f}",
                 f"  duration (s)     mean {s['mean']:.2f}  p50 {s['p50']:.2f}  p95 {s['p95']:.2f}  max {s['max']:.2f}",
                 f"  vocabulary       {len(self.vocab)} characters: {''.join(self.vocab)}"]
        drops = {k: v for k, v in self.skipped.items() if k != UNK_MAPPED}
        if drops:
            lines.append("  dropped          " + ", ".join(f"{k}: {v}" for k, v in sorted(drops.items())))
            lines.extend(f"    line {line}: {reason}  {path}" for reason, line, path in self.dropped)
        else:
            lines.append("  dropped          none")
        if self.skipped.get(UNK_MAPPED):
            lines.append(f"  kept with [UNK]  {self.skipped[UNK_MAPPED]} utterances ({UNK_MAPPED})")
        return "\n".join(lines)


def data_report(manifest: str, model: str = "tiny", min_duration: float | None = None,
                max_duration: float | None = None, *, normalizer=None, drop_oov: bool = False,
                content_checks: bool = True) -> DataReport:
    """The same reading and filtering a run does (runs.load_data), on one manifest of any kind.
    Unlike a run, a manifest where everything is dropped is reported, not an error."""
    cfg = RunConfig(model=model, train_manifest=manifest)
    if min_duration is not None:
        cfg = cfg.replace(min_duration=min_duration)
    if max_duration is not None:
        cfg = cfg.replace(max_duration=max_duration)
    data = load_data(cfg, normalizer=normalizer, drop_oov=drop_oov, content_checks=content_checks,
                     require_kept=False)
    vocab = sorted(c for c in data.vocab if len(c) == 1 and c != "|")
    return DataReport(manifest, data.train.stats(), vocab, dict(data.skipped()), data.train.dropped)
