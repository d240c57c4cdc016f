// A Prometheus endpoint over ringo's own TCP: GET /metrics answers
// ringo::prometheus_text(runtime) (docs/metrics.md lists the metrics).
//
//   metrics_server [--addr 127.0.0.1:9464] [--shards 2]   serve until killed
//   metrics_server --self-test [--shards 2]               serve on 127.0.0.1:0, scrape itself
//                                                         with a ringo TCP client, check, exit
//
// Exit status: 0 served (or the self-test passed), 1 a runtime or network failure (or the
// self-test failed: it says what on stderr), 2 a bad command line (unknown flag, missing or
// bad value).
//
// HTTP: just enough HTTP/1.1 (and 1.0) for a scraper. One request per connection: every
// answer says `Connection: close` and has a Content-Length, and the server closes after it.
//   GET /metrics (a query string is ignored)   200, Content-Type: text/plain; version=0.0.4
//   GET of any other path                      404
//   another method                             405, Allow: GET
//   a malformed request line or header line, another HTTP version, a head over 8 KiB, or
//   a head cut short (end of stream, or 10 s without it completing)   400
// The server listens on the shard that runs block_on (shard 0) and serves each connection
// in a routine of its own there.
//
// RINGO_BACKEND=sim runs it in the simulator (only --self-test makes sense there: the
// simulated network has no outside clients).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ringo/ringo.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "prom_text.hpp"

using namespace ringo;

namespace {

constexpr size_t kMaxHead = 8192;
constexpr auto kRequestTimeout = std::chrono::seconds(10);

struct Options {
  std::string addr = "127.0.0.1:9464";
  uint32_t shards = 2;
  bool self_test = false;
};

// ---------------------------------------------------------------- server

struct Response {
  int status = 200;
  std::string_view reason = "OK";
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view extra_header;  // a whole line with its CRLF, or empty
  std::string body;
};

Response error_response(int status, std::string_view reason) {
  Response r;
  r.status = status;
  r.reason = reason;
  r.body = std::string(reason) + "\n";
  return r;
}

// RFC 9110's token characters (methods, header names).
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_visible(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The answer to a request head: its lines up to, not including, the blank line.
Response route(std::string_view head, const Runtime& rt) {
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  std::string_view headers = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return error_response(400, "Bad Request");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || !is_visible(target) || target.front() != '/' ||
      (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return error_response(400, "Bad Request");
  }
  while (!headers.empty()) {
    const size_t end = headers.find("\r\n");
    const std::string_view field = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) return error_response(400, "Bad Request");
  }
  if (method != "GET") {
    Response r = error_response(405, "Method Not Allowed");
    r.extra_header = "Allow: GET\r\n";
    return r;
  }
  if (target.substr(0, target.find('?')) != "/metrics") return error_response(404, "Not Found");
  Response r;
  r.content_type = kPrometheusContentType;
  r.body = prometheus_text(rt);
  return r;
}

std::string format_response(const Response& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(r.reason) + "\r\n";
  out += "Content-Type: " + std::string(r.content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += r.extra_header;
  out += "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

Task<void> serve_connection(net::TcpStream stream, const Runtime* rt) {
  const Instant deadline = now().value() + kRequestTimeout;
  std::string head;
  std::vector<char> buf(2048);
  size_t end = std::string::npos;
  while (head.size() <= kMaxHead) {
    end = head.find("\r\n\r\n");
    if (end != std::string::npos) break;
    Result<size_t> n = co_await stream.read(buf, deadline);
    if (!n || *n == 0) break;
    head.append(buf.data(), *n);
  }
  if (end == std::string::npos && head.empty()) {
    (void)co_await stream.close();  // nothing asked, nothing to answer
    co_return;
  }
  Response response;
  if (end == std::string::npos || end > kMaxHead) {
    response = error_response(400, "Bad Request");
  } else {
    response = route(std::string_view(head).substr(0, end), *rt);
  }
  const std::string out = format_response(response);
  if (auto w = co_await stream.write_all(out, deadline); w) (void)co_await stream.shutdown(SHUT_WR, deadline);
  (void)co_await stream.close();
}

Task<Result<void>> accept_loop(net::TcpListener listener, const Runtime* rt) {
  for (;;) {
    Result<net::TcpStream> conn = co_await listener.accept();
    if (conn) {
      go(serve_connection(std::move(*conn), rt)).detach();
      continue;
    }
    if (conn.error() == errc::cancelled) co_return Result<void>{};  // stopped
    if (conn.error() != std::errc::too_many_files_open) co_return std::unexpected(conn.error());
    co_await sleep(std::chrono::milliseconds(1));  // out of descriptors: let some connections end
  }
}

Task<Result<void>> serve_forever(net::SocketAddr addr, const Runtime* rt) {
  Result<net::TcpListener> listener = net::TcpListener::bind(addr);
  if (!listener) co_return std::unexpected(listener.error());
  Result<net::SocketAddr> bound = listener->local_addr();
  if (!bound) co_return std::unexpected(bound.error());
  std::printf("metrics_server: serving http://%s/metrics on %s\n", bound->to_string().c_str(),
              backend_name(rt->backend()));
  std::fflush(stdout);
  co_return co_await accept_loop(std::move(*listener), rt);
}

// ---------------------------------------------------------------- self-test

struct Reply {
  int status = 0;
  std::string head;  // status line and header lines, CRLF-separated
  std::string body;
};

// One request over a fresh connection; the reply is read to the end of the stream.
Task<Result<Reply>> fetch(net::SocketAddr addr, std::string request) {
  const Instant deadline = now().value() + kRequestTimeout;
  Result<net::TcpStream> conn = co_await net::TcpStream::connect(addr, deadline);
  if (!conn) co_return std::unexpected(conn.error());
  if (auto w = co_await conn->write_all(request, deadline); !w) co_return std::unexpected(w.error());
  // Half-close: a request cut short then ends at our end of stream, not at the server's timeout.
  if (auto s = co_await conn->shutdown(SHUT_WR, deadline); !s) co_return std::unexpected(s.error());
  std::string all;
  std::vector<char> buf(16 * 1024);
  while (true) {
    Result<size_t> n = co_await conn->read(buf, deadline);
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0) break;
    all.append(buf.data(), *n);
  }
  (void)co_await conn->close();
  Reply reply;
  const size_t end = all.find("\r\n\r\n");
  if (!all.starts_with("HTTP/1.1 ") || end == std::string::npos || all.size() < 12) co_return reply;  // status 0
  reply.head = all.substr(0, end);
  reply.body = all.substr(end + 4);
  (void)std::from_chars(all.data() + 9, all.data() + 12, reply.status);
  co_return reply;
}

bool has_header(const Reply& r, std::string_view line) {
  return r.head.find("\r\n" + std::string(line) + "\r\n") != std::string::npos ||
         r.head.ends_with("\r\n" + std::string(line));
}

int seven() { return 7; }

// Some work for the counters: routines on every shard, timers, a blocking call.
Task<Result<void>> nap() {
  co_await sleep(std::chrono::milliseconds(1));
  co_return Result<void>{};
}

// What a scrape must show: valid text, this runtime's backend, seed and shard count,
// one sample per shard in every shard family, and no counter below `before`'s.
std::string check_scrape(const Reply& r, const Runtime& rt, const promtext::Exposition* before,
                         promtext::Exposition& out) {
  if (r.status != 200) return "GET /metrics: status " + std::to_string(r.status);
  if (!has_header(r, "Content-Type: " + std::string(kPrometheusContentType))) return "GET /metrics: no Content-Type";
  if (!has_header(r, "Content-Length: " + std::to_string(r.body.size()))) return "GET /metrics: bad Content-Length";
  auto parsed = promtext::parse(r.body);
  if (!parsed) return "invalid Prometheus text: " + parsed.error();
  out = std::move(*parsed);
  const auto* info =
      out.sample("ringo_runtime_info", {{"backend", backend_name(rt.backend())}, {"seed", std::to_string(rt.seed())}});
  if (info == nullptr || info->value != 1) return "no ringo_runtime_info for this backend and seed";
  const auto* shards = out.sample("ringo_shards");
  if (shards == nullptr || shards->value != rt.shard_count()) return "ringo_shards is not the shard count";
  for (const auto& f : out.families) {
    if (f.samples.empty() || !f.samples.front().label("shard")) continue;
    if (f.samples.size() != rt.shard_count()) return f.name + ": not one sample per shard";
  }
  if (out.family("ringo_routines_spawned_total") == nullptr) return "no ringo_routines_spawned_total";
  if (before == nullptr) return {};
  for (const auto& f : before->families) {
    if (f.type != "counter") continue;
    for (const auto& s : f.samples) {
      const auto* now = out.sample(s.name, s.labels);
      if (now == nullptr || now->value < s.value) return s.name + " went down or away between two scrapes";
    }
  }
  return {};
}

// Empty when the self-test passed, else what failed.
Task<std::string> self_test(net::SocketAddr addr, const Runtime* rt) {
  Result<net::TcpListener> listener = net::TcpListener::bind(addr.with_port(0));
  if (!listener) co_return "bind: " + listener.error().message();
  Result<net::SocketAddr> bound = listener->local_addr();
  if (!bound) co_return "local_addr: " + bound.error().message();
  const net::SocketAddr target = *bound;
  JoinHandle<Result<void>> server = go(accept_loop(std::move(*listener), rt));

  std::vector<JoinHandle<Result<void>>> naps;
  for (uint32_t i = 0; i < 4 * rt->shard_count(); ++i) naps.push_back(spawn_on(i % rt->shard_count(), nap()));
  for (auto& h : naps) {
    if (auto r = co_await h.join(); !r) co_return "a routine failed: " + r.error().message();
  }
  if (auto b = co_await blocking(&seven); !b || *b != 7) co_return "blocking(fn) failed";

  std::string failure;
  promtext::Exposition first, second;
  Result<Reply> r = co_await fetch(target, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
  if (!r) co_return "GET /metrics: " + r.error().message();
  if (failure = check_scrape(*r, *rt, nullptr, first); !failure.empty()) co_return failure;
  r = co_await fetch(target, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  if (!r) co_return "GET /metrics again: " + r.error().message();
  if (failure = check_scrape(*r, *rt, &first, second); !failure.empty()) co_return failure;

  struct Case {
    const char* request;
    int status;
  };
  static constexpr Case kCases[] = {
      {"GET /other HTTP/1.1\r\n\r\n", 404},   {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
      {"GET /metrics HTTP/2.0\r\n\r\n", 400}, {"GET /metrics\r\n\r\n", 400},
      {"GET metrics HTTP/1.1\r\n\r\n", 400},  {"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400},
      {"GET /metrics HTTP/1.1\r\n", 400},  // cut short: the client's end of stream comes first
  };
  // A connection that asks nothing gets nothing.
  Result<net::TcpStream> idle = co_await net::TcpStream::connect(target, now().value() + kRequestTimeout);
  if (!idle) co_return "connect: " + idle.error().message();
  (void)co_await idle->close();
  for (const Case& c : kCases) {
    r = co_await fetch(target, c.request);
    if (!r) co_return std::string("request '") + c.request + "': " + r.error().message();
    if (r->status != c.status) {
      co_return std::string("request '") + c.request + "': status " + std::to_string(r->status) + ", expected " +
          std::to_string(c.status);
    }
  }
  (void)server.abort();
  Result<void> stopped = co_await server.join();
  if (!stopped && stopped.error() != errc::cancelled) co_return "accept loop: " + stopped.error().message();
  size_t samples = 0;
  for (const auto& f : second.families) samples += f.samples.size();
  std::printf(
      "metrics_server self-test on %s: two valid scrapes (%zu families, %zu samples), %zu bad requests answered\n",
      backend_name(rt->backend()), second.families.size(), samples, std::size(kCases));
  co_return std::string{};
}

bool parse_count(const char* text, uint32_t& out) {
  const std::string_view s(text);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && out > 0;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "metrics_server: %s\n"
               "usage: metrics_server [--addr IP:PORT] [--shards N] [--self-test]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--self-test") {
      o.self_test = true;
    } else if (flag == "--addr" || flag == "--shards") {
      if (i + 1 == argc) return usage((flag + " needs a value").c_str());
      const char* value = argv[++i];
      if (flag == "--addr") {
        o.addr = value;
      } else if (!parse_count(value, o.shards)) {
        return usage(("bad --shards '" + std::string(value) + "'").c_str());
      }
    } else {
      return usage(("unknown flag '" + flag + "'").c_str());
    }
  }
  Result<net::SocketAddr> addr = net::SocketAddr::parse(o.addr);
  if (!addr) return usage(("bad address '" + o.addr + "'").c_str());
  auto rt = Runtime::create({.shards = o.shards});
  if (!rt) {
    std::fprintf(stderr, "metrics_server: %s (see RINGO_BACKEND)\n", rt.error().message().c_str());
    return 1;
  }
  if (!o.self_test) {
    auto r = rt->block_on(serve_forever(*addr, &*rt));
    std::fprintf(stderr, "metrics_server: %s\n", r ? "stopped" : r.error().message().c_str());
    return r ? 0 : 1;
  }
  Joined<std::string> failure = rt->block_on(self_test(*addr, &*rt));
  if (!failure || !failure->empty()) {
    std::fprintf(stderr, "metrics_server self-test on %s failed: %s\n", backend_name(rt->backend()),
                 failure ? failure->c_str() : failure.error().message().c_str());
    return 1;
  }
  return 0;
}
