// FaultConfig: how hostile the simulated kernel is. Fault probabilities in parts per
// million, the latency ranges every completion is drawn from, and the network, disk and
// blocking-pool models' knobs. Named presets (none, light, heavy) and swarm mode (a random
// subset of faults at random strengths, drawn from the seed).
//
// Contract: a FaultConfig is plain data, read by the simulator and never written by it.
// The presets and swarm(seed) are pure: the same name and seed give the same config, so a
// seed saved with its preset name replays. RuntimeConfig carries one (simulator only),
// which is why this header stands alone: the public runtime header needs nothing else of
// the simulator.
#pragma once

#include <cstdint>
#include <string>

#include "ringo/internal/core/ring.hpp"

namespace ringo::sim {

// How often the simulator injects each fault, and its devices' models; named presets below.
struct FaultConfig {
  uint32_t msg_ring_overflow_ppm = 0;     // sender sees -EOVERFLOW, nothing delivered
  uint32_t sq_full_ppm = 0;               // push() accepts only part of a batch
  uint32_t cancel_too_late_ppm = 500000;  // ASYNC_CANCEL finds the op already completing
  Duration min_latency{1000};             // per-op completion latency range
  Duration max_latency{20000};
  // Network (sim_net.cpp)
  uint32_t connect_refused_ppm = 0;  // a connect is refused although a listener exists
  uint32_t reset_ppm = 0;            // a send resets its connection (both ends: ECONNRESET)
  uint32_t short_io_ppm = 0;         // a read/write/send/recv moves fewer bytes than it could
  // The ring offers multishot accept; a multishot may end after any connection (legal:
  // the kernel ends one whenever it must, and the caller re-arms).
  bool multishot_accept = true;
  uint32_t multishot_end_ppm = 0;
  Duration net_min_latency{5000};  // one-way delivery latency range
  Duration net_max_latency{50000};
  uint32_t net_ns_per_byte = 1;        // bandwidth: 1 ns per byte = 1 GB/s
  uint32_t socket_buffer = 64 * 1024;  // bytes in flight + unread before a sender waits
  // UDP datagrams (not Unix ones: those are reliable on Linux too). Each sent datagram is
  // lost, else delivered twice, with these probabilities; each copy is held back (arrives
  // after udp_reorder_max at most, later datagrams overtaking it) with udp_reorder_ppm.
  uint32_t udp_loss_ppm = 0;
  uint32_t udp_dup_ppm = 0;
  uint32_t udp_reorder_ppm = 0;
  Duration udp_reorder_max{1000000};
  // Disk (sim_disk.cpp)
  uint32_t disk_eio_ppm = 0;  // a file read or write fails with EIO
  // Buggify (set from SimConfig::buggify_ppm): a MSG_RING delivery is held back up to 1 ms.
  uint32_t buggify_ppm = 0;
  // The blocking pool (sim_blocking.hpp): a thread takes a call 0..handoff_max after one
  // is free, and fn's run is taken to last min..max (it runs at once, in virtual time).
  Duration blocking_handoff_max{5000};
  Duration blocking_min_latency{10000};
  Duration blocking_max_latency{100000};

  static FaultConfig none();
  static FaultConfig light();
  static FaultConfig heavy();
  // A random subset of faults at random strengths, drawn from the seed (swarm testing).
  static FaultConfig swarm(uint64_t seed);
  // A --faults string: a preset name, optionally followed by knobs that override it,
  // "light,udp_loss_ppm=20000,udp_dup_ppm=0,udp_reorder_ppm=5000,udp_reorder_max_ns=2000000".
  // Probabilities are at most 1,000,000. False for anything else, with the reason in
  // *why when given (out is then unchanged).
  static bool parse(const std::string& spec, uint64_t seed, FaultConfig& out, std::string* why = nullptr);
};

}  // namespace ringo::sim
