"""The `chirp` command: serve, worker, migrate, seed, admin, audit, jobs, retention,
schema export, localstripe, billing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from app import db
from app.settings import Settings, SettingsError
from models.retention.rules import RULES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chirp", description="Chirp's operations command.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve /graphql on HOST:PORT (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    commands.add_parser("worker", help="run background jobs from the Redis queue")
    commands.add_parser("migrate", help="upgrade the database to the latest migration")
    seed = commands.add_parser("seed", help="load the demo data set")
    seed.add_argument("--if-empty", action="store_true", help="only into an empty database")
    schema = commands.add_parser("schema", help="schema tools")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print or write the SDL")
    export.add_argument("--output", type=Path)
    admin = commands.add_parser("admin", help="back-office operations")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    for name, verb in (("grant-role", "grant"), ("revoke-role", "revoke")):
        change = admin_commands.add_parser(name, help=f"{verb} a staff role (audited)")
        change.add_argument("handle")
        change.add_argument("role", help="SUPPORT, MODERATOR, BILLING_ADMIN, ADMIN or AUDITOR")
        change.add_argument("--reason", required=True, help="why, for the audit log")
    code = admin_commands.add_parser(
        "enrolment-code",
        help="issue the single-use code (24 h) with which a staff account enrols its first "
        "second factor (audited)",
    )
    code.add_argument("handle")
    code.add_argument("--reason", required=True, help="why, for the audit log")
    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the hash chain; exit 1 on tampering")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        help="a file outside the database holding the head seen last time: checked, then "
        "updated when the log is intact (catches entries cut off the end)",
    )
    verify.add_argument(
        "--init", action="store_true", help="start the checkpoint file if it does not exist"
    )
    audit_commands.add_parser("prune", help="remove entries older than AUDIT_RETENTION_DAYS")
    local_stripe = commands.add_parser(
        "localstripe", help="a local Stripe (localstripe) on 127.0.0.1, for development"
    )
    local_stripe.add_argument("--port", type=int, default=8420)
    local_stripe.add_argument(
        "--webhook-url",
        help="send localstripe's events there, signed with STRIPE_WEBHOOK_SECRET "
        "(Chirp's is http://HOST:PORT/webhooks/stripe)",
    )
    billing = commands.add_parser("billing", help="billing operations")
    billing_commands = billing.add_subparsers(dest="billing_command", required=True)
    reconcile = billing_commands.add_parser(
        "reconcile", help="compare payments with Stripe; exit 1 on any mismatch"
    )
    reconcile.add_argument(
        "--settle-minutes",
        type=float,
        default=5.0,
        help="leave out payments changed this recently (their webhook may be on its way)",
    )
    sweep = billing_commands.add_parser(
        "sweep", help="renew, collect, expire and retry what is due (what servers do each tick)"
    )
    sweep.add_argument("--now", help="act as if it were this time (ISO 8601 with an offset)")
    jobs = commands.add_parser("jobs", help="the job ledger: status, parked jobs, retry")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_commands.add_parser("status", help="jobs pending and parked, the oldest pending")
    parked = jobs_commands.add_parser("parked", help="list parked jobs (one JSON per line)")
    parked.add_argument("--limit", type=int, default=100)
    retry = jobs_commands.add_parser("retry", help="make parked jobs due again")
    retry.add_argument("ids", nargs="*", type=int, help="ledger ids (see `chirp jobs parked`)")
    retry.add_argument("--all", action="store_true", help="every parked job")
    retention = commands.add_parser(
        "retention", help="prune the tables that only grow (docs/operations.md#retention)"
    )
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    prune = retention_commands.add_parser(
        "run", help="remove every finished row past its table's retention, in batches"
    )
    prune.add_argument("--table", choices=[rule.name for rule in RULES], help="only this table")
    prune.add_argument("--dry-run", action="store_true", help="count, remove nothing")
    retention_commands.add_parser(
        "status", help="rows, rows past retention and the oldest row's age, per table"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"chirp: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "worker"):
        _observe(settings, service=f"chirp-{args.command}")
    else:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(settings, host=args.host, port=args.port)
    if args.command == "schema":
        return _export_schema(args.output)
    return asyncio.run(_run_async(args, settings))


def _observe(settings: Settings, *, service: str) -> None:
    """Logs and traces for the long-running processes, configured once per process."""
    from app.probes import version
    from telemetry.logs import configure_logging
    from telemetry.tracing import configure_tracing

    configure_logging(json=settings.log_format == "json", level=settings.log_level)
    configure_tracing(
        settings.traces_exporter,
        service=service,
        version=version("chirp"),
        sample_ratio=settings.traces_sample_ratio,
    )


def _serve(settings: Settings, *, host: str | None, port: int | None) -> int:
    import uvicorn

    from app.main import create_app
    from app.serving import DrainingServer
    from telemetry import gcpause
    from telemetry.tracing import shutdown_tracing

    try:
        asyncio.run(_check_ready_to_serve(settings))
    except db.NotMigrated as exc:
        print(f"chirp: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        # The client address comes from X-Forwarded-For only behind TRUSTED_PROXIES
        # (app.middleware.ClientAddress), not from uvicorn's own reading of it.
        proxy_headers=False,
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_message_bytes,
        # Compression state costs ~100 KiB per idle connection; events are small.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=20,
        log_level=settings.log_level.lower(),
        log_config=None,  # logging is configured by _observe
        access_log=False,  # Chirp writes its own access line per request
    )
    probes = app.state.services.probes

    def drain() -> None:
        probes.draining = True

    server = DrainingServer(config, drain_seconds=settings.drain_seconds, on_drain=drain)
    gcpause.install(settings.gc_compact_seconds)
    try:
        server.run()
    finally:
        shutdown_tracing()
    return 0 if server.started else 3


async def _check_ready_to_serve(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        await db.check_migrated(engine)
    finally:
        await engine.dispose()


async def _run_async(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        engine = db.create_engine(settings)
        try:
            await db.migrate(engine)
        finally:
            await engine.dispose()
        print(f"chirp: database at migration {db.head_revision()}")
        return 0
    if args.command == "seed":
        return await _seed(settings, only_if_empty=args.if_empty)
    if args.command == "worker":
        return await _worker(settings)
    if args.command == "admin":
        return await _admin(args, settings)
    if args.command == "audit":
        return await _audit(args, settings)
    if args.command == "localstripe":
        return await _localstripe(args, settings)
    if args.command == "jobs":
        from app import job_commands

        return await job_commands.command(
            settings,
            args.jobs_command,
            ids=getattr(args, "ids", []),
            retry_all=getattr(args, "all", False),
            limit=getattr(args, "limit", 100),
        )
    if args.command == "billing" and args.billing_command == "sweep":
        from app import billing_sweep

        return await billing_sweep.command(settings, now_text=args.now)
    if args.command == "retention":
        from app import retention

        if args.retention_command == "status":
            return await retention.status(settings)
        return await retention.run(settings, table=args.table, dry_run=args.dry_run)
    if args.command == "billing":
        from app import billing_reconcile

        return await billing_reconcile.command(settings, settle_minutes=args.settle_minutes)
    raise AssertionError(args.command)


async def _seed(settings: Settings, *, only_if_empty: bool) -> int:
    if settings.is_production:
        # The demo accounts' password is published: in production anyone could log in.
        print(
            "chirp: refusing to seed the demo accounts in production (CHIRP_ENV=production): "
            "their password is published; create real accounts through signUp",
            file=sys.stderr,
        )
        return 2
    from app.runtime import build_services, running
    from app.seed import DEMO_PASSWORD, DEMO_PROMOTION_CODE, seed_if_empty

    async with running(build_services(settings)) as services:
        created = await seed_if_empty(services)
    if created:
        print(
            f"chirp: demo accounts ada, grace and linus (password {DEMO_PASSWORD!r}) "
            f"and the promotion code {DEMO_PROMOTION_CODE}"
        )
    elif only_if_empty:
        print("chirp: the database already has accounts; demo data not loaded again")
    else:
        print("chirp: the database already has accounts; nothing seeded", file=sys.stderr)
        return 1
    return 0


WORKER_GAUGE_INTERVAL = 15.0


async def _worker(settings: Settings) -> int:
    import contextlib
    import signal

    from app.periodic import Periodic
    from app.runtime import build_services, running
    from app.worker import Worker
    from telemetry.tracing import shutdown_tracing

    if not settings.redis_url:
        print("chirp: the worker needs REDIS_URL (the embedded default runs jobs in-process)")
        return 2
    try:
        services = build_services(settings)

        async def refresh() -> int:
            await services.probes.refresh_gauges()
            return 0

        gauges: Periodic | None = None
        if settings.worker_metrics_port:
            from prometheus_client import start_http_server

            # Job metrics of this process; bind HOST to an internal interface. The gauges
            # (ready, pool, outbox, queue depth) are refreshed on a timer, not per scrape.
            start_http_server(settings.worker_metrics_port, addr=settings.host)
            gauges = Periodic("worker-gauges", refresh, interval=WORKER_GAUGE_INTERVAL)
        async with running(services):
            if gauges is not None:
                with contextlib.suppress(Exception):  # the timer retries (and logs)
                    await refresh()
                await gauges.start()
            worker = Worker(services.broker)
            worker.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            if gauges is not None:
                await gauges.stop()
            await worker.stop()
    finally:
        shutdown_tracing()
    return 0


async def _admin(args: argparse.Namespace, settings: Settings) -> int:
    from admin import commands
    from models.errors import DomainError

    engine = db.create_engine(settings)
    sessionmaker = db.create_sessionmaker(engine, audit_key=settings.audit_chain_key)
    try:
        if args.admin_command == "enrolment-code":
            issued = await commands.issue_enrolment_code(
                sessionmaker, handle=args.handle, reason=args.reason
            )
            print(
                f"chirp: enrolment code for {args.handle}: {issued.code} (single use, valid "
                f"until {issued.expires_at:%Y-%m-%d %H:%M} UTC); they pass it as "
                "`enrolmentCode` to beginTotpEnrolment"
            )
            return 0
        roles = await commands.change_role(
            sessionmaker,
            handle=args.handle,
            role=args.role,
            reason=args.reason,
            grant=args.admin_command == "grant-role",
        )
    except DomainError as exc:
        print(f"chirp: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"chirp: {args.handle} now holds {', '.join(sorted(r.value for r in roles))}")
    return 0


async def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from admin import commands

    engine = db.create_engine(settings)
    try:
        if args.audit_command == "prune":
            removed = await commands.prune(
                db.create_sessionmaker(engine, audit_key=settings.audit_chain_key),
                retention_days=settings.audit_retention_days,
            )
            print(f"chirp: removed {removed} audit entries older than the retention period")
            return 0
        report = await commands.verify(
            db.create_read_sessionmaker(engine, audit_key=settings.audit_chain_key),
            checkpoint_file=args.checkpoint,
            start_checkpoint=args.init,
        )
    finally:
        await engine.dispose()
    for problem in report.problems:
        print(f"TAMPERED {problem}")
    span = f"entries {report.first_id}..{report.last_id}" if report.checked else "no entries"
    verdict = "intact" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"chirp: audit log {verdict}: checked {report.checked} ({span})")
    return 0 if report.ok else 1


async def _localstripe(args: argparse.Namespace, settings: Settings) -> int:
    from app import localstripe

    if settings.is_production:
        print("chirp: localstripe is for development and tests, not production", file=sys.stderr)
        return 2
    try:
        await localstripe.serve(
            port=args.port,
            webhook_url=args.webhook_url,
            webhook_secret=settings.stripe_webhook_secret,
        )
    except localstripe.LocalStripeError as exc:
        print(f"chirp: {exc}", file=sys.stderr)
        return 1
    return 0


def _export_schema(output: Path | None) -> int:
    from app.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
