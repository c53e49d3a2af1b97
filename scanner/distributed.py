"""Running a scan's units on a Dask cluster (dask.distributed), without a scheduler of our own.

`dask_executor(...)` gives scanner.scan.scan an executor: one task per unit (a run of row groups of
one file, scanner.scan.plan_units), submitted with `Client.map`. A task carries only small values
(the unit, the index path, the options); each worker process opens the index once, memory-mapped
from its path (which must be readable by every worker: a shared file system), compiles the
self-identification automaton once, and keeps both for all its tasks.

Exactly once: a task publishes its shards under their final names by atomic rename and its
completion record last (scanner.scan.scan_unit). A task that Dask runs twice (a retry after a
worker died, or a speculative duplicate) writes the same bytes under the same names, so the output
holds one copy; a task killed halfway leaves no record, and the unit is redone by the retry or by the
next run of the same command. The client writes manifest.json after every task has returned.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

from .errors import InvalidInput
from .storage import is_url

_CONTEXTS: dict = {}


def _context(spec: dict):
    """The worker's ScanContext for this index and these options (made on first use)."""
    import json

    from .index import ReferenceIndex
    from .scan import ScanContext, ScanOptions
    key = json.dumps(spec, sort_keys=True)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        opts = ScanOptions(**spec["options"])
        idx = ReferenceIndex.load(spec["index"], verify=False)
        control = ReferenceIndex.load(spec["control"], verify=False) if spec.get("control") else None
        ctx = ScanContext(idx, opts, control)
        _CONTEXTS.clear()  # one scan at a time per worker: free the previous index
        _CONTEXTS[key] = ctx
    return ctx


def run_unit(spec: dict, unit: dict, out_dir: str) -> dict:
    """The task: scan one unit on this worker."""
    from .scan import Unit, scan_unit
    return scan_unit(_context(spec), Unit(**unit), out_dir)


def spec_for(index_path: str, opts, threads_per_task: int = 1) -> dict:
    """The small, JSON-able description of a scan that every task carries."""
    o = asdict(opts)
    o["detectors"] = list(o["detectors"])
    o["patterns"] = [p if is_url(p) else str(Path(p).resolve()) for p in o["patterns"]]
    o["threads"] = threads_per_task if opts.threads == 0 else opts.threads
    control = o.get("control")
    if control and not is_url(control):
        o["control"] = str(Path(control).resolve())
    index = str(index_path) if is_url(index_path) else str(Path(index_path).resolve())
    return {"index": index, "control": o.get("control"), "options": o}


def connect(scheduler: Optional[str] = None, workers: Optional[int] = None):
    """A dask.distributed Client: to the cluster at `scheduler`, or to a new LocalCluster of `workers`
    single-threaded worker processes. Returns (client, close)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise InvalidInput("--scheduler/--workers need dask.distributed: pip install 'scanner[dask]'") from e
    if scheduler is not None and workers is not None:
        raise InvalidInput("give --scheduler (an existing cluster) or --workers (a local one), not both")
    if scheduler is not None:
        client = Client(scheduler)
        return client, client.close
    if not isinstance(workers, int) or workers < 1:
        raise InvalidInput(f"workers={workers!r}: use a positive number of worker processes")
    # ":0": any free port for the diagnostics server, so two clusters on one machine never collide
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()
    return client, close


def dask_executor(client, index_path: str, opts, retries: int = 3):
    """An executor for scanner.scan.scan that runs every unit as one task on the client's cluster."""
    spec = spec_for(index_path, opts)

    def execute(units: list, out_dir) -> list:
        out = str(out_dir) if is_url(out_dir) else str(Path(out_dir).resolve())
        futures = client.map(run_unit, [spec] * len(units), [asdict(u) for u in units], [out] * len(units),
                             key=[f"scanner-unit-{u.name}-{spec_key(spec)}" for u in units], retries=retries,
                             pure=False)
        return client.gather(futures)
    return execute


def spec_key(spec: dict) -> str:
    import hashlib
    import json
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
