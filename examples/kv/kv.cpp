// The line protocol of kv.hpp: parsing a request line, serving a connection and a listener.
#include "kv.hpp"

#include <memory>
#include <vector>

namespace ringo::kv {
namespace {

// Splits off the next space-separated word.
std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = rest.find(' ');
  std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}

}  // namespace

std::string handle_line(std::string_view line, std::map<std::string, std::string>& store) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string_view rest = line;
  const std::string_view verb = next_word(rest);
  const std::string_view key = next_word(rest);
  const std::string_view value = next_word(rest);
  const bool extra = !next_word(rest).empty();
  if (verb == "SET" && !key.empty() && !value.empty() && !extra) {
    store[std::string(key)] = std::string(value);
    return "OK";
  }
  if (verb == "GET" && !key.empty() && value.empty()) {
    auto it = store.find(std::string(key));
    return it == store.end() ? "NONE" : "VALUE " + it->second;
  }
  return "ERR bad request";
}

Task<Result<void>> serve_connection(net::TcpStream stream, std::map<std::string, std::string>* store) {
  std::string pending;
  std::vector<char> buf(512);
  while (true) {
    Result<size_t> n = co_await stream.read(buf);
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0) break;
    pending.append(buf.data(), *n);
    std::string replies;
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl - start > kMaxLine) break;
      replies += handle_line(std::string_view(pending).substr(start, nl - start), *store) + "\n";
    }
    pending.erase(0, start);
    const bool overlong = pending.size() > kMaxLine || pending.find('\n') != std::string::npos;
    if (overlong) replies += "ERR line too long\n";
    if (auto w = co_await stream.write_all(replies); !w) co_return std::unexpected(w.error());
    if (overlong) break;
  }
  (void)co_await stream.close();
  co_return Result<void>{};
}

Task<Result<void>> serve(net::TcpListener listener) {
  auto store = std::make_shared<std::map<std::string, std::string>>();
  while (true) {
    Result<net::TcpStream> conn = co_await listener.accept();
    if (!conn) {
      if (conn.error() == errc::cancelled) co_return Result<void>{};
      if (conn.error() == std::errc::too_many_files_open) {
        co_await sleep(std::chrono::milliseconds(1));
        continue;
      }
      co_return std::unexpected(conn.error());
    }
    // The connection routine holds the store too: it may outlive the accept loop.
    go([](net::TcpStream s, std::shared_ptr<std::map<std::string, std::string>> st) -> Task<Result<void>> {
      // Not `co_await serve_connection(std::move(s), ...)`: GCC 12 double-frees a coroutine
      // parameter moved inside the co_await expression that consumes it.
      Task<Result<void>> serving = serve_connection(std::move(s), st.get());
      co_return co_await std::move(serving);
    }(std::move(*conn), store))
        .detach();
  }
}

}  // namespace ringo::kv
