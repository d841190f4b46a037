#!/usr/bin/env python3
"""Writes tests/data/chat_templates_llamacpp.jsonl: what llama.cpp's
llama_chat_apply_template produces for vatp's chat templates, used as a black box.

Each line: {"template": vatp name, "source": what was passed to llama.cpp, "jinja": the
model template string or null, "conversation": name, "messages": [[role, content]...],
"add_generation_prompt": bool, "text": llama.cpp's output}.

vatp's names map to llama.cpp as follows:
  chatml, llama3, vicuna, mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7,
  mistral-v7-tekken       -> the built-in template of the same name;
  llama2                  -> what llama.cpp picks for Meta's Llama-2-chat template
                             (the Jinja string below is passed to it);
  mistral                 -> what llama.cpp picks for Mistral-7B-Instruct-v0.2's template.
The two Jinja strings are the chat templates of those models' tokenizer configs, written
out here so that tests/tokenizer can also check vatp's detection on them.

Run with the venv python printed by scripts/ref/setup-llamacpp.sh:
  $(scripts/ref/setup-llamacpp.sh) scripts/ref/gen_chat_template_golden.py [--out tests/data/chat_templates_llamacpp.jsonl]
"""
import argparse
import ctypes
import json

import llama_cpp

LLAMA2_CHAT = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")
MISTRAL_V02 = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}")

TEMPLATES = [("chatml", "chatml", None), ("llama3", "llama3", None), ("vicuna", "vicuna", None),
             ("llama2", LLAMA2_CHAT, LLAMA2_CHAT), ("mistral", MISTRAL_V02, MISTRAL_V02)] + [
             (n, n, None) for n in ("mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken")]

CONVERSATIONS = {
    "user": [["user", "Hello there!"]],
    "system_user": [["system", "You are terse."], ["user", "What is 2+2?"]],
    "multi_turn": [["system", "Be kind."], ["user", "Hi"], ["assistant", "Hello! How can I help?"],
                   ["user", "Tell me a joke."]],
    "no_system_multi_turn": [["user", "Hi"], ["assistant", "Hey."], ["user", "Bye"]],
    "whitespace": [["user", "  padded question  \n"], ["assistant", " spaced answer "], ["user", "again"]],
    "padded_everything": [["system", "  sys pad  "], ["user", "  u pad  "], ["assistant", "  a  "], ["user", " x "]],
    "unicode_newlines": [["system", "Réponds en français.\nSois bref."], ["user", "Qu'est-ce que\nΠ ?"]],
}


def apply(template, messages, add_ass):
    arr = (llama_cpp.llama_chat_message * len(messages))()
    keep = []
    for i, (role, content) in enumerate(messages):
        rb, cb = role.encode(), content.encode()
        keep += [rb, cb]
        arr[i].role = rb
        arr[i].content = cb
    buf = ctypes.create_string_buffer(1 << 16)
    n = llama_cpp.llama_chat_apply_template(template.encode(), arr, len(messages), add_ass, buf, len(buf))
    if n < 0:
        raise RuntimeError(f"llama.cpp rejected template {template[:40]!r}")
    return buf.raw[:n].decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/chat_templates_llamacpp.jsonl")
    args = ap.parse_args()
    n = 0
    with open(args.out, "w", encoding="utf-8") as f:
        for name, source, jinja in TEMPLATES:
            for conv, msgs in CONVERSATIONS.items():
                for add_ass in (True, False):
                    rec = {"template": name, "source": source if jinja is None else "jinja", "jinja": jinja,
                           "conversation": conv, "messages": msgs, "add_generation_prompt": add_ass,
                           "text": apply(source, msgs, add_ass),
                           "llama_cpp_python": llama_cpp.__version__}
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
    print(f"wrote {n} cases to {args.out}")


if __name__ == "__main__":
    main()
