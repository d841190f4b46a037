// `vatp chat`: an interactive multi-turn chat on one sequence (docs/chat.md). Every turn
// is appended to the same Session (Session::append_turn), so the conversation stays in
// the (compressed) KV cache and only the new turn is prefilled. One user turn per input
// line; a pipe works like a terminal.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "cli/eval_common.h"
#include "cli/generation_flags.h"
#include "policy/flags.h"
#include "runtime/session.h"
#include "tokenizer/chat_template.h"

namespace vatp::cli {
namespace {

// The one global of the CLI: set by the SIGINT handler, read by the token callback (a
// generation stops) and after a read at the prompt fails (the chat ends). A signal
// handler can reach nothing else.
volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) { g_interrupted = 1; }

// No SA_RESTART: Ctrl-C at the prompt must make the blocking read return.
void install_sigint_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

constexpr int kDefaultCtxCap = 4096;  // as `vatp run`

struct ChatFlags {
  ModelFlags model;
  std::string system, chat_template;
  int n_ctx = 0;  // 0: min(training context, kDefaultCtxCap)
  int n_predict = 512;
  int batch = 256;
  runtime::SamplerParams sampling;
  policy::PolicyFlags kv;
  std::string kv_type = "f16";
  bool kv_rerotate = false;
  bool no_stats = false;
};

constexpr const char* kHelp =
    "commands: /policy NAME BUDGET (KV policy from the next turn on), /stats, /reset (empty the "
    "conversation), /help, /quit; Ctrl-C stops a reply, Ctrl-D or Ctrl-C at the prompt ends the chat\n";

// The conversation as messages and as the tokens in the session. The cache holds the
// tokens of `held_text_` except the reply's last sampled token, kept in `pending_`.
class Chat {
 public:
  Chat(runtime::Session& s, tokenizer::ChatFormat fmt, const ChatFlags& f)
      : s_(s), fmt_(std::move(fmt)), f_(f) {}
  Status turn(const std::string& user_text);
  void reset();
  void print_stats() const;
  Status switch_policy(const std::string& args);

 private:
  Result<std::vector<int32_t>> turn_tokens(std::string& text);
  Result<int> room_for(int64_t n_turn) const;
  void end_reply(const std::vector<int32_t>& ids, const std::string& text);
  void print_turn_stats(const runtime::SessionStats& before) const;

  runtime::Session& s_;
  tokenizer::ChatFormat fmt_;
  const ChatFlags& f_;
  std::vector<tokenizer::ChatMessage> msgs_;
  std::string held_text_;         // the conversation's text up to the end of the last reply
  std::vector<int32_t> pending_;  // sampled but not fed back: the next turn starts with it
  int turns_ = 0;
};

// The new turn's tokens: the suffix of the whole conversation rendered again beyond
// what the cache holds. A template that renders earlier turns differently once a new
// one is added (not append-only) makes the conversation start over in the cache.
Result<std::vector<int32_t>> Chat::turn_tokens(std::string& text) {
  text = tokenizer::apply_chat_template(fmt_, msgs_, /*add_generation_prompt=*/true);
  const tokenizer::Tokenizer& tok = s_.tokenizer();
  std::vector<int32_t> ids;
  if (s_.n_past() > 0 && text.compare(0, held_text_.size(), held_text_) == 0) {
    ids = pending_;
    const std::vector<int32_t> rest =
        tok.encode(text.substr(held_text_.size()), /*add_special=*/false, /*parse_special=*/true);
    ids.insert(ids.end(), rest.begin(), rest.end());
  } else {
    if (s_.n_past() > 0)
      std::fprintf(stderr, "[the template changed earlier turns: the conversation is prefilled again]\n");
    s_.reset();
    ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
  }
  return ids;
}

// Tokens the reply may take: -n, less when the context is nearly full.
Result<int> Chat::room_for(int64_t n_turn) const {
  const int64_t left = s_.positions_left() - n_turn;
  if (left < 1) {
    return out_of_range("context full: this turn (" + std::to_string(n_turn) +
                        " tokens) does not fit in the " + std::to_string(s_.n_ctx()) +
                        "-token context after " + std::to_string(s_.n_past()) +
                        " tokens; /reset to start over, raise -c, or use a decode-evicting policy with "
                        "--kv-rerotate");
  }
  return static_cast<int>(std::min<int64_t>(f_.n_predict, left));
}

void Chat::end_reply(const std::vector<int32_t>& ids, const std::string& text) {
  msgs_.push_back({"assistant", text});
  held_text_ += text;
  pending_.clear();
  // An end-of-generation token is the template's own end of turn: the next turn's suffix
  // renders it. Any other last token was sampled but never fed back.
  if (!ids.empty() && !s_.tokenizer().is_eog(ids.back())) pending_.push_back(ids.back());
  ++turns_;
}

Status Chat::turn(const std::string& user_text) {
  msgs_.push_back({"user", user_text});
  std::string text;
  VATP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, turn_tokens(text));
  Result<int> n = room_for(static_cast<int64_t>(ids.size()));
  if (!n.is_ok()) {
    msgs_.pop_back();  // the turn never happened; /reset or a shorter line may follow
    return n.status();
  }
  const runtime::SessionStats before = s_.stats();
  const Status st = s_.append_turn(ids);
  if (!st.is_ok()) {
    reset();  // the cache may hold part of the turn: start clean rather than out of step
    return st.with_context("the conversation was reset");
  }
  held_text_ = std::move(text);
  std::string reply;
  g_interrupted = 0;
  auto on_token = [&](int32_t, std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    reply.append(piece);
    return g_interrupted == 0;
  };
  Result<std::vector<int32_t>> out = s_.continue_generation(ids, *n, on_token);
  std::fputc('\n', stdout);
  if (!out.is_ok()) {
    reset();
    return out.status().with_context("the conversation was reset");
  }
  if (g_interrupted != 0) std::fputs("[interrupted]\n", stdout);
  g_interrupted = 0;
  std::fflush(stdout);
  end_reply(*out, reply);
  if (!f_.no_stats) print_turn_stats(before);
  return Status::ok();
}

void Chat::reset() {
  s_.reset();
  msgs_.clear();
  held_text_.clear();
  pending_.clear();
  turns_ = 0;
}

double mib(int64_t b) { return static_cast<double>(b) / 1048576.0; }
double percent(int64_t a, int64_t b) {
  return b > 0 ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0;
}

void Chat::print_turn_stats(const runtime::SessionStats& b) const {
  const runtime::SessionStats& a = s_.stats();
  const int64_t n_prompt = a.n_prompt - b.n_prompt, n_dec = a.n_decoded - b.n_decoded;
  const double pf = a.prefill_seconds - b.prefill_seconds, dc = a.decode_seconds - b.decode_seconds;
  std::fprintf(
      stderr,
      "[turn %d: prompt %lld tok, prefill %.1f tok/s, %lld tok generated, decode %.1f tok/s, KV held "
      "%.2f MiB vs %.2f MiB full (%.1f%%), %lld evicted this turn]\n",
      turns_, static_cast<long long>(n_prompt), pf > 0 ? n_prompt / pf : 0.0,
      static_cast<long long>(a.n_generated - b.n_generated), dc > 0 ? n_dec / dc : 0.0, mib(a.kv_bytes_used),
      mib(a.kv_bytes_full), percent(a.kv_bytes_used, a.kv_bytes_full),
      static_cast<long long>(a.tokens_evicted - b.tokens_evicted));
}

void Chat::print_stats() const {
  const runtime::SessionStats& a = s_.stats();
  std::printf(
      "turns %d, tokens %lld of %d context, KV held %.2f MiB vs %.2f MiB full (%.1f%%), allocated %.2f MiB, "
      "tokens evicted %lld, policy %s\n",
      turns_, static_cast<long long>(s_.n_past()), s_.n_ctx(), mib(a.kv_bytes_used), mib(a.kv_bytes_full),
      percent(a.kv_bytes_used, a.kv_bytes_full), mib(a.kv_bytes_allocated),
      static_cast<long long>(a.tokens_evicted), policy::describe(s_.policy()).c_str());
  std::fflush(stdout);
}

// "/policy NAME BUDGET": the other --kv-* flags given on the command line still apply.
Status Chat::switch_policy(const std::string& args) {
  std::istringstream in(args);
  policy::PolicyFlags kv = f_.kv;
  std::string name, budget, extra;
  in >> name >> budget >> extra;
  if (name.empty() || !extra.empty()) return invalid_argument("usage: /policy NAME BUDGET");
  kv.policy = name;
  kv.budget = budget.empty() ? std::optional<std::string>() : std::optional<std::string>(budget);
  VATP_ASSIGN_OR_RETURN(policy::PolicyConfig cfg, policy::config_from_flags(kv));
  VATP_RETURN_IF_ERROR(s_.set_policy(cfg));
  std::printf("[policy %s from the next turn on]\n", policy::describe(cfg).c_str());
  std::fflush(stdout);
  return Status::ok();
}

enum class Next { kGoOn, kQuit };

// A "/..." line. Errors are printed; only /quit ends the chat.
Next run_command(Chat& chat, const std::string& line) {
  const size_t sp = line.find(' ');
  const std::string cmd = line.substr(0, sp);
  const std::string args = sp == std::string::npos ? std::string() : line.substr(sp + 1);
  Status st;
  if (cmd == "/quit" || cmd == "/exit") return Next::kQuit;
  if (cmd == "/help") {
    std::fputs(kHelp, stdout);
  } else if (cmd == "/stats") {
    chat.print_stats();
  } else if (cmd == "/reset") {
    chat.reset();
    std::puts("[conversation cleared]");
  } else if (cmd == "/policy") {
    st = chat.switch_policy(args);
  } else {
    std::printf("unknown command %s (/help lists them)\n", cmd.c_str());
  }
  if (!st.is_ok()) std::printf("error: %s\n", st.message().c_str());
  std::fflush(stdout);
  return Next::kGoOn;
}

// Lines from stdin, read from the descriptor with a short poll so that a Ctrl-C that
// lands just before a blocking read is still seen (the flag is checked between polls).
class LineReader {
 public:
  // One line without its newline; false at end of input or on Ctrl-C.
  bool next(std::string& out) {
    while (true) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        out = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        while (!out.empty() && out.back() == '\r') out.pop_back();
        return true;
      }
      if (eof_ || g_interrupted != 0) break;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;  // timeout or EINTR: check the flag again
      char chunk[4096];
      const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
      if (n > 0) buf_.append(chunk, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) eof_ = true;
    }
    if (g_interrupted != 0 || buf_.empty()) return false;
    out.swap(buf_);  // a last line without a newline
    buf_.clear();
    return true;
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

Status chat_loop(Chat& chat) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  if (tty) std::fputs(kHelp, stdout);
  LineReader in;
  std::string line;
  while (true) {
    if (tty) std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!in.next(line) || g_interrupted != 0) break;  // Ctrl-D, end of the pipe, Ctrl-C
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (line[0] == '/') {
      if (run_command(chat, line) == Next::kQuit) break;
      continue;
    }
    // A turn that fails (context full, a bad policy switch) is reported; the chat goes on.
    const Status st = chat.turn(line);
    if (!st.is_ok()) {
      std::printf("error: %s\n", st.message().c_str());
      std::fflush(stdout);
    }
  }
  if (tty) std::fputc('\n', stdout);
  return Status::ok();
}

Result<runtime::SessionOptions> session_options(const ChatFlags& f, const model::Model& m) {
  if (f.n_predict < 1) return invalid_argument("-n must be >= 1, got " + std::to_string(f.n_predict));
  if (f.n_ctx < 0) return invalid_argument("-c must be > 0, got " + std::to_string(f.n_ctx));
  runtime::SessionOptions so;
  VATP_ASSIGN_OR_RETURN(so.kv_policy, policy::config_from_flags(f.kv));
  VATP_ASSIGN_OR_RETURN(so.kv_type, kvcache::kv_type_from_name(f.kv_type));
  so.kv_rerotate = f.kv_rerotate;
  so.n_ctx = f.n_ctx > 0 ? f.n_ctx : std::min(m.config().n_ctx_train, kDefaultCtxCap);
  so.n_batch = f.batch;
  so.sampling = f.sampling;
  return so;
}

Status run_chat(const ChatFlags& f) {
  VATP_RETURN_IF_ERROR(runtime::validate(f.sampling));
  VATP_RETURN_IF_ERROR(policy::config_from_flags(f.kv).status().with_context("--kv-* flags"));
  VATP_ASSIGN_OR_RETURN(LoadedModel lm, load_model(f.model));
  VATP_ASSIGN_OR_RETURN(tokenizer::ChatFormat fmt,
                        tokenizer::chat_format_for(lm.model->gguf(), f.chat_template));
  if (!f.system.empty()) fmt.default_system = f.system;
  VATP_ASSIGN_OR_RETURN(const runtime::SessionOptions so, session_options(f, *lm.model));
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Session> session,
                        runtime::Session::create(*lm.model, *lm.tok, *lm.pool, so));
  install_sigint_handler();
  Chat chat(*session, std::move(fmt), f);
  return chat_loop(chat);
}

}  // namespace

void add_chat_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<ChatFlags>();
  CLI::App* cmd =
      app.add_subcommand("chat", "Interactive multi-turn chat; the conversation stays in the KV cache");
  add_model_flags(cmd, fl->model);
  cmd->add_option("--system", fl->system, "System message (default: the template's own, if any)");
  cmd->add_option(
      "--chat-template", fl->chat_template,
      "Template name: llama2, vicuna, chatml, llama3, mistral, mistral-v1, mistral-v3, mistral-v3-tekken, "
      "mistral-v7, mistral-v7-tekken (default: the model's)");
  cmd->add_option("-c,--ctx-size", fl->n_ctx,
                  "Context size in tokens, the whole conversation (default: the model's training context, "
                  "at most 4096)");
  cmd->add_option("-n,--n-predict", fl->n_predict, "Most tokens per reply (default 512)");
  cmd->add_option("-b,--batch-size", fl->batch, "Prompt tokens per forward call (default 256)");
  cmd->add_option("--kv-type", fl->kv_type, "KV cache storage: f16 (default) | f32 | q8_0");
  cmd->add_flag("--kv-rerotate", fl->kv_rerotate,
                "Renumber kept tokens to cache positions after each eviction (StreamingLLM); with a "
                "continuous policy the chat can run past -c");
  cmd->add_flag("--no-stats", fl->no_stats, "No per-turn stats line on stderr");
  add_sampling_flags(cmd, fl->sampling);
  add_kv_policy_flags(cmd, fl->kv);
  cmd->callback([fl, &selected] { selected = [fl] { return run_chat(*fl); }; });
}

}  // namespace vatp::cli
