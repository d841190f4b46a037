// parse_json_text: every failure of the JSON library is an error value, never an exception.
#include "core/json_text.h"

#include <gtest/gtest.h>

#include <string>

namespace vatp {
namespace {

std::string error_of(const std::string& text) {
  const Result<nlohmann::json> r = parse_json_text(text);
  EXPECT_FALSE(r.is_ok()) << text;
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(JsonText, ParsesAValue) {
  const Result<nlohmann::json> r = parse_json_text(R"({"a": [1, 2.5, "x"], "b": null})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ((*r)["a"][1].get<double>(), 2.5);
  EXPECT_TRUE((*r)["b"].is_null());
}

TEST(JsonText, MalformedTextNamesTheByteAndReason) {
  EXPECT_EQ(error_of(R"({"a": )"),
            "invalid JSON at byte 7: syntax error while parsing value - unexpected end of input; expected "
            "'[', '{', or a literal");
  const std::string utf8 = error_of("{\"a\": \"\xff\"}");
  EXPECT_NE(utf8.find("UTF-8"), std::string::npos) << utf8;
  EXPECT_EQ(utf8.find("[json.exception"), std::string::npos) << utf8;
  EXPECT_EQ(error_of("").rfind("invalid JSON at byte ", 0), 0u);
}

// The library throws out_of_range (not parse_error) here; the fuzzers found it.
TEST(JsonText, NumberOverflowIsAnErrorNotAnException) {
  for (const char* text : {R"({"a": 1e999})", "-1e400", "[1, 2, 123456789e999999]"}) {
    const std::string e = error_of(text);
    EXPECT_EQ(e.rfind("invalid JSON: number overflow", 0), 0u) << text << " -> " << e;
  }
}

}  // namespace
}  // namespace vatp
