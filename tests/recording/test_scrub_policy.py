"""The scrub policy's parts, one by one (the end-to-end placements are in test_secrets.py)."""

from __future__ import annotations

import pytest

from kit.recording.scrub import (
    REDACTED,
    find_secrets,
    has_credential,
    header_secrets,
    is_credential_name,
    keep_header,
    redact_body,
    scrub_chunks,
)

# Fake credentials of each shape, assembled at run time so scanners of this file skip them.
SHAPES = {
    "openai project key": "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2",
    "anthropic key": "sk-" + "ant-api03-" + "A1b2C3d4E5f6G7h8I9j0K1l2",
    "github token": "ghp" + "_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7",
    "hugging face token": "hf" + "_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7",
    "JWT": "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
    "long bearer token": "Bearer " + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4",
}


@pytest.mark.parametrize("shape", SHAPES)
def test_credential_shapes_are_found_anywhere_in_a_recording(shape):
    value = f"my key is {SHAPES[shape]} ok"
    assert has_credential(value)
    assert list(find_secrets({"response": {"sse": {"events": [{"data": {"delta": value}}]}}})) == [
        "response.sse.events[0].data.delta"]


# A real LiteLLM 1.108.7 response id (recordings/litellm): its routing in URL-safe base64.
LITELLM_ID = ("resp_72U3f27se08-hLbJJ6xm6jYPwBZEqTjuOMG5LwK2no2o1Ey9IV1zOK0HJxAOMGL-DlvdGO5Sh89kfjQ2TOjiAa-8OuQaqULjbw5obU"
              "-iOIvSxTd_NHpwX1M9nv2lbLzhLwmj-MBl2Qe8PVMPFy1Z5527ea7w64P_fRzHbgYV8S-_EyhlOFLVdkSsRgwd4htYtFI62LojNjIFg7O")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_credential_shape_inside_a_longer_token_is_no_credential(shape):
    """LiteLLM's ids hold `sk-` and 20 more characters by chance now and then; the record was refused."""
    for cut in (17, 60, 101):
        assert not has_credential(f'"id": "{LITELLM_ID[:cut]}{SHAPES[shape]}{LITELLM_ID[cut:]}"')


@pytest.mark.parametrize("before", [" ", '"', "=", ":", "/", "'", "(", "\n", ""])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_credential_shape_that_starts_a_token_is_found(shape, before):
    assert has_credential(f"{before}{SHAPES[shape]}")


def test_ordinary_text_is_no_credential():
    for text in ("sk-learn is a library", "Bearer of bad news", "hf_hub", "eyJ alone", "ghp_short"):
        assert not has_credential(text)


@pytest.mark.parametrize("name", ["key", "api_key", "apiKey", "user_token", "x-functions-key", "x-auth-token",
                                  "Ocp-Apim-Subscription-Key", "password", "client_secret", "code", "sig",
                                  "signature", "auth"])
def test_credential_names(name):
    assert is_credential_name(name)


@pytest.mark.parametrize("name", ["max_output_tokens", "tokens", "prompt_cache_key", "keyboard", "secretary",
                                  "encoding", "model", "input", "code_interpreter"])
def test_names_that_only_look_alike(name):
    assert not is_credential_name(name)


def test_headers_go_to_disk_by_allow_list_only():
    kept = [h for h in ("content-type", "x-request-id", "x-ratelimit-remaining-tokens", "openai-processing-ms",
                        "x-custom", "server", "set-cookie", "x-echo-api-key", "authorization") if keep_header(h)]
    assert kept == ["content-type", "x-request-id", "x-ratelimit-remaining-tokens", "openai-processing-ms"]


def test_request_header_secrets_include_the_token_after_its_scheme():
    found = header_secrets({"Authorization": "Bearer abcdefgh12345", "User-Agent": "OpenAI/Python 2.0",
                            "x-stainless-os": "Linux", "Cookie": "session=cookievalue1; theme=dark"})
    assert "abcdefgh12345" in found and "Bearer abcdefgh12345" in found and "cookievalue1" in found
    assert "OpenAI/Python 2.0" not in found and "Linux" not in found


def test_body_redaction_keeps_what_is_not_a_secret():
    body = {
        "model": "m", "max_output_tokens": 5, "prompt_cache_key": "cache-1", "password": "hunter22",
        "metadata": {"user_token": "tok-123456"},
        "input": [{"type": "code_interpreter_call", "code": "print(1)"}],
        "filters": {"type": "and", "filters": [{"type": "eq", "key": "author", "value": "Ada"}]},
        "tools": [{"type": "function", "parameters": {"properties": {"password": {"type": "string"}}}}],
    }
    removed: list[str] = []
    out = redact_body(body, removed)
    assert out["password"] == REDACTED and out["metadata"]["user_token"] == REDACTED
    assert out["max_output_tokens"] == 5 and out["prompt_cache_key"] == "cache-1"
    assert out["input"][0]["code"] == "print(1)"  # code of a code_interpreter_call item is content
    assert out["filters"]["filters"][0]["key"] == "author"  # a file search filter's attribute name
    assert out["tools"][0]["parameters"]["properties"]["password"] == {"type": "string"}  # a schema, not a value
    assert sorted(removed) == ["hunter22", "tok-123456"]


def test_scrubbing_across_chunk_boundaries_keeps_every_chunk_and_time():
    secret = "SECRETVALUE123"
    body = f"data: {{\"a\":\"{secret}\"}}\n\ndata: {{\"b\":\"{secret}\"}}\n\n".encode()
    cuts = [0, 10, 13, 30, 41, len(body)]  # cuts inside the first and the second secret
    chunks = [(float(i), body[a:b]) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    out = scrub_chunks(chunks, [secret])
    assert b"".join(c for _, c in out) == body.replace(secret.encode(), REDACTED.encode())
    assert [t for t, _ in out] == [t for t, _ in chunks]
    assert scrub_chunks(chunks, ["absent-value"]) == chunks
