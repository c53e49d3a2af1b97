"""Where files live: local paths, or any file system fsspec knows (``s3://``, ``gs://``, ``hf://``,
``memory://``, ...), for corpus files, the index and the output directory.

Inputs are read through fsspec file objects (Parquet by pyarrow on top of them). An index at a URL is
downloaded once into a local cache (``$SCANNER_CACHE``, default ``~/.cache/scanner``) named by the
SHA-256 of its manifest, then memory-mapped from there like a local one. An output directory is a
`Store`: every file is written to a local temporary file first and then published under its final
name in one step (a rename on a local disk, after fsync; one upload elsewhere, which object stores
make visible whole or not at all), so readers, resumed runs and retried tasks never see part of a
file. Nothing here is needed for local paths, which keep plain file-system calls.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.parquet as pq


def is_url(path) -> bool:
    """True for a path with a protocol other than file:// (s3://..., memory://...)."""
    s = str(path)
    return "://" in s and not s.startswith("file://")


def _fs(path: str):
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - fsspec comes with dask; a plain install may lack it
        from .errors import InvalidInput
        raise InvalidInput(f"{path}: reading URLs needs fsspec (pip install fsspec, plus s3fs/gcsfs for "
                           f"those stores)") from e
    return fsspec.core.url_to_fs(path)


def open_binary(path):
    """A readable binary file object for a local path or a URL."""
    if is_url(path):
        fs, p = _fs(str(path))
        return fs.open(p, "rb")
    return open(path, "rb")


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file at a local path or a URL."""
    h = hashlib.sha256()
    with open_binary(path) as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def file_size(path) -> int:
    if is_url(path):
        fs, p = _fs(str(path))
        return int(fs.size(p))
    return os.path.getsize(path)


def is_file(path) -> bool:
    if is_url(path):
        fs, p = _fs(str(path))
        return fs.isfile(p)
    return os.path.isfile(path)


def parquet_file(path) -> pq.ParquetFile:
    """A ParquetFile over a local path or a URL (the file object stays open with it)."""
    if is_url(path):
        return pq.ParquetFile(open_binary(path))
    return pq.ParquetFile(path)


def expand_url(spec: str, suffixes: tuple) -> Optional[list]:
    """Files a URL names: itself, the matching files under it (a directory), or a glob's matches; None if
    nothing is there."""
    fs, p = _fs(spec)
    if fs.isdir(p):
        found = [f for f in fs.find(p) if f.lower().endswith(suffixes)]
    elif fs.isfile(p):
        found = [p]
    elif any(c in p for c in "*?["):
        found = [f for f in fs.glob(p) if fs.isfile(f)]
    else:
        return None
    return [fs.unstrip_protocol(f) for f in found]


def cache_dir() -> Path:
    return Path(os.environ.get("SCANNER_CACHE", Path.home() / ".cache" / "scanner"))


def local_index(url: str) -> Path:
    """A local copy of the index directory at url, downloaded once and kept by the SHA-256 of its
    manifest (so a changed index is fetched again and an unchanged one never)."""
    fs, p = _fs(url)
    manifest = fs.cat_file(f"{p.rstrip('/')}/manifest.json")
    dest = cache_dir() / f"index-{hashlib.sha256(manifest).hexdigest()[:32]}"
    if (dest / "manifest.json").is_file():
        return dest
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        for f in fs.ls(p, detail=False):
            name = f.rstrip("/").rsplit("/", 1)[-1]
            if name != "manifest.json" and fs.isfile(f):
                fs.get_file(f, str(tmp / name))
        (tmp / "manifest.json").write_bytes(manifest)  # last: a partial copy has no manifest
        try:
            os.replace(tmp, dest)
        except OSError:  # another process published it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


class Store:
    """An output directory, local or at a URL; paths inside it are relative, with '/'."""

    def __init__(self, root):
        self.root = str(root).rstrip("/") if is_url(root) else str(root)
        self.remote = is_url(root)
        if self.remote:
            self.fs, self.base = _fs(self.root)
            self.base = self.base.rstrip("/")
        else:
            self.fs, self.base = None, self.root

    def __str__(self) -> str:
        return self.root

    def path(self, rel: str = "") -> str:
        """Full path or URL of rel."""
        if not rel:
            return self.root
        return f"{self.root}/{rel}" if self.remote else os.path.join(self.root, rel)

    def _p(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def is_file(self, rel: str) -> bool:
        return self.fs.isfile(self._p(rel)) if self.remote else os.path.isfile(self.path(rel))

    def is_dir(self, rel: str = "") -> bool:
        return self.fs.isdir(self._p(rel)) if self.remote else os.path.isdir(self.path(rel))

    def exists(self, rel: str = "") -> bool:
        return self.fs.exists(self._p(rel)) if self.remote else os.path.exists(self.path(rel))

    def listdir(self, rel: str = "") -> list:
        """Names of the files and directories directly in rel (sorted), [] if it is absent."""
        if not self.is_dir(rel):
            return []
        if self.remote:
            return sorted(f.rstrip("/").rsplit("/", 1)[-1] for f in self.fs.ls(self._p(rel), detail=False))
        return sorted(os.listdir(self.path(rel)))

    def makedirs(self, rel: str = "") -> None:
        if self.remote:
            self.fs.makedirs(self._p(rel), exist_ok=True)
        else:
            os.makedirs(self.path(rel), exist_ok=True)

    def remove(self, rel: str) -> None:
        if self.remote:
            if self.fs.exists(self._p(rel)):
                self.fs.rm(self._p(rel), recursive=True)
        else:
            p = self.path(rel)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)

    def read_bytes(self, rel: str) -> bytes:
        if self.remote:
            return self.fs.cat_file(self._p(rel))
        with open(self.path(rel), "rb") as f:
            return f.read()

    def sha256(self, rel: str) -> str:
        return sha256_file(self.path(rel))

    def temp_for(self, rel: str) -> Path:
        """A fresh local file name to write rel's content to before publish()."""
        name = f".{rel.rsplit('/', 1)[-1]}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if self.remote:
            return Path(tempfile.gettempdir()) / name
        return Path(self.path(rel)).with_name(name)

    def publish(self, tmp: Path, rel: str) -> None:
        """Makes the finished local file tmp the content of rel, in one step."""
        try:
            if self.remote:
                self.fs.put_file(str(tmp), self._p(rel))
                os.unlink(tmp)
            else:
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, self.path(rel))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def write_bytes(self, rel: str, data: bytes) -> str:
        """Publishes data as rel; returns its SHA-256."""
        tmp = self.temp_for(rel)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.publish(tmp, rel)
        return hashlib.sha256(data).hexdigest()

    def write_parquet(self, rel: str, table: pa.Table, **kw) -> str:
        """Publishes table as the Parquet file rel; returns the file's SHA-256."""
        tmp = self.temp_for(rel)
        try:
            pq.write_table(table, tmp, **kw)
            digest = sha256_file(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.publish(tmp, rel)
        return digest

    def read_table(self, rel: str, columns=None) -> pa.Table:
        """A Parquet file, or all the Parquet files of a directory in name order, as one table."""
        if self.remote:
            return pq.read_table(self._p(rel), columns=columns, filesystem=self.fs)
        return pq.read_table(self.path(rel), columns=columns)

    def parquet_rows(self, rel: str) -> int:
        if self.remote:
            with self.fs.open(self._p(rel), "rb") as f:
                return pq.ParquetFile(f).metadata.num_rows
        return pq.ParquetFile(self.path(rel)).metadata.num_rows

    def remove_stale_temps(self, dirs) -> None:
        """Deletes the temporary files a killed writer left (local stores; remote temps are local files)."""
        if self.remote:
            return
        for d in dirs:
            p = Path(self.path(d))
            if p.is_dir():
                for stale in p.glob(".*.tmp-*"):
                    stale.unlink(missing_ok=True)
        for stale in Path(self.root).glob(".*.tmp-*"):
            stale.unlink(missing_ok=True)
