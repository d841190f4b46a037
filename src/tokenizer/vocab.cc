#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace vatp::tokenizer {
namespace {

Result<PreType> pre_type_from_name(const std::string& pre) {
  if (pre.empty() || pre == "default") return PreType::Default;
  for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "lfm2"}) {
    if (pre == n) return PreType::Llama3;
  }
  for (const char* n : {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}) {
    if (pre == n) return PreType::Qwen2;
  }
  for (const char* n : {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"}) {
    if (pre == n) return PreType::StarCoder;
  }
  for (const char* n : {"gpt-2", "phi-2", "mpt", "olmo", "jais"}) {
    if (pre == n) return PreType::Gpt2;
  }
  if (pre == "tekken") return PreType::Tekken;
  return unimplemented(
      "unknown pre-tokenizer '" + pre +
      "' (supported: default, gpt-2, mpt, phi-2, olmo, jais, llama-bpe/llama3/llama-v3/falcon3/pixtral/lfm2, "
      "qwen2/deepseek-r1-qwen/stablelm2/megrez, "
      "smollm/starcoder/refact/command-r/codeshell/exaone/minerva-7b, "
      "tekken)");
}

// A special-token id the file gives must name a token. llama.cpp ignores an out-of-range
// id and falls back to its default, so the runtime would use another token than the one
// `vatp info` shows; a broken file is refused instead.
Result<int32_t> optional_id(const gguf::GgufFile& f, const char* key, int32_t fallback, int32_t n) {
  if (!f.find(key)) return fallback;
  VATP_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
  if (v >= static_cast<uint64_t>(n)) {
    return invalid_argument(std::string("GGUF key '") + key + "' = " + std::to_string(v) +
                            " is outside the vocabulary of " + std::to_string(n) + " tokens");
  }
  return static_cast<int32_t>(v);
}

void force_control(Vocab& v, int32_t id) {
  if (id >= 0) v.types[static_cast<size_t>(id)] = TokenType::Control;
}

// The first of `texts` that is a token (llama.cpp scans its hash map instead, so where a
// vocabulary has several candidates its pick may differ; all of them end up in the EOG
// set either way).
int32_t find_any(const Vocab& v, std::initializer_list<const char*> texts) {
  for (const char* t : texts) {
    const int32_t id = v.find(t);
    if (id >= 0) return id;
  }
  return -1;
}

// llama.cpp's load-time fix-ups (§4.1): special ids the file does not give are found by
// their text and forced CONTROL; the end-of-generation set is eos, eot, eom, fim
// pad/rep/sep and every token with a turn-end text; Phi-3 gets RSTRIP on its specials.
// Checked against llama.cpp 0.3.36's attrs and EOG sets for the seven test vocabularies.
void finish_special_tokens(Vocab& v, const std::string& general_name) {
  auto detect = [&](int32_t& id, std::initializer_list<const char*> texts) {
    if (id >= 0) return;
    id = find_any(v, texts);
    force_control(v, id);
  };
  detect(v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                 "<EOT>", "_<EOT>",
                 "<\xEF\xBD\x9C"
                 "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>" /* DeepSeek */,
                 "<end_of_utterance>"});
  detect(v.eom, {"<|eom_id|>"});
  detect(v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "\xE2\x96\x81<PRE>"});
  detect(v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xE2\x96\x81<SUF>"});
  detect(v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "\xE2\x96\x81<MID>"});
  detect(v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>"});
  detect(v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(v.fim_sep, {"<|file_sep|>"});

  v.eog.clear();
  auto add_eog = [&](int32_t id) {
    if (id >= 0 && !v.is_eog(id)) v.eog.push_back(id);
  };
  for (const char* t :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "</s>"}) {
    const int32_t id = v.find(t);
    add_eog(id);
    force_control(v, id);
  }
  for (int32_t id : {v.eos, v.eot, v.eom, v.fim_pad, v.fim_rep, v.fim_sep}) add_eog(id);
  std::sort(v.eog.begin(), v.eog.end());

  v.strip.assign(v.tokens.size(), 0);
  std::string lname = general_name;
  for (char& c : lname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
    for (size_t id = 0; id < v.types.size(); ++id) {
      const TokenType t = v.types[id];
      if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) {
        v.strip[id] |= Vocab::kRstrip;
      }
    }
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) {
      const int32_t id = v.find(t);
      if (id >= 0) v.strip[static_cast<size_t>(id)] &= static_cast<uint8_t>(~Vocab::kRstrip);
    }
  }
}

}  // namespace

bool Vocab::is_eog(int32_t id) const { return std::find(eog.begin(), eog.end(), id) != eog.end(); }

Result<Vocab> Vocab::from_gguf(const gguf::GgufFile& f) {
  Vocab v;
  VATP_ASSIGN_OR_RETURN(std::string model, f.get_string("tokenizer.ggml.model"));
  if (model == "llama") {
    v.type = VocabType::Spm;
  } else if (model == "gpt2") {
    v.type = VocabType::Bpe;
  } else {
    return unimplemented("unsupported tokenizer model '" + model +
                         "' (supported: llama (SentencePiece), gpt2 (BPE))");
  }
  const gguf::Value* tv = f.find("tokenizer.ggml.tokens");
  if (!tv) return not_found("GGUF key 'tokenizer.ggml.tokens' is missing");
  VATP_ASSIGN_OR_RETURN(std::vector<std::string_view> toks, tv->as_string_array());
  if (toks.empty()) return invalid_argument("the vocabulary is empty");
  const int32_t n = static_cast<int32_t>(toks.size());
  v.tokens.reserve(toks.size());
  for (int32_t i = 0; i < n; ++i) {
    std::string t(toks[static_cast<size_t>(i)]);
    if (t.empty()) t = "[EMPTY_" + std::to_string(i) + "]";
    v.token_to_id.emplace(t, i);
    v.tokens.push_back(std::move(t));
  }
  v.scores.assign(toks.size(), 0.0f);
  if (const gguf::Value* sv = f.find("tokenizer.ggml.scores")) {
    VATP_ASSIGN_OR_RETURN(v.scores, sv->as_f32_array());
    if (v.scores.size() != toks.size())
      return invalid_argument("tokenizer.ggml.scores length differs from tokens");
  }
  v.types.assign(toks.size(), TokenType::Normal);
  if (const gguf::Value* ty = f.find("tokenizer.ggml.token_type")) {
    VATP_ASSIGN_OR_RETURN(std::vector<int32_t> t, ty->as_i32_array());
    if (t.size() != toks.size())
      return invalid_argument("tokenizer.ggml.token_type length differs from tokens");
    for (size_t i = 0; i < t.size(); ++i) {
      // Values outside the enum read as UNDEFINED, as llama.cpp reads them.
      v.types[i] = (t[i] < 0 || t[i] > 6) ? TokenType::Undefined : static_cast<TokenType>(t[i]);
    }
  }

  if (v.type == VocabType::Spm) {
    v.bos = 1, v.eos = 2, v.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else {
    const gguf::Value* mv = f.find("tokenizer.ggml.merges");
    if (!mv) return not_found("GGUF key 'tokenizer.ggml.merges' is missing (required for gpt2 tokenizers)");
    VATP_ASSIGN_OR_RETURN(std::vector<std::string_view> merges, mv->as_string_array());
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string_view m = merges[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string_view::npos)
        return invalid_argument("malformed BPE merge #" + std::to_string(i) + ": '" + std::string(m) + "'");
      v.merge_rank.emplace(std::string(m), static_cast<int32_t>(i));
    }
    v.bos = 11, v.eos = 11;
    v.clean_spaces = true;
    if (f.find("tokenizer.ggml.pre")) {
      VATP_ASSIGN_OR_RETURN(v.pre_name, f.get_string("tokenizer.ggml.pre"));
    }
    VATP_ASSIGN_OR_RETURN(v.pre, pre_type_from_name(v.pre_name));
    // Per-pre-tokenizer overrides, checked against llama.cpp 0.3.36 (the gpt-2 vocabulary
    // relabelled with each name): stablelm2 and megrez keep clean_spaces.
    if (v.pre == PreType::Llama3 || v.pre == PreType::Tekken) v.ignore_merges = true, v.add_bos = true;
    for (const char* n : {"qwen2", "deepseek-r1-qwen", "smollm", "command-r", "tekken"}) {
      if (v.pre_name == n) v.clean_spaces = false;
    }
  }
  VATP_ASSIGN_OR_RETURN(v.bos, optional_id(f, "tokenizer.ggml.bos_token_id", v.bos, n));
  VATP_ASSIGN_OR_RETURN(v.eos, optional_id(f, "tokenizer.ggml.eos_token_id", v.eos, n));
  VATP_ASSIGN_OR_RETURN(v.unk, optional_id(f, "tokenizer.ggml.unknown_token_id", v.unk, n));
  VATP_ASSIGN_OR_RETURN(v.pad, optional_id(f, "tokenizer.ggml.padding_token_id", v.pad, n));
  VATP_ASSIGN_OR_RETURN(v.eot, optional_id(f, "tokenizer.ggml.eot_token_id", -1, n));
  if (f.find("tokenizer.ggml.add_bos_token")) {
    VATP_ASSIGN_OR_RETURN(v.add_bos, f.get_bool("tokenizer.ggml.add_bos_token"));
  }
  if (f.find("tokenizer.ggml.add_eos_token")) {
    VATP_ASSIGN_OR_RETURN(v.add_eos, f.get_bool("tokenizer.ggml.add_eos_token"));
  }
  if (f.find("tokenizer.ggml.add_space_prefix")) {
    VATP_ASSIGN_OR_RETURN(v.add_space_prefix, f.get_bool("tokenizer.ggml.add_space_prefix"));
  }
  if (v.bos >= n) v.bos = -1;
  VATP_ASSIGN_OR_RETURN(v.eom, optional_id(f, "tokenizer.ggml.eom_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_pre, optional_id(f, "tokenizer.ggml.fim_pre_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_suf, optional_id(f, "tokenizer.ggml.fim_suf_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_mid, optional_id(f, "tokenizer.ggml.fim_mid_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_pad, optional_id(f, "tokenizer.ggml.fim_pad_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_rep, optional_id(f, "tokenizer.ggml.fim_rep_token_id", -1, n));
  VATP_ASSIGN_OR_RETURN(v.fim_sep, optional_id(f, "tokenizer.ggml.fim_sep_token_id", -1, n));
  std::string name;
  if (f.find("general.name")) {
    VATP_ASSIGN_OR_RETURN(name, f.get_string("general.name"));
  }
  finish_special_tokens(v, name);
  return v;
}

}  // namespace vatp::tokenizer
