"""`threadweaver thread …`: produce one command to Kafka, await its reply, print it as JSON.

Exit codes: 0 accepted, 1 rejected, 2 invalid input, 3 infrastructure error or timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from pipeline.cli.endpoints import add_endpoint_arguments, settings_from_args
from pipeline.client import CommandClient, CommandFactory, ReplyTimeoutError
from pipeline.domain import Command, validate_command
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_INVALID, EXIT_INFRA = 0, 1, 2, 3

Build = Callable[[CommandFactory, argparse.Namespace], Command]


def reply_json(reply: Reply) -> dict[str, Any]:
    match reply:
        case CommandAccepted():
            return {
                "status": "accepted",
                "command_id": reply.command_id,
                "thread_id": reply.thread_id,
                "version": reply.version,
                "message_ids": list(reply.message_ids),
            }
        case CommandRejected():
            return {
                "status": "rejected",
                "command_id": reply.command_id,
                "thread_id": reply.thread_id,
                "reason": reply.reason.value,
                "message": reply.message,
            }


def _print(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")


async def _send(args: argparse.Namespace, command: Command) -> int:
    settings = settings_from_args(args)
    try:
        async with CommandClient(settings) as client:
            reply = await client.send(command, timeout=args.timeout)
    except ReplyTimeoutError as exc:
        _print(
            {
                "status": "timeout",
                "command_id": exc.command_id,
                "thread_id": command.thread_id,
                "message": str(exc),
            }
        )
        return EXIT_INFRA
    except Exception as exc:
        _print(
            {
                "status": "error",
                "command_id": command.command_id,
                "thread_id": command.thread_id,
                "message": f"{type(exc).__name__}: {exc}",
            }
        )
        return EXIT_INFRA
    _print(reply_json(reply))
    return EXIT_ACCEPTED if isinstance(reply, CommandAccepted) else EXIT_REJECTED


def _handler(build: Build) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        command = build(CommandFactory(), args)
        problems = validate_command(command)
        if problems:
            # Caught before producing: the same rules the worker applies.
            _print(
                {
                    "status": "invalid",
                    "command_id": command.command_id,
                    "thread_id": command.thread_id,
                    "reason": "INVALID_COMMAND",
                    "message": "; ".join(map(str, problems)),
                }
            )
            return EXIT_INVALID
        return asyncio.run(_send(args, command))

    return handle


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    thread = subparsers.add_parser("thread", help="send a command to a thread and print the reply")
    commands = thread.add_subparsers(dest="thread_command", required=True, metavar="COMMAND")

    def sub(
        name: str, help_text: str, build: Build, *, target: bool = True
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        if target:
            parser.add_argument("thread_id", metavar="THREAD")
        parser.add_argument(
            "--as",
            dest="sender",
            required=True,
            metavar="ACCOUNT",
            help="the acting account (ULID)",
        )
        parser.add_argument("--command-id", help="reuse a command id to retry idempotently")
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="seconds to wait for the reply"
        )
        add_endpoint_arguments(parser)
        parser.set_defaults(handler=_handler(build))
        return parser

    create = sub(
        "create",
        "create a thread",
        lambda f, a: f.create_thread(
            a.sender,
            a.title,
            administrator_ids=a.admin,
            member_ids=a.member,
            parent_thread_id=a.parent,
            remarks=a.remarks,
            command_id=a.command_id,
        ),
        target=False,
    )
    create.add_argument("--title", required=True)
    create.add_argument("--remarks")
    create.add_argument("--parent", metavar="THREAD")
    create.add_argument("--admin", action="append", default=[], metavar="ACCOUNT")
    create.add_argument("--member", action="append", default=[], metavar="ACCOUNT")

    sub(
        "destroy",
        "destroy a thread",
        lambda f, a: f.destroy_thread(a.thread_id, a.sender, a.command_id),
    )
    for name, method in (
        ("join-admins", CommandFactory.join_administrators),
        ("leave-admins", CommandFactory.leave_administrators),
        ("join-members", CommandFactory.join_members),
        ("leave-members", CommandFactory.leave_members),
    ):
        parser = sub(
            name,
            name.replace("-", " "),
            lambda f, a, m=method: m(f, a.thread_id, a.sender, a.account_ids, a.command_id),  # type: ignore[misc]
        )
        parser.add_argument("account_ids", nargs="+", metavar="ACCOUNT")

    post = sub(
        "post",
        "post a message",
        lambda f, a: f.post(
            a.thread_id,
            a.sender,
            a.text,
            reply_to=a.reply_to,
            to_account_ids=a.to,
            command_id=a.command_id,
        ),
    )
    post.add_argument("text")
    post.add_argument("--reply-to", metavar="MESSAGE")
    post.add_argument("--to", action="append", default=[], metavar="ACCOUNT")

    remove = sub(
        "remove-messages",
        "remove messages",
        lambda f, a: f.remove_messages(a.thread_id, a.sender, a.message_ids, a.command_id),
    )
    remove.add_argument("message_ids", nargs="+", metavar="MESSAGE")
