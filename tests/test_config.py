from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hubbub.blobs.file import FileBlobs
from hubbub.cli import main
from hubbub.config import Settings, listening_origins, origin_of, parse_limits


def test_parse_limits_overrides_and_types() -> None:
    limits = parse_limits(["messages_per_second=2.5,message_burst=4", "max-frame-bytes=100"])
    assert limits.messages_per_second == 2.5
    assert limits.message_burst == 4 and isinstance(limits.message_burst, int)
    assert limits.max_frame_bytes == 100


def test_unknown_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown limit"):
        parse_limits(["nope=1"])


def test_default_database_is_sqlite_in_data_dir() -> None:
    assert Settings().store_url == "sqlite:///data/hubbub.db"
    assert Settings(database_url="postgresql://x/y").store_url == "postgresql://x/y"


def test_origin_of_is_what_browsers_send_in_origin() -> None:
    assert origin_of("https://chat.example.com") == "https://chat.example.com"
    assert origin_of(" HTTPS://Chat.Example.COM:443/app/?x#y ") == "https://chat.example.com"
    assert origin_of("http://chat.example.com:80") == "http://chat.example.com"
    assert origin_of("http://chat.example.com:8080/") == "http://chat.example.com:8080"
    assert origin_of("https://chat.example.com:80") == "https://chat.example.com:80"
    assert origin_of("http://[::1]:8000") == "http://[::1]:8000"
    assert origin_of("https://bücher.example") == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url",
    [
        "chat.example.com",  # no scheme
        "ws://chat.example.com",
        "file:///srv/chat",
        "https://",
        "https://chat.example.com:99999",
        "https://user:pw@chat.example.com",
        "*",
    ],
)
def test_origin_of_refuses_what_is_no_http_origin(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        origin_of(url)


@pytest.mark.parametrize(
    ("host", "origins"),
    [
        ("127.0.0.1", ["http://127.0.0.1:8123", "http://localhost:8123"]),
        ("localhost", ["http://localhost:8123", "http://127.0.0.1:8123"]),
        ("::1", ["http://[::1]:8123", "http://localhost:8123"]),
        ("10.0.0.11", ["http://10.0.0.11:8123"]),
        ("chat.internal", ["http://chat.internal:8123"]),
        # Every interface: the loopback names (and the literal address, which a
        # browser on the same machine may open); any other name needs --public-url.
        (
            "0.0.0.0",
            [
                "http://0.0.0.0:8123",
                "http://localhost:8123",
                "http://127.0.0.1:8123",
                "http://[::1]:8123",
            ],
        ),
        (
            "::",
            [
                "http://[::]:8123",
                "http://localhost:8123",
                "http://127.0.0.1:8123",
                "http://[::1]:8123",
            ],
        ),
    ],
)
def test_default_public_origins_are_where_it_listens(host: str, origins: list[str]) -> None:
    assert list(listening_origins(host, 8123)) == origins
    assert list(Settings(host=host, port=8123).public_origins) == origins


def test_port_80_is_left_out_as_browsers_do() -> None:
    assert Settings(port=80).public_origins == ("http://127.0.0.1", "http://localhost")


def test_public_urls_replace_the_default() -> None:
    s = Settings(port=8123, public_urls=("https://Chat.example.com/", "https://chat.example.com"))
    assert s.public_origins == ("https://chat.example.com",)


def serve_settings(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Settings:
    """The Settings `hubbub serve ARGS` would run with (the server is not started)."""
    import hubbub.server.run

    seen: list[Settings] = []
    monkeypatch.setattr(hubbub.server.run, "run", seen.append)
    result = CliRunner().invoke(main, ["serve", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (settings,) = seen
    return settings


def test_public_url_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBBUB_PUBLIC_URL", raising=False)
    assert serve_settings(monkeypatch).public_urls == ()
    s = serve_settings(
        monkeypatch,
        "--public-url",
        "https://chat.example.com",
        "--public-url",
        "https://a.example.com, https://b.example.com",
    )
    assert s.public_origins == (
        "https://chat.example.com",
        "https://a.example.com",
        "https://b.example.com",
    )
    s = serve_settings(
        monkeypatch, HUBBUB_PUBLIC_URL="https://chat.example.com,http://127.0.0.1:8000"
    )
    assert s.public_origins == ("https://chat.example.com", "http://127.0.0.1:8000")
    s = serve_settings(monkeypatch, HUBBUB_PUBLIC_URL="https://a.example.com https://b.example.com")
    assert s.public_origins == ("https://a.example.com", "https://b.example.com")


def test_a_bad_public_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["serve", "--public-url", "chat.example.com"])
    assert result.exit_code == 2
    assert "--public-url" in result.output and "chat.example.com" in result.output


def test_default_blobs_are_files_in_data_dir(tmp_path: Path) -> None:
    assert Settings().blobs_url == "file://data/files"
    assert Settings(blob_url="s3://b/p").blobs_url == "s3://b/p"
    odd = tmp_path / "50% of?"  # quoted in the URL, found again by the file backend
    assert FileBlobs(Settings(data_dir=odd).blobs_url).root == odd / "files"


def test_blob_url_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBBUB_BLOB_URL", raising=False)
    assert serve_settings(monkeypatch).blob_url is None
    assert serve_settings(monkeypatch, "--blob-url", "file:///srv/f").blob_url == "file:///srv/f"
    s = serve_settings(monkeypatch, HUBBUB_BLOB_URL="s3://bucket/files?region=eu-west-1")
    assert s.blobs_url == "s3://bucket/files?region=eu-west-1"


@pytest.mark.parametrize("url", ["ftp://x/files", "s3://bucket?typo=1"])
def test_a_bad_blob_url_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--blob-url", url])
    assert result.exit_code == 2
    assert "--blob-url" in result.output
