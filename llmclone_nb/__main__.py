# `python -m llmclone_nb ...` is the `llmclone` command (hand-written: nbdev does not generate __main__).
import sys
from llmclone_nb.cli import main
sys.exit(main())
