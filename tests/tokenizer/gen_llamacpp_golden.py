#!/usr/bin/env python3
"""Golden tokenize/detokenize results from llama.cpp for the six fixture vocabularies.

Writes tests/tokenizer/data/llamacpp_<vocab>.jsonl, read by llamacpp_golden_test.cc:
  {"text_hex": hex(utf8), "add_special": bool, "parse_special": bool, "ids": [int]}
  {"ids": [int], "special": bool, "detok_hex": hex}   (llama_detokenize, remove_special=false)

Needs llama-cpp-python (scripts/ref/setup-llamacpp.sh installs the pinned 0.3.36 into
~/.cache/vatp/llamacpp-venv-0.3.36). Run with that interpreter:
  ~/.cache/vatp/llamacpp-venv-0.3.36/bin/python tests/tokenizer/gen_llamacpp_golden.py ../shared
Strings are random mixes of scripts, digits, punctuation, Unicode spaces (incl. U+180E),
contractions, special-token texts and whitespace runs, plus regressions found by
differential testing. Only valid UTF-8 is used: llama.cpp aborts on some invalid input
(e.g. F4 90 80 80, a code point above U+10FFFF: uncaught std::invalid_argument).
"""
import ctypes, json, os, random, sys

POOLS = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', '0123456789',
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", ' \t\n\r\x0b\x0c',
    '\u00a0\u0085\u1680\u2000\u2003\u200a\u2028\u2029\u202f\u205f\u3000\u180e\u200b\ufeff\x1c\x1f',
    'éèêëàâäôöûüçñßÄÖÜÉÈ', 'αβγδεζηθλμπστφωΩДЖЗИЙКЛМНОПжзийклмнопрст', '日本語中文字漢字한국어테스트ひらがなカタカナ',
    '\u0301\u0308\u0327\u093f\u0940\u0b3e\u05b0\u064b', 'नमस्तेहिन्दीতামিলதமிழ்ខ្មែរ', 'مرحباالعربيةשלוםעברית',
    '👋🏽👨‍👩‍👧🦙🚀❤️✨🙂🇺🇸', '½¾²³①⑩٣٤०१२三', '€£¥©®™°±×÷∑∞≈≠←→↑↓♥♦§¶•…–—“”‘’«»',
    '\u0378\ue000\U000f0000\U0010fffd\x00\x01\x7f\u00ad\u200d\u200c',
]
WORDS = ["Hello", "world", "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "'s", "'S", "’s",
         "  ", "\n\n", " \n", "\t\t", "1234567", "3.14", "1,000", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
         "<repo_name>", "</s>", "<s>", "<unk>", "<fim_prefix>", "<|padding|>", "[PAD50277]", "    ", "<|user|>",
         "<|end|>", "<|assistant|>", "def f(x):\n    return x", "a.b,c!d?e", " ' ", " 's", " ?", " .", "x==y"]
REGRESSIONS = [" \u202f\u180e", " \u180e\u2013", " \u205f\u180e", "a\u180e b", "</s>", "</s> x", "<|end|>\n",
               "<|user|>\nHi<|end|>\n<|assistant|>", "x <|end|>  y", "<s> a", "<unk>\n"]


CLEAN_SPACES = ["Hi , you . Ok ? Yes ! it 's I 'm we 're they 've he 'll she 'd", "a ' b", "x '' y", " ' ' ",
                "rock 'n' roll", " , . ! ?"]


def rnd(rng):
    out = []
    for _ in range(rng.choice([1, 2, 3, 5, 8, 13, 30])):
        if rng.random() < 0.35:
            out.append(rng.choice(WORDS))
        else:
            pool = rng.choice(POOLS)
            out.append(''.join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        if rng.random() < 0.4:
            out.append(rng.choice([' ', '  ', '\n', '\t', ' \n ']))
    return ''.join(out)


# Pre-tokenizers without a fixture vocabulary: the gpt-2 vocabulary relabelled with these
# `tokenizer.ggml.pre` names (exercises the split rules, ignore_merges, add_bos and
# clean_spaces of each; the merges stay GPT-2's). Output llamacpp_gpt-2-as-<pre>.jsonl.
RELABELLED = ['llama-bpe', 'qwen2', 'tekken', 'default', 'command-r', 'stablelm2']


def relabel(src, dst, pre):
    try:
        import gguf  # noqa: F401
    except ImportError:  # the llama.cpp venv lacks gguf-py: let an interpreter that has it do this
        import subprocess
        subprocess.run([os.environ.get('GGUF_PYTHON', 'python3'), os.path.abspath(__file__), '--relabel', src, dst, pre],
                       check=True)
        return
    from gguf import GGUFReader, GGUFWriter, GGUFValueType
    r = GGUFReader(src)
    w = GGUFWriter(dst, r.fields['general.architecture'].contents())
    add = {GGUFValueType.STRING: w.add_string, GGUFValueType.UINT32: w.add_uint32, GGUFValueType.INT32: w.add_int32,
           GGUFValueType.FLOAT32: w.add_float32, GGUFValueType.BOOL: w.add_bool, GGUFValueType.UINT64: w.add_uint64,
           GGUFValueType.ARRAY: w.add_array}
    for k, f in r.fields.items():
        if k.startswith('GGUF.') or k == 'general.architecture':
            continue
        add[f.types[0]](k, pre if k == 'tokenizer.ggml.pre' else f.contents())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    import tempfile
    global llama_cpp
    import llama_cpp
    shared = sys.argv[1] if len(sys.argv) > 1 else '../shared'
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
    os.makedirs(out_dir, exist_ok=True)
    llama_cpp.llama_backend_init()
    tmp = tempfile.mkdtemp()
    jobs = []
    for name in ['llama-spm', 'phi-3', 'gpt-2', 'mpt', 'starcoder', 'refact']:
        jobs.append((name, os.path.join(shared, 'fixtures', 'tokenizer', f'ggml-vocab-{name}.gguf'), 150, 300))
    for pre in RELABELLED:
        path = os.path.join(tmp, f'gpt-2-as-{pre}.gguf')
        relabel(os.path.join(shared, 'fixtures', 'tokenizer', 'ggml-vocab-gpt-2.gguf'), path, pre)
        jobs.append((f'gpt-2-as-{pre}', path, 60, 100))
    for name, path, n_texts, n_detok in jobs:
        mp = llama_cpp.llama_model_default_params()
        mp.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(path.encode(), mp)
        vocab = llama_cpp.llama_model_get_vocab(model)
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

        def tok(b, add, ps):
            n = len(b) + 16
            buf = (llama_cpp.llama_token * n)()
            r = llama_cpp.llama_tokenize(vocab, b, len(b), buf, n, add, ps)
            return list(buf[:r])

        def detok(ids, special):
            arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
            n = len(ids) * 4096 + 64
            buf = ctypes.create_string_buffer(n)
            r = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, n, False, special)
            assert r >= 0
            return buf.raw[:r]

        rng = random.Random(20261128)
        texts = REGRESSIONS + [rnd(rng) for _ in range(n_texts)]
        lines = []
        for i, t in enumerate(texts):
            b = t.encode('utf-8')
            for add, ps in ([(False, False), (True, True)] if i % 2 else [(False, True), (True, False)]):
                ids = tok(b, add, ps)
                lines.append({'text_hex': b.hex(), 'add_special': add, 'parse_special': ps, 'ids': ids})
        # Decode what the texts encode to (hits clean_spaces' " ." " 's" " ' " rules), then
        # random id sequences biased to the special ids at both ends of the vocabulary.
        for t in CLEAN_SPACES + texts[:40]:
            ids = tok(t.encode('utf-8'), False, False)
            lines.append({'ids': ids, 'special': False, 'detok_hex': detok(ids, False).hex()})
        specials = list(range(0, 40)) + list(range(n_vocab - 300, n_vocab))
        for k in range(n_detok):
            ids = [rng.choice(specials) if rng.random() < 0.3 else rng.randrange(n_vocab)
                   for _ in range(rng.randint(1, 6))]
            lines.append({'ids': ids, 'special': k % 2 == 0, 'detok_hex': detok(ids, k % 2 == 0).hex()})
        with open(os.path.join(out_dir, f'llamacpp_{name}.jsonl'), 'w') as f:
            for line in lines:
                f.write(json.dumps(line) + '\n')
        llama_cpp.llama_model_free(model)
        print(name, len(lines))


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--relabel':
        relabel(*sys.argv[2:])
    else:
        main()
