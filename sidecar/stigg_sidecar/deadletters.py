"""``stigg-sidecar dead-letters``: read and, on purpose, remove what the upstream refused for good.

The outbox keeps every usage report and event the upstream refused outright (an unknown
customer, a feature that is not metered...) in its ``dead_letters`` table, with the reason,
instead of dropping it (see ``outbox``). This command works on the same SQLite file, in
``SIDECAR_STATE_DIR`` (or ``--state-dir``), beside a running sidecar or without one; in a Pod::

    kubectl exec POD -c stigg-sidecar -- stigg-sidecar dead-letters list
    kubectl exec POD -c stigg-sidecar -- stigg-sidecar dead-letters delete 17 18
    kubectl exec POD -c stigg-sidecar -- stigg-sidecar dead-letters delete --all

``list`` prints one JSON object per line (``seq``, ``kind``, ``created``, ``refused``, ``reason``,
``item``: the report or event as it was accepted). ``delete`` removes only what it is told to,
and says how many it removed. The exit status is 2 for a usage error, 1 if nothing matched.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import pathlib
import sys
from collections.abc import Sequence

import stigg_envspec
from stigg_sidecar import outbox, settings


def _stamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="seconds")


async def _list(box: outbox.Outbox) -> int:
    for letter in await box.dead_letters():
        entry = {
            "seq": letter.row.seq,
            "kind": letter.row.kind,
            "created": _stamp(letter.row.created),
            "refused": _stamp(letter.refused),
            "reason": letter.reason,
            "item": letter.row.payload,
        }
        print(json.dumps(entry, separators=(",", ":")))
    return 0


async def _delete(box: outbox.Outbox, seqs: Sequence[int] | None) -> int:
    removed = await box.delete_dead_letters(seqs)
    print(f"removed {removed} dead letter(s)")
    return 0 if removed else 1


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="stigg-sidecar dead-letters", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--state-dir", type=pathlib.Path, help="default: SIDECAR_STATE_DIR, else /var/lib/stigg"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print every dead letter, one JSON object per line")
    delete = commands.add_parser("delete", help="remove dead letters by seq, or all of them")
    delete.add_argument("seqs", nargs="*", type=int, metavar="SEQ", help="the seq of each one to remove")
    delete.add_argument("--all", action="store_true", help="remove every dead letter")
    args = parser.parse_args(argv)
    if args.command == "delete" and args.all == bool(args.seqs):
        parser.error("delete: name the SEQs to remove, or --all (not both)")
    try:
        state_dir = args.state_dir or stigg_envspec.read_one(settings.Settings, "state_dir", os.environ)
    except stigg_envspec.SettingsError as error:
        parser.error(str(error))
    path = pathlib.Path(state_dir) / outbox.FILE_NAME
    if not path.exists():
        print(f"stigg-sidecar dead-letters: no outbox at {path}", file=sys.stderr)
        return 1
    box = outbox.Outbox(path, max_items=1)
    try:
        if args.command == "list":
            return asyncio.run(_list(box))
        return asyncio.run(_delete(box, None if args.all else args.seqs))
    finally:
        box.close()
