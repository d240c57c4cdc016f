// Scenario runs as fuzz_scenario's input bytes (scenario_input.hpp).
#include "scenario_input.hpp"

#include <algorithm>
#include <array>

#include "ringo/internal/sim/choice_source.hpp"

namespace ringo::sim {
namespace {

constexpr uint8_t kFormat = 2;
constexpr uint8_t kFormatFull = 1;  // before sizes: no size byte, a full run
constexpr size_t kMaxLine = 256;    // a scenario name or faults spec longer than this is no input
constexpr size_t kHeaderFull = 1 + 8 + 1 + 1 + 4;
constexpr size_t kHeader = kHeaderFull + 1;

// The scenarios that fail by design (docs/simulation.md, the bug catalogue). A new one
// missing here is fuzzed by default and reported at once: the list errs towards fuzzing.
constexpr std::array<std::string_view, 7> kPlanted = {
    "lost_wakeup",         "racing_receivers_leak", "abandoned_child_writes_buffer", "request_after_shutdown",
    "lock_order_deadlock", "ordering_assumption",   "election_unsynced_vote"};

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_le(std::span<const uint8_t> b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

// The text up to the next '\n' from at (moved past it), or false when there is none
// within kMaxLine bytes.
bool take_line(std::span<const uint8_t> b, size_t& at, std::string& line) {
  const size_t end = std::min(b.size(), at + kMaxLine + 1);
  for (size_t i = at; i < end; ++i) {
    if (b[i] != '\n') continue;
    line.assign(reinterpret_cast<const char*>(b.data() + at), i - at);
    at = i + 1;
    return true;
  }
  return false;
}

// The LEB128 values from at to the end; false when there are more than max.
bool take_choices(std::span<const uint8_t> b, size_t at, size_t max, std::vector<uint64_t>& out) {
  while (at < b.size()) {
    uint64_t v = 0;
    int shift = 0;
    bool more = true;
    for (; at < b.size() && more; ++at, shift += 7) {
      if (shift < 64) v |= uint64_t{b[at] & 0x7fu} << shift;
      more = (b[at] & 0x80u) != 0;
    }
    if (out.size() >= max) return false;
    out.push_back(v);
  }
  return true;
}

// The fixed fields after the two lines into o, and their length into length; "" or what
// is wrong.
std::string take_header(std::span<const uint8_t> b, size_t at, const Scenario& s, RunOptions& o, size_t& length) {
  if (b.size() - at < kHeaderFull) return "the header is cut short";
  if (b[at] != kFormat && b[at] != kFormatFull) return "unknown format " + std::to_string(b[at]) + " (want 1 or 2)";
  length = b[at] == kFormat ? kHeader : kHeaderFull;
  if (b.size() - at < length) return "the header is cut short";
  const uint8_t size = length == kHeader ? b[at + kHeaderFull] : 0;
  if (size > 1) return "unknown size " + std::to_string(size) + " (0 full, 1 small)";
  o.size = size == 1 ? ScenarioSize::small : ScenarioSize::full;
  o.seed = get_le(b, at + 1, 8);
  const uint8_t strategy = b[at + 9], depth = b[at + 10];
  const uint64_t buggify = get_le(b, at + 11, 4);
  if (strategy > 1) return "unknown strategy " + std::to_string(strategy) + " (0 random, 1 pct)";
  if (strategy == 1 && s.hosts > 0) return "a cluster scenario runs the random strategy only";
  if (depth < 1 || depth > 64) return "depth " + std::to_string(depth) + " (want 1 to 64)";
  if (buggify > 1000000) return "buggify " + std::to_string(buggify) + " ppm (want 0 to 1000000)";
  o.strategy = strategy == 1 ? Strategy::pct : Strategy::random;
  o.pct_depth = depth;
  o.buggify_ppm = static_cast<uint32_t>(buggify);
  return "";
}

}  // namespace

std::string encode_scenario_input(const Scenario& s, const RunOptions& o) {
  std::string out = s.name + "\n" + o.faults + "\n";
  out.push_back(static_cast<char>(kFormat));
  put_le(out, o.seed, 8);
  out.push_back(static_cast<char>(o.strategy == Strategy::pct ? 1 : 0));
  out.push_back(static_cast<char>(o.pct_depth));
  put_le(out, o.buggify_ppm, 4);
  out.push_back(static_cast<char>(o.size == ScenarioSize::small ? 1 : 0));
  for (uint64_t v : o.choices.value_or(std::vector<uint64_t>{})) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>(0x80 | (v & 0x7f)));
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string decode_scenario_input(std::span<const uint8_t> bytes, ScenarioInput& out) {
  if (bytes.empty()) return "empty input";
  size_t at = 0;
  std::string name, faults;
  if (!take_line(bytes, at, name)) return "no scenario name line";
  out.scenario = find_scenario(name);
  if (out.scenario == nullptr) return "no scenario \"" + name + "\" in this binary";
  if (!take_line(bytes, at, faults)) return "no faults line";
  if (FaultConfig f; !FaultConfig::parse(faults, 0, f)) return "bad faults \"" + faults + "\"";
  out.options = RunOptions{};
  out.options.faults = faults;
  size_t header = 0;
  if (std::string e = take_header(bytes, at, *out.scenario, out.options, header); !e.empty()) return e;
  std::vector<uint64_t> choices;
  if (!take_choices(bytes, at + header, detail::ChoiceSource::kMaxRecorded, choices)) {
    return "more than " + std::to_string(detail::ChoiceSource::kMaxRecorded) + " choices";
  }
  out.options.choices = std::move(choices);
  return "";
}

bool planted_bug(std::string_view scenario_name) {
  return std::find(kPlanted.begin(), kPlanted.end(), scenario_name) != kPlanted.end();
}

}  // namespace ringo::sim
