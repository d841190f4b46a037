#include "eval/rng.h"

#include <unordered_map>

#include "core/check.h"

namespace vatp::eval {

uint64_t Rng::below(uint64_t n) {
  VATP_CHECK(n >= 1);
  const uint64_t reject_under = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t r = next();
    if (r >= reject_under) return r % n;
  }
}

int64_t Rng::between(int64_t lo, int64_t hi) {
  VATP_CHECK(lo <= hi);
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(next());  // the whole int64 range
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + below(span));
}

std::vector<int64_t> Rng::sample(int64_t n, int64_t k) {
  VATP_CHECK(k >= 0 && k <= n);
  // Partial Fisher–Yates over a virtual [0, n): only the swapped slots are stored.
  std::unordered_map<int64_t, int64_t> moved;
  auto at = [&](int64_t i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(below(static_cast<uint64_t>(n - i)));
    const int64_t vj = at(j);
    moved[j] = at(i);
    out.push_back(vj);
  }
  return out;
}

std::string Rng::letters(std::string_view alphabet, int len) {
  std::string s(static_cast<size_t>(len), ' ');
  for (char& c : s) c = alphabet[below(alphabet.size())];
  return s;
}

}  // namespace vatp::eval
