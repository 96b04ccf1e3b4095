"""`asr-dist`: thin Click commands that parse, call the API, and print.

User errors (asr_dist.UserError) become one line on stderr and exit code 2; run failures exit 1.
"""
from __future__ import annotations

import json
import sys

import click

from .. import api
from ..errors import RunFailed, UserError
from .options import build_config, run_options


def _err(text: str) -> None:
    click.echo(text, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="asr-dist")
def cli():
    """Plan and launch wav2vec2 / XLS-R CTC fine-tuning on whatever GPUs you have."""


@cli.command("demo-data")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--num-train", type=click.IntRange(1), default=400, show_default=True)
@click.option("--num-dev", type=click.IntRange(1), default=60, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def demo_data(directory, num_train, num_dev, seed):
    """Write a deterministic speech-like corpus: DIR/wavs/*.wav, DIR/train.jsonl, DIR/dev.jsonl."""
    paths = api.demo_data(directory, num_train=num_train, num_dev=num_dev, seed=seed)
    click.echo(f"wrote {num_train} + {num_dev} utterances: {paths['train']}, {paths['dev']}")


@cli.command()
@click.option("--simulate", default=None, help="hardware that is not here, e.g. 2x8xA100-80GB")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def profile(simulate, as_json):
    """The hardware a run would see: GPUs, CPU cores, RAM, SLURM allocation."""
    inv = api.profile(simulate=simulate)
    click.echo(json.dumps(inv.to_dict(), indent=2) if as_json else inv.render())


@cli.command("data-report")
@click.argument("manifest")
@click.option("--model", default="tiny", show_default=True, help="model whose frame rate decides CTC feasibility")
@click.option("--min-duration", type=float, default=None)
@click.option("--max-duration", type=float, default=None)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def data_report(manifest, model, min_duration, max_duration, as_json):
    """Duration statistics, vocabulary, and every utterance that would be dropped, with the reason."""
    result = api.data_report(manifest, model=model, min_duration=min_duration, max_duration=max_duration)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render())


@cli.command()
@run_options
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON")
def plan(config_file, as_json, **options):
    """Every strategy with its predicted bytes per GPU, whether it fits, and why the chosen one won."""
    cfg = build_config(config_file, options)
    result = api.plan(cfg, say=_err)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render_table())


@cli.command()
@run_options
@click.option("--dry-run", is_flag=True, help="write the configs and print the command; start nothing")
def launch(config_file, dry_run, **options):
    """Profile, plan, write configs, and run the training loop through `accelerate launch`."""
    cfg = build_config(config_file, options)
    info = api.launch(cfg, dry_run=dry_run, say=_err)
    if dry_run:
        click.echo(f"run folder:         {info['run_dir']}")
        click.echo(f"accelerate config:  {info['accelerate_config']}")
        if info["deepspeed_config"]:
            click.echo(f"deepspeed config:   {info['deepspeed_config']}")
        click.echo(info["command"])
        return
    if "machine_rank" in info:
        _err(f"machine {info['machine_rank']}: done; the run summary is in {info['run_dir']}/run_summary.json")
        return
    _print_summary(info)
    sys.exit(info.get("exit_code", 0))


def _print_summary(s: dict) -> None:
    run_dir = s["run_dir"]
    ev = s.get("eval") or {}
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    _err("")
    _err(f"done: {s['steps']} steps, {s['samples_seen']} utterances, {s['audio_seconds_seen'] / 3600:.2f} h of audio "
         f"in {s['wall_seconds']:.0f} s ({s['audio_seconds_per_second']:.0f} audio s/s), "
         f"strategy {s['strategy']} x{s['world_size']}")
    _err(f"dev WER {fmt(ev.get('wer'))}  CER {fmt(ev.get('cer'))}; best WER {fmt(s.get('best_wer'))} at step {s.get('best_step')}")
    if s.get("skipped"):
        _err("skipped utterances: " + ", ".join(f"{k}={v}" for k, v in s["skipped"].items()))
    _err(f"final model:   {run_dir}/  (transformers.pipeline('automatic-speech-recognition', model='{run_dir}'))")
    _err(f"best model:    {run_dir}/checkpoint-best/")
    _err(f"summary:       {run_dir}/run_summary.json   plan: {run_dir}/plan.json")
    _err(f"TensorBoard:   tensorboard --logdir {run_dir}/logs")
    if s.get("exit_code") == 75:
        _err(f"stopped by a signal after a checkpoint; continue with: asr-dist launch --output-dir {run_dir} --resume auto")


@cli.command()
@run_options
def train(config_file, **options):
    """The training loop itself (what `accelerate launch` runs on every rank)."""
    from ..train.entry import exit_rank, train_main

    cfg = build_config(config_file, options)
    exit_rank(train_main(cfg))


@cli.command()
@click.argument("model_dir")
@click.argument("manifest")
@click.option("--max-utterances", type=click.IntRange(1), default=None)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def evaluate(model_dir, manifest, max_utterances, as_json):
    """WER and CER of a saved model folder on a manifest."""
    result = api.evaluate(model_dir, manifest, max_utterances=max_utterances)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"WER {result['wer']:.4f}  CER {result['cer']:.4f}  ({result['utterances']} utterances)")


def main(argv=None, prog_name="asr-dist"):
    try:
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        _err("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        _err(f"error: {exc}")
        sys.exit(2)
    except RunFailed as exc:
        _err(f"error: {exc}")
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
