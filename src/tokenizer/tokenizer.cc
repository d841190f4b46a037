#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <queue>

#include "tokenizer/utf8.h"

namespace vatp::tokenizer {
namespace {

bool is_special_type(TokenType t) {
  return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
}

struct Fragment {
  bool special;
  int32_t id;            // when special
  std::string_view raw;  // when not
};

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to
// U+0100 onwards in increasing byte order.
uint32_t byte_to_codepoint(int b, int& next_extra) {
  const bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  return keep ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + next_extra++);
}

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& f) {
  VATP_ASSIGN_OR_RETURN(Vocab v, Vocab::from_gguf(f));
  return create(std::move(v));
}

Result<Tokenizer> Tokenizer::create(Vocab vocab) {
  Tokenizer t;
  t.vocab_ = std::move(vocab);
  if (t.vocab_.type == VocabType::Bpe) {
    VATP_ASSIGN_OR_RETURN(PreTokenizer p, PreTokenizer::create(t.vocab_.pre));
    t.pre_ = std::make_unique<PreTokenizer>(std::move(p));
  }
  for (int32_t id = 0; id < t.vocab_.n_tokens(); ++id) {
    if (is_special_type(t.vocab_.types[static_cast<size_t>(id)])) t.specials_.push_back(id);
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(), [&](int32_t a, int32_t b) {
    return t.vocab_.tokens[static_cast<size_t>(a)].size() > t.vocab_.tokens[static_cast<size_t>(b)].size();
  });
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = byte_to_codepoint(b, extra);
    utf8_append(t.byte_to_cp_[b], cp);
    t.cp_to_byte_[cp] = static_cast<uint8_t>(b);
  }
  if (t.vocab_.type == VocabType::Bpe) VATP_RETURN_IF_ERROR(t.check_byte_tokens());
  return t;
}

// Byte-level BPE falls back to one token per byte for text no merge covers; without byte
// tokens that text would be dropped silently (llama.cpp throws at tokenize time). Real
// vocabularies lack some control and invalid-UTF-8 bytes (SmolLM2 lacks 21), so the check
// covers printable ASCII (space included), without which ordinary text is lost.
Status Tokenizer::check_byte_tokens() const {
  int missing = 0, first = -1;
  for (int b = 0x20; b < 0x7F; ++b) {
    if (vocab_.find(byte_to_cp_[b]) >= 0) continue;
    if (first < 0) first = b;
    ++missing;
  }
  if (missing == 0) return Status::ok();
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", first);
  return invalid_argument("the BPE vocabulary lacks " + std::to_string(missing) +
                          " of the 95 printable ASCII byte tokens (first: byte " + hex + ", token '" +
                          byte_to_cp_[first] + "'), so text with those bytes could not be tokenized");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // 1. Special-token partition (§4.2): split raw fragments on every occurrence of each
  //    special token's text, longest tokens first.
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({false, -1, text});
  for (int32_t id : specials_) {
    const TokenType ty = vocab_.types[static_cast<size_t>(id)];
    if (!parse_special && ty != TokenType::UserDefined) continue;
    const std::string& st = vocab_.tokens[static_cast<size_t>(id)];
    if (st.empty()) continue;
    std::vector<Fragment> next;
    for (const Fragment& fr : frags) {
      if (fr.special) {
        next.push_back(fr);
        continue;
      }
      // LSTRIP / RSTRIP (Phi-3) drop ASCII whitespace (isspace in the C locale) on that
      // side of the match.
      const uint8_t strip = vocab_.strip.empty() ? 0 : vocab_.strip[static_cast<size_t>(id)];
      auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
      std::string_view rest = fr.raw;
      size_t p;
      while ((p = rest.find(st)) != std::string_view::npos) {
        std::string_view left = rest.substr(0, p);
        if (strip & Vocab::kLstrip) {
          while (!left.empty() && is_space(left.back())) left.remove_suffix(1);
        }
        if (!left.empty()) next.push_back({false, -1, left});
        next.push_back({true, id, {}});
        rest = rest.substr(p + st.size());
        if (strip & Vocab::kRstrip) {
          while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
        }
      }
      if (!rest.empty()) next.push_back({false, -1, rest});
    }
    frags.swap(next);
  }

  std::vector<int32_t> out;
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  bool prev_special = true;
  for (const Fragment& fr : frags) {
    if (fr.special) {
      out.push_back(fr.id);
      prev_special = true;
      continue;
    }
    if (vocab_.type == VocabType::Spm) {
      std::string s;
      if (vocab_.add_space_prefix && prev_special) s = " ";
      s.append(fr.raw);
      encode_spm(s, out);
    } else {
      encode_bpe(fr.raw, out);
    }
    prev_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

// SentencePiece as llama.cpp runs it (§4.3): bigram merges by score over UTF-8
// characters, then resegmentation with byte fallback.
void Tokenizer::encode_spm(std::string_view raw, std::vector<int32_t>& out) const {
  std::string text;
  for (char ch : raw) {
    if (ch == ' ') {
      text += "\xE2\x96\x81";  // U+2581
    } else {
      text += ch;
    }
  }
  struct Sym {
    int prev, next;
    size_t start, len;
  };
  std::vector<Sym> syms;
  for (size_t i = 0; i < text.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[i])), text.size() - i);
    syms.push_back({static_cast<int>(syms.size()) - 1, static_cast<int>(syms.size()) + 1, i, len});
    i += len;
  }
  if (syms.empty()) return;
  syms.back().next = -1;
  struct Bigram {
    float score;
    int left, right;
    size_t size;
    bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
  };
  std::priority_queue<Bigram> q;
  std::unordered_map<std::string, std::pair<int, int>> rev_merge;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const std::string s = text.substr(syms[static_cast<size_t>(l)].start,
                                      syms[static_cast<size_t>(l)].len + syms[static_cast<size_t>(r)].len);
    const int32_t id = vocab_.find(s);
    if (id < 0) return;
    q.push({vocab_.scores[static_cast<size_t>(id)], l, r, s.size()});
    rev_merge[s] = {l, r};
  };
  for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!q.empty()) {
    const Bigram b = q.top();
    q.pop();
    Sym& l = syms[static_cast<size_t>(b.left)];
    Sym& r = syms[static_cast<size_t>(b.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  // Resegment: a symbol that is a token is emitted; otherwise split along the merge that
  // made it, or fall back to byte tokens.
  std::function<void(const std::string&)> reseg = [&](const std::string& s) {
    const int32_t id = vocab_.find(s);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = rev_merge.find(s);
    if (it != rev_merge.end()) {
      // The merge recorded the two halves' lengths implicitly: split at the left's size.
      const std::pair<int, int> lr = it->second;
      const size_t left_len =
          syms[static_cast<size_t>(lr.second)].start - syms[static_cast<size_t>(lr.first)].start;
      reseg(s.substr(0, left_len));
      reseg(s.substr(left_len));
      return;
    }
    for (unsigned char c : s) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", c);
      const int32_t bid = vocab_.find(buf);
      if (bid >= 0) {
        out.push_back(bid);
      } else if (vocab_.unk >= 0) {
        out.push_back(vocab_.unk);
      }
    }
  };
  for (int i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const Sym& s = syms[static_cast<size_t>(i)];
    reseg(text.substr(s.start, s.len));
  }
}

void Tokenizer::encode_bpe(std::string_view raw, std::vector<int32_t>& out) const {
  std::string real, match;  // same length; see utf8_sanitize_for_bpe
  utf8_sanitize_for_bpe(raw, real, match);
  for (std::string_view m : pre_->split(match)) {
    const std::string_view piece(real.data() + (m.data() - match.data()), m.size());
    std::string enc;
    for (unsigned char c : piece) enc += byte_to_cp_[c];
    if (vocab_.ignore_merges) {
      const int32_t id = vocab_.find(enc);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    bpe_piece(enc, out);
  }
}

// Byte-level BPE merges by rank (§4.4 steps 4–5). A min-heap of adjacent pairs ordered
// by (rank, left position); entries made stale by an earlier merge are skipped when
// popped. O(n log n) in the piece length, so a long run of letters (a base64 blob) stays
// fast; a rescan-per-merge loop is quadratic there.
void Tokenizer::bpe_piece(const std::string& enc, std::vector<int32_t>& out) const {
  struct Sym {
    int prev, next;     // neighbours in the live chain, -1 at the ends
    uint32_t start, n;  // byte range in enc; n == 0 once merged into the left neighbour
  };
  struct Pair {
    int32_t rank;
    int left, right;
    uint32_t size;                         // bytes of left + right when pushed: a mismatch means stale
    bool operator<(const Pair& o) const {  // priority_queue pops the largest: invert
      return rank > o.rank || (rank == o.rank && left > o.left);
    }
  };
  std::vector<Sym> sym;  // [chars of enc]
  for (size_t i = 0; i < enc.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(enc[i])), enc.size() - i);
    sym.push_back({static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1,
                   static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
    i += len;
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  std::priority_queue<Pair> heap;
  std::string key;  // "left right", reused for every lookup
  auto try_pair = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const Sym& a = sym[static_cast<size_t>(l)];
    const Sym& b = sym[static_cast<size_t>(r)];
    key.assign(enc, a.start, a.n);
    key.push_back(' ');
    key.append(enc, b.start, b.n);
    const auto it = vocab_.merge_rank.find(std::string_view(key));
    if (it != vocab_.merge_rank.end()) heap.push({it->second, l, r, a.n + b.n});
  };
  for (size_t i = 1; i < sym.size(); ++i) try_pair(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!heap.empty()) {
    const Pair p = heap.top();
    heap.pop();
    Sym& l = sym[static_cast<size_t>(p.left)];
    Sym& r = sym[static_cast<size_t>(p.right)];
    if (l.n == 0 || r.n == 0 || l.n + r.n != p.size) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = p.left;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    const std::string_view s(enc.data() + sym[static_cast<size_t>(i)].start, sym[static_cast<size_t>(i)].n);
    const int32_t id = vocab_.find(s);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not in the vocabulary (practically unused): as llama.cpp, one token per byte of the
    // symbol's text where such a single-byte token exists.
    for (size_t k = 0; k < s.size(); ++k) {
      const int32_t bid = vocab_.find(s.substr(k, 1));
      if (bid >= 0) out.push_back(bid);
    }
  }
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_.n_tokens()) return {};
  const TokenType ty = vocab_.types[static_cast<size_t>(id)];
  const std::string& t = vocab_.tokens[static_cast<size_t>(id)];
  if (ty == TokenType::Control || ty == TokenType::Unknown) return special ? t : std::string();
  if (ty == TokenType::UserDefined) return t;
  // As llama.cpp: UNUSED / UNDEFINED tokens render as nothing, and so do BYTE tokens in a
  // byte-level BPE vocabulary (only SPM has <0xXX> byte tokens).
  if (ty == TokenType::Unused || ty == TokenType::Undefined) return {};
  if (ty == TokenType::Byte && vocab_.type == VocabType::Bpe) return {};
  if (vocab_.type == VocabType::Spm) {
    // A BYTE token is "<0xHH>"; one whose text is not (a damaged file, found by
    // vocab_fuzz: std::stoi threw and terminated the process) renders as its text.
    unsigned byte = 0;
    if (ty == TokenType::Byte && t.size() == 6 && t.starts_with("<0x") && t[5] == '>' &&
        std::from_chars(t.data() + 3, t.data() + 5, byte, 16).ptr == t.data() + 5)
      return std::string(1, static_cast<char>(byte));
    std::string out;
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 3;
      } else {
        out += t[i++];
      }
    }
    return out;
  }
  std::string out;
  for (size_t i = 0; i < t.size();) {
    const uint32_t cp = utf8_decode(t, i);
    auto it = cp_to_byte_.find(cp);
    if (it != cp_to_byte_.end()) {
      out += static_cast<char>(it->second);
    } else {
      utf8_append(out, cp);
    }
  }
  return out;
}

Result<std::string> Tokenizer::detokenize(const std::vector<int32_t>& ids, bool remove_special,
                                          bool unparse_special) const {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_.n_tokens()) {
      return invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                              std::to_string(vocab_.n_tokens() - 1) + ")");
    }
  }
  size_t begin = 0, end = ids.size();
  bool strip_space = vocab_.add_space_prefix;
  if (remove_special && vocab_.add_bos && end > begin && ids[begin] == vocab_.bos) {
    ++begin;
    strip_space = false;
  }
  if (remove_special && vocab_.add_eos && end > begin && ids[end - 1] == vocab_.eos) --end;
  std::string text;
  for (size_t i = begin; i < end; ++i) {
    std::string piece = token_to_piece(ids[i], unparse_special);
    if (i == begin && strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    text += piece;
  }
  if (vocab_.clean_spaces) {
    // HF clean_up_tokenization_spaces: " ." " ?" " !" " ," " ' " and " 's" " 'm" " 're" " 've".
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},   {" !", "!"},     {" ,", ","},    {" ' ", "'"},
        {" 's", "'s"}, {" 'm", "'m"}, {" 're", "'re"}, {" 've", "'ve"}};
    for (const auto& [from, to] : kRules) {
      const std::string f = from;
      size_t p = 0;
      while ((p = text.find(f, p)) != std::string::npos) {
        text.replace(p, f.size(), to);
        p += std::string(to).size();
      }
    }
  }
  return text;
}

std::string StreamingDetokenizer::push(int32_t id) {
  std::string piece = tok_.token_to_piece(id, special_);
  // Only the very first token, as decode() does (a BOS rendered as "" still counts).
  if (first_ && tok_.vocab().add_space_prefix && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  first_ = false;
  pending_ += piece;
  // Emit everything up to the last complete UTF-8 character.
  size_t cut = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    const auto c = static_cast<uint8_t>(pending_[pending_.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (c >= 0xC0 && utf8_len(c) > back) cut = pending_.size() - back;  // lead of an unfinished character
    break;
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace vatp::tokenizer
