// The task generators' random numbers: std::mt19937_64 (its output sequence is fixed by
// the C++ standard) with our own mappings to ranges, shuffles and samples, because the
// standard distributions' outputs differ between library implementations. The same seed
// gives the same draws on every platform. The draws are not Python's (specs/eval.md
// matches RULER and passkey in structure, not in the concrete random values).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vatp::eval {

class Rng {
 public:
  explicit Rng(uint64_t seed) : eng_(seed) {}

  uint64_t next() { return eng_(); }
  // Uniform in [0, n), n >= 1, without modulo bias (rejects the low 2^64 mod n values).
  uint64_t below(uint64_t n);
  // Uniform integer in [lo, hi], both inclusive (Python's random.randint), lo <= hi.
  int64_t between(int64_t lo, int64_t hi);
  // Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Fisher–Yates, every permutation equally likely.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  // k distinct values of [0, n) in random order (Python's random.sample(range(n), k)).
  std::vector<int64_t> sample(int64_t n, int64_t k);
  // `len` characters drawn independently from `alphabet`.
  std::string letters(std::string_view alphabet, int len);

 private:
  std::mt19937_64 eng_;
};

}  // namespace vatp::eval
