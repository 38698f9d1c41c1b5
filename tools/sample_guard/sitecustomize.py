"""Who reads the bundled sample: on PYTHONPATH with $LLMCLONE_GUARD_PATHS set (files, separated by os.pathsep), every Python
process (a chapter's process, the shell commands and CLI processes its cells start, their children) watches its own opens
with an audit hook (`sys.addaudithook`, event "open": `open`, `Path.read_text`, `os.open`, `io.open_code`) and, when one
opens a watched file (same path after `realpath`, or same device and inode), appends a JSON line to $LLMCLONE_GUARD_LOG:
the file, the process (pid, argv), $LLMCLONE_GUARD_CELL (set by `tools/run_user_path.py` to the notebook cell running) and
the Python stack. With $LLMCLONE_GUARD_MODE=raise the open also fails (PermissionError), so the cell that read it stops.
`tools/run_user_path.py` uses it to check that nothing on a user's path reads llmclone_nb/data/sample_export or sample_chat."""
import os, sys, threading


def _install():
    paths = [p for p in os.environ.get('LLMCLONE_GUARD_PATHS', '').split(os.pathsep) if p]
    if not paths: return
    log, mode = os.environ.get('LLMCLONE_GUARD_LOG'), os.environ.get('LLMCLONE_GUARD_MODE', 'record')
    real, inodes = {os.path.realpath(p) for p in paths}, set()
    for p in paths:
        try: st = os.stat(p); inodes.add((st.st_dev, st.st_ino))
        except OSError: pass
    names = {os.path.basename(p) for p in paths}
    local = threading.local()

    def watched(p):
        if os.path.basename(p) not in names: return False   # cheap first test: opens are many (imports too)
        if os.path.realpath(p) in real: return True
        try: st = os.stat(p)
        except OSError: return False
        return (st.st_dev, st.st_ino) in inodes

    def record(p, event):
        import json, traceback
        stack = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_stack() if f.filename != __file__][-14:]
        row = {'path': os.path.realpath(p), 'event': event, 'pid': os.getpid(), 'argv': sys.argv[:4],
               'cell': os.environ.get('LLMCLONE_GUARD_CELL'), 'stack': stack}
        line = (json.dumps(row, ensure_ascii=False) + '\n').encode()
        if log:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try: os.write(fd, line)
            finally: os.close(fd)
        else: os.write(2, b'llmclone sample guard: ' + line)

    def hook(event, args):
        if event != 'open' or getattr(local, 'busy', False): return
        p = args[0] if args else None
        if p is None or isinstance(p, int): return
        try: p = os.fsdecode(os.fspath(p))
        except TypeError: return
        local.busy = True
        try:
            if not watched(p): return
            record(p, event)
        finally: local.busy = False
        if mode == 'raise':
            raise PermissionError(f"{p}: the bundled sample was read on a user's path (cell {os.environ.get('LLMCLONE_GUARD_CELL')}); "
                                  "tools/run_user_path.py forbids it")

    sys.addaudithook(hook)


_install()
