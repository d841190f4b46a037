// RULER: task dispatch, template filling and the haystack-size search (specs/eval.md §2.3).
#include "eval/ruler.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "eval/ruler_internal.h"

namespace vatp::eval {
namespace ruler {

std::string fill(std::string_view tmpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> vars) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) break;
    const size_t close = tmpl.find('}', open);
    VATP_CHECK(close != std::string_view::npos);
    const std::string_view name = tmpl.substr(open + 1, close - open - 1);
    const auto it = std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == name; });
    VATP_CHECK(it != vars.end());
    out.append(tmpl.substr(i, open - i));
    out.append(it->second);
    i = close + 1;
  }
  out.append(tmpl.substr(std::min(i, tmpl.size())));
  return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  VATP_CHECK(!from.empty());
  std::string out;
  size_t i = 0;
  for (size_t at; (at = s.find(from, i)) != std::string_view::npos; i = at + from.size()) {
    out.append(s.substr(i, at - i));
    out.append(to);
  }
  out.append(s.substr(i));
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

int64_t total_tokens(const Rendered& r, const TokenCounter& count, int64_t tokens_to_generate) {
  return count(r.prompt + r.answer_prefix) + tokens_to_generate;
}

int64_t search_size(const Generate& gen, const Generate& probe, const TokenCounter& count, const Fit& fit) {
  const int64_t inc = fit.incremental;
  const int64_t probe_n = fit.probe_n > 0 ? fit.probe_n : inc;
  const Rendered probe_r = probe(probe_n);
  const int64_t probe_tokens = std::max<int64_t>(1, count(probe_r.prompt + probe_r.answer_prefix));
  const double tokens_per_unit = static_cast<double>(probe_tokens) / static_cast<double>(probe_n);
  int64_t lo = inc;
  const double units = std::floor(static_cast<double>(fit.max_seq_length) / tokens_per_unit);
  int64_t hi = std::max(static_cast<int64_t>(units) * fit.probe_slack, 2 * inc);
  if (fit.max_n > 0) hi = std::min(hi, fit.max_n);
  lo = std::min(lo, hi);
  int64_t best = -1;
  while (lo <= hi) {
    const int64_t mid = (lo + hi) / 2;
    if (total_tokens(gen(mid), count, fit.tokens_to_generate) <= fit.max_seq_length) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best >= 0 ? best : std::min(inc, fit.max_n > 0 ? fit.max_n : inc);
}

Result<Rendered> fitted(const Generate& gen, const TokenCounter& count, const Fit& fit, int64_t n) {
  for (;;) {
    Rendered r = gen(n);
    const int64_t total = total_tokens(r, count, fit.tokens_to_generate);
    if (total <= fit.max_seq_length) return r;
    if (n <= fit.incremental) {
      return invalid_argument(fit.task + ": the smallest sample (" + std::to_string(total) +
                              " tokens with the " + std::to_string(fit.tokens_to_generate) +
                              " to generate) does not fit in a length of " +
                              std::to_string(fit.max_seq_length));
    }
    n -= fit.incremental;
  }
}

}  // namespace ruler

std::vector<std::string> ruler_task_names() {
  return {"niah_single_1", "niah_multikey_2", "niah_multikey_3", "vt", "cwe", "fwe"};
}

Result<std::vector<Sample>> ruler_samples(const std::string& task, int64_t max_seq_length, int n_samples,
                                          uint64_t seed, const TokenCounter& count) {
  if (n_samples < 0) return invalid_argument("ruler: the number of samples must be >= 0");
  if (max_seq_length < 1) return invalid_argument("ruler: the length must be >= 1");
  Rng rng(seed);
  int tokens_to_generate = 0;
  auto generate = [&]() -> Result<std::vector<ruler::Rendered>> {
    if (task == "niah_single_1" || task == "niah_multikey_2" || task == "niah_multikey_3") {
      tokens_to_generate = ruler::kNiahTokensToGenerate;
      return ruler::niah_samples(task, max_seq_length, n_samples, rng, count);
    }
    if (task == "vt") {
      tokens_to_generate = ruler::kVtTokensToGenerate;
      return ruler::vt_samples(max_seq_length, n_samples, rng, count);
    }
    if (task == "cwe") {
      tokens_to_generate = ruler::kCweTokensToGenerate;
      return ruler::cwe_samples(max_seq_length, n_samples, rng, count);
    }
    if (task == "fwe") {
      tokens_to_generate = ruler::kFweTokensToGenerate;
      return ruler::fwe_samples(max_seq_length, n_samples, rng, count);
    }
    return invalid_argument("unknown RULER task '" + task +
                            "' (known: " + ruler::join(ruler_task_names(), ", ") + ")");
  };
  Result<std::vector<ruler::Rendered>> r = generate();
  if (!r.is_ok()) return r.status();
  std::vector<Sample> out;
  for (size_t i = 0; i < r->size(); ++i) {
    ruler::Rendered& x = (*r)[i];
    Sample s;
    s.task = task;
    s.id = std::to_string(i);
    s.prompt = std::move(x.prompt);
    s.answer_prefix = std::move(x.answer_prefix);
    s.chat = true;
    s.max_new_tokens = tokens_to_generate;
    s.answers = std::move(x.answers);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace vatp::eval
