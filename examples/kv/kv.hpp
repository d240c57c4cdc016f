// A tiny line protocol over TCP, the second target of fuzz_net and an example of parsing
// untrusted input on ringo: one request per line, one reply per line.
//
//   SET <key> <value>   -> OK
//   GET <key>           -> VALUE <value> | NONE
//   anything else       -> ERR <why>
//
// Lines are at most kMaxLine bytes (an overlong line gets "ERR line too long" and the
// connection is closed); keys and values are single words. The store is per shard.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ringo/ringo.hpp"

namespace ringo::kv {

inline constexpr size_t kMaxLine = 256;

// The reply (without newline) to one request line; updates store.
std::string handle_line(std::string_view line, std::map<std::string, std::string>& store);

// Serves one connection until EOF, an error, or an overlong line.
Task<Result<void>> serve_connection(net::TcpStream stream, std::map<std::string, std::string>* store);

// Accepts on listener until cancelled; one routine per connection, one store per server.
Task<Result<void>> serve(net::TcpListener listener);

}  // namespace ringo::kv
