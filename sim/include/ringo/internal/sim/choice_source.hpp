// ChoiceSource: where every decision of a simulated run comes from (which runner steps,
// which due completion is delivered, whether a fault fires, how long an op takes, how a
// tie breaks). Two modes:
//   - seeded (the default): each decision is drawn from the seeded PRNG exactly as before
//     choice sequences existed, so a seed does what it always did;
//   - replay: each decision is read from a given choice sequence instead (nothing drawn).
// Either mode can also record the decisions it makes, as (value, bound) pairs: the run's
// choice sequence, which replays the run exactly and which the shrinker edits
// (docs/simulation.md, "Shrinking").
//
// Every decision is encoded so that value 0 is the simplest: no fault, no extra delay,
// the runner that ran last, the oldest due completion. A call site maps between the raw
// draw (what the PRNG gave, in [0, bound)) and its value with an encode/decode pair that
// is a bijection on [0, bound), so recording changes no draw.
//
// In replay mode a value past the end of the sequence, or not below the current bound
// (after the shrinker shortened or shifted the sequence), is read as 0; with `wrap` set a
// value not below the bound is read as value % bound instead (fuzz_scenario: arbitrary
// input bytes then mean something at every decision, not mostly 0). A decision with
// one option (bound <= 1) is no choice: it takes no value and records none (the seeded
// mode still draws for it, as before).
//
// Thread-safety: none (the simulator runs on one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ringo/internal/core/prng.hpp"
#include "ringo/sim/choice.hpp"

namespace ringo::sim::detail {

class ChoiceSource {
 public:
  // Recording stops past this many choices (16 bytes each: 64 MiB), so a runaway run does
  // not exhaust memory; recording_complete() then says the sequence is cut short.
  static constexpr size_t kMaxRecorded = size_t{1} << 22;

  explicit ChoiceSource(uint64_t seed) noexcept : prng_(seed) {}

  // Replay mode from now on: decisions come from `values` (wrap: see above).
  void replay(std::vector<uint64_t> values, bool wrap = false) {
    replay_ = std::move(values);
    replaying_ = true;
    wrap_ = wrap;
    next_ = 0;
  }
  void record(bool on) noexcept { recording_ = on; }
  bool replaying() const noexcept { return replaying_; }
  bool recording() const noexcept { return recording_; }

  // A choice among `bound` options. Seeded: raw = from.below(bound), recorded as
  // encode(raw). Replay: the next value v (0 past the end or when v >= bound), and
  // decode(v) is returned. Returns the raw-domain choice either way.
  template <class Encode, class Decode>
  uint64_t choose(uint64_t bound, Encode encode, Decode decode, ringo::detail::Prng& from,
                  ChoiceKind kind = ChoiceKind::schedule) {
    if (!replaying_) {
      const uint64_t raw = from.below(bound);
      if (recording_ && bound > 1) push(encode(raw), bound, kind);
      return raw;
    }
    if (bound <= 1) return 0;
    const uint64_t v = take(bound);
    if (recording_) push(v, bound, kind);
    return decode(v);
  }
  template <class Encode, class Decode>
  uint64_t choose(uint64_t bound, Encode encode, Decode decode) {
    return choose(bound, encode, decode, prng_);
  }

  // Uniform in [0, bound) when seeded; value = the raw draw (0: the first option).
  uint64_t below(uint64_t bound, ChoiceKind kind = ChoiceKind::schedule) {
    return choose(bound, identity, identity, prng_, kind);
  }
  // Uniform in [0, bound) when seeded; value 0 is the last option (bound - 1).
  uint64_t below_from_top(uint64_t bound) {
    auto flip = [bound](uint64_t x) { return bound - 1 - x; };
    return choose(bound, flip, flip);
  }
  // True with probability numerator / denominator when seeded; value 1 = true, 0 = false.
  // A chance that cannot fail or cannot succeed is no choice.
  bool chance(uint64_t numerator, uint64_t denominator, ChoiceKind kind = ChoiceKind::schedule) {
    if (numerator == 0) return false;  // draws nothing, as Prng::chance
    if (!replaying_) {
      const bool yes = prng_.below(denominator) < numerator;
      if (recording_ && numerator < denominator) push(yes ? 1 : 0, 2, kind);
      return yes;
    }
    if (numerator >= denominator) return true;
    const bool yes = take(2) == 1;
    if (recording_) push(yes ? 1 : 0, 2, kind);
    return yes;
  }

  // The recorded sequence, and whether it holds every choice the run made.
  const std::vector<Choice>& recorded() const noexcept { return recorded_; }
  bool recording_complete() const noexcept { return !overflowed_; }
  // Values read in replay mode (including ones read as 0 past the end).
  size_t consumed() const noexcept { return next_; }

 private:
  static uint64_t identity(uint64_t x) noexcept { return x; }

  uint64_t take(uint64_t bound) noexcept {
    const uint64_t v = next_ < replay_.size() ? replay_[next_] : 0;
    ++next_;
    if (v < bound) return v;
    return wrap_ ? v % bound : 0;
  }
  void push(uint64_t value, uint64_t bound, ChoiceKind kind) {
    if (recorded_.size() >= kMaxRecorded) {
      overflowed_ = true;
      return;
    }
    recorded_.push_back(Choice{value, bound, kind});
  }

  ringo::detail::Prng prng_;
  std::vector<uint64_t> replay_;
  size_t next_ = 0;
  bool replaying_ = false;
  bool wrap_ = false;
  bool recording_ = false;
  bool overflowed_ = false;
  std::vector<Choice> recorded_;
};

}  // namespace ringo::sim::detail
