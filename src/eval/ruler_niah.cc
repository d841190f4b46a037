// RULER niah (specs/eval.md §2.3 niah.py) with the noise and needle haystacks:
// niah_single_1, niah_multikey_2, niah_multikey_3.
#include <algorithm>
#include <cstdio>
#include <functional>

#include "eval/ruler_internal.h"
#include "eval/wordlists.h"

namespace vatp::eval::ruler {
namespace {

enum class Kind { kWords, kNumbers, kUuids };

struct NiahConfig {
  bool needle_haystack = false;  // false: noise lines; true: distractor needles
  Kind key = Kind::kWords, value = Kind::kNumbers;
  int num_k = 1, num_v = 1, num_q = 1;
};

// A random 128-bit integer made a version-4 UUID (Python uuid.UUID(int=..., version=4)):
// variant bits 10, version nibble 4, printed 8-4-4-4-12 in lowercase.
std::string random_uuid(Rng& rng) {
  uint64_t hi = rng.next(), lo = rng.next();
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};
  lo = (lo & ~(uint64_t{0xC000} << 48)) | (uint64_t{0x8000} << 48);
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(hi >> 32),
      static_cast<unsigned long long>((hi >> 16) & 0xFFFF), static_cast<unsigned long long>(hi & 0xFFFF),
      static_cast<unsigned long long>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

struct Drawer {
  std::vector<std::string> adjectives, nouns;  // sorted, unique
  Rng& rng;

  std::string draw(Kind k) {
    switch (k) {
      // Uniform over the distinct "adj-noun" strings: no two (adjective, noun) pairs
      // of the unique lists give the same string, so drawing each part uniformly is it.
      case Kind::kWords:
        return adjectives[rng.below(adjectives.size())] + "-" + nouns[rng.below(nouns.size())];
      case Kind::kNumbers: return std::to_string(rng.between(1000000, 9999999));
      case Kind::kUuids: return random_uuid(rng);
    }
    return {};
  }
};

std::string plural_name(Kind k) {
  return k == Kind::kUuids ? "uuids" : k == Kind::kWords ? "words" : "numbers";
}

Rendered generate(const NiahConfig& c, Drawer& d, int64_t n) {
  const std::string type_v = plural_name(c.value);
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> values;
  std::vector<std::string> needles;
  for (int i = 0; i < c.num_k; ++i) {
    keys.push_back(d.draw(c.key));
    values.emplace_back();
    for (int j = 0; j < c.num_v; ++j) {
      values.back().push_back(d.draw(c.value));
      needles.push_back(fill(
          kNiahNeedle, {{"type_needle_v", type_v}, {"key", keys.back()}, {"value", values.back().back()}}));
    }
  }
  d.rng.shuffle(needles);

  n = std::max<int64_t>(n, static_cast<int64_t>(needles.size()));
  std::vector<std::string> lines;
  lines.reserve(static_cast<size_t>(n) + needles.size());
  for (int64_t i = 0; i < n; ++i) {
    if (c.needle_haystack) {
      const std::string key = d.draw(c.key);
      const std::string value = d.draw(c.value);
      lines.push_back(fill(kNiahNeedle, {{"type_needle_v", type_v}, {"key", key}, {"value", value}}));
    } else {
      lines.emplace_back(kNoise);
    }
  }
  // Distinct positions, inserted from the largest down (Python list.insert).
  std::vector<int64_t> pos = d.rng.sample(n, static_cast<int64_t>(needles.size()));
  std::sort(pos.begin(), pos.end(), std::greater<>());
  for (size_t i = 0; i < pos.size(); ++i) lines.insert(lines.begin() + pos[i], needles[i]);
  const std::string context = join(lines, "\n");

  const std::vector<int64_t> picked = d.rng.sample(c.num_k, c.num_q);
  std::vector<std::string> queries;
  Rendered r;
  for (int64_t i : picked) {
    queries.push_back(keys[static_cast<size_t>(i)]);
    for (const std::string& v : values[static_cast<size_t>(i)]) r.answers.push_back(v);
  }
  std::string query = queries.back();
  if (queries.size() > 1) {
    queries.pop_back();
    query = join(queries, ", ") + ", and " + query;
  }

  std::string tmpl(kNiahTemplate), prefix(kNiahAnswerPrefix), type_shown = type_v;
  if (c.num_q * c.num_v == 1) {  // the singular rule, replacements in upstream's order
    for (auto [from, to] : {std::pair<std::string_view, std::string_view>{"Some", "A"},
                            {"are all", "is"},
                            {"are", "is"},
                            {"answers", "answer"}}) {
      tmpl = replace_all(tmpl, from, to);
      prefix = replace_all(prefix, from, to);
    }
    type_shown.pop_back();
  }
  r.prompt = fill(tmpl, {{"type_needle_v", type_shown}, {"context", context}, {"query", query}});
  r.answer_prefix = fill(prefix, {{"type_needle_v", type_shown}, {"query", query}});
  return r;
}

}  // namespace

Result<std::vector<Rendered>> niah_samples(const std::string& task, int64_t max_seq_length, int n_samples,
                                           Rng& rng, const TokenCounter& count) {
  NiahConfig c;  // specs/eval.md §2.1
  if (task == "niah_single_1") {
    c = {false, Kind::kWords, Kind::kNumbers, 1, 1, 1};
  } else if (task == "niah_multikey_2") {
    c = {true, Kind::kWords, Kind::kNumbers, 1, 1, 1};
  } else if (task == "niah_multikey_3") {
    c = {true, Kind::kUuids, Kind::kUuids, 1, 1, 1};
  } else {
    return invalid_argument("unknown niah task " + task);
  }
  c.num_k = std::max(c.num_k, c.num_q);
  const WordLists w = load_wordlists();
  Drawer d{sorted_unique(w.adjectives), sorted_unique(w.nouns), rng};
  const Generate gen = [&](int64_t n) { return generate(c, d, n); };
  const Fit fit{task, max_seq_length, kNiahTokensToGenerate, max_seq_length < 4096 ? 5 : 25, 0};
  const int64_t n = search_size(gen, gen, count, fit);
  std::vector<Rendered> out;
  for (int i = 0; i < n_samples; ++i) {
    VATP_ASSIGN_OR_RETURN(Rendered r, fitted(gen, count, fit, n));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vatp::eval::ruler
