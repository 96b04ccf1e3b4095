"""`python -m asr_dist.train [RUN OPTIONS]` (what `accelerate launch -m asr_dist.train` runs)."""
from ..cli.main import main

if __name__ == "__main__":
    main(["train", *__import__("sys").argv[1:]], prog_name="asr-dist train")
