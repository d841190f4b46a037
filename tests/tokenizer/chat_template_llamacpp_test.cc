// Chat templates against llama.cpp's llama_chat_apply_template, used as a black box:
// tests/data/chat_templates_llamacpp.jsonl (scripts/ref/gen_chat_template_golden.py).
// For llama2 and mistral the golden file also carries those models' own Jinja
// templates; vatp must detect the right format from them and then produce the same text.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"

namespace vatp::tokenizer {
namespace {

TEST(ChatTemplatesLlamaCpp, GoldenStrings) {
  const std::string path = std::string(VATP_SOURCE_DIR) + "/tests/data/chat_templates_llamacpp.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing " << path;
  std::string line;
  int n = 0;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string name = j.at("template").get<std::string>();
    SCOPED_TRACE(name + " / " + j.at("conversation").get<std::string>() +
                 (j.at("add_generation_prompt").get<bool>() ? " + generation prompt" : ""));
    ChatFormat fmt;
    if (j.at("jinja").is_string()) {
      auto d = detect_chat_template(j.at("jinja").get<std::string>());
      ASSERT_TRUE(d.is_ok()) << d.status().to_string();
      fmt = *d;
      EXPECT_STREQ(chat_template_name(fmt.kind), name.c_str());
    } else {
      auto k = chat_template_from_name(name);
      ASSERT_TRUE(k.is_ok()) << k.status().to_string();
      fmt.kind = *k;
    }
    std::vector<ChatMessage> msgs;
    for (const auto& m : j.at("messages"))
      msgs.push_back({m.at(0).get<std::string>(), m.at(1).get<std::string>()});
    EXPECT_EQ(apply_chat_template(fmt, msgs, j.at("add_generation_prompt").get<bool>()),
              j.at("text").get<std::string>());
    ++n;
    names.insert(name);
  }
  EXPECT_EQ(n, 140);  // 10 templates × 7 conversations × with/without generation prompt
  EXPECT_EQ(names.size(), 10u);
}

}  // namespace
}  // namespace vatp::tokenizer
