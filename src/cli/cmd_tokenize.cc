// `vatp tokenize` and `vatp detokenize`: the model's tokenizer alone (no weights read).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {
namespace {

struct TokFlags {
  std::string model;
  std::string prompt;
  bool prompt_given = false;
  bool ids_only = false;
  bool no_bos = false;
  bool special = false;
  std::vector<std::string> ids;
};

// Shows a piece on one line: control characters, quotes, backslashes and bytes that are
// not part of a complete UTF-8 character (a byte-level token can hold half of one) are
// escaped; whole UTF-8 characters print as they are.
std::string escape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool whole = len > 1 && i + len <= s.size();
    for (size_t k = 1; whole && k < len; ++k) whole = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (whole) {
      o.append(s, i, len);
      i += len;
      continue;
    }
    if (c == '\n')
      o += "\\n";
    else if (c == '\t')
      o += "\\t";
    else if (c == '\r')
      o += "\\r";
    else if (c == '\\')
      o += "\\\\";
    else if (c == '\'')
      o += "\\'";
    else if (c < 0x20 || c >= 0x7F) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02X", c);
      o += b;
    } else
      o += static_cast<char>(c);
    ++i;
  }
  return o;
}

Result<tokenizer::Tokenizer> load(const std::string& path) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path));
  return tokenizer::Tokenizer::from_gguf(f);
}

Status run_tokenize(const TokFlags& fl) {
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(fl.model));
  std::string text = fl.prompt;
  if (!fl.prompt_given)
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  const std::vector<int32_t> ids = tok.encode(text, !fl.no_bos, fl.special);
  if (fl.ids_only) {
    std::printf("[");
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? ", " : "", ids[i]);
    std::printf("]\n");
    return Status::ok();
  }
  for (int32_t id : ids) std::printf("%6d\t'%s'\n", id, escape(tok.token_to_piece(id, true)).c_str());
  return Status::ok();
}

Status run_detokenize(const TokFlags& fl) {
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, load(fl.model));
  std::vector<std::string> words = fl.ids;
  if (words.empty()) {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    for (char& c : all) {
      if (c == ',' || c == '[' || c == ']') c = ' ';
    }
    std::istringstream in(all);
    std::string w;
    while (in >> w) words.push_back(w);
  }
  std::vector<int32_t> ids;
  for (const std::string& w0 : words) {
    std::string w = w0;
    while (!w.empty() && (w.back() == ',' || w.back() == ']')) w.pop_back();
    while (!w.empty() && w.front() == '[') w.erase(0, 1);
    if (w.empty()) continue;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(w, &used);
    } catch (...) {
      used = 0;
    }
    if (used != w.size()) return invalid_argument("'" + w0 + "' is not a token id");
    if (v < 0 || v >= tok.n_vocab()) {
      return invalid_argument("token id " + w + " is outside the vocabulary (0.." +
                              std::to_string(tok.n_vocab() - 1) + ")");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  VATP_ASSIGN_OR_RETURN(std::string text, tok.decode(ids, fl.special));
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::printf("\n");
  return Status::ok();
}

}  // namespace

void add_tokenize_commands(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<TokFlags>();
  CLI::App* t = app.add_subcommand("tokenize", "Turn text into token ids with the model's tokenizer");
  t->add_option("-m,--model", fl->model, "GGUF file")->required();
  t->add_option("-p,--prompt", fl->prompt, "Text (default: read stdin)");
  t->add_flag("--ids", fl->ids_only, "Print only the list of ids");
  t->add_flag("--no-bos", fl->no_bos, "Do not add BOS/EOS even if the model asks for them");
  t->add_flag("--special", fl->special, "Parse special tokens written in the text (e.g. <|im_start|>)");
  t->callback([fl, t, &selected] {
    fl->prompt_given = t->count("--prompt") > 0;
    selected = [fl] { return run_tokenize(*fl); };
  });
  auto fd = std::make_shared<TokFlags>();
  CLI::App* d = app.add_subcommand("detokenize", "Turn token ids into text");
  d->add_option("-m,--model", fd->model, "GGUF file")->required();
  d->add_option("ids", fd->ids, "Token ids (default: read stdin; commas and brackets allowed)");
  d->add_flag("--special", fd->special, "Render control tokens as text");
  d->callback([fd, &selected] { selected = [fd] { return run_detokenize(*fd); }; });
}

}  // namespace vatp::cli
