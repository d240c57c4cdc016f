// Socket addresses as the simulated network handles them: an Address holds a sockaddr of
// either family; the helpers check a caller's address the way bind/connect do and copy
// one out the way getsockname/accept do. Private to sim/.
//
// Contract: an Address's length never exceeds its storage; copy_out never writes past the
// room the caller gave.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace ringo::sim::detail {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  uint16_t port() const noexcept;
  static Address of(const void* addr, uint32_t len) noexcept;
};

// 127.0.0.1 or ::1 with this port; for AF_UNIX, the unnamed address (the family alone).
Address loopback(int domain, uint16_t port) noexcept;
// An AF_UNIX address's name (path or abstract, the bytes after the family; a path up to
// its NUL), the key of the simulated namespace; empty when unnamed.
std::string unix_name(const Address& a);
// The same endpoint: for AF_UNIX the same name, else the same port.
bool same_endpoint(const Address& a, const Address& b);
void set_port(Address& a, uint16_t port) noexcept;
// 0, or the negative errno bind/connect return for this address.
int32_t valid_address(int domain, const void* addr, uint32_t len) noexcept;
// Writes a to the caller's (addr, *len): truncated to the room given, *len set to the
// full size. Nothing when either pointer is null.
void copy_out(const Address& a, void* addr, socklen_t* len) noexcept;

}  // namespace ringo::sim::detail
