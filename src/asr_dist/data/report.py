"""`asr-dist data-report`: what a manifest holds and what a run would drop, with reasons."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import RunConfig
from ..runs import load_data


@dataclass(frozen=True)
class DataReport:
    manifest: str
    stats: dict
    vocab: list[str]
    skipped: dict
    dropped: list[tuple[str, int, str]]

    def to_dict(self) -> dict:
        return {**self.stats, "vocab": self.vocab, "skipped": self.skipped,
                "dropped": [{"reason": r, "line": ln, "audio_filepath": p} for r, ln, p in self.dropped]}

    def render(self) -> str:
        s = self.stats
        lines = [f"{self.manifest}",
                 f"  utterances kept  {s['count']}",
                 f"  hours            {s['hours']:.3f}",
                 f"  duration (s)     mean {s['mean']:.2f}  p50 {s['p50']:.2f}  p95 {s['p95']:.2f}  max {s['max']:.2f}",
                 f"  vocabulary       {len(self.vocab)} characters: {''.join(self.vocab)}"]
        if self.skipped:
            lines.append("  dropped          " + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())))
            for reason, line, path in self.dropped[:50]:
                lines.append(f"    line {line}: {reason}  {path}")
            if len(self.dropped) > 50:
                lines.append(f"    ... and {len(self.dropped) - 50} more (--json lists all)")
        else:
            lines.append("  dropped          none")
        return "\n".join(lines)


def data_report(manifest: str, model: str = "tiny", min_duration: float | None = None,
                max_duration: float | None = None) -> DataReport:
    cfg = RunConfig(model=model, train_manifest=manifest)
    if min_duration is not None:
        cfg = cfg.replace(min_duration=min_duration)
    if max_duration is not None:
        cfg = cfg.replace(max_duration=max_duration)
    data = load_data(cfg)
    vocab = sorted(c for c in data.vocab if len(c) == 1 and c != "|")
    return DataReport(manifest, data.train.stats(), vocab, dict(data.skipped()), data.train.dropped)
