// `vatp chat` end to end on SmolLM2: through a pipe (one user turn per line, commands,
// end of input) and through a pseudo-terminal (forkpty), where Ctrl-C stops a reply but
// not the chat and Ctrl-D ends it with exit status 0.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "runtime_test_util.h"

namespace vatp::runtime {
namespace {

// `vatp ARGS < input` through the shell.
Ran run_vatp(const std::string& args, const std::string& input) {
  return run_vatp_with_input("chat", args, input);
}

class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_model_path();
    if (model_.empty())
      GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)";
  }
  std::string chat(const std::string& extra) const { return "chat -m " + model_ + " -t 2 --temp 0 " + extra; }
  std::string model_;
};

// Prompt tokens of each "[turn N: prompt P tok" stats line.
std::vector<long> turn_prompts(const std::string& err) {
  std::vector<long> v;
  const std::regex re(R"(\[turn \d+: prompt (\d+) tok)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it)
    v.push_back(std::stol((*it)[1]));
  return v;
}

TEST_F(ChatCli, PipeTwoTurnsCommandsAndEndOfInput) {
  const Ran r =
      run_vatp(chat("-n 12 --kv-policy h2o --kv-budget 24"),
               "What is the capital of France?\n/stats\n/nosuch\nAnd of Italy?\n/stats\n/reset\n/stats\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("turns 1, tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("turns 2, tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown command /nosuch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[conversation cleared]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("turns 0, tokens 0 "), std::string::npos) << r.out;
  // Turn 2 prefills only its own tokens, fewer than the conversation holds by then.
  const std::vector<long> p = turn_prompts(r.err);
  ASSERT_EQ(p.size(), 2u) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(turns 2, tokens (\d+))"))) << r.out;
  EXPECT_LT(p[1], std::stol(m[1]) - p[0]);
  EXPECT_NE(r.err.find("KV held"), std::string::npos) << r.err;
}

// The first reply equals `vatp run --chat` of the same message (greedy).
TEST_F(ChatCli, FirstTurnMatchesRunChat) {
  const Ran c = run_vatp(chat("-n 10 --no-stats"), "Name a fruit.\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(c.err.empty()) << c.err;  // --no-stats
  const Ran r =
      run_vatp("run -m " + model_ + " -t 2 --temp 0 -n 10 --no-stats --chat -p 'Name a fruit.'", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(c.out, r.out + "\n");
}

TEST_F(ChatCli, ContextFullIsSaidAndTheChatGoesOn) {
  std::string line;
  for (int i = 0; i < 100; ++i) line += "hello ";  // about 100 tokens
  const Ran r = run_vatp(chat("-c 96 -n 4"), line + "\n/stats\nHi\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("context full"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("turns 0"), std::string::npos) << r.out;
  EXPECT_EQ(turn_prompts(r.err).size(), 1u) << r.err;  // "Hi" still answered
}

TEST_F(ChatCli, PolicySwitchAndBadPolicy) {
  const Ran r =
      run_vatp(chat("-n 4"), "Hello\n/policy h2o 16\nHow are you?\n/stats\n/policy nosuch 3\n/policy\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[policy h2o"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("tokens evicted 0,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("usage: /policy NAME BUDGET"), std::string::npos) << r.out;
}

// A child on a pseudo-terminal: read what it writes, type into it.
class Pty {
 public:
  explicit Pty(const std::vector<std::string>& argv) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> a;
      for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
  }
  ~Pty() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return pid_ > 0; }
  void type(const std::string& s) {
    ASSERT_EQ(write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  // Reads until `needle` appears after offset `from` of everything read; false on timeout.
  bool wait_for(const std::string& needle, size_t from, int seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (seen_.find(needle, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() > end) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return seen_.find(needle, from) != std::string::npos;
      seen_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Exit status once the child ends (-1 if it does not within `seconds`).
  int exit_status(int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      wait_for("\x01never", 0, 0);  // drain, so the child never blocks on a full pty
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      usleep(100000);
    }
    return -1;
  }
  const std::string& seen() const { return seen_; }

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string seen_;
};

std::vector<std::string> pty_chat_argv(const std::string& model) {
  return {std::string(VATP_BINARY_DIR) + "/vatp",
          "chat",
          "-m",
          model,
          "-t",
          "2",
          "--temp",
          "0",
          "-n",
          "2000",
          "--no-stats"};
}

TEST_F(ChatCli, PtyCtrlCStopsAReplyNotTheChat) {
  Pty p(pty_chat_argv(model_));
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p.wait_for("> ", 0, 120)) << p.seen();
  p.type("Write a very long story about a dragon who learns to cook.\n");
  const size_t after_line = p.seen().size();
  // Some of the reply, then Ctrl-C (the terminal turns it into SIGINT).
  ASSERT_TRUE(p.wait_for("cook.", 0, 30)) << p.seen();
  const size_t echoed = p.seen().find("cook.") + 5;
  ASSERT_TRUE(p.wait_for(" ", echoed + 20, 120)) << p.seen();
  p.type("\x03");
  ASSERT_TRUE(p.wait_for("[interrupted]", after_line, 60)) << p.seen();
  const size_t mark = p.seen().find("[interrupted]");
  ASSERT_TRUE(p.wait_for("> ", mark, 30)) << p.seen();
  // The chat goes on: a second turn is answered.
  p.type("What is the capital of France?\n");
  ASSERT_TRUE(p.wait_for("Paris", mark, 120)) << p.seen();
  ASSERT_TRUE(p.wait_for("> ", p.seen().find("Paris", mark), 120)) << p.seen();
  p.type("\x04");  // Ctrl-D at the start of a line: end of input
  EXPECT_EQ(p.exit_status(30), 0) << p.seen();
}

TEST_F(ChatCli, PtyCtrlCAtThePromptEndsTheChat) {
  Pty p(pty_chat_argv(model_));
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p.wait_for("> ", 0, 120)) << p.seen();
  p.type("\x03");
  EXPECT_EQ(p.exit_status(30), 0) << p.seen();
}

}  // namespace
}  // namespace vatp::runtime
