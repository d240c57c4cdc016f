// SimFabric (sim_fabric.hpp): addresses of the hosts and who can reach whom.
#include "sim_fabric.hpp"

#include <netinet/in.h>

#include <algorithm>

namespace ringo::sim::detail {

uint32_t SimFabric::add(SimNet* net) {
  nets_.push_back(net);
  side_.push_back(0);
  up_.push_back(true);
  return static_cast<uint32_t>(nets_.size() - 1);
}

std::optional<uint32_t> SimFabric::resolve(uint32_t from, const Address& a) const noexcept {
  if (a.storage.ss_family != AF_INET) return from;
  const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in&>(a.storage).sin_addr.s_addr);
  if (ip == INADDR_ANY || (ip >> 24) == 127) return from;
  if (ip >= ipv4_of(0) && ip < ipv4_of(hosts())) return ip - ipv4_of(0);
  return std::nullopt;
}

Address SimFabric::address(uint32_t host, uint16_t port) noexcept {
  Address a;
  auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(ipv4_of(host));
  in.sin_port = htons(port);
  a.length = sizeof(sockaddr_in);
  return a;
}

bool SimFabric::partitioned() const noexcept {
  return std::any_of(side_.begin(), side_.end(), [&](uint32_t s) { return s != side_.front(); });
}

}  // namespace ringo::sim::detail
