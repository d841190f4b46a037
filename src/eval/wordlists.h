// RULER's word lists: wonderwords 3.0.1's adjectives, nouns and verbs (data/wordlists/),
// compiled into the library. Lines are right-stripped as wonderwords' loader does.
#pragma once

#include <string>
#include <vector>

namespace vatp::eval {

struct WordLists {
  std::vector<std::string> adjectives, nouns, verbs;  // in file order, duplicates kept
};

WordLists load_wordlists();

// Sorted, de-duplicated copy (Python's sorted(set(...))).
std::vector<std::string> sorted_unique(std::vector<std::string> words);

}  // namespace vatp::eval
