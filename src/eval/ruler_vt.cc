// RULER variable tracking (specs/eval.md §2.3 variable_tracking.py): one chain of 4 hops
// in a noise haystack, with the one-shot example in front.
#include <algorithm>
#include <string_view>

#include "eval/ruler_internal.h"

namespace vatp::eval::ruler {
namespace {

constexpr int kNumHops = 4;
constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

// Where the chain's lines sit among the n noise lines: sorted positions, line j goes to
// index positions[j] + j.
struct Layout {
  int64_t n = 0;
  std::vector<int64_t> positions;
};

// kNumHops + 1 distinct names of `len` uppercase letters.
std::vector<std::string> draw_names(Rng& rng, int len) {
  std::vector<std::string> names;
  while (names.size() < kNumHops + 1) {
    std::string s = rng.letters(kUpper, len);
    if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(std::move(s));
  }
  return names;
}

// NumPy randint(10000, 99999): the high bound is exclusive.
std::string draw_value(Rng& rng) { return std::to_string(rng.between(10000, 99998)); }

Layout draw_layout(Rng& rng, int64_t n) {
  Layout l;
  l.n = std::max<int64_t>(n, kNumHops + 1);
  l.positions = rng.sample(l.n, kNumHops + 1);
  std::sort(l.positions.begin(), l.positions.end());
  return l;
}

// The template and answer prefix filled for one chain.
Rendered render(const Layout& l, const std::vector<std::string>& names, const std::string& value) {
  std::vector<std::string> chain = {"VAR " + names[0] + " = " + value};
  for (int j = 0; j < kNumHops; ++j) chain.push_back("VAR " + names[j + 1] + " = VAR " + names[j] + " ");
  std::vector<std::string> lines(static_cast<size_t>(l.n), std::string(kNoise));
  for (size_t j = 0; j < chain.size(); ++j)
    lines.insert(lines.begin() + l.positions[j] + static_cast<int64_t>(j), chain[j]);
  const std::string context = replace_all(join(lines, "\n"), ". \n", ".\n");
  const std::string num_v = std::to_string(kNumHops + 1);
  Rendered r;
  r.prompt = fill(kVtTemplate, {{"context", context}, {"query", value}});
  r.answer_prefix = fill(kVtAnswerPrefix, {{"num_v", num_v}, {"query", value}});
  r.answers = names;
  return r;
}

}  // namespace

Result<std::vector<Rendered>> vt_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                         const TokenCounter& count) {
  // The one-shot example: 3-letter names, value 12345, fitted to 500 tokens with nothing
  // to generate. Only its layout is kept: every sample gets it with new names and value.
  Layout icl_layout;
  const Generate icl_gen = [&](int64_t n) {
    icl_layout = draw_layout(rng, n);
    return render(icl_layout, draw_names(rng, 3), "12345");
  };
  const Fit icl_fit{"vt (one-shot example)", 500, 0, 5, 0};
  // Only the layout of the accepted example (the last one drawn) is kept.
  VATP_RETURN_IF_ERROR(
      fitted(icl_gen, count, icl_fit, search_size(icl_gen, icl_gen, count, icl_fit)).status());
  const Layout icl = icl_layout;

  const Generate gen = [&](int64_t n) {
    const std::vector<std::string> icl_names = draw_names(rng, 3);
    const Rendered ex = render(icl, icl_names, draw_value(rng));
    const std::string shot = ex.prompt + ex.answer_prefix + " " + join(icl_names, " ") + "\n";
    Rendered r = render(draw_layout(rng, n), draw_names(rng, 5), draw_value(rng));
    r.prompt = shot + "\n" + r.prompt;
    return r;
  };
  const Fit fit{"vt", max_seq_length, kVtTokensToGenerate, max_seq_length < 4096 ? 5 : 10, 0};
  const Generate probe = [&](int64_t n) {
    return render(draw_layout(rng, n), draw_names(rng, 5), draw_value(rng));
  };
  const int64_t n = search_size(gen, probe, count, fit);
  std::vector<Rendered> out;
  for (int i = 0; i < n_samples; ++i) {
    VATP_ASSIGN_OR_RETURN(Rendered r, fitted(gen, count, fit, n));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vatp::eval::ruler
