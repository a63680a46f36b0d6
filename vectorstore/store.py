"""The report store: chunk vectors for search and a manifest of whole reports, both in Chroma.

Two collections share a prefix:

``{prefix}_chunks``
    One record per chunk: its vector, its verbatim text (the quote a citation shows, never the
    embedded context line) and flat metadata saying exactly where in which report it sits.
``{prefix}_reports``
    The manifest, one record per report: the full text (so the UI can open and highlight a cited
    passage; stored compressed, see ``_pack_text``), the ``ReportMeta`` fields, the current
    version, the section tree and the graded Ofsted judgements as JSON (they switch with the
    version, so they never disagree with the text).
    It is never searched, so each record carries the constant vector ``[1.0]``.
``{prefix}_units``
    One record per unit (a heading, list item or sentence: ``ingest.units``): its vector and
    where it is (report, version, section, offsets, list). Answering scores the units of the
    retrieved passages against the question's vector, so a question costs one embedding.
``{prefix}_state``
    One record, the generation: a fresh token written after every change to the manifest, so
    any process (several app replicas on one server) can tell in one small read whether what it
    cached still holds.

Chroma 1.x falls back to its ONNX embedding function (a model download, which fails offline)
whenever a write or query comes without vectors, even for a collection opened with
``embedding_function=None``. Every call here therefore passes vectors explicitly.

A report is replaced crash-safely: new chunks are written under new ids (ids carry the version),
then the manifest record is switched to the new version, then the old version's chunks are
deleted. A crash leaves at worst unreferenced chunks, which :meth:`ReportStore.repair` removes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import reports_qa.logs  # noqa: F401  (telemetry off before chromadb is imported)

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaAuthError, ChromaError, NotFoundError

from ingest.judgements import EXTRACTOR_VERSION, Judgement
from ingest.metadata import METADATA_VERSION
from ingest.models import ParsedReport, ReportMeta, Section, Unit
from reports_qa.settings import Settings
from vectorstore.repeats import text_key

log = logging.getLogger(__name__)

__all__ = [
    "ModelMismatchError",
    "open_store",
    "ReportNotFoundError",
    "ReportRecord",
    "ReportStore",
    "StoreError",
    "chroma_settings",
    "make_client",
]

SECTION_PATH_SEPARATOR = " › "
MANIFEST_VECTOR = [1.0]
GENERATION_ID = "generation"

# Chunk metadata keys that may be absent because Chroma cannot store None; read back as None.
_OPTIONAL_CHUNK_KEYS = ("council", "meeting", "date", "title", "section_number", "page")
UNITS_VERSION = 2  # bump when ingest.units cuts differently, so stored reports are cut again
SHARED_MIN_WORDS = 8  # a unit this long found word for word in the reports of ...
SHARED_MIN_COUNCILS = 3  # ... this many councils is boilerplate
SEARCH_EF = Settings.model_fields["search_ef"].default  # HNSW candidates per search (REPORTS_QA_SEARCH_EF)


def unit_text_hash(words: str) -> str | None:
    """The words of a unit, case and spacing aside, as a short hash (None for a short unit,
    which may repeat by chance: "None.", "Good")."""
    split = words.lower().split()
    if len(split) < SHARED_MIN_WORDS:
        return None
    return hashlib.sha1(" ".join(split).encode("utf-8")).hexdigest()[:16]
_META_FIELDS = tuple(f.name for f in fields(ReportMeta))


class StoreError(Exception):
    """The store cannot do what was asked; the message says why and what to do."""


class ModelMismatchError(StoreError):
    """The store's vectors come from a different embedding model than the one configured."""


class ReportNotFoundError(StoreError, KeyError):
    """No report with this id is in the manifest."""

    def __str__(self) -> str:  # KeyError would show the repr of its argument
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ReportRecord:
    """What the manifest knows about one stored report (without its text or section tree)."""

    meta: ReportMeta
    sections: int
    chunks: int
    version: str  # the content hash of the text the chunks were cut from
    judgements_version: int = 0  # the extractor that read its judgements; 0: never read
    units: int = 0
    units_version: int = 0  # how its units were cut; 0: stored before units existed
    metadata_version: int = 0  # how its council, kind and dates were read; 0: before they were versioned

    @property
    def judgements_stale(self) -> bool:
        return self.judgements_version != EXTRACTOR_VERSION

    @property
    def units_stale(self) -> bool:
        return self.units_version != UNITS_VERSION

    @property
    def metadata_stale(self) -> bool:
        return self.metadata_version != METADATA_VERSION


def chroma_settings(**extra: Any) -> ChromaSettings:
    """Chroma client settings: no telemetry, and no API that could wipe the whole store."""
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False, **extra)


def make_client(settings: Settings) -> ClientAPI:
    """The one place that decides how to reach Chroma: embedded on disk, or a server.

    With ``REPORTS_QA_CHROMA_URL`` set, every part of reports-qa talks to that server; a server
    that does not answer is a ``StoreError`` naming the URL, not a traceback.
    """
    if settings.chroma_url:
        return _http_client(settings)
    path = Path(settings.chroma_path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings())
    except (ChromaError, OSError) as exc:
        raise _cannot_open(path, exc) from exc


def _cannot_open(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f"cannot open the store at {path} ({_one_line(exc)}): is the folder read-only or the disk full? "
        "Make it writable (or set REPORTS_QA_DATA_DIR to a writable folder) and try again."
    )


def _http_client(settings: Settings) -> ClientAPI:
    url = urlsplit(settings.chroma_url)
    ssl = url.scheme == "https"
    extra: dict[str, Any] = {}
    if settings.chroma_token is not None:
        extra = {
            "chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
            "chroma_client_auth_credentials": settings.chroma_token.get_secret_value(),
            "chroma_auth_token_transport_header": settings.chroma_token_header,
        }
    # Chroma's client waits forever (httpx timeout=None): check the server ourselves with a
    # bounded wait first, then bound every later request on its session.
    _retrying(settings.chroma_url, settings.chroma_retries, lambda: _heartbeat(settings))
    try:
        client = chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if ssl else 8000), ssl=ssl,
            settings=chroma_settings(**extra),
        )
    except Exception as exc:  # the client checks the server on creation
        raise server_error(settings.chroma_url, exc) from exc
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(settings.chroma_timeout_s, connect=min(5.0, settings.chroma_timeout_s))
    else:  # pragma: no cover - a future client that hides its session
        log.warning("cannot bound Chroma request times; a hung server may block requests")
    return client


def _heartbeat(settings: Settings) -> None:
    headers = {}
    if settings.chroma_token is not None:
        token = settings.chroma_token.get_secret_value()
        authorization = settings.chroma_token_header == "Authorization"
        headers[settings.chroma_token_header] = f"Bearer {token}" if authorization else token
    response = httpx.get(f"{settings.chroma_url}/api/v2/heartbeat", headers=headers,
                         timeout=min(5.0, settings.chroma_timeout_s))
    response.raise_for_status()


SERVER_ERRORS = (httpx.TransportError, httpx.HTTPStatusError, ConnectionError, ChromaAuthError)


def _retrying(url: str, retries: int, call: Any) -> Any:
    """``call()``, tried again after 0.5 s, 1 s, 2 s… while the server is unreachable or slow."""
    for attempt in range(retries + 1):
        try:
            return call()
        except (httpx.TransportError, ConnectionError) as exc:
            if attempt == retries:
                raise server_error(url, exc) from exc
            log.warning("Chroma server at %s: %s; retrying (%d of %d)", url, exc, attempt + 1, retries)
            time.sleep(0.5 * 2**attempt)
        except (httpx.HTTPStatusError, ChromaAuthError) as exc:
            raise server_error(url, exc) from exc
    raise AssertionError("unreachable")


def _one_line(exc: BaseException) -> str:
    """An exception's text fit for a one-line message (Chroma's and httpx's span lines)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def server_error(url: str, exc: BaseException) -> StoreError:
    """What to tell a user whose Chroma server failed a request."""
    if isinstance(exc, httpx.HTTPStatusError):
        text = f"HTTP {exc.response.status_code} {exc.response.reason_phrase}"
    else:
        text = _one_line(exc)
    if any(s in text for s in ("401", "403", "Unauthorized", "Forbidden", "Permission")):
        return StoreError(f"The Chroma server at {url} refused our token ({text}). "
                          "Check REPORTS_QA_CHROMA_TOKEN and REPORTS_QA_CHROMA_TOKEN_HEADER.")
    return StoreError(f"Cannot reach the Chroma server at {url} ({text}). Start it (e.g. `chroma run "
                      "--path DIR --host 127.0.0.1 --port 8000`) or unset REPORTS_QA_CHROMA_URL "
                      "to use the embedded store.")


def _server_url(client: ClientAPI) -> str | None:
    cs = client.get_settings()
    if cs.is_persistent or not cs.chroma_server_host or cs.chroma_api_impl != "chromadb.api.fastapi.FastAPI":
        return None
    scheme = "https" if cs.chroma_server_ssl_enabled else "http"
    return f"{scheme}://{cs.chroma_server_host}:{cs.chroma_server_http_port}"


class _ServerCollection:
    """A server collection whose failures say which server and what to do (see ``server_error``).

    A call that cannot connect or times out is retried a few times with backoff (a restart
    takes about a second); then it, like a refused token, becomes a ``StoreError``. The next
    call starts afresh, so a restarted server is used as soon as it is back.
    """

    def __init__(self, collection: Collection, url: str, retries: int) -> None:
        self._collection, self._url, self._retries = collection, url, retries

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr
        # Every call reports-qa makes is safe to repeat (get, query, count, upsert, delete).
        return lambda *args, **kwargs: _retrying(self._url, self._retries, lambda: attr(*args, **kwargs))


@contextlib.contextmanager
def _no_legacy_warning() -> Iterator[None]:
    """A collection whose search ``_set_search_ef`` changed records no embedding function
    ("legacy"), which is right: reports-qa always passes its vectors. Chroma warns of it at each
    reading of the collection's configuration."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "legacy embedding function config", DeprecationWarning)
        yield


def _hnsw(collection: Collection) -> dict[str, Any]:
    with _no_legacy_warning():
        return dict((collection.configuration or {}).get("hnsw") or {})


def _close_client(client: ClientAPI) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


def open_store(settings: Settings) -> tuple[ReportStore, Any]:
    """The store ``settings`` name, with an embedder for the runtime its vectors came from.

    A store's vectors and its questions' vectors must come from one runtime (int8 vectors sit
    about 0.99 cosine from torch's), so the store's record decides, whatever
    ``REPORTS_QA_EMBEDDING_BACKEND`` says; a store without a record was built with torch. Only a
    store with no vectors yet takes the configured runtime, or torch where that cannot be
    prepared here. Switching an existing store is ``reports-qa ingest --rebuild``.
    """
    from vectorstore.embeddings import Embedder, resolve_device, resolve_runtime

    base = Embedder.from_settings(settings, runtime="torch")  # tokenizer and dimension: the same on every runtime
    wanted = resolve_runtime(settings.embedding_backend, resolve_device(settings.embedding_device))
    store = ReportStore.open(settings, model_name=base.name, dimension=base.dimension, runtime=wanted)
    try:
        empty = store.chunk_count() == 0
        runtime = wanted if empty else store.runtime
        embedder = base if runtime == "torch" else Embedder.from_settings(settings, runtime=runtime)
        if embedder.runtime != store.runtime:
            if empty:
                store.record_runtime(embedder.runtime)
            else:  # the store's runtime cannot be prepared here: torch vectors are the nearest
                log.warning("the store at %s was built with the %s runtime, which cannot run here (%s); "
                            "embedding with %s", store.location, store.runtime, embedder.note, embedder.runtime)
        elif settings.embedding_backend not in ("auto", store.runtime):
            log.warning("the store at %s was built with the %s embedding runtime, so it is used, not %s; "
                        "`reports-qa ingest --rebuild` rebuilds the store with %s",
                        store.location, store.runtime, settings.embedding_backend, settings.embedding_backend)
    except BaseException:
        store.close()
        raise
    return store, embedder


def _same_model(a: str, b: str) -> bool:
    """Package names compare as pip does (case, ``-``/``_``); folder paths compare exactly."""

    def norm(name: str) -> str:
        name = name.strip()
        if "/" in name or "\\" in name:
            return name.rstrip("/\\")
        return name.lower().replace("_", "-")

    return norm(a) == norm(b)


def _clean(metadata: dict[str, Any]) -> dict[str, Any]:
    """Chroma rejects None values: leave those keys out (readers restore them as None)."""
    return {k: v for k, v in metadata.items() if v is not None}


def _judgement_fields(judgements: Sequence[Judgement]) -> dict[str, Any]:
    return {
        "judgements_json": json.dumps([j.to_dict() for j in judgements], ensure_ascii=False),
        "judgements_version": EXTRACTOR_VERSION,
    }


# A manifest document holding a compressed report text starts with this; older stores hold the
# text itself, which is read as it is.
_PACKED = "zlib+b85:"


def _pack_text(text: str) -> str:
    """The report text as a manifest document: zlib-compressed, then base85.

    Chroma indexes every document it stores for full-text search (its local store writes the
    trigram index even when a collection's schema turns that search off), and at thousands of
    reports the manifest upsert, carrying the full text, was the largest write cost: 565 ms a
    report at 2,000 reports. Compressed, a text is about 40 % of its characters, and the upsert
    took 24-31 % less time at 200 and 1,000 reports (bench/bench_growth.py, "manifest upsert").
    Nothing searches these documents; ``report_text`` unpacks them.
    """
    return _PACKED + base64.b85encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def _unpack_text(document: str) -> str:
    if not document.startswith(_PACKED):
        return document  # written before texts were packed
    try:
        return zlib.decompress(base64.b85decode(document[len(_PACKED) :])).decode("utf-8")
    except (ValueError, zlib.error, binascii.Error, UnicodeDecodeError):
        return document  # an old, unpacked text that happens to start with the marker


def _ids(collection: Any, where: dict[str, Any]) -> list[str]:
    return list(collection.get(where=where, include=[])["ids"])


def _embeddings(got: dict[str, Any]) -> Any:
    """The embeddings of a ``get`` (Chroma gives a numpy array, or None for no rows)."""
    return got["embeddings"] if got["embeddings"] is not None else []


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class ReportStore:
    """Reports and their chunk vectors in two Chroma collections; see the module docstring."""

    def __init__(self, client: ClientAPI, *, prefix: str, model_name: str, dimension: int, retries: int = 2,
                 runtime: str = "torch", search_ef: int = SEARCH_EF) -> None:
        if dimension < 1:
            raise ValueError("dimension must be positive")
        self.client = client
        self._owns_client = False  # only a store made by open() closes its client
        self.prefix = prefix
        self.model_name = model_name
        self.dimension = int(dimension)
        self.runtime = runtime  # a new store records this; an existing one's record replaces it
        self.location = self._describe_location(client)
        self.server_url = _server_url(client)  # None for an embedded store
        self.retries = retries
        self.search_ef = search_ef
        self._max_batch = max(1, int(client.get_max_batch_size()))
        self._chunks = self._open_chunks()
        self._reports = self._open_collection(f"{prefix}_reports", metadata={"kind": "manifest"})
        self._units = self._open_collection(f"{prefix}_units", metadata=self._vector_metadata(kind="units"))
        self._state = self._open_collection(f"{prefix}_state", metadata={"kind": "state"})
        for collection in (self._chunks, self._units):
            self._set_search_ef(collection)
        self._listing: tuple[str, list[ReportRecord], list[tuple[ReportMeta, Judgement]]] | None = None
        self._by_id: tuple[str, dict[str, ReportRecord]] | None = None

    @classmethod
    def open(cls, settings: Settings, *, model_name: str, dimension: int, runtime: str = "torch") -> ReportStore:
        """The store named by ``settings``; raises ModelMismatchError for another model's store.

        ``runtime`` is recorded if the store is new; ``store.runtime`` is the one it records.
        """
        client = make_client(settings)
        try:
            store = cls(client, prefix=settings.collection, model_name=model_name, dimension=dimension,
                        retries=settings.chroma_retries, runtime=runtime, search_ef=settings.search_ef)
        except (ChromaError, OSError) as exc:  # embedded: a read-only folder fails on first write
            _close_client(client)
            if settings.chroma_url:
                raise server_error(settings.chroma_url, exc) from exc
            raise _cannot_open(Path(settings.chroma_path), exc) from exc
        except BaseException:
            _close_client(client)
            raise
        store._owns_client = True
        return store

    def close(self) -> None:
        """Release the client if this store opened it (Chroma stops a path's system on last close)."""
        if self._owns_client:
            _close_client(self.client)
            self._owns_client = False

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def drop(cls, settings: Settings) -> bool:
        """Delete both collections (for ``--rebuild``); works even when the model would mismatch."""
        client = make_client(settings)
        dropped = False
        try:
            for name in (f"{settings.collection}_{kind}" for kind in ("chunks", "reports", "units", "state")):
                try:
                    client.delete_collection(name)
                    dropped = True
                    log.info("dropped collection %s", name)
                except NotFoundError:
                    pass
        except SERVER_ERRORS as exc:
            raise server_error(settings.chroma_url or str(settings.chroma_path), exc) from exc
        finally:
            _close_client(client)
        return dropped

    # -- opening -------------------------------------------------------------------------------

    @staticmethod
    def _describe_location(client: ClientAPI) -> str:
        try:
            cs = client.get_settings()
        except Exception:  # pragma: no cover - a client without settings
            return "<chroma>"
        if cs.is_persistent and cs.persist_directory:
            return str(cs.persist_directory)
        if cs.chroma_server_host:
            return f"{cs.chroma_server_host}:{cs.chroma_server_http_port}"
        return "<in-memory chroma>"

    def _open_collection(self, name: str, *, metadata: dict[str, Any]) -> Collection:
        """Get an existing collection or create it; never with Chroma's default embedding function."""
        try:
            try:
                with _no_legacy_warning():
                    collection = self.client.get_collection(name, embedding_function=None)
            except NotFoundError:
                # get_or_create, not create: another process may have created it a moment ago
                collection = self.client.get_or_create_collection(
                    name, embedding_function=None, metadata=metadata
                )
            return _ServerCollection(collection, self.server_url, self.retries) if self.server_url else collection
        except SERVER_ERRORS as exc:
            raise server_error(self.server_url or self.location, exc) from exc
        except (ValueError, ChromaError) as exc:  # bad name: [a-zA-Z0-9._-], 3-512 characters
            raise StoreError(
                f"Cannot create Chroma collection {name!r}: {exc}. Check REPORTS_QA_COLLECTION."
            ) from exc

    def _set_search_ef(self, collection: Collection) -> None:
        """Give a collection made before ``search_ef`` was set (or with another value) that many
        HNSW candidates per search; a new one is created with it (``_vector_metadata``).

        A store that cannot be written (read-only) is searched as it is.
        """
        hnsw = _hnsw(collection)
        if int(hnsw.get("ef_search") or 0) == self.search_ef:
            return
        try:
            collection.modify(configuration={"hnsw": {"ef_search": self.search_ef}})
        except (ChromaError, OSError, ValueError) as exc:
            log.info("cannot set the vector search of %s to %d candidates (%s); it keeps %s",
                     collection.name, self.search_ef, exc, hnsw.get("ef_search"))

    def _vector_metadata(self, **metadata: Any) -> dict[str, Any]:
        """A vector collection's metadata at creation: cosine distance, and ``search_ef`` HNSW
        candidates per search (Chroma's default is 100).

        HNSW finds nearest neighbours approximately, and Chroma rebuilds the graph of a
        collection of 100 to 1,000 vectors, at random, each time a process opens it: the sample
        store's 343 chunks gave the same question different 40 nearest chunks from one run to
        the next, and so different answers. With at least as many candidates as vectors the
        search is exhaustive, and beyond that nearly so.
        """
        return {**metadata, "hnsw:space": "cosine", "hnsw:search_ef": self.search_ef}

    def _open_chunks(self) -> Collection:
        # Cosine space and search width via "hnsw:" metadata keys: Chroma 1.5 still honours them,
        # and the `configuration={"hnsw": ...}` alternative records a "legacy" embedding function
        # that Chroma warns of whenever the configuration is read (see `_no_legacy_warning`).
        wanted = self._vector_metadata(embedding_model=self.model_name, dimension=self.dimension,
                                       embedding_runtime=self.runtime)
        collection = self._open_collection(f"{self.prefix}_chunks", metadata=wanted)
        found = collection.metadata or {}
        # Stores from before runtimes were recorded were all built with torch.
        self.runtime = str(found.get("embedding_runtime") or "torch")
        stored_model, stored_dim = found.get("embedding_model"), found.get("dimension")
        if stored_model is None or stored_dim is None:
            raise StoreError(
                f"Collection {collection.name!r} at {self.location} was not created by reports-qa "
                "(it records no embedding model); choose another REPORTS_QA_COLLECTION or "
                "REPORTS_QA_DATA_DIR, or rebuild with `reports-qa ingest --rebuild`."
            )
        if not _same_model(str(stored_model), self.model_name) or int(stored_dim) != self.dimension:
            raise ModelMismatchError(
                f"store at {self.location} was built with model {stored_model} ({stored_dim}-d); "
                f"REPORTS_QA_EMBEDDING_MODEL is {self.model_name} ({self.dimension}-d). "
                f"Use model {stored_model}, choose another REPORTS_QA_DATA_DIR, or rebuild with "
                "`reports-qa ingest --rebuild`."
            )
        space = _hnsw(collection).get("space")
        if space not in (None, "cosine"):
            log.warning("collection %s uses %s distance, not cosine", collection.name, space)
        return collection

    # -- reading the manifest ------------------------------------------------------------------

    @staticmethod
    def _record(metadata: dict[str, Any]) -> ReportRecord:
        meta = ReportMeta(**{name: metadata.get(name) for name in _META_FIELDS})
        if meta.file_type is None:
            meta = ReportMeta(**{**meta.to_dict(), "file_type": "txt"})
        return ReportRecord(
            meta=meta,
            sections=int(metadata.get("section_count", 0)),
            chunks=int(metadata.get("chunk_count", 0)),
            version=str(metadata.get("version", meta.content_hash)),
            judgements_version=int(metadata.get("judgements_version", 0)),
            units=int(metadata.get("unit_count", 0)),
            units_version=int(metadata.get("units_version", 0)),
            metadata_version=int(metadata.get("metadata_version", 0)),
        )

    def _manifest(self, report_id: str, include: list[str]) -> dict[str, Any] | None:
        got = self._reports.get(ids=[report_id], include=include)
        if not got["ids"]:
            return None
        return {key: (got[key][0] if got.get(key) is not None else None) for key in include}

    def get_report(self, report_id: str) -> ReportRecord | None:
        found = self._manifest(report_id, ["metadatas"])
        return self._record(found["metadatas"]) if found else None

    def find_by_path(self, path: str) -> ReportRecord | None:
        """The stored report read from the file at ``path`` (a resolved path), if any."""
        found = self._where({"source_path": path})
        return found[0] if found else None

    def find_by_source(self, source: str) -> list[ReportRecord]:
        """Every stored report whose file had this name (several councils' Ofsted reports may)."""
        return self._where({"source": source})

    def _where(self, where: dict[str, Any]) -> list[ReportRecord]:
        got = self._reports.get(where=where, include=["metadatas"])
        return sorted((self._record(m) for m in got["metadatas"] or []), key=lambda r: r.meta.report_id)

    def find_by_hash(self, content_hash: str) -> ReportRecord | None:
        """The stored report with exactly this text, if any: how ingest spots duplicates."""
        found = self._where({"content_hash": content_hash})
        return found[0] if found else None

    def generation(self) -> str:
        """A token that changes whenever any process adds, replaces or removes a report.

        Readers compare it (one small read) instead of listing the whole manifest on every
        question; that is how several app processes on one server stay in step.
        """
        got = self._state.get(ids=[GENERATION_ID], include=["documents"])
        return (got["documents"] or [""])[0] or ""

    def _bump(self) -> None:
        self._state.upsert(ids=[GENERATION_ID], embeddings=[MANIFEST_VECTOR], documents=[uuid.uuid4().hex])

    def list_reports(self) -> list[ReportRecord]:
        """Every stored report, by council then meeting date (unknowns last), then id.

        Cached until the generation changes: at tens of thousands of reports, listing the
        manifest costs far more than a question.
        """
        return list(self._listed()[1])

    def listed(self, report_id: str) -> ReportRecord | None:
        """One report of ``list_reports`` by id (cached likewise, so a question's many look-ups
        cost one small read)."""
        generation, records, _ = self._listed()
        if self._by_id is None or self._by_id[0] != generation:
            self._by_id = (generation, {r.meta.report_id: r for r in records})
        return self._by_id[1].get(report_id)

    def judgements(self, report_ids: Sequence[str] | None = None) -> list[tuple[ReportMeta, Judgement]]:
        """Every stored judgement with the report it is from, in catalogue order (cached likewise)."""
        rows = self._listed()[2]
        if report_ids is None:
            return list(rows)
        wanted = set(report_ids)
        return [row for row in rows if row[0].report_id in wanted]

    def _listed(self) -> tuple[str, list[ReportRecord], list[tuple[ReportMeta, Judgement]]]:
        generation = self.generation()
        if self._listing is None or self._listing[0] != generation:
            self._listing = (generation, *self._list_reports())
        return self._listing

    def _list_reports(self) -> tuple[list[ReportRecord], list[tuple[ReportMeta, Judgement]]]:
        listed: list[tuple[ReportRecord, list[Judgement]]] = []
        total = self._reports.count()
        for window in _batches(total, self._max_batch):
            got = self._reports.get(
                include=["metadatas"], limit=window.stop - window.start, offset=window.start
            )
            for m in got["metadatas"] or []:
                raw = json.loads(m.get("judgements_json") or "[]")
                listed.append((self._record(m), [Judgement.from_dict(d) for d in raw]))

        def key(item: tuple[ReportRecord, list[Judgement]]) -> tuple:
            m = item[0].meta
            return (m.council is None, (m.council or "").casefold(), m.date is None, m.date or "", m.report_id)

        listed.sort(key=key)
        return [r for r, _ in listed], [(r.meta, j) for r, js in listed for j in js]

    def set_judgements(self, report_id: str, judgements: Sequence[Judgement]) -> None:
        """Store a report's judgements read by a newer extractor; text, chunks and version stay."""
        self.update_manifest(report_id, _judgement_fields(judgements))

    def update_manifest(self, report_id: str, fields: dict[str, Any]) -> None:
        """Change manifest fields of a stored report (its judgements, the path an older store's
        record adopts, its metadata read again); text, chunks and version stay. A field given as
        None is removed."""
        found = self._manifest(report_id, ["metadatas"])
        if not found:
            raise ReportNotFoundError(f"no report {report_id!r} in the store at {self.location}")
        metadata = {**_clean(found["metadatas"]), **fields}  # a None in ``fields`` removes that field
        try:
            self._reports.update(ids=[report_id], metadatas=[metadata])
            self._bump()
        except (ChromaError, OSError) as exc:
            raise self._write_failed(exc) from exc

    def sections(self, report_id: str) -> list[Section]:
        found = self._manifest(report_id, ["metadatas"])
        if not found:
            raise ReportNotFoundError(f"no report {report_id!r} in the store at {self.location}")
        raw = found["metadatas"].get("sections_json") or "[]"
        return [Section.from_dict(d) for d in json.loads(raw)]

    def report_text(self, report_id: str) -> str:
        found = self._manifest(report_id, ["documents"])
        if not found:
            raise ReportNotFoundError(f"no report {report_id!r} in the store at {self.location}")
        return _unpack_text(found["documents"] or "")

    def chunk_count(self) -> int:
        return self._chunks.count()

    def record_runtime(self, runtime: str) -> None:
        """Record the embedding runtime of a store that holds no vectors yet (the one that runs here)."""
        if runtime == self.runtime:
            return
        if self._chunks.count():
            raise StoreError(f"the store at {self.location} holds vectors from the {self.runtime} runtime; "
                             "rebuild it (`reports-qa ingest --rebuild`) to change runtime")
        # Chroma refuses any change to the distance ("hnsw:") keys, even to the same value.
        metadata = {k: v for k, v in (self._chunks.metadata or {}).items() if not k.startswith("hnsw:")}
        try:
            self._chunks.modify(metadata={**metadata, "embedding_runtime": runtime})
        except (ChromaError, OSError) as exc:
            raise self._write_failed(exc) from exc
        self.runtime = runtime

    def all_chunks(self, report_ids: Sequence[str] | None = None) -> list[tuple[dict[str, Any], str]]:
        """Every current chunk (of ``report_ids``, if given) as (metadata, text): what keyword
        search indexes.

        Chunks of a version the manifest no longer names (an interrupted replace) are left out.
        """
        current = {r.meta.report_id: r.version for r in self.list_reports()}
        out: list[tuple[dict[str, Any], str]] = []
        if report_ids is not None:
            pages: Iterator[dict[str, Any]] = (
                self._chunks.get(where={"report_id": {"$in": list(report_ids[w])}}, include=["metadatas", "documents"])
                for w in _batches(len(report_ids), 100)
            )
        else:
            pages = (
                self._chunks.get(include=["metadatas", "documents"], limit=w.stop - w.start, offset=w.start)
                for w in _batches(self._chunks.count(), self._max_batch)
            )
        for got in pages:
            for cid, m, text in zip(got["ids"], got["metadatas"] or [], got["documents"] or []):
                metadata = {key: None for key in _OPTIONAL_CHUNK_KEYS}
                metadata.update(m or {})
                if current.get(metadata.get("report_id")) != metadata.get("version"):
                    continue
                metadata["chunk_id"] = cid
                out.append((metadata, text or ""))
        return out

    # -- writing -------------------------------------------------------------------------------

    def _chunk_metadata(self, report: ParsedReport) -> list[dict[str, Any]]:
        meta = report.meta
        by_id = {s.id: s for s in report.sections}
        out = []
        for chunk in report.chunks:
            section = by_id.get(chunk.section_id)
            if section is None:
                raise StoreError(f"chunk {chunk.chunk_id} names unknown section {chunk.section_id!r}")
            out.append(
                _clean(
                    {
                        "report_id": meta.report_id,
                        "version": meta.content_hash,
                        "source": meta.source,
                        "council": meta.council,
                        "meeting": meta.meeting,
                        "date": meta.date,
                        "title": meta.title,
                        "section_id": section.id,
                        "section_number": section.number,
                        "section_title": section.title,
                        "section_path": SECTION_PATH_SEPARATOR.join(section.path),
                        "section_kind": section.kind,
                        "page": chunk.page if chunk.page is not None else section.page,
                        "start": chunk.start,
                        "end": chunk.end,
                        "index": chunk.index,
                        "token_count": chunk.token_count,
                        "embed_key": text_key(chunk.embed_text),  # what its vector is of: see vectors_of
                    }
                )
            )
        return out

    def _validate(self, report: ParsedReport, embeddings: Sequence[Sequence[float]]) -> None:
        """Refuse a report that would break citations or the index, before anything is written."""
        rid = report.meta.report_id
        if not rid:
            raise StoreError("a report needs a report_id")
        wanted = len(report.chunks) + len(report.units)
        if len(embeddings) != wanted:
            raise StoreError(f"{rid}: {len(report.chunks)} chunks and {len(report.units)} units "
                             f"but {len(embeddings)} embeddings")
        for vector in embeddings:
            if len(vector) != self.dimension:
                raise StoreError(
                    f"{rid}: an embedding has {len(vector)} dimensions; "
                    f"the store holds {self.dimension}-d vectors of {self.model_name}"
                )
        for chunk in report.chunks:
            if chunk.report_id != rid:
                raise StoreError(f"chunk {chunk.chunk_id} belongs to {chunk.report_id!r}, not {rid!r}")
            if report.text[chunk.start : chunk.end] != chunk.text:
                raise StoreError(
                    f"chunk {chunk.chunk_id} is not the report text at {chunk.start}..{chunk.end}"
                )
        for unit in report.units:
            if not 0 <= unit.start < unit.end <= len(report.text):
                raise StoreError(f"{rid}: unit {unit.index} spans {unit.start}..{unit.end}, outside the text")
        ids = [c.chunk_id for c in report.chunks]
        if len(set(ids)) != len(ids):
            raise StoreError(f"{rid}: duplicate chunk ids")

    def put_report(self, report: ParsedReport, embeddings: Sequence[Sequence[float]]) -> None:
        """Add or replace a report; readers see the old version or the new one, never a mix.

        1. write the new chunks (their ids carry the version, so old ones stay untouched);
        2. upsert the manifest record: this switches the report to the new version;
        3. delete the report's chunks of any other version.

        A store that cannot be written (disk full, read-only) is a ``StoreError``; whatever step
        failed, readers still see the old version (or nothing), and the next ingest's
        :meth:`repair` removes chunks written before the failure.
        """
        self._validate(report, embeddings)
        try:
            self._put(report, embeddings)
        except (ChromaError, OSError) as exc:
            raise self._write_failed(exc) from exc

    def _write_failed(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"the store at {self.location} cannot be written ({_one_line(exc)}): is the disk "
            "full or the folder read-only? Nothing half-written is served; free space and ingest again."
        )

    def _put(self, report: ParsedReport, embeddings: Sequence[Sequence[float]]) -> None:
        meta = report.meta
        version = meta.content_hash
        ids = [c.chunk_id for c in report.chunks]
        documents = [c.text for c in report.chunks]
        metadatas = self._chunk_metadata(report)
        vectors = [list(map(float, v)) for v in embeddings]

        for window in _batches(len(ids), self._max_batch):  # 1
            # upsert, not add: re-putting the same version after a crash must not be ignored
            self._chunks.upsert(
                ids=ids[window],
                embeddings=vectors[window],
                documents=documents[window],
                metadatas=metadatas[window],
            )
        self._write_units(meta.report_id, version, meta.council, report.units, vectors[len(ids) :], report.text)

        manifest = _clean(
            {
                **meta.to_dict(),
                "version": version,
                "section_count": len(report.sections),
                "chunk_count": len(report.chunks),
                "sections_json": json.dumps([s.to_dict() for s in report.sections], ensure_ascii=False),
                **_judgement_fields(report.judgements),
                "unit_count": len(report.units),
                "units_version": UNITS_VERSION,
                "metadata_version": METADATA_VERSION,
            }
        )
        self._reports.upsert(  # 2
            ids=[meta.report_id], embeddings=[MANIFEST_VECTOR], documents=[_pack_text(report.text)], metadatas=[manifest]
        )
        self._bump()

        stale = self._chunk_ids(  # 3
            {"$and": [{"report_id": meta.report_id}, {"version": {"$ne": version}}]}
        )
        self._delete_chunks(stale)
        self._delete_stale_units(meta.report_id, version)
        log.info(
            "stored %s (version %s): %d chunks, %d units, %d stale chunks removed",
            meta.report_id, version[:12], len(ids), len(report.units), len(stale),
        )

    # -- units ---------------------------------------------------------------------------------

    @staticmethod
    def _unit_id(report_id: str, version: str, index: int) -> str:
        return f"{report_id}:{version[:12]}:u{UNITS_VERSION}:{index:05d}"

    def _write_units(self, report_id: str, version: str, council: str | None, units: Sequence[Unit],
                     vectors: Sequence[Sequence[float]], text: str) -> None:
        """Write a report's units; a unit whose words stand in several councils' reports is
        marked ``shared`` in all of them (Ofsted's "About Ofsted" page, its description of an
        inspection), so reading never takes boilerplate for what a report found."""
        hashes = [unit_text_hash(u.text_in(text)) for u in units]
        elsewhere = self._shared_elsewhere(report_id, council, {h for h in hashes if h})
        ids = [self._unit_id(report_id, version, u.index) for u in units]
        metadatas = [
            _clean({"report_id": report_id, "version": version, "units_version": UNITS_VERSION, "council": council,
                    "section_id": u.section_id, "kind": u.kind, "index": u.index, "start": u.start, "end": u.end,
                    "list_id": u.list_id, "label": u.label, "text_hash": h, "shared": bool(h and h in elsewhere)})
            for u, h in zip(units, hashes)
        ]
        for window in _batches(len(ids), self._max_batch):
            self._units.upsert(ids=ids[window], embeddings=[list(map(float, v)) for v in vectors[window]],
                               metadatas=metadatas[window])

    def _shared_elsewhere(self, report_id: str, council: str | None, hashes: set[str]) -> set[str]:
        """Which of ``hashes`` stand in the reports of at least ``SHARED_MIN_COUNCILS`` councils
        (this one included); the other reports' units with them are marked shared too. Two
        councils may share words for a reason (one children's trust serving both); every
        council's report saying it is Ofsted's boilerplate."""
        found: set[str] = set()
        ordered = sorted(hashes)
        for window in _batches(len(ordered), 100):
            got = self._units.get(where={"text_hash": {"$in": ordered[window]}}, include=["metadatas"])
            others = [(uid, m) for uid, m in zip(got["ids"], got["metadatas"] or []) if m and m.get("report_id") != report_id]
            councils: dict[str, set[str | None]] = {}
            for _, m in others:
                councils.setdefault(m["text_hash"], {council}).add(m.get("council"))
            common = {h for h, cs in councils.items() if len(cs) >= SHARED_MIN_COUNCILS}
            found |= common
            unmarked = [(uid, {**m, "shared": True}) for uid, m in others if m["text_hash"] in common and not m.get("shared")]
            if unmarked:
                self._units.update(ids=[uid for uid, _ in unmarked], metadatas=[m for _, m in unmarked])
        return found

    def _delete_stale_units(self, report_id: str, version: str) -> None:
        stale = _ids(self._units, {"$and": [
            {"report_id": report_id}, {"$or": [{"version": {"$ne": version}}, {"units_version": {"$ne": UNITS_VERSION}}]}]})
        self._delete(self._units, stale)

    def put_units(self, report_id: str, units: Sequence[Unit], vectors: Sequence[Sequence[float]], text: str) -> None:
        """Store units cut anew for a report already stored (its text and chunks stay), as
        ``put_report`` does: the new units first, then the manifest, then the old ones go."""
        record = self.get_report(report_id)
        if record is None:
            raise ReportNotFoundError(f"no report {report_id!r} in the store at {self.location}")
        if len(vectors) != len(units):
            raise StoreError(f"{report_id}: {len(units)} units but {len(vectors)} embeddings")
        try:
            self._write_units(report_id, record.version, record.meta.council, units, vectors, text)
            self.update_manifest(report_id, {"unit_count": len(units), "units_version": UNITS_VERSION})
            self._delete_stale_units(report_id, record.version)
        except (ChromaError, OSError) as exc:
            raise self._write_failed(exc) from exc

    def query_units(self, embedding: Sequence[float], k: int = 40,
                    report_ids: Sequence[str] | None = None) -> list[tuple[dict[str, Any], float]]:
        """The units nearest ``embedding`` as (metadata, cosine distance), nearest first; units of
        a version the manifest no longer names are left out by the caller.

        Units of an older cut (left only by a re-cut that stopped half-way) are dropped here,
        not by a ``where`` clause: Chroma evaluates a clause over every row it matches, and one
        matching all 65,000 units of the 160-report store took a corpus-wide search from 12 ms
        to 360 ms.
        """
        if not self._units.count():
            return []
        where: dict[str, Any] | None = None
        if report_ids is not None:
            ids = list(report_ids)
            where = {"report_id": ids[0]} if len(ids) == 1 else {"report_id": {"$in": ids}}
        try:
            got = self._units.query(query_embeddings=[list(map(float, embedding))], n_results=k, where=where,
                                    include=["metadatas", "distances"])
        except ChromaError as exc:
            if self.server_url:
                raise
            raise StoreError(f"search of the store at {self.location} failed ({_one_line(exc)}); ask again") from exc
        return [(m, float(d)) for m, d in zip(got["metadatas"][0], got["distances"][0])
                if m and m.get("units_version") == UNITS_VERSION]

    def units(self, report_id: str, version: str) -> list[tuple[Unit, list[float]]]:
        """A stored report's units with their vectors, in report order (empty for a report
        stored before units existed, or whose units were cut differently).

        The cut is checked here, not in the ``where`` clause: a clause matching nearly every
        row costs Chroma far more than it selects (120 ms a report against 52 on the 160-report
        store; see ``query_units``). The version stays in it: it costs nothing, and a read over
        a server while another process deletes the old version's units must not touch them
        (Chroma fails such a read with "Error finding id").
        """
        got = self._units.get(where={"$and": [{"report_id": report_id}, {"version": version}]},
                              include=["metadatas", "embeddings"])
        out = []
        for m, vector in zip(got["metadatas"] or [], _embeddings(got)):
            if m.get("units_version") != UNITS_VERSION:
                continue
            unit = Unit(index=int(m["index"]), section_id=str(m["section_id"]), kind=m["kind"], start=int(m["start"]),
                        end=int(m["end"]), list_id=m.get("list_id"), label=m.get("label"), shared=bool(m.get("shared")))
            out.append((unit, [float(x) for x in vector]))
        out.sort(key=lambda pair: pair[0].index)
        return out

    def vectors_of(self, report_id: str) -> dict[str, list[float]]:
        """The vectors of a report's stored version, by their texts' keys
        (``vectorstore.repeats.text_key``): its chunks' (where stored with their key, as since
        keys were recorded) and its units', of any cut (their words are in its text). Empty
        for a report not stored.

        A vector depends only on its text, so a new version of the report takes these for every
        passage it keeps word for word (``Indexer``) and embeds only what changed.
        """
        try:
            record = self.get_report(report_id)
            if record is None:
                return {}
            where = {"$and": [{"report_id": report_id}, {"version": record.version}]}
            chunks = self._chunks.get(where=where, include=["metadatas", "embeddings"])
            units = self._units.get(where=where, include=["metadatas", "embeddings"])
            text = self.report_text(report_id) if units["ids"] else ""
        except (ChromaError, OSError) as exc:
            raise StoreError(f"could not read {report_id}'s vectors from the store at {self.location} "
                             f"({_one_line(exc)})") from exc
        out: dict[str, list[float]] = {}
        for m, vector in zip(chunks["metadatas"] or [], _embeddings(chunks)):
            if m and m.get("embed_key"):
                out[str(m["embed_key"])] = [float(x) for x in vector]
        for m, vector in zip(units["metadatas"] or [], _embeddings(units)):
            start, end = int(m["start"]), int(m["end"])
            if 0 <= start < end <= len(text):
                out[text_key(" ".join(text[start:end].split()))] = [float(x) for x in vector]  # as Unit.text_in reads it
        return out

    def remove_report(self, report_id: str) -> bool:
        """Delete a report: manifest first (it disappears at once), then its chunks.

        Returns whether the report was in the manifest; stray chunks are removed either way.
        """
        existed = bool(self._reports.get(ids=[report_id], include=[])["ids"])
        try:
            if existed:
                self._reports.delete(ids=[report_id])
                self._bump()
            chunk_ids = self._chunk_ids({"report_id": report_id})
            self._delete_chunks(chunk_ids)
            self._delete(self._units, _ids(self._units, {"report_id": report_id}))
        except (ChromaError, OSError) as exc:
            raise self._write_failed(exc) from exc
        log.info("removed %s: %d chunks", report_id, len(chunk_ids))
        return existed

    def repair(self) -> int:
        """Delete chunks the manifest does not point at (left by a crash); return how many."""
        current: dict[str, str] = {}
        total = self._reports.count()
        for window in _batches(total, self._max_batch):
            got = self._reports.get(
                include=["metadatas"], limit=window.stop - window.start, offset=window.start
            )
            for rid, m in zip(got["ids"], got["metadatas"] or []):
                current[rid] = str(m.get("version"))

        def served(m: dict[str, Any]) -> bool:
            return current.get(str(m.get("report_id"))) == m.get("version")

        orphans = self._not_kept(self._chunks, served)
        self._delete_chunks(orphans)
        stray = self._not_kept(self._units, lambda m: served(m) and m.get("units_version") == UNITS_VERSION)
        self._delete(self._units, stray)
        if orphans or stray:
            log.warning("repair removed %d orphan chunks and %d orphan units", len(orphans), len(stray))
        return len(orphans)

    def _chunk_ids(self, where: dict[str, Any]) -> list[str]:
        return _ids(self._chunks, where)

    def _delete_chunks(self, ids: list[str]) -> None:
        self._delete(self._chunks, ids)

    def _delete(self, collection: Any, ids: list[str]) -> None:
        for window in _batches(len(ids), self._max_batch):
            collection.delete(ids=ids[window])

    def _not_kept(self, collection: Any, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Ids of every record of ``collection`` whose metadata ``keep`` refuses, read in batches."""
        out: list[str] = []
        for window in _batches(collection.count(), self._max_batch):
            got = collection.get(include=["metadatas"], limit=window.stop - window.start, offset=window.start)
            out += [rid for rid, m in zip(got["ids"], got["metadatas"] or []) if not keep(m or {})]
        return out

    # -- searching -----------------------------------------------------------------------------

    def query(
        self, embedding: Sequence[float], k: int = 5, where: dict[str, Any] | None = None
    ) -> list[tuple[dict[str, Any], str, float]]:
        """Nearest chunks as (metadata, text, cosine distance), nearest first.

        A minimal search for tests and the CLI. Metadata gets ``chunk_id`` and has every
        optional key present (None where unknown).
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        if len(embedding) != self.dimension:
            raise StoreError(
                f"query vector has {len(embedding)} dimensions; the store holds {self.dimension}-d "
                f"vectors of {self.model_name}"
            )
        if self._chunks.count() == 0:
            return []
        try:
            got = self._chunks.query(
                query_embeddings=[list(map(float, embedding))],
                n_results=k,
                where=where,
                include=["metadatas", "documents", "distances"],
            )
        except ChromaError as exc:
            if self.server_url:
                raise
            # Measured (tests/test_faults.py): an embedded store being written by another
            # process can fail a search with "Error finding id". Chroma's embedded mode is
            # one process; several processes need a server.
            raise StoreError(
                f"search of the store at {self.location} failed ({_one_line(exc)}); another "
                "process may be writing to it. Ask again, and run a Chroma server (REPORTS_QA_CHROMA_URL) "
                "when several processes share one store."
            ) from exc
        results = []
        for cid, m, text, dist in zip(
            got["ids"][0], got["metadatas"][0], got["documents"][0], got["distances"][0]
        ):
            metadata = {key: None for key in _OPTIONAL_CHUNK_KEYS}
            metadata.update(m or {})
            metadata["chunk_id"] = cid
            results.append((metadata, text or "", float(dist)))
        return results
