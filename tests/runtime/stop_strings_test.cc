// StopMatcher: stop strings found across piece boundaries, never emitted, and text that
// only looked like a stop's beginning released once it is not.
#include "runtime/stop_strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vatp::runtime {
namespace {

// Feeds the pieces; returns what was emitted, with "|" between pushes.
std::string feed(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) out += m.push(p) + "|";
  return out + m.flush();
}

TEST(StopMatcher, NoStopsPassesEverythingAtOnce) {
  StopMatcher m({});
  EXPECT_EQ(feed(m, {"Hel", "lo"}), "Hel|lo|");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.text(), "Hello");
}

TEST(StopMatcher, StopInsideOnePieceCutsBeforeIt) {
  StopMatcher m({"END"});
  EXPECT_EQ(feed(m, {"abcENDxyz", "more"}), "abc||");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.text(), "abc");
}

TEST(StopMatcher, StopAcrossPiecesIsHeldBackThenDropped) {
  StopMatcher m({"\nUser:"});
  EXPECT_EQ(feed(m, {"Hi", " there\n", "Us", "er: next"}), "Hi| there|||");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.text(), "Hi there");
}

TEST(StopMatcher, AFalseStartIsReleased) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(feed(m, {"a ST", "ART b", "ST"}), "a |START b||ST");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.text(), "a START bST");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"bb", "a", ""});
  EXPECT_EQ(feed(m, {"xxbbya"}), "xx|");
  StopMatcher m2({"yz", "xyzw"});
  EXPECT_EQ(feed(m2, {"0xy", "zw"}), "0||");  // "xyzw" starts before "yz"
  EXPECT_EQ(m2.text(), "0");
}

}  // namespace
}  // namespace vatp::runtime
