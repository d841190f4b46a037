#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include "tokenizer/utf8.h"

namespace vatp::tokenizer {
namespace {

// The GPT-2 pattern; the trailing `\s+` catches whitespace the lookahead rule leaves
// behind, which gap-keeping would emit as one piece anyway.
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Mistral-Nemo's "tekken": llama.cpp's adaptation of the original \p{Lu}\p{Lt}... form
// (upper-then-lower letter runs via lookaheads), run by std::regex there.
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<const char*> patterns(PreType t) {
  switch (t) {
    case PreType::Gpt2: return {kGpt2};
    case PreType::Llama3: return {kLlama3};
    case PreType::Qwen2: return {kQwen2};
    case PreType::StarCoder: return {R"(\p{N})", kGpt2};
    case PreType::Tekken: return {kTekken};
    case PreType::Default: return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
  }
  return {kGpt2};
}

// llama.cpp's whitespace is Unicode's White_Space property. PCRE2's `\s` (with UCP)
// also matches U+180E (MONGOLIAN VOWEL SEPARATOR, Cf since Unicode 6.3), which llama.cpp
// treats as a non-space symbol, so every `\s` / `\S` is rewritten to this explicit set.
constexpr const char* kWhiteSpace =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Rewrites `\s` and `\S` in a pattern: `\s` -> the set (bracketed outside a class),
// `\S` -> its complement (only used outside classes in these patterns).
std::string explicit_whitespace(const char* pat) {
  std::string out;
  bool in_class = false;
  for (const char* p = pat; *p; ++p) {
    if (*p == '\\' && p[1]) {
      if (p[1] == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (p[1] == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += p[0];
        out += p[1];
      }
      ++p;
      continue;
    }
    if (*p == '[' && !in_class)
      in_class = true;
    else if (*p == ']' && in_class)
      in_class = false;
    out += *p;
  }
  return out;
}

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

}  // namespace

struct PreTokenizer::Impl {
  std::vector<std::unique_ptr<pcre2_code, CodeFree>> codes;
};

PreTokenizer::PreTokenizer() : impl_(std::make_unique<Impl>()) {}
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::create(PreType type) {
  PreTokenizer p;
  for (const char* raw : patterns(type)) {
    const std::string pat = explicit_whitespace(raw);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.c_str()), PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return internal_error(std::string("pre-tokenizer regex failed to compile: ") +
                            reinterpret_cast<char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    p.impl_->codes.emplace_back(code);
  }
  return p;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (const auto& code : impl_->codes) {
    std::vector<std::string_view> next;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code.get(), nullptr);
    for (std::string_view piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t start = 0, gap = 0;
      while (start < piece.size()) {
        const int rc = pcre2_match(code.get(), subject, piece.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (e == b) {  // empty match: step one character forward
          start = b + utf8_len(static_cast<uint8_t>(piece[b]));
          continue;
        }
        if (b > gap) next.push_back(piece.substr(gap, b - gap));
        next.push_back(piece.substr(b, e - b));
        gap = start = e;
      }
      if (gap < piece.size()) next.push_back(piece.substr(gap));
    }
    pcre2_match_data_free(md);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace vatp::tokenizer
