#!/usr/bin/env python3
"""Writes the reference token ids that tests/policy/*tokenizer* compare against.

Generated files (rerun this script to regenerate them; it is deterministic):
  tests/fixtures/tokenizer/qwen3_ids.jsonl     ids of the real Qwen3 tokenizer for the corpus
  tests/fixtures/tokenizer/qwen3_dataset_digests.tsv
                                               token count and FNV-1a digest of the Qwen3 ids
                                               of every text field of every dataset line
  tests/fixtures/tokenizer/gpt2/...            a tiny GPT-2-style byte-level BPE and its ids
  tests/fixtures/tokenizer/gpt2_prefix/...     the same model with add_prefix_space=true
  tests/fixtures/tokenizer/llama3/...          a tiny Llama-3-style byte-level BPE and its ids
  tests/fixtures/tokenizer/chatml.jsonl        Qwen3's Jinja chat template rendered by jinja2

Needs `pip install tokenizers jinja2`, the Qwen3 tokenizer and the gsm8k and math500
datasets (the --shared folder, by default ../shared next to the repository).
The ids come from the Hugging Face `tokenizers` package, encoded without special-token
post-processing (add_special_tokens=False), which is what aha's Tokenizer::Encode does.
"""
import argparse
import json
import os
import random
import struct

import jinja2
import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Hand-written cases: each stresses one part of the pipeline.
HAND_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing spaces   ",
    "a  b   c    d\t\te\n\nf\r\ng",
    "line one\n\n\n   line two\n\t\n",
    "tabs\tand\t\tmixed \t \n whitespace  \n",
    "trailing newline runs\n\n\n\n",
    "    ",
    "\n",
    "",
    "x",
    # Contractions in mixed case (the (?i:'s|'t|...) alternatives).
    "DON'T do it, we'Ll see. She's here; they'RE gone; I'm done; I'D go; you've won.",
    "don't DON'T Don'T 's 'S 't 'T 're 'RE 've 'VE 'm 'M 'll 'LL 'd 'D",
    "rock'n'roll o'clock ''quoted'' 'single'",
    # Numbers: Qwen splits digits one by one, Llama 3 in groups of up to three.
    "1234567890 3.14159 -42 1e-9 0x1F 1,000,000 12:30",
    "In 2024, 37% of 1500 people paid $19.99 each.",
    # Code.
    "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }\n",
    "if x != None and y >= 0:\n\t\tpass\n",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "#include <vector>\nstd::vector<int> v{1,2,3};\n",
    # Math and LaTeX.
    "$\\frac{a}{b} + \\sqrt{x^2 + y^2} = \\int_0^\\infty e^{-t}\\,dt$",
    "\\begin{align} x &= \\pi r^2 \\\\ y &\\le \\theta \\end{align}",
    "The answer is \\boxed{\\frac{3}{4}}.",
    "∀x ∈ ℝ, ∃y: x² + y² ≥ 0 → √(x²) = |x| ≠ ∞",
    # CJK and other scripts.
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 텍스트 입니다.",
    "Привет, мир! Ελληνικά. עברית. العربية. हिन्दी",
    "Mixed 中文 and English 混合 text123数字",
    # Emoji and other 4-byte UTF-8.
    "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "Gothic 𐌰𐌱𐌲 and math 𝔸𝔹ℂ 𝟘𝟙𝟚 and 🀄🃏",
    "𝕳𝖊𝖑𝖑𝖔 𝓦𝓸𝓻𝓵𝓭",
    # Combining characters and NFC cases (decomposed input is composed by NFC).
    "cafe\u0301 vs caf\u00e9",
    "A\u030a ångström Å Å",
    "n\u0303 o\u0308 u\u0308ber e\u0301\u0301 a\u0323\u0302",
    "\u1100\u1161\u11a8 (decomposed hangul)",
    "ﬁ ligature, ① circled, ｆｕｌｌ width",
    "Zero\u200bwidth\u200djoiner\ufeffbom",
    "NBSP\u00a0here and thin\u2009space and ideographic\u3000space",
    # Special and added tokens in the text.
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<think>\nLet me think.\n</think>\n\n<answer>4</answer><|endoftext|>",
    "text<|endoftext|>more text <|endoftext|> spaced",
    "<|im_start|><|im_end|><|endoftext|><think></think>",
    "<tool_call>{\"name\": \"f\"}</tool_call>",
    "almost special <|im_star|> and <think > and < think>",
    "<|fim_prefix|>def<|fim_suffix|>return<|fim_middle|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<mask> word [SW] word[SW]word  <mask>  x",
    # Punctuation runs and mixed symbols.
    "Wait... what?!?! (yes) [no] {maybe} <tag> --flag ==> ***bold***",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "Ünïcödé Äpfel Öl Übermaß straße",
    "____init____ --- === ~~~ ```python\ncode\n```",
]


# Edge cases added after the corpus above trained the tiny tokenizers. They are encoded by
# all four tokenizers but kept out of the training corpus, so the tiny vocabularies (and the
# tests that rely on which characters they lack) stay as they are.
EDGE_CASES = [
    # Special tokens glued to punctuation, words and newlines.
    "Done.<|im_end|>",
    "x<|endoftext|>y",
    "<|im_start|>user\n",
    "<|im_start|>assistant\n<think>\n\n</think>\n\nThe answer is 4.<|im_end|>\n",
    "Why?<|im_end|><|im_start|>system\nBe brief.<|im_end|>",
    "(<|endoftext|>) [<|im_end|>] \"<|im_start|>\"",
    " <|im_end|> \n<|im_end|>\n\n<|im_end|>",
    "42<|endoftext|>43 $x$<|im_end|>$y$",
    # Long digit runs, and digits mixed with commas, decimals and other scripts' digits.
    "1234567890123456789012345678901234567890",
    "0000000000000000000000000000000000000000 x9999999999999999999999999",
    "12,345,678,901.234567 and 3.14159265358979323846264338327950288 and 1,000.00",
    "-0.000001 +1.5e+10 10^100 2,147,483,647 .5 5. 1..2 3,,4",
    "$1,234.56 or €1.234,56 or 1 234 567 or 1'000'000",
    "Arabic-Indic ١٢٣٤٥٦٧٨٩٠ and full-width ０１２３ and superscript ¹²³ and ½",
    # Arabic, with and without diacritics, mixed with Latin text and digits.
    "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
    "اَلْعَرَبِيَّةُ لُغَةٌ جَمِيلَةٌ، وَالرِّيَاضِيَّاتُ مُمْتِعَةٌ!",
    "العدد ٣٫١٤ والعدد 42 في جملة واحدة؟",
    "مرحبا بالعالم (Hello) مرحبا\nسطر جديد: x = ٢ + ٣",
    "ـــتطويلـــ وَ ﻻ ﷲ",
    # CRLF line endings in text, code, chat markup and whitespace runs.
    "line one\r\nline two\r\n",
    "\r\n",
    "\r\n\r\n\r\n",
    "a\r\n\r\nb \r\n c\t\r\n",
    "x = 1;\r\n    y = 2;\r\n\r\n    return x;\r\n",
    "mixed\r\nand\nand\rlone CR\r\r\n\n\r",
    "<|im_end|>\r\n<|im_start|>user\r\nHi\r\n",
    "trailing spaces  \r\n  leading \r\n\t\r\n",
    "Step 1:\r\n\r\n2 + 2 = 4.\r\n#### 4",
    # Tabs mixed with spaces.
    "\t \tx \t y\t\t z  \t",
    "  \tindented\n\t  more\n \t \t deep\n\t",
    "col1\tcol2 \tcol3\t \n1\t 2 \t3",
    " \t\n \t\n\t \n",
    # Unicode whitespace and format characters.
    "a\u00a0b \u00a0c\u00a0\u00a0d\u00a0",
    "全角\u3000スペース\u3000\u3000と 半角",
    "\u2002en\u2003em\u2009thin\u202fnarrow\u205fmath\u3000ideo\u00a0nbsp",
    "\u00a0\u00a0leading nbsp and trailing ideographic\u3000\u3000",
    "line\u2028separator\u2029paragraph\u0085nel\u000bvt\u000cff",
    "\u1680ogham\u180emongolian\u200bzero\u2060joiner\u3000\n\u3000x",
    "5\u00a0000 and 12\u202f345 and 7\u2009kg",
    # Upper-case and mixed-case contractions, and the typographic apostrophe.
    "I'LL GO. WE'VE WON! DON'T STOP. THEY'RE HERE, SHE'S OK, I'M IN, HE'D SAY",
    "I'Ll we'VE DoN'T It'S i'M YOU'd",
    "'LL'VE'RE'S'D'M'T",
    "CAN'T WON'T SHAN'T Y'ALL O'NEIL 'TIS",
    "DON\u2019T I\u2019LL WE\u2019VE it\u2019s",
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def dataset_lines(shared, count_gsm8k, count_math500, seed):
    """Samples problem and solution texts from gsm8k and math500, deterministically."""
    rng = random.Random(seed)
    texts = []
    gsm = read_jsonl(os.path.join(shared, "datasets/gsm8k/test.jsonl"))
    for row in rng.sample(gsm, count_gsm8k):
        texts.append(row["question"])
        texts.append(row["answer"])
    math = read_jsonl(os.path.join(shared, "datasets/math500/test.jsonl"))
    for row in rng.sample(math, count_math500):
        texts.append(row["problem"])
        texts.append(row["solution"])
    return texts


def write_ids(tok, texts, path):
    with open(path, "w", encoding="utf-8") as f:
        for text in texts:
            ids = tok.encode(text, add_special_tokens=False).ids
            row = {"text": text, "ids": ids}
            # Decoding gives back the normalized text, so an NFC-changed text differs.
            decoded = tok.decode(ids, skip_special_tokens=False)
            if decoded != text:
                row["decoded"] = decoded
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(texts)} texts)")


# The dataset files whose every line the C++ test encodes, with the text fields of a row.
DIGEST_DATASETS = [
    ("gsm8k/train.jsonl", ["question", "answer"]),
    ("gsm8k/test.jsonl", ["question", "answer"]),
    ("math500/test.jsonl", ["problem", "solution", "answer"]),
]
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64_ids(ids):
    """Returns the 64-bit FNV-1a hash of the ids, each as 4 little-endian bytes."""
    digest = FNV_OFFSET
    for byte in struct.pack(f"<{len(ids)}I", *ids):
        digest = ((digest ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return digest


def write_dataset_digests(tok, shared, path):
    """Writes the token count and id digest of every field of every dataset line.

    tests/policy/bpe_dataset_test.cc reads this format. Lines starting with `#` are comments.
    A line `file<TAB>NAME<TAB>FIELD...` starts the rows of the dataset file NAME (relative to
    datasets/). Each following row is `LINE` (1-based, and blank lines have no row) and then
    `COUNT<TAB>DIGEST` per field, where DIGEST is fnv1a64_ids in 16 lower-case hex digits.
    """
    with open(path, "w", encoding="utf-8") as out:
        out.write("# Qwen3 token count and FNV-1a 64-bit digest (offset 0xcbf29ce484222325,\n"
                  "# prime 0x100000001b3, each id as 4 little-endian bytes) of each field of\n"
                  "# each dataset line. Written by scripts/make_tokenizer_fixtures.py.\n")
        for name, fields in DIGEST_DATASETS:
            out.write("\t".join(["file", name] + fields) + "\n")
            with open(os.path.join(shared, "datasets", name), encoding="utf-8") as f:
                lines = [(number, json.loads(line)) for number, line in enumerate(f, 1)
                         if line.strip()]
            for number, row in lines:
                cells = [str(number)]
                for field in fields:
                    text = row[field]
                    ids = tok.encode(text, add_special_tokens=False).ids
                    # The C++ test also checks that decoding gives back the text exactly.
                    if tok.decode(ids, skip_special_tokens=False) != text:
                        raise SystemExit(f"{name} line {number} field {field}: the reference "
                                         "tokenizer does not decode its ids back to the "
                                         "text; the test expects an exact round trip")
                    cells += [str(len(ids)), f"{fnv1a64_ids(ids):016x}"]
                out.write("\t".join(cells) + "\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def train_tiny(corpus, pre_tokenizer, special, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def save_folder(tok, folder, config, generation_config, merges_as_strings=False):
    os.makedirs(folder, exist_ok=True)
    data = json.loads(tok.to_str())
    if merges_as_strings:
        # The older tokenizer.json format, still found in many published models.
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    if generation_config is not None:
        with open(os.path.join(folder, "generation_config.json"), "w", encoding="utf-8") as f:
            json.dump(generation_config, f, indent=1)
    # Reload from disk so the ids come from exactly the file the C++ tests read.
    return Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))


def make_gpt2(out, corpus, texts):
    tok = train_tiny(corpus, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
                     ["<|endoftext|>"], 700)
    # Added tokens with the flags GPT-2-family models use (RoBERTa's <mask> has lstrip).
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.add_tokens([AddedToken("[SW]", single_word=True, normalized=False),
                    AddedToken("<think>", normalized=False, special=False),
                    AddedToken("</think>", rstrip=True, normalized=False, special=False)])
    config = {"eos_token": {"content": "<|endoftext|>", "__type": "AddedToken"},
              "bos_token": "<|endoftext|>", "pad_token": None}
    tok = save_folder(tok, os.path.join(out, "gpt2"), config, None, merges_as_strings=True)
    write_ids(tok, texts, os.path.join(out, "gpt2", "ids.jsonl"))

    data = json.loads(tok.to_str())
    data["pre_tokenizer"]["add_prefix_space"] = True
    prefix = Tokenizer.from_str(json.dumps(data))
    prefix = save_folder(prefix, os.path.join(out, "gpt2_prefix"), config, None)
    write_ids(prefix, texts, os.path.join(out, "gpt2_prefix", "ids.jsonl"))


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_llama3(out, corpus, texts):
    split = pre_tokenizers.Split(tokenizers.Regex(LLAMA3_PATTERN), behavior="isolated",
                                 invert=False)
    pre = pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                   use_regex=False)])
    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
               "<|end_header_id|>", "<|eot_id|>"]
    tok = train_tiny(corpus, pre, special, 800)
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True  # as in Meta's Llama 3 tokenizer.json
    tok = Tokenizer.from_str(json.dumps(data))
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
    ids = {t: tok.token_to_id(t) for t in special}
    generation = {"bos_token_id": ids["<|begin_of_text|>"],
                  "eos_token_id": [ids["<|end_of_text|>"], ids["<|eot_id|>"]]}
    tok = save_folder(tok, os.path.join(out, "llama3"), config, generation)
    write_ids(tok, texts, os.path.join(out, "llama3", "ids.jsonl"))


CHAT_CASES = [
    ([{"role": "user", "content": "What is 2+2?"}], True),
    ([{"role": "user", "content": "What is 2+2?"}], False),
    ([{"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "Solve x+1=3."}], True),
    ([{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Count to 3.\nThen stop."}], True),
]


def make_chatml(shared, out):
    with open(os.path.join(shared, "tokenizers/qwen3/tokenizer_config.json")) as f:
        template = json.load(f)["chat_template"]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    renderer = env.from_string(template)
    path = os.path.join(out, "chatml.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for messages, gen in CHAT_CASES:
            text = renderer.render(messages=messages, add_generation_prompt=gen)
            f.write(json.dumps({"messages": messages, "add_generation_prompt": gen,
                                "text": text}, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    parser.add_argument("--out", default=os.path.join(REPO, "tests/fixtures/tokenizer"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    data_texts = dataset_lines(args.shared, 75, 75, seed=1234)
    qwen = Tokenizer.from_file(os.path.join(args.shared, "tokenizers/qwen3/tokenizer.json"))
    write_ids(qwen, HAND_CASES + EDGE_CASES + data_texts,
              os.path.join(args.out, "qwen3_ids.jsonl"))
    write_dataset_digests(qwen, args.shared,
                          os.path.join(args.out, "qwen3_dataset_digests.tsv"))

    train_rows = read_jsonl(os.path.join(args.shared, "datasets/gsm8k/train.jsonl"))[:1500]
    corpus = HAND_CASES + [r["question"] + "\n" + r["answer"] for r in train_rows]
    small_texts = HAND_CASES + EDGE_CASES + data_texts[:40]
    make_gpt2(args.out, corpus, small_texts)
    make_llama3(args.out, corpus, small_texts)
    make_chatml(args.shared, args.out)


if __name__ == "__main__":
    main()
