#include "eval/wordlists.h"

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace vatp::eval {
namespace embedded {  // defined in the build's generated/wordlists_data.cc
extern const unsigned char k_adjectivelist[];
extern const std::size_t k_adjectivelist_size;
extern const unsigned char k_nounlist[];
extern const std::size_t k_nounlist_size;
extern const unsigned char k_verblist[];
extern const std::size_t k_verblist_size;
}  // namespace embedded

namespace {

// Python's readlines() + rstrip() of each line.
std::vector<std::string> lines_of(const unsigned char* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && std::string_view(" \t\r\f\v").find(line.back()) != std::string_view::npos)
      line.remove_suffix(1);
    out.emplace_back(line);
    start = end + 1;
  }
  return out;
}

}  // namespace

WordLists load_wordlists() {
  WordLists w;
  w.adjectives = lines_of(embedded::k_adjectivelist, embedded::k_adjectivelist_size);
  w.nouns = lines_of(embedded::k_nounlist, embedded::k_nounlist_size);
  w.verbs = lines_of(embedded::k_verblist, embedded::k_verblist_size);
  return w;
}

std::vector<std::string> sorted_unique(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

}  // namespace vatp::eval
