"""`python -m devtools.sandbox serve [...]`: run the sandbox and print the settings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from devtools.sandbox import control
from devtools.sandbox.fleet import Fleet, FleetSize
from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import BATCH_EXECUTIONS, DUPLICATE_TRANSACTIONS, Behaviour, Faults, SandboxState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run Entra ID + Graph + openHandwerk emulation over HTTPS")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    serve.add_argument("--public-host", default=None, help="name clients use, e.g. the compose service name")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--employees", type=int, default=12)
    serve.add_argument("--appointments-per-employee", type=int, default=12)
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--jitter-ms", type=float, default=0.0)
    serve.add_argument("--faults", choices=["none", "flaky", "harsh"], default="none")
    serve.add_argument("--batch-execution", choices=list(BATCH_EXECUTIONS), default="four_at_a_time",
                       help="how Graph runs a parallel $batch (docs/sandbox-fidelity.md, row B5)")
    serve.add_argument("--duplicate-transaction", choices=list(DUPLICATE_TRANSACTIONS), default="first_event",
                       help="answer to a repeated transactionId with the same body (row X2)")
    serve.add_argument("--mistake", choices=sorted(control.MISTAKES), default=None,
                       help="start with one setup mistake the checklist names (docs/sandbox-fidelity.md, row K3)")
    serve.add_argument("--tls-dir", type=Path, default=None, help="where ca.pem is written (default: temp)")
    serve.add_argument("--settings-file", type=Path, default=None, help="also write the settings as JSON here")
    serve.add_argument("--fleet", type=FleetSize.parse, default=None, metavar="TENANTSxMAILBOXESxAPPOINTMENTS",
                       help="serve many tenants (e.g. 30x5x20; --seed, --latency-ms, --jitter-ms and --faults "
                            "apply to each); connections office365_<key> / openhandwerk_<key>")
    args = parser.parse_args(argv)
    if args.fleet:
        return _serve_fleet(args)
    state = SandboxState(seed=args.seed, employees=args.employees,
                         appointments_per_employee=args.appointments_per_employee, latency_ms=args.latency_ms,
                         jitter_ms=args.jitter_ms, faults=Faults.profile(args.faults),
                         behaviour=Behaviour(args.batch_execution, args.duplicate_transaction))
    typed_wrong = control.make_mistake(state, args.mistake) if args.mistake else {}
    server = SandboxServer(state, host=args.host, port=args.port, tls_dir=args.tls_dir,
                           public_host=args.public_host).prepare()
    settings = {"base_url": server.base_url, "ca_bundle": server.ca_path, **server.environment()}
    print("oh-outlook-provider sandbox (not for production data)")
    print(f"  base URL : {server.base_url}   CA file: {server.ca_path}")
    print("  Point Airflow at it with these environment variables:")
    for key, value in server.environment().items():
        print(f"  export {key}='{value}'")
    if typed_wrong:
        print(f"  Setup mistake {args.mistake}: put into the connection {json.dumps(typed_wrong)}")
    if args.settings_file:
        args.settings_file.write_text(json.dumps(settings, indent=2))
    sys.stdout.flush()
    server.serve_forever()
    return 0


def _serve_fleet(args: argparse.Namespace) -> int:
    size = args.fleet
    fleet = Fleet.generate(size.tenants, size.mailboxes, size.appointments, seed=args.seed,
                           latency_ms=args.latency_ms, jitter_ms=args.jitter_ms,
                           faults=dict.fromkeys(range(size.tenants), Faults.profile(args.faults)))
    server = SandboxServer(fleet=fleet, host=args.host, port=args.port, tls_dir=args.tls_dir,
                           public_host=args.public_host).prepare()
    print(f"oh-outlook-provider sandbox, fleet of {len(fleet)} tenants (not for production data)")
    print(f"  base URL : {server.base_url}   CA file: {server.ca_path}")
    print(f"  {'key':<6} {'tenant id':<36} {'idKn':<6} {'mailboxes':>9}  name")
    for row in fleet.summary():
        print(f"  {row['key']:<6} {row['tenant_id']:<36} {row['oh_id_kn']:<6} {row['mailboxes']:>9}  {row['name']}")
    print("  Connections: office365_<key>, openhandwerk_<key> (--settings-file writes them as AIRFLOW_CONN_*)")
    if args.settings_file:
        args.settings_file.write_text(json.dumps({"base_url": server.base_url, "ca_bundle": server.ca_path,
                                                  **server.fleet_environment()}, indent=2))
    sys.stdout.flush()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
