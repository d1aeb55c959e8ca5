"""ghz in the sidecar benchmark (bench/ghz_load.py): its JSON report becomes the report's row
in µs, a call that was not OK counts as an error, the command line is pinned and closed-loop
unless a rate is given, the requests go round the customers in order, and ghz is built only when
it is missing (no Go here: the build is a stand-in)."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import pytest

from bench import ghz_load

# Trimmed from a real ghz v0.121.0 --format json report (durations in nanoseconds).
REPORT: dict[str, Any] = {
    "endReason": "timeout",
    "count": 3295,
    "total": 3001575591,
    "average": 7105031,
    "fastest": 1668879,
    "slowest": 23327533,
    "rps": 1097.7567947579969,
    "errorDistribution": {},
    "statusCodeDistribution": {"OK": 3295},
    "latencyDistribution": [
        {"percentage": 10, "latency": 5749781},
        {"percentage": 25, "latency": 6212640},
        {"percentage": 50, "latency": 6756088},
        {"percentage": 75, "latency": 7374578},
        {"percentage": 90, "latency": 8163548},
        {"percentage": 95, "latency": 9802420},
        {"percentage": 99, "latency": 16870655},
    ],
    "details": [
        {"timestamp": "2026-12-02T01:04:38.254625187Z", "latency": 11379548, "error": "", "status": "OK"}
    ],
}


def test_a_report_becomes_a_row_in_microseconds() -> None:
    assert ghz_load.row(REPORT) == {
        "calls": 3295,
        "errors": 0,
        "throughput": pytest.approx(1097.757),
        "p50_us": pytest.approx(6756.088),
        "p90_us": pytest.approx(8163.548),
        "p99_us": pytest.approx(16870.655),
        "max_us": pytest.approx(23327.533),
    }


def test_calls_that_were_not_ok_are_errors() -> None:
    report = {**REPORT, "statusCodeDistribution": {"OK": 3290, "Unavailable": 4, "DeadlineExceeded": 1}}
    assert ghz_load.row(report)["errors"] == 5


def test_a_report_without_calls_or_percentiles_is_refused() -> None:
    with pytest.raises(ValueError, match="0 calls"):
        ghz_load.row({"count": 0, "rps": 0, "slowest": 0, "statusCodeDistribution": {}})
    with pytest.raises(ValueError, match=r"\[99\]"):
        ghz_load.row({**REPORT, "latencyDistribution": REPORT["latencyDistribution"][:5]})


def test_the_closed_loop_command_is_pinned_and_has_no_rate() -> None:
    argv = ghz_load.command("ghz", "127.0.0.1:5000", "requests.json", core=1, concurrency=8, seconds=8)
    assert argv[:3] == ["taskset", "-c", "1"]
    assert argv[3] == "ghz"
    assert argv[-1] == "127.0.0.1:5000"
    text = " ".join(argv)
    assert "--call stigg.sidecar.v1.SidecarService/GetBooleanEntitlement" in text
    assert "--proto proto/stigg/sidecar/v1/sidecar.proto --import-paths proto" in text
    assert "--data-file requests.json -c 8 -z 8s" in text
    assert "--cpus 1 --format json" in text
    assert "--rps" not in argv


def test_a_rate_adds_rps() -> None:
    argv = ghz_load.command("ghz", "h:1", "d.json", core=1, concurrency=64, seconds=8, rps=1000)
    assert argv[argv.index("--rps") + 1] == "1000"
    assert argv[argv.index("-c", 3) + 1] == "64"  # after taskset's own -c


def test_the_requests_go_round_the_customers_in_order() -> None:
    requests = ghz_load.requests(3)
    assert requests == [
        {"customer_id": "customer-0", "feature_id": "feature-sso"},
        {"customer_id": "customer-1", "feature_id": "feature-sso"},
        {"customer_id": "customer-2", "feature_id": "feature-sso"},
    ]


def test_ghz_is_built_once_into_the_versioned_cache(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builds: list[tuple[list[str], dict[str, str]]] = []

    def go_install(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = kwargs["env"]
        builds.append((argv, env))
        (pathlib.Path(env["GOBIN"]) / "ghz").write_text("binary")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(ghz_load.subprocess, "run", go_install)
    first = ghz_load.ensure_built()
    second = ghz_load.ensure_built()
    assert first == second == tmp_path / "stigg-bench" / f"ghz-{ghz_load.VERSION}" / "ghz"
    assert first.read_text() == "binary"
    assert len(builds) == 1
    argv, env = builds[0]
    assert argv == ["go", "install", f"github.com/bojand/ghz/cmd/ghz@{ghz_load.VERSION}"]
    assert env["GOTOOLCHAIN"] == "local"
    assert not list((tmp_path / "stigg-bench").glob("*.partial"))


def test_a_failed_build_leaves_nothing_that_counts_as_built(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def failing(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "go: module lookup disabled")

    monkeypatch.setattr(ghz_load.subprocess, "run", failing)
    with pytest.raises(SystemExit, match="module lookup disabled"):
        ghz_load.ensure_built()
    assert not ghz_load.cache_dir().joinpath("ghz").exists()
