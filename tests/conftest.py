from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.moto_server import MotoServer, aws_test_env

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
# CLOUDWARDEN_SHARED_DATA points the data-reading tests at another copy of the same layout (e.g. one
# assembled under /tmp from the public sources) without touching ../shared.
SHARED_DATA = Path(os.environ.get("CLOUDWARDEN_SHARED_DATA") or SHARED / "data")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data (or $CLOUDWARDEN_SHARED_DATA), or skip the test with the reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test reads labeled data from ../shared/data (or $CLOUDWARDEN_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cloudwarden home and fake AWS credentials."""
    for key, value in aws_test_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLOUDWARDEN_HOME", str(tmp_path / "cw-home"))
    monkeypatch.delenv("CLOUDWARDEN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def moto_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    os.environ.update(aws_test_env())
    server = MotoServer().start(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server_session: MotoServer) -> Iterator[MotoServer]:
    """A moto_server on 127.0.0.1 with empty state for this test."""
    moto_server_session.reset()
    yield moto_server_session
