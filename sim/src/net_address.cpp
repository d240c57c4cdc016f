// net_address.hpp: socket addresses of the simulated network.
#include "net_address.hpp"

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
  if (domain == AF_INET6) {
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
  if (family != domain) return -EAFNOSUPPORT;
  const size_t need = domain == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return len < need ? -EINVAL : 0;
}

void copy_out(const Address& a, void* addr, socklen_t* len) noexcept {
  if (addr == nullptr || len == nullptr) return;
  RINGO_ASSERT(a.length <= sizeof a.storage, "an address fits its storage");
  std::memcpy(addr, &a.storage, std::min<size_t>(*len, a.length));
  *len = a.length;
}

}  // namespace ringo::sim::detail
