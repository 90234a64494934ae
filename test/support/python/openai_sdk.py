"""Drives edgellm's OpenAI-compatible endpoint with the official Python SDK.

Usage: openai_sdk.py BASE_URL API_KEY MODEL SCENARIO; prints one JSON object on stdout.
Scenarios: chat, stream, completion, errors, disconnect.
"""

import json
import sys

import openai


def chat(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "Name one colour."},
        ],
        max_completion_tokens=12,
        temperature=0,
    )
    return {
        "content": r.choices[0].message.content,
        "finish_reason": r.choices[0].finish_reason,
        "completion_tokens": r.usage.completion_tokens,
        "prompt_tokens": r.usage.prompt_tokens,
    }


def stream(client, model):
    text, chunks, usage = "", 0, None
    with client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Count to ten."}],
        max_completion_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ) as s:
        for chunk in s:
            chunks += 1
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
    return {"text": text, "chunks": chunks, "completion_tokens": usage}


def completion(client, model):
    r = client.completions.create(model=model, prompt="Once upon a time", max_tokens=10, seed=7)
    return {
        "text": r.choices[0].text,
        "finish_reason": r.choices[0].finish_reason,
        "completion_tokens": r.usage.completion_tokens,
    }


def errors(client, model):
    out = {}
    try:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    except openai.NotFoundError as e:
        out["unknown_model"] = {"status": e.status_code, "code": e.code, "message": e.message}
    bad = openai.OpenAI(base_url=str(client.base_url), api_key="sk-wrong", max_retries=0)
    try:
        bad.models.list()
    except openai.AuthenticationError as e:
        out["wrong_key"] = {"status": e.status_code, "code": e.code}
    try:
        client.chat.completions.create(model=model, messages=[], max_completion_tokens=4)
    except openai.BadRequestError as e:
        out["no_messages"] = {"status": e.status_code, "param": e.param}
    return out


def disconnect(client, model):
    received = 0
    s = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a very long story"}],
        max_completion_tokens=450,
        temperature=0,
        stream=True,
    )
    for chunk in s:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
        if received == 5:
            break
    s.close()  # closes the HTTP response: the server sees the client go away
    return {"received": received}


def main():
    base_url, api_key, model, scenario = sys.argv[1:5]
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)
    scenarios = {
        "chat": chat,
        "stream": stream,
        "completion": completion,
        "errors": errors,
        "disconnect": disconnect,
    }
    print(json.dumps(scenarios[scenario](client, model)))


if __name__ == "__main__":
    main()
