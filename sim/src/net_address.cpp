// net_address.hpp: socket addresses of the simulated network.
#include "net_address.hpp"

#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringo/internal/core/assert.hpp"

namespace ringo::sim::detail {

uint16_t Address::port() const noexcept {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
  return 0;
}

Address Address::of(const void* addr, uint32_t len) noexcept {
  Address a;
  a.length = static_cast<socklen_t>(std::min<size_t>(len, sizeof a.storage));
  std::memcpy(&a.storage, addr, a.length);
  return a;
}

Address loopback(int domain, uint16_t port) noexcept {
  Address a;
  if (domain == AF_UNIX) {
    a.storage.ss_family = AF_UNIX;
    a.length = sizeof(sa_family_t);
  } else if (domain == AF_INET6) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_addr = in6addr_loopback;
    in6.sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  }
  return a;
}

void set_port(Address& a, uint16_t port) noexcept {
  if (a.storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6&>(a.storage).sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in&>(a.storage).sin_port = htons(port);
  }
}

int32_t valid_address(int domain, const void* addr, uint32_t len) noexcept {
  if (addr == nullptr) return -EFAULT;
  if (len < sizeof(sa_family_t)) return -EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof family);
  if (domain == AF_UNIX) {
    if (family != AF_UNIX) return -EINVAL;
    return len <= sizeof(sa_family_t) || len > sizeof(sockaddr_un) ? -EINVAL : 0;
  }
  if (family != domain) return -EAFNOSUPPORT;
  const size_t need = domain == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return len < need ? -EINVAL : 0;
}

std::string unix_name(const Address& a) {
  if (a.storage.ss_family != AF_UNIX || a.length <= sizeof(sa_family_t)) return {};
  const char* bytes = reinterpret_cast<const char*>(&a.storage) + sizeof(sa_family_t);
  const size_t n = a.length - sizeof(sa_family_t);
  return bytes[0] == '\0' ? std::string(bytes, n) : std::string(bytes, strnlen(bytes, n));
}

bool same_endpoint(const Address& a, const Address& b) {
  if (a.storage.ss_family == AF_UNIX) return unix_name(a) == unix_name(b);
  return a.port() == b.port();
}

void copy_out(const Address& a, void* addr, socklen_t* len) noexcept {
  if (addr == nullptr || len == nullptr) return;
  RINGO_ASSERT(a.length <= sizeof a.storage, "an address fits its storage");
  std::memcpy(addr, &a.storage, std::min<size_t>(*len, a.length));
  *len = a.length;
}

}  // namespace ringo::sim::detail
