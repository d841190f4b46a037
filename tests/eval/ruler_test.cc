// RULER generators and scoring (specs/eval.md §2): every rendered prompt is rebuilt here
// from the spec's template text and the sample's drawn values and compared byte for byte.
#include "eval/ruler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common/model_path.h"
#include "eval/rng.h"
#include "eval/ruler_internal.h"
#include "eval/wordlists.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vatp::eval {
namespace {

const std::string kNoiseLine =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

// About 4 bytes per token; enough to exercise the search and the long-context branches.
int64_t simple_count(std::string_view s) { return static_cast<int64_t>((s.size() + 3) / 4); }

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

std::string join_lines(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::vector<Sample> make(const std::string& task, int64_t len, int n, uint64_t seed) {
  Result<std::vector<Sample>> r = ruler_samples(task, len, n, seed, simple_count);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::vector<Sample>{};
}

// ---- Templates against the spec's JSON blocks (specs/eval.md §2.2) ----

std::map<std::string, nlohmann::json> spec_templates() {
  std::ifstream in(std::string(VATP_SHARED_DIR) + "/specs/eval.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string md = ss.str();
  std::map<std::string, nlohmann::json> out;
  for (const char* name : {"niah", "variable_tracking", "common_words_extraction", "freq_words_extraction"}) {
    const size_t at = md.find(std::string("`") + name + "`:\n```json\n");
    if (at == std::string::npos) continue;
    const size_t open = md.find('{', at);
    const size_t close = md.find("\n```", open);
    out[name] = nlohmann::json::parse(md.substr(open, close - open));
  }
  return out;
}

TEST(RulerTemplates, MatchTheSpecByteForByte) {
  if (!std::filesystem::exists(std::string(VATP_SHARED_DIR) + "/specs/eval.md"))
    GTEST_SKIP() << "specs/eval.md not found under " << VATP_SHARED_DIR;
  auto t = spec_templates();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t["niah"]["template"], std::string(ruler::kNiahTemplate));
  EXPECT_EQ(t["niah"]["answer_prefix"], std::string(ruler::kNiahAnswerPrefix));
  EXPECT_EQ(t["niah"]["tokens_to_generate"], ruler::kNiahTokensToGenerate);
  EXPECT_EQ(t["variable_tracking"]["template"], std::string(ruler::kVtTemplate));
  EXPECT_EQ(t["variable_tracking"]["answer_prefix"], std::string(ruler::kVtAnswerPrefix));
  EXPECT_EQ(t["variable_tracking"]["tokens_to_generate"], ruler::kVtTokensToGenerate);
  EXPECT_EQ(t["common_words_extraction"]["template"], std::string(ruler::kCweTemplate));
  EXPECT_EQ(t["common_words_extraction"]["answer_prefix"], std::string(ruler::kCweAnswerPrefix));
  EXPECT_EQ(t["common_words_extraction"]["tokens_to_generate"], ruler::kCweTokensToGenerate);
  EXPECT_EQ(t["freq_words_extraction"]["template"], std::string(ruler::kFweTemplate));
  EXPECT_EQ(t["freq_words_extraction"]["answer_prefix"], std::string(ruler::kFweAnswerPrefix));
  EXPECT_EQ(t["freq_words_extraction"]["tokens_to_generate"], ruler::kFweTokensToGenerate);
}

TEST(RulerTemplates, FillIsOnePassAndReplaceAllIsPythons) {
  EXPECT_EQ(ruler::fill("a {x} b {y} {x}", {{"x", "{y}"}, {"y", "2"}}), "a {y} b 2 {y}");
  EXPECT_EQ(ruler::replace_all("are are all", "are", "is"), "is is all");
  EXPECT_EQ(ruler::replace_all("aaa", "aa", "b"), "ba");
}

// ---- Word lists ----

TEST(RulerWordLists, AreWonderwords301) {
  const WordLists w = load_wordlists();
  EXPECT_EQ(w.adjectives.size(), 912u);
  EXPECT_EQ(w.nouns.size(), 6782u);
  EXPECT_EQ(w.verbs.size(), 1042u);
  EXPECT_EQ(sorted_unique(w.adjectives).size(), 910u);  // "nasty " and "wet " repeat after rstrip
  std::vector<std::string> all = w.nouns;
  all.insert(all.end(), w.adjectives.begin(), w.adjectives.end());
  all.insert(all.end(), w.verbs.begin(), w.verbs.end());
  EXPECT_EQ(sorted_unique(all).size(), 8166u);  // the spec's count
  EXPECT_EQ(w.nouns.front(), "ATM");
  EXPECT_NE(std::find(w.nouns.begin(), w.nouns.end(), "jalape\xc3\xb1o"), w.nouns.end());
  for (const auto& a : w.adjectives) EXPECT_FALSE(a.empty() || a.back() == ' ') << "'" << a << "'";
}

// ---- niah ----

struct NiahParts {
  std::vector<std::string> lines;  // the context's lines
  std::string key;
};

// Rebuilds the singular-rule rendering (spec §2.2 example) around the sample's context
// and query, and checks prompt and answer prefix byte for byte.
NiahParts check_niah_rendering(const Sample& s, const std::string& type) {
  const std::string head = "A special magic " + type +
                           " is hidden within the following text. Make sure to memorize it. I will quiz you "
                           "about the " +
                           type + " afterwards.\n";
  const std::string q = "\nWhat is the special magic " + type + " for ";
  NiahParts p;
  EXPECT_TRUE(starts_with(s.prompt, head)) << s.prompt.substr(0, 200);
  const size_t qat = s.prompt.rfind(q);
  EXPECT_NE(qat, std::string::npos);
  if (qat == std::string::npos) return p;
  const std::string tail = s.prompt.substr(qat + q.size());
  const std::string suffix = " mentioned in the provided text?";
  EXPECT_TRUE(ends_with(tail, suffix));
  p.key = tail.substr(0, tail.size() - suffix.size());
  const std::string context = s.prompt.substr(head.size(), qat - head.size());
  p.lines = split_lines(context);
  EXPECT_EQ(s.prompt, head + join_lines(p.lines, "\n") + q + p.key + suffix);
  EXPECT_EQ(s.answer_prefix,
            " The special magic " + type + " for " + p.key + " mentioned in the provided text is");
  EXPECT_TRUE(s.chat);
  EXPECT_EQ(s.max_new_tokens, 128);
  return p;
}

bool is_adj_noun(const std::string& key, const WordLists& w) {
  for (size_t dash = key.find('-'); dash != std::string::npos; dash = key.find('-', dash + 1)) {
    const std::string a = key.substr(0, dash), n = key.substr(dash + 1);
    if (std::find(w.adjectives.begin(), w.adjectives.end(), a) != w.adjectives.end() &&
        std::find(w.nouns.begin(), w.nouns.end(), n) != w.nouns.end())
      return true;
  }
  return false;
}

TEST(RulerNiah, Single1RendersTheSingularTemplateWithOneNeedleInNoise) {
  const WordLists w = load_wordlists();
  const std::vector<Sample> v = make("niah_single_1", 8192, 3, 42);
  ASSERT_EQ(v.size(), 3u);
  for (const Sample& s : v) {
    EXPECT_EQ(s.task, "niah_single_1");
    const NiahParts p = check_niah_rendering(s, "number");
    EXPECT_TRUE(is_adj_noun(p.key, w)) << p.key;
    ASSERT_EQ(s.answers.size(), 1u);
    EXPECT_TRUE(std::regex_match(s.answers[0], std::regex("[1-9][0-9]{6}"))) << s.answers[0];
    int needles = 0;
    for (const std::string& line : p.lines) {
      if (line == kNoiseLine) continue;
      ++needles;  // the needle keeps the plural
      EXPECT_EQ(line, "One of the special magic numbers for " + p.key + " is: " + s.answers[0] + ".");
    }
    EXPECT_EQ(needles, 1);
    EXPECT_GT(p.lines.size(), 100u);
  }
  EXPECT_NE(v[0].answers, v[1].answers);
}

TEST(RulerNiah, Multikey2HaystackIsDistractorNeedles) {
  const WordLists w = load_wordlists();
  const std::vector<Sample> v = make("niah_multikey_2", 4096, 2, 7);
  ASSERT_EQ(v.size(), 2u);
  const std::regex line_re("One of the special magic numbers for (.+) is: ([1-9][0-9]{6})\\.");
  for (const Sample& s : v) {
    const NiahParts p = check_niah_rendering(s, "number");
    EXPECT_TRUE(is_adj_noun(p.key, w)) << p.key;
    int with_key = 0;
    for (const std::string& line : p.lines) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(line, m, line_re)) << line;
      EXPECT_TRUE(is_adj_noun(m[1].str(), w)) << m[1].str();
      if (m[1].str() == p.key) {
        ++with_key;
        EXPECT_EQ(s.answers, std::vector<std::string>{m[2].str()});
      }
    }
    EXPECT_EQ(with_key, 1);
    EXPECT_GT(p.lines.size(), 50u);
  }
}

TEST(RulerNiah, Multikey3UsesVersion4Uuids) {
  const std::vector<Sample> v = make("niah_multikey_3", 4096, 2, 7);
  ASSERT_EQ(v.size(), 2u);
  const std::string u = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";
  const std::regex line_re("One of the special magic uuids for (" + u + ") is: (" + u + ")\\.");
  for (const Sample& s : v) {
    const NiahParts p = check_niah_rendering(s, "uuid");
    ASSERT_EQ(s.answers.size(), 1u);
    EXPECT_TRUE(std::regex_match(p.key, std::regex(u))) << p.key;
    int with_key = 0;
    for (const std::string& line : p.lines) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(line, m, line_re)) << line;
      if (m[1].str() == p.key) {
        ++with_key;
        EXPECT_EQ(s.answers[0], m[2].str());
      }
    }
    EXPECT_EQ(with_key, 1);
  }
}

// ---- vt ----

struct VtChain {
  std::vector<std::string> names;
  std::string value;
};

// Parses the chain out of a vt context and checks every other line is noise.
VtChain parse_chain(const std::string& context, size_t name_len) {
  VtChain c;
  const std::regex first("VAR ([A-Z]+) = ([0-9]{5})"), hop("VAR ([A-Z]+) = VAR ([A-Z]+) ");
  for (const std::string& line : split_lines(context)) {
    std::smatch m;
    if (line == kNoiseLine) continue;
    if (std::regex_match(line, m, first)) {
      EXPECT_TRUE(c.names.empty());
      c.names.push_back(m[1].str());
      c.value = m[2].str();
    } else if (std::regex_match(line, m, hop)) {
      EXPECT_FALSE(c.names.empty());
      if (!c.names.empty()) {
        EXPECT_EQ(m[2].str(), c.names.back());
      }
      c.names.push_back(m[1].str());
    } else {
      ADD_FAILURE() << "unexpected vt line '" << line << "'";
    }
  }
  EXPECT_EQ(c.names.size(), 5u);
  for (const auto& n : c.names) EXPECT_EQ(n.size(), name_len);
  EXPECT_EQ(std::set<std::string>(c.names.begin(), c.names.end()).size(), c.names.size());
  return c;
}

std::string vt_rendered(const std::string& context, const std::string& value) {
  return "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n" +
         context + "\nQuestion: Find all variables that are assigned the value " + value +
         " in the text above.";
}
std::string vt_prefix(const std::string& value) {
  return " Answer: According to the chain(s) of variable assignment in the text above, 5 variables are "
         "assigned "
         "the value " +
         value + ", they are: ";
}

TEST(RulerVt, OneShotExampleThenTheChainInNoise) {
  const std::vector<Sample> v = make("vt", 4096, 2, 3);
  ASSERT_EQ(v.size(), 2u);
  for (const Sample& s : v) {
    const std::string head =
        "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
    const std::string q = "\nQuestion: Find all variables that are assigned the value ";
    ASSERT_TRUE(starts_with(s.prompt, head));
    // The example ends "they are:  N1 N2 N3 N4 N5\n" (double space) and one more "\n".
    const size_t main_at = s.prompt.find("\n\n" + head);
    ASSERT_NE(main_at, std::string::npos);
    const std::string shot = s.prompt.substr(0, main_at + 1);
    const std::string main = s.prompt.substr(main_at + 2);
    EXPECT_NE(shot.find(", they are:  "), std::string::npos);

    const size_t shot_q = shot.find(q);
    ASSERT_NE(shot_q, std::string::npos);
    const VtChain ex = parse_chain(shot.substr(head.size(), shot_q - head.size()), 3);
    EXPECT_EQ(shot, vt_rendered(shot.substr(head.size(), shot_q - head.size()), ex.value) +
                        vt_prefix(ex.value) + " " + join_lines(ex.names, " ") + "\n");

    const size_t main_q = main.find(q);
    ASSERT_NE(main_q, std::string::npos);
    const std::string context = main.substr(head.size(), main_q - head.size());
    const VtChain c = parse_chain(context, 5);
    EXPECT_EQ(main, vt_rendered(context, c.value));
    EXPECT_EQ(s.answer_prefix, vt_prefix(c.value));
    EXPECT_EQ(s.answers, c.names);
    EXPECT_EQ(s.max_new_tokens, 30);
    // Chain lines keep their trailing space; "VAR X = VAR Y \n" stays as it is.
    EXPECT_NE(context.find(" \n"), std::string::npos);
  }
  // The example's names and value are drawn again for every sample.
  EXPECT_NE(v[0].prompt.substr(0, 300), v[1].prompt.substr(0, 300));
}

// ---- cwe ----

std::vector<std::string> numbered_words(const std::string& list) {
  std::vector<std::string> words;
  const std::regex item("([0-9]+)\\. (\\S+)");
  int expect = 1;
  for (auto it = std::sregex_iterator(list.begin(), list.end(), item); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(std::stoi((*it)[1].str()), expect++);
    words.push_back((*it)[2].str());
  }
  return words;
}

std::string numbered(const std::vector<std::string>& w) {
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) out += (i ? " " : "") + std::to_string(i + 1) + ". " + w[i];
  return out;
}

void check_cwe(const Sample& s, int shot_words, int shot_common_rep, int shot_rare_rep, int common_rep,
               int rare_rep) {
  const std::string head =
      "Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
      "ones "
      "that appear most often.\n";
  const std::string q = "\nQuestion: What are the 10 most common words in the above list?";
  const std::string prefix = " Answer: The top 10 words that appear most often in the list are:";
  EXPECT_EQ(s.answer_prefix, prefix);
  EXPECT_EQ(s.max_new_tokens, 120);
  const size_t shot_end = s.prompt.find(q + prefix + " ");
  ASSERT_NE(shot_end, std::string::npos);
  const std::string shot_list = s.prompt.substr(head.size(), shot_end - head.size());
  const size_t shot_answer_at = shot_end + q.size() + prefix.size() + 1;
  const size_t main_at = s.prompt.find("\n" + head, shot_answer_at);
  ASSERT_NE(main_at, std::string::npos);
  const std::string shot_answer = s.prompt.substr(shot_answer_at, main_at - shot_answer_at);
  const std::string main_list =
      s.prompt.substr(main_at + 1 + head.size(), s.prompt.size() - q.size() - (main_at + 1 + head.size()));
  EXPECT_EQ(s.prompt, head + shot_list + q + prefix + " " + shot_answer + "\n" + head + main_list + q);

  auto check_list = [](const std::vector<std::string>& words, const std::vector<std::string>& common,
                       int common_rep, int rare_rep) {
    std::map<std::string, int> freq;
    for (const auto& w : words) ++freq[w];
    for (const auto& [w, f] : freq) {
      const bool is_common = std::find(common.begin(), common.end(), w) != common.end();
      EXPECT_EQ(f, is_common ? common_rep : rare_rep) << w;
    }
    for (const auto& c : common) EXPECT_EQ(freq.count(c), 1u) << c;
    return freq.size();
  };
  const std::vector<std::string> shot_common = numbered_words(shot_answer);
  ASSERT_EQ(shot_common.size(), 10u);
  EXPECT_EQ(shot_answer, numbered(shot_common));
  EXPECT_EQ(check_list(numbered_words(shot_list), shot_common, shot_common_rep, shot_rare_rep),
            static_cast<size_t>(shot_words));
  ASSERT_EQ(s.answers.size(), 10u);
  EXPECT_GT(check_list(numbered_words(main_list), s.answers, common_rep, rare_rep), 10u);
}

TEST(RulerCwe, FewShotAndMainListsHaveTheSpecCounts) {
  const std::vector<Sample> big = make("cwe", 8192, 2, 1);
  ASSERT_EQ(big.size(), 2u);
  for (const Sample& s : big) check_cwe(s, 40, 10, 3, 30, 3);
  const std::vector<Sample> small = make("cwe", 2048, 1, 1);  // below 4096: 20/3/1 and 6/1
  ASSERT_EQ(small.size(), 1u);
  check_cwe(small[0], 20, 3, 1, 6, 1);
}

// ---- fwe ----

TEST(RulerFwe, ZipfCountsAndAnswersAreRanks2To4) {
  const std::vector<Sample> v = make("fwe", 8192, 2, 5);
  ASSERT_EQ(v.size(), 2u);
  const std::string head =
      "Read the following coded text and track the frequency of each coded word. Find the three most "
      "frequently "
      "appeared coded words. ";
  const std::string q =
      "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most "
      "frequently appeared words in the above coded text?";
  for (const Sample& s : v) {
    ASSERT_TRUE(starts_with(s.prompt, head));
    ASSERT_TRUE(ends_with(s.prompt, q));
    const std::string context = s.prompt.substr(head.size(), s.prompt.size() - head.size() - q.size());
    EXPECT_EQ(s.prompt, head + context + q);
    EXPECT_EQ(s.answer_prefix,
              " Answer: According to the coded text above, the three most frequently appeared words are:");
    EXPECT_EQ(s.max_new_tokens, 50);
    std::map<std::string, int> freq;
    std::istringstream in(context);
    for (std::string w; in >> w;) ++freq[w];
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [w, f] : freq) {
      if (w != "...") {
        EXPECT_TRUE(std::regex_match(w, std::regex("[a-z]{6}"))) << w;
      }
      ranked.push_back({f, w});
    }
    std::sort(ranked.rbegin(), ranked.rend());
    ASSERT_GE(ranked.size(), 5u);
    EXPECT_EQ(ranked[0].second, "...");
    EXPECT_EQ(s.answers, (std::vector<std::string>{ranked[1].second, ranked[2].second, ranked[3].second}));
    // int(N k^-2 / zeta(2)): rank 1 gets 4x rank 2 up to truncation.
    EXPECT_NEAR(ranked[0].first, 4.0 * ranked[1].first, 4.0);
    EXPECT_GT(ranked[3].first, ranked[4].first);
    // vocab_size = (len - 50) // 50; the rarest ranks get int(...) = 0 copies.
    EXPECT_LE(ranked.size(), static_cast<size_t>((8192 - 50) / 50));
  }
}

// ---- length fitting ----

TEST(RulerFit, SimpleCounterSamplesFitAndFillTheBudget) {
  for (const std::string& task : ruler_task_names()) {
    for (int64_t len : {1024, 4096}) {
      const std::vector<Sample> v = make(task, len, 2, 11);
      ASSERT_EQ(v.size(), 2u) << task;
      for (const Sample& s : v) {
        const int64_t total = simple_count(s.prompt + s.answer_prefix) + s.max_new_tokens;
        EXPECT_LE(total, len) << task;
        EXPECT_GE(total, len * 8 / 10) << task << " at " << len;
      }
    }
  }
}

TEST(RulerFit, SmolLM2TokenizerSamplesFit) {
  const std::string path = testing_util::default_model_path();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model not found: " << path;
  Result<gguf::GgufFile> f = gguf::GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const TokenCounter count = [&](std::string_view s) {
    return static_cast<int64_t>(tok->encode(s, /*add_special=*/false, /*parse_special=*/false).size());
  };
  for (const std::string& task : ruler_task_names()) {
    const int64_t len = 2048;
    Result<std::vector<Sample>> v = ruler_samples(task, len, 2, 42, count);
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    ASSERT_EQ(v->size(), 2u);
    for (const Sample& s : *v) {
      const int64_t total = count(s.prompt + s.answer_prefix) + s.max_new_tokens;
      EXPECT_LE(total, len) << task;
      EXPECT_GE(total, len * 85 / 100) << task;
    }
  }
}

TEST(RulerFit, TooShortALengthIsAnError) {
  Result<std::vector<Sample>> r = ruler_samples("niah_single_1", 100, 1, 1, simple_count);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("does not fit"), std::string::npos) << r.status().message();
  EXPECT_FALSE(ruler_samples("fwe", 200, 1, 1, simple_count).is_ok());
  Result<std::vector<Sample>> bad = ruler_samples("qa_1", 4096, 1, 1, simple_count);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("unknown RULER task 'qa_1'"), std::string::npos);
}

// ---- determinism ----

TEST(RulerDeterminism, SameSeedSameSamples) {
  for (const std::string& task : ruler_task_names()) {
    const std::vector<Sample> a = make(task, 2048, 2, 99), b = make(task, 2048, 2, 99),
                              c = make(task, 2048, 2, 100);
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    ASSERT_EQ(c.size(), 2u);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].prompt, b[i].prompt) << task;
      EXPECT_EQ(a[i].answer_prefix, b[i].answer_prefix) << task;
      EXPECT_EQ(a[i].answers, b[i].answers) << task;
      EXPECT_EQ(a[i].id, std::to_string(i));
    }
    EXPECT_NE(a[0].prompt, c[0].prompt) << task;
  }
}

TEST(RulerRng, Mt19937_64StreamAndMappings) {
  Rng r(5489);  // the standard's default seed: its 10000th output is fixed by [rand.predef]
  uint64_t x = 0;
  for (int i = 0; i < 10000; ++i) x = r.next();
  EXPECT_EQ(x, 9981545732273789042ull);
  Rng g(1);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = g.between(3, 7);
    EXPECT_GE(v, 3);
    EXPECT_LE(v, 7);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);
  const std::vector<int64_t> s = g.sample(1000, 50);
  EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 50u);
  for (int64_t v : s) EXPECT_LT(v, 1000);
  const std::vector<int64_t> all = g.sample(6, 6);
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 6u);
}

// ---- scoring (spec §2.4) ----

TEST(RulerScore, PostprocessStripsAndTurnsControlCharsIntoNewlines) {
  EXPECT_EQ(ruler_postprocess("  \tAbc\x01"
                              "def\x1f x \n "),
            "Abc\ndef\n x");
  EXPECT_EQ(ruler_postprocess("\x01\x02 a"), "a");               // control chars become "\n", then stripped
  EXPECT_EQ(ruler_postprocess("\xc2\xa0 x \xe3\x80\x80"), "x");  // Python strips U+00A0 and U+3000
  EXPECT_EQ(ruler_postprocess("x\x7f"), "x\x7f");                // DEL is not in [\x00-\x1f]
}

TEST(RulerScore, StringMatchAllAndPart) {
  EXPECT_EQ(string_match_all_one(" 7374122.", {"7374122"}), 1.0);
  EXPECT_EQ(string_match_all_one("CAPABLE-Radiosonde", {"capable-radiosonde"}), 1.0);
  EXPECT_EQ(string_match_all_one("abc", {"ABC"}), 1.0);
  EXPECT_EQ(string_match_all_one("ab\tc", {"ab c"}), 0.0);
  EXPECT_EQ(string_match_all_one("JALAPE\xc3\x91O", {"jalape\xc3\xb1o"}),
            1.0);  // Python lower() folds \u00d1
  EXPECT_EQ(string_match_all_one("VAR ABC VAR DEF", {"abc", "def", "ghi", "jkl"}), 0.5);
  EXPECT_EQ(string_match_part_one("VAR ABC", {"abc", "def"}), 1.0);
  EXPECT_EQ(string_match_part_one("none", {"abc", "def"}), 0.0);
  // Aggregates: round(sum / n * 100, 2) with Python's round (exact ties go to even).
  std::vector<std::string> preds(32, "x");
  std::vector<std::vector<std::string>> refs(32, {"y"});
  preds[0] = "y";
  EXPECT_EQ(string_match_all(preds, refs), 3.12);  // 3.125 -> 3.12
  preds[1] = preds[2] = "y";
  EXPECT_EQ(string_match_all(preds, refs), 9.38);  // 9.375 -> 9.38
  EXPECT_EQ(string_match_all({"a"}, {{"a", "b", "c"}}), 33.33);
  EXPECT_EQ(string_match_all({"a b"}, {{"a", "b", "c"}}), 66.67);
  EXPECT_EQ(string_match_part({"a", "z"}, {{"a", "b"}, {"c"}}), 50.0);
  Sample s;
  s.answers = {"K1", "k2"};
  EXPECT_EQ(ruler_score_fn()(s, "k1 and K2"), 1.0);
}

}  // namespace
}  // namespace vatp::eval
