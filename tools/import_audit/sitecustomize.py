"""Which version-pinned libraries a Python process imported: on PYTHONPATH with $IMPORT_AUDIT_LOG set, every Python
process (pytest and the CLI processes its tests start) appends one line at exit: its argv and the libraries among
`PINNED` it imported. `tools/import_audit.py` uses it to check that the tests left out of the Colab/Kaggle runs
(Makefile's VERSION_TESTS) touch none of the libraries whose versions differ there."""
import atexit, json, os, sys

PINNED = ('transformers', 'peft', 'accelerate', 'datasets', 'tokenizers', 'huggingface_hub', 'fsspec', 'dill', 'multiprocess')  # the pins that differ

def _write():
    log = os.environ.get('IMPORT_AUDIT_LOG')
    if not log: return
    used = sorted(m for m in PINNED if m in sys.modules)
    with open(log, 'a', encoding='utf-8') as f: f.write(json.dumps({'argv': sys.argv[:3], 'imported': used})+'\n')

atexit.register(_write)
