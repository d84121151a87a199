"""The command line, ``python -m kit`` or ``loop-lab``: thin wrappers; the work happens in the layers below."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _db(args: argparse.Namespace) -> int:
    from kit._sync import run_sync
    from kit.db import server
    from kit.db.config import DatabaseConfig
    from kit.db.connections import ping

    if args.action == "start":
        began = time.perf_counter()
        url = server.ensure_server(lease_for=args.hold)
        configured = DatabaseConfig.from_environment()
        config = DatabaseConfig.from_url(url, source=configured.source)
        where = config.source
        if config.source != "kit" and not server.is_own_server(configured):
            run_sync(ping(url))  # the kit's own server has just answered; an external one must answer too
            where = f"from {config.source} in the environment, not the kit's own server"
        print(f"database ready: {config.masked_url}  ({where}, {time.perf_counter() - began:.2f} s)")
        return 0
    if args.action == "url":
        print(server.ensure_server())
        return 0
    if args.action == "stop":
        stopped = server.stop_server(remove=args.remove, force=args.force, release=args.release)
        print("stopped the kit's server" if stopped else "the kit's server was not running")
        if args.remove:
            print("removed its data and state")
        return 0
    info = server.server_status()
    if not args.quiet:
        width = max(len(key) for key in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0 if info.get("running") else 3


def _doctor(args: argparse.Namespace) -> int:
    from kit.course import doctor

    rows = doctor.checks()
    print(doctor.format_table(rows))
    return 0 if all(row.ok for row in rows) else 1


def _audit(args: argparse.Namespace) -> int:
    from kit.diagnose import audit

    return audit.main(args.options)  # audit parses its own options (and passes pytest's through)


def _notebooks(args: argparse.Namespace) -> int:
    from kit.course import files

    done = files.copy_course(args.dest, force=args.force)
    print(files.report(done))
    return 1 if done.kept else 0


def _lab(args: argparse.Namespace) -> int:
    from kit.course.lab import open_lab

    # DEST, when given, comes first; the rest is JupyterLab's, in either form (`--port=9911` or `--port 9911`)
    options = args.options
    dest = Path(options.pop(0)) if options and not options[0].startswith("-") else Path("loop-lab-course")
    open_lab(dest, options)
    return 0  # not reached: JupyterLab replaces this process


def _bench(args: argparse.Namespace) -> int:
    from kit import bench

    return bench.main(args.options)  # bench parses its own options


def _room(args: argparse.Namespace) -> int:
    from kit._sync import run_sync
    from kit.room import hub, status

    if args.action == "status":
        print(status.table(status.recorded(args.room), minutes=args.stuck))
        return 0
    if not args.names:
        raise hub.RoomError("room provision needs the learners' user names: python -m kit room provision anna bob ...")
    admin = hub.admin_url()
    for name in args.names:
        config = run_sync(hub.provision(name, admin=admin, room=args.room or os.environ.get("LOOP_LAB_ROOM")))
        print(f"{name}: {config.masked_url}")
    print(f"provisioned {len(args.names)} learner(s); each spawn gives its learner a new password (kit.room.pre_spawn_hook)")
    return 0


def _dest_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dest", nargs="?", type=Path, default=Path("loop-lab-course"), help="folder (default: loop-lab-course)")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m kit", description="Loop Lab: event loops, async fixtures and asyncpg.")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the kit's private PostgreSQL server")
    db.add_argument(
        "action",
        choices=["start", "stop", "status", "url"],
        help="start (or reuse) it; stop it; show its status; print its full DSN (includes the password)",
    )
    db.add_argument("--remove", action="store_true", help="with stop: also delete the server's data and state")
    db.add_argument(
        "--hold", type=int, metavar="PID", help="with start: process PID holds a lease on the server (until it exits)"
    )
    db.add_argument("--release", type=int, metavar="PID", help="with stop: drop PID's lease first")
    db.add_argument("--force", action="store_true", help="with stop: stop it even while other clients hold leases on it")
    db.add_argument("--quiet", action="store_true", help="with status: print nothing, exit 0 if the database answers, 3 if not")
    db.set_defaults(func=_db)

    doctor = commands.add_parser(
        "doctor", help="check Python, the locked packages, the database and pytest-asyncio settings (works before set-up)"
    )
    doctor.set_defaults(func=_doctor)

    audit = commands.add_parser(
        "audit",
        help="fixtures and globals shared across event loops, with a verdict each (--run, --json, --strict, -k, -o ...)",
        add_help=False,
    )
    audit.set_defaults(func=_audit)

    notebooks = commands.add_parser("notebooks", help="copy the course's notebooks into DEST (keeps files you changed)")
    _dest_argument(notebooks)
    notebooks.add_argument("--force", action="store_true", help="overwrite the files you changed with the course's")
    notebooks.set_defaults(func=_notebooks)

    lab = commands.add_parser(
        "lab",
        usage="python -m kit lab [DEST] [JupyterLab options]",
        help="copy the course into DEST (default: loop-lab-course) if needed, start the server, open JupyterLab there "
        "(JupyterLab options follow DEST, e.g. --port 9911)",
    )
    lab.set_defaults(func=_lab)

    bench = commands.add_parser(
        "bench", help="measure fixture strategies, the analyzer and start-up (--quick, --json PATH, --png PATH)", add_help=False
    )
    bench.set_defaults(func=_bench)

    room = commands.add_parser("room", help="a JupyterHub room: provision learners from the hub, or show the live view")
    room.add_argument("action", choices=["provision", "status"], help="provision NAMES... (LOOP_LAB_ADMIN_URL); status")
    room.add_argument("names", nargs="*", help="with provision: the learners' hub user names")
    room.add_argument("--room", help="the room's name (default: LOOP_LAB_ROOM); provision admits the learners to it")
    room.add_argument("--stuck", type=float, default=10, metavar="MINUTES", help="with status: stuck after MINUTES (10)")
    room.set_defaults(func=_room)

    args, extra = parser.parse_known_args(argv)
    if args.command in ("bench", "lab", "audit"):
        args.options = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from kit.errors import KitError

    try:
        return args.func(args)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
