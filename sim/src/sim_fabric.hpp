// SimFabric: the wires between the hosts of a simulated cluster (cluster.hpp). Each host
// has its own SimNet (ports, descriptors) and an IPv4 address, 10.0.0.<host + 1>; the
// fabric says which host an address names and whether two hosts can reach each other
// (both up and on the same side of the current partition). Private to sim/.
//
// Contract: a host always reaches itself (loopback never crosses the fabric); a host that
// is down reaches no other; sides are set all at once (a partition) and heal all at once.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "net_address.hpp"

namespace ringo::sim::detail {

class SimNet;

class SimFabric {
 public:
  // 10.0.0.<host + 1>, in host byte order.
  static uint32_t ipv4_of(uint32_t host) noexcept { return 0x0A000001u + host; }

  // Adds a host with its network; returns its index.
  uint32_t add(SimNet* net);
  SimNet& net(uint32_t host) const noexcept { return *nets_[host]; }
  uint32_t hosts() const noexcept { return static_cast<uint32_t>(nets_.size()); }

  // The host a destination names, seen from host `from`: `from` itself for loopback, the
  // any address, its own address, IPv6 and Unix names; another host for 10.0.0.<k>;
  // nothing for an address no host has (ENETUNREACH).
  std::optional<uint32_t> resolve(uint32_t from, const Address& a) const noexcept;
  // host's IPv4 address with this port.
  static Address address(uint32_t host, uint16_t port) noexcept;

  bool reachable(uint32_t a, uint32_t b) const noexcept { return a == b || (up_[a] && up_[b] && side_[a] == side_[b]); }
  // A partition: hosts on different sides cannot reach each other. heal(): one side.
  void split(const std::vector<uint32_t>& side) { side_ = side; }
  void heal() { side_.assign(side_.size(), 0); }
  bool partitioned() const noexcept;
  uint32_t side(uint32_t host) const noexcept { return side_[host]; }
  void set_up(uint32_t host, bool up) noexcept { up_[host] = up; }
  bool up(uint32_t host) const noexcept { return up_[host]; }

 private:
  std::vector<SimNet*> nets_;
  std::vector<uint32_t> side_;
  std::vector<bool> up_;
};

}  // namespace ringo::sim::detail
