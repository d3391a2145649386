"""The first reasoning request on a freshly started reasoning server, per dialect (issue 18: under 30 s on 2 cores).

For each dialect: start the kit's llama.cpp server behind the reasoning server (`LocalServer(reasoning=...)`),
then time the first streamed chat request asking for reasoning (llama.cpp compiles the grammar for it, then
samples under it), and, as the baseline measured in the same run on the same server, a second identical request
and the same question without reasoning (no grammar). Prints seconds and ratios against the plain request.

    python benchmarks/bench_reasoning_first.py [DIALECT ...]
"""

from __future__ import annotations

import sys
import time

QUESTION = "A bat and a ball cost 1.10 in total. The bat costs 1.00 more than the ball. How much is the ball?"


def timed(client: object, model: str, **extra: object) -> tuple[float, int]:
    began = time.monotonic()
    chunks = list(client.chat.completions.create(  # type: ignore[attr-defined]
        model=model, stream=True, temperature=0, messages=[{"role": "user", "content": QUESTION}], **extra))
    return time.monotonic() - began, len(chunks)


def main(dialects: list[str]) -> None:
    import openai

    from kit.servers import LocalServer
    from kit.servers.reasoning import DIALECTS

    print(f"{'dialect':18} {'start':>7} {'first reasoning':>16} {'second':>8} {'plain (64 tok)':>15}  chunks")
    for dialect in dialects or list(DIALECTS):
        began = time.monotonic()
        with LocalServer(reasoning=dialect) as server:
            started = time.monotonic() - began
            client = openai.OpenAI(base_url=server.base_url, api_key="none")
            first, chunks = timed(client, server.model_alias, reasoning_effort="low")
            second, _ = timed(client, server.model_alias, reasoning_effort="low")
            plain, _ = timed(client, server.model_alias, max_tokens=64)
        print(f"{dialect:18} {started:6.1f}s {first:15.1f}s {second:7.1f}s {plain:14.1f}s  {chunks} "
              f"(first/plain {first / plain:.2f}x, second/plain {second / plain:.2f}x)")


if __name__ == "__main__":
    main(sys.argv[1:])
