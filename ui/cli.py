"""``reports-qa``: the command line. Thin: each command calls the same library API as the app."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from reports_qa import logs
from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
from ui.terminal import plain, rich_text
from vectorstore.progress import ProgressCount

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.embedding_model:
        overrides["embedding_model"] = args.embedding_model
    if args.embedding_backend:
        overrides["embedding_backend"] = args.embedding_backend
    for name in ("parse_workers", "torch_threads"):  # ingest's own flags
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    return Settings(**overrides)


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


# --- ingest -------------------------------------------------------------------------------------


class _Bar(ProgressCount):
    """One bar across all files with a time estimate: a file counts whole once done, and by
    its passages embedded while it embeds (unchanged files go by at once; the estimate follows
    the recent pace)."""

    def __init__(self, progress) -> None:
        super().__init__()
        self.progress = progress
        self.task = progress.add_task("", total=None, files="", detail="")

    def file_started(self, source: str, index: int, total: int) -> None:
        super().file_started(source, index, total)
        self._show(source)

    def chunks_planned(self, source: str, n: int) -> None:
        super().chunks_planned(source, n)
        self._show(source)

    def chunks_embedded(self, n: int) -> None:
        super().chunks_embedded(n)
        self._show()

    def file_done(self, result) -> None:
        super().file_done(result)
        self._show()

    def _show(self, source: str | None = None) -> None:
        detail = f"embedding {self.embedded}/{self.planned} passages" if self.planned else ""
        fields = {"files": f"{self.done}/{self.total} files", "detail": detail}
        if source is not None:
            fields["description"] = source  # shown as text: the column has markup off
        self.progress.update(self.task, total=self.total, completed=self.fraction, **fields)


def _ingest_progress(console, disable: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Column

    name = Column(width=36, no_wrap=True, overflow="ellipsis")
    return Progress(
        TextColumn("{task.description}", markup=False, table_column=name), BarColumn(),
        TextColumn("{task.fields[files]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}", markup=False),
        console=console, transient=True, disable=disable,
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vectorstore.indexer import Indexer
    from vectorstore.lock import store_lock
    from vectorstore.store import ReportStore

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [SAMPLE_REPORTS_DIR]
    console = Console(stderr=True)
    with store_lock(settings, "ingest"):  # before the model loads: a second ingest is refused at once
        if args.rebuild:
            ReportStore.drop(settings)
        with console.status("Loading the embedding model…"):
            indexer = Indexer.from_settings(settings)
        with indexer.store, _ingest_progress(console, disable=args.json) as progress:
            results = indexer.ingest_paths(paths, _Bar(progress), prune=args.prune)
    _print_results(results, args, f"Ingested into {settings.chroma_path}")
    failed = [r for r in results if not r.ok]
    return EXIT_FAILED if failed or not results else EXIT_OK


STATUSES = ("ingested", "replaced", "unchanged", "duplicate", "pruned", "failed")


def _print_results(results, args: argparse.Namespace, title: str, empty: str = "no report files found") -> None:
    """The per-file results as a table and a count of each status, or ``--json``: one object per file."""
    from rich.console import Console
    from rich.table import Table

    if args.json:
        _print_json([r.to_dict() for r in results])
        return
    table = Table(title=title)
    for col in ("file", "status", "sections", "chunks", "seconds", "reason"):
        table.add_column(col, overflow="fold")
    style = {"failed": "red", "unchanged": "dim", "duplicate": "yellow", "pruned": "magenta"}
    for r in results:  # the report id is the file name's stem; `reports` lists it
        # File names and reasons are the user's text: rich_text keeps "[/]" and escapes in them inert.
        table.add_row(rich_text(r.source), f"[{style.get(r.status, 'green')}]{r.status}",
                      str(r.sections or ""), str(r.chunks or ""), f"{r.seconds:.1f}", rich_text(r.message))
    if results:
        Console().print(table)
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    Console().print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or empty)


def cmd_prune(args: argparse.Namespace) -> int:
    from vectorstore.indexer import prune_reports

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:  # a folder that is not there (a share not mounted, a typo) must not empty the store
        print(plain(f"error: no such file or folder: {', '.join(missing)}; nothing pruned"), file=sys.stderr)
        return EXIT_FAILED
    settings = _settings(args)
    with _open_store(args) as store:
        results = prune_reports(store, settings, [Path(p) for p in args.paths] or None, dry_run=args.dry_run)
    title = "Would prune (dry run)" if args.dry_run else "Pruned"
    _print_results(results, args, title, empty="nothing to prune: every report's file is there")
    return EXIT_OK


# --- reports, sections, remove ------------------------------------------------------------------


def _open_store(args: argparse.Namespace):
    from vectorstore.indexer import Indexer

    return Indexer.from_settings(_settings(args)).store


_DATE_KINDS = {"meeting": "meeting", "published": "published", "published (file name)": "published (file name)",
               "inspection end": "inspection ended"}
TITLE_WIDTH = 70  # characters of a title the reports table shows; --json has it whole


def dated(meta) -> str:
    """A report's date with what it is: "meeting 2020-10-21", "published 2025-05-09"."""
    if not meta.date:
        return ""
    kind = _DATE_KINDS.get(meta.date_kind or "", meta.date_kind or "")
    return f"{kind} {meta.date}".strip()


def inspected(meta) -> str:
    """An Ofsted report's inspection days ("2025-03-17 to 2025-03-21"); empty for a committee report."""
    if not meta.inspection_start:
        return ""
    if meta.inspection_end and meta.inspection_end != meta.inspection_start:
        return f"{meta.inspection_start} to {meta.inspection_end}"
    return meta.inspection_start


def describe(meta) -> str:
    """One line saying which report this is, for headings: council, what kind, when, title."""
    what = [meta.meeting or meta.kind or "", dated(meta)]
    if inspected(meta):
        what.append(f"inspected {inspected(meta)}")
    head = ", ".join(w for w in what if w)
    return f"{meta.council or meta.source} — {head}: {meta.title or meta.source}"


def cmd_reports(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    with _open_store(args) as store:
        records = store.list_reports()
    rows = [
        {**r.meta.to_dict(), "sections": r.sections, "chunks": r.chunks}
        for r in records
    ]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    table = Table(title=f"{len(rows)} reports", show_lines=True)
    for col in ("report id", "council", "title", "kind / meeting", "date", "inspected", "sections", "chunks"):
        table.add_column(col, overflow="fold")
    for r, record in zip(rows, records):
        meta = record.meta
        # Many Ofsted files share a name: council, title, kind and dates say which report it is.
        table.add_row(rich_text(r["report_id"]), rich_text(r["council"] or ""),
                      rich_text(_shorten(r["title"] or r["source"], TITLE_WIDTH)),
                      rich_text(r["meeting"] or r["kind"] or ""), rich_text(dated(meta)), rich_text(inspected(meta)),
                      str(r["sections"]), str(r["chunks"]))
    Console().print(table)
    return EXIT_OK


def _resolve(store, report: str):
    """Accept a report id, its file name, or an unambiguous part of either."""
    records = store.list_reports()
    for r in records:
        if report in (r.meta.report_id, r.meta.source):
            return r
    matches = [r for r in records if report.lower() in r.meta.report_id or report.lower() in r.meta.source.lower()]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(r.meta.report_id for r in records) or "none"
    what = "matches several reports" if matches else "is not in the store"
    raise SystemExit(f"error: {report!r} {what}; reports held: {known}")


def cmd_sections(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.tree import Tree

    with _open_store(args) as store:
        record = _resolve(store, args.report)
        sections = store.sections(record.meta.report_id)
    if args.json:
        _print_json([s.to_dict() for s in sections])
        return EXIT_OK
    meta = record.meta
    # Council, title and headings are the report's text: rich_text keeps markup and escapes in them inert.
    council, rest = describe(meta).split(" — ", 1)
    root = Tree(rich_text(council, "bold") + rich_text(f" — {rest}") + rich_text(f"  ({meta.source})", "dim"))
    nodes = {}
    for s in sections:
        parent = nodes.get(s.parent_id, root)
        where = f" (p. {s.page})" if s.page else ""
        nodes[s.id] = parent.add(rich_text(s.label) + rich_text(f"{where} {s.start}–{s.end}", "dim"))
    Console().print(root)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from vectorstore.indexer import remove_report
    from vectorstore.lock import store_lock

    with store_lock(_settings(args), "remove"), _open_store(args) as store:
        record = _resolve(store, args.report)
        remove_report(store, _settings(args), record.meta.report_id)
    print(plain(f"removed {record.meta.report_id} ({record.meta.source})"))
    return EXIT_OK


# --- judgements ---------------------------------------------------------------------------------


QUOTE_WIDTH = 90  # characters of a quote the table shows; --json has it whole


def _shorten(text: str, width: int = QUOTE_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _when(j) -> str:
    year = str(j.inspection_year) if j.inspection_year else "undated"  # the inspection's year, not the report's
    return f"{year} (previous inspection)" if j.previous else year


def _no_judgements(args: argparse.Namespace, records: list, reports: list) -> str:
    """Why there is nothing to list: no reports, or reports that state no grade (or none yet read)."""
    if not reports:
        return "No reports held yet: add some with `reports-qa ingest PATH`."
    n = len(reports)
    where = f"the {n} report{'s' if n != 1 else ''} held"
    if args.council:
        where += " on " + ", ".join(sorted({m.council or m.source for m in reports}))
    what = " for " + ", ".join(args.area) if args.area else ""
    if args.current_only:
        what += " of the inspection a report is about"
    message = f"No Ofsted judgements{what} are stated in {where}."
    stale = [r for r in records if r.meta in reports and r.judgements_stale]
    if stale:
        message += (f" {len(stale)} of them were stored before judgements were read from reports: "
                    "run `reports-qa ingest` on them again to read them.")
    return message


def cmd_judgements(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assistant.scope import Filters, ScopeError, matching_reports

    with _open_store(args) as store:
        records = store.list_reports()
        catalogue = [r.meta for r in records]
        try:  # the same council names and aliases, and the same refusal, as `ask --council`
            reports = matching_reports(Filters(councils=tuple(args.council or ())), catalogue)
        except ScopeError as exc:
            print(plain(f"error: {exc}"), file=sys.stderr)
            return EXIT_FAILED
        rows = [
            (m, j) for m, j in store.judgements([m.report_id for m in reports])
            if (not args.area or j.area in args.area) and not (args.current_only and j.previous)
        ]
    if args.json:
        _print_json([
            {"council": m.council, "meeting": m.meeting, "date": m.date, "date_kind": m.date_kind, "kind": m.kind,
             "report_id": m.report_id, "source": m.source, "area_label": j.area_label, **j.to_dict()}
            for m, j in rows
        ])
        if not rows:
            print(plain(_no_judgements(args, records, reports)), file=sys.stderr)
        return EXIT_OK
    if not rows:  # said plainly: an empty table would look like a failure
        print(plain(_no_judgements(args, records, reports)))
        _no_overall_notes(args, reports)
        return EXIT_OK
    n = len({m.report_id for m, _ in rows})
    table = Table(title=f"{len(rows)} Ofsted judgements from {n} report{'s' if n != 1 else ''}", show_lines=True)
    for col, width, ratio in (("council", 18, None), ("inspected", 12, None), ("framework", 9, None), ("area", 16, None),
                              ("grade", 14, None), ("report's words", None, 2), ("quote", None, 3),
                              ("report id / offsets", None, 2)):
        table.add_column(col, overflow="fold", max_width=width, ratio=ratio)
    for m, j in rows:
        # rich_text, not str: report text is data; rich would read "[...]" in it as markup.
        table.add_row(
            rich_text(m.council or m.source), rich_text(_when(j), "dim" if j.previous else ""),
            rich_text(j.framework or ""), rich_text(j.area_label), rich_text(j.grade, "dim" if j.previous else "bold"),
            rich_text(j.words), rich_text(_shorten(j.quote)), rich_text(f"{m.report_id} {j.start}–{j.end}"),
        )
    Console().print(table)
    _no_overall_notes(args, reports)
    return EXIT_OK


def _no_overall_notes(args: argparse.Namespace, reports: list) -> None:
    """Reports that grade their judgements but give no overall effectiveness grade (the 2026
    reform) say so, rather than leave a reader to read the gap as a missed grade."""
    if args.area and "overall" not in args.area:
        return
    for m in reports:
        if m.no_overall_grade:
            print(plain(f"{m.council or m.source} ({m.report_id}): {m.no_overall_grade}."))


# --- ask, chat ----------------------------------------------------------------------------------


def _filters(args: argparse.Namespace) -> dict:
    filters = {}
    if args.council:
        filters["councils"] = args.council
    if args.report:
        filters["report_ids"] = args.report
    if args.year:
        filters["year"] = args.year
    return filters


def _assistant(args: argparse.Namespace):
    from rich.console import Console

    from assistant import Assistant

    settings = _settings(args)
    with Console(stderr=True).status("Loading the embedding model and the store…"):
        return Assistant.from_settings(settings, backend=args.backend)


def _answer(assistant, question: str, args: argparse.Namespace, history: list | None = None):
    """Ask, echoing an LLM's draft to stderr as it streams; returns the verified Answer."""
    from assistant.models import Answer

    answer = None
    streaming = assistant.backend_name != "extractive" and not args.json and sys.stderr.isatty()
    for item in assistant.stream(question, history, _filters(args), k=args.k):
        if isinstance(item, Answer):
            answer = item
        elif streaming:
            sys.stderr.write(item)
            sys.stderr.flush()
    if streaming:
        sys.stderr.write("\n(draft above; verified answer below)\n\n")
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    from ui.terminal import format_answer

    with _assistant(args) as assistant:
        answer = _answer(assistant, args.question, args)
        embedding = assistant.embedder.describe()  # runtime, device, threads beside the timings
    if args.json:
        _print_json({**answer.to_dict(), "embedding": embedding})
    else:
        print(format_answer(answer))
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.terminal import format_answer

    try:
        import readline  # noqa: F401  (line editing and up-arrow history for input())
    except ImportError:
        pass
    history: list[dict[str, str]] = []
    with _assistant(args) as assistant:
        held = ", ".join(sorted({m.council or m.source for m in assistant.catalogue()})) or "none"
        print(plain(f"Ask about the reports on: {held}.") + "\nFollow-ups use the conversation so far. /new starts over, /quit ends.")
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                print()
                return EXIT_OK
            if question in {"/quit", "/exit", "/q"}:
                return EXIT_OK
            if question in {"/new", "/reset"}:
                history.clear()
                print("(new conversation)")
                continue
            if not question:
                continue
            answer = _answer(assistant, question, args, history)
            if answer.standalone_question and answer.standalone_question != question:
                print(plain(f"(searched: {answer.standalone_question})"))
            print(format_answer(answer))
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def _ask_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--council", action="append", metavar="NAME",
                   help="only reports on this council (a name or alias, e.g. Southend); repeatable")
    p.add_argument("--report", action="append", metavar="ID", help="only this report id; repeatable")
    p.add_argument("--year", type=int, help="only reports dated in this year")
    p.add_argument("--backend", choices=("extractive", "llamacpp", "openai"),
                   help="who writes the answer (REPORTS_QA_BACKEND; default extractive: no LLM)")
    p.add_argument("--k", type=int, metavar="N", help="passages given to the backend (REPORTS_QA_K)")
    p.add_argument("--json", action="store_true", help="print the answer, citations and timings as JSON")


# --- eval ---------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from datetime import datetime

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from eval.gate import GATE_FILE, Gate
    from eval.metrics import METRICS
    from eval.questionset import QuestionSetError, load_question_set
    from eval.report import LABELS, write_report
    from eval.runner import evaluate

    gate = Gate.load(args.gate or GATE_FILE) if (args.gate or not args.sets) else None
    paths = args.sets or [gate.question_set]
    try:
        sets = [load_question_set(p) for p in paths]
    except QuestionSetError as exc:
        print(plain(f"error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    settings = _settings(args)
    out = args.out or settings.data_dir / "eval" / datetime.now().strftime("%Y%m%d-%H%M%S")
    total = sum(len(s.questions) for s in sets) * (2 if args.baseline else 1)
    console = Console(stderr=True)
    with _assistant(args) as assistant, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=args.json,
    ) as progress:
        task = progress.add_task("asking", total=total)
        runs = evaluate(sets, assistant, k=args.k, backend=args.backend, baseline=args.baseline,
                        progress=lambda q: progress.update(task, advance=1, description=q.id))
    results, report = write_report(runs, Path(out))
    failed = gate.failures(runs[0].summary) if gate else []
    if args.json:
        _print_json({"runs": [r.to_dict() for r in runs], "results": str(results), "report": str(report),
                     "gate_failures": failed})
    else:
        table = Table(title=f"{', '.join(s.name for s in sets)}: {len(runs[0].results)} questions")
        table.add_column("metric")
        for r in runs:
            table.add_column(r.system, justify="right")
        table.add_row("passed", *(f"{r.summary['passed']}/{r.summary['questions']}" for r in runs))
        for m in METRICS:
            table.add_row(LABELS[m], *("–" if r.summary[m] is None else f"{r.summary[m]:.3f}" for r in runs))
        table.add_row("total ms p50/p95", *(
            f"{r.summary['latency_ms']['total']['p50']:.0f}/{r.summary['latency_ms']['total']['p95']:.0f}" for r in runs))
        Console().print(table)
        print(f"results: {results}\nreport:  {report}")
        for line in failed:
            print(f"gate: {line}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


# --- parser -------------------------------------------------------------------------------------


class _Paragraphs(argparse.HelpFormatter):
    """Wraps a description paragraph by paragraph (blank lines between them are kept)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(_Paragraphs, self)._fill_text(p, width, indent) for p in text.split("\n\n"))


def build_parser() -> argparse.ArgumentParser:
    from ingest.judgements import AREA_ORDER, AREAS
    from vectorstore.embeddings import RUNTIMES, describe_setting

    try:
        defaults = Settings()
    except Exception:  # a bad REPORTS_QA_* value is reported when a command runs, not by --help
        defaults = Settings.model_construct()

    parser = argparse.ArgumentParser(
        prog="reports-qa",
        description=(
            "Answer questions over council committee reports, every claim with a citation to the "
            "report section it came from. Settings come from REPORTS_QA_* environment variables; "
            "the flags below override them."
        ),
    )
    parser.add_argument("--data-dir", type=Path, help="where the store lives (REPORTS_QA_DATA_DIR)")
    parser.add_argument("--embedding-model", help="installed model package or folder (REPORTS_QA_EMBEDDING_MODEL)")
    parser.add_argument("--embedding-backend", choices=("auto", *RUNTIMES),
                        help="embedding runtime of a new store (REPORTS_QA_EMBEDDING_BACKEND; "
                        f"{describe_setting(defaults.embedding_backend, defaults.embedding_device, defaults.torch_threads)}); "
                        "a store keeps the runtime it was built with, --rebuild switches it")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest", help="add report files or folders to the store",
        formatter_class=_Paragraphs,
        description="Parse, chunk, embed and store reports (txt, md, pdf, docx, html). "
        "Unchanged reports are skipped; a changed file replaces its old version whole. "
        "Exits 1 if any file failed, after ingesting all the others.\n\n"
        "Files are read and parsed in separate processes while this one embeds, so a large folder takes "
        "about as long as the slower of the two. A run that is stopped (Ctrl-C, a crash, SIGKILL) keeps "
        "every report it finished: run it again and only the rest is embedded. One ingest at a time may "
        "write an embedded store: a second is refused with a message naming the first (a Chroma server, "
        "REPORTS_QA_CHROMA_URL, serialises writers itself).\n\n"
        "Speed: --parse-workers (REPORTS_QA_PARSE_WORKERS) sets the parse processes, default auto: one per "
        "four cores, one to four (0: parse in this process, one file after another). With them, a run of 8 "
        "files or more also starts an embedding process, which embeds each report while this one writes "
        "the one before (about 0.55 GB more; 0 parse processes: neither). --torch-threads "
        "(REPORTS_QA_EMBEDDING_THREADS) sets the model's threads, default 1; on a machine doing nothing else, "
        "'auto' (one per core) embeds faster.",
    )
    p.add_argument("paths", nargs="*", help=f"files or folders (default: the sample reports in {SAMPLE_REPORTS_DIR})")
    p.add_argument("--rebuild", action="store_true", help="drop the store first (e.g. after changing the embedding model)")
    p.add_argument("--prune", action="store_true",
                   help="first remove the stored reports whose files under PATHs are gone (see `prune`)")
    p.add_argument("--parse-workers", metavar="N|auto",
                   help="processes reading and parsing files while this one embeds (REPORTS_QA_PARSE_WORKERS)")
    p.add_argument("--torch-threads", metavar="N|auto",
                   help="threads the embedding runtime uses (REPORTS_QA_EMBEDDING_THREADS; default 1)")
    p.add_argument("--json", action="store_true", help="print one result object per file")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "prune", help="remove the reports whose files are gone",
        description="Remove every stored report whose file (the path it was ingested from) no longer exists, "
        "with all its chunks; with PATHs, only those whose file was under these folders. Uploaded reports "
        "have no file and are never pruned. A PATH that does not exist is an error and prunes nothing.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="only reports ingested from under these folders")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    p.add_argument("--json", action="store_true", help="print one object per report removed")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("reports", help="list the reports in the store")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_reports)

    p = sub.add_parser("sections", help="print a report's section tree")
    p.add_argument("report", help="report id or file name (or an unambiguous part of one)")
    p.add_argument("--json", action="store_true", help="print the sections as JSON")
    p.set_defaults(func=cmd_sections)

    p = sub.add_parser("ask", help="answer one question, with verified citations",
                       description="Answer a question from the reports in the store. Every [n] in the answer "
                       "is checked against the passage it cites; what the reports don't support is left out. "
                       "Councils and years named in the question narrow the search (\"in Southend in 2016\").")
    p.add_argument("question")
    _ask_options(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (follow-ups understood)",
                       description="Ask questions one after another; \"and what about Swindon?\" or \"is that better "
                       "than last time?\" are read against the conversation so far.")
    _ask_options(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="run evaluation question sets and report the metrics",
                       description="Ask every question of the sets, score answers against their keys (retrieval "
                       "recall@k and MRR, citation precision and support, key-point recall, abstention, latency), "
                       "print a table and write results.json and report.html. With no SET, runs the quality gate's "
                       "set and exits 1 if a metric is under its floor in eval/gate.json.")
    p.add_argument("sets", nargs="*", metavar="SET", help="question set files (.yaml or .jsonl)")
    p.add_argument("--out", type=Path, help="folder for results.json and report.html (default: DATA_DIR/eval/<time>)")
    p.add_argument("--baseline", action="store_true", help="also run the naive tutorial chain, side by side")
    p.add_argument("--gate", type=Path, help="check the first system against this gate file (default eval/gate.json when no SET)")
    p.add_argument("--backend", choices=("extractive", "llamacpp", "openai"), help="answer backend to evaluate")
    p.add_argument("--k", type=int, metavar="N", help="passages given to the backend")
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "judgements", help="the Ofsted grades the reports state, each with its quote",
        description="List the Ofsted judgements stated in the reports held: one record per judgement area "
        "(overall effectiveness, help and protection, children in care, leaders, adoption, care leavers, LSCB) "
        "with its grade (Outstanding, Good, Requires improvement to be good, Inadequate). Each record is read "
        "from the report text when the report is ingested, never guessed: it keeps the report's own words, "
        "the quote it was read from and that quote's character offsets in the report, the inspection framework "
        "and dates where the report states them, and whether it is the grade of the inspection the report is "
        "about or of the one before, as the report recalls it. A report that states no grades has no records.",
    )
    p.add_argument("--council", action="append", metavar="NAME",
                   help="only reports on this council (a name or alias, e.g. Southend); repeatable")
    p.add_argument("--area", action="append", choices=AREA_ORDER, metavar="AREA",
                   help="only this judgement area; repeatable. One of: "
                   + ", ".join(f"{k} ({v})" for k, v in AREAS.items()))
    p.add_argument("--current-only", action="store_true",
                   help="leave out the grades reports quote from the inspection before theirs")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list: every field of each record, with its report's council, meeting, date, "
                   "report_id and source")
    p.set_defaults(func=cmd_judgements)

    p = sub.add_parser("remove", help="remove a report and all its chunks")
    p.add_argument("report", help="report id or file name")
    p.set_defaults(func=cmd_remove)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.verbose)
    from pydantic import ValidationError

    from vectorstore.embeddings import EmbeddingModelError
    from assistant.backend import BackendError
    from vectorstore.store import StoreError

    try:
        return args.func(args)
    except (EmbeddingModelError, StoreError, BackendError) as exc:
        print(plain(f"error: {exc}"), file=sys.stderr)
        return EXIT_FAILED
    except ValidationError as exc:
        problems = "; ".join(f"REPORTS_QA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"error: bad setting: {problems}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
