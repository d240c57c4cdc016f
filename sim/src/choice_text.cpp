// Choice sequences as text (choice.hpp): hex values and z<count> runs of zeros, comma
// separated. Zeros dominate a shrunk sequence and are common in a seeded one (no fault, no
// extra delay, no switch), so runs of them are what make the form compact.
#include <charconv>

#include "ringo/sim/choice.hpp"

namespace ringo::sim {

std::string encode_choices(const std::vector<uint64_t>& values) {
  std::string out;
  auto token = [&out](std::string_view t) {
    if (!out.empty()) out += ',';
    out += t;
  };
  char buf[24];
  for (size_t i = 0; i < values.size();) {
    if (values[i] == 0) {
      size_t run = 0;
      while (i < values.size() && values[i] == 0) ++run, ++i;
      // One zero as "0" is as short as "z1".
      if (run == 1) {
        token("0");
        continue;
      }
      buf[0] = 'z';
      const auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf, run);
      token(std::string_view(buf, static_cast<size_t>(end - buf)));
      continue;
    }
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[i], 16);
    token(std::string_view(buf, static_cast<size_t>(end - buf)));
    ++i;
  }
  return out;
}

namespace {
// Whole text as a number in base, digits only (from_chars takes no sign for unsigned, but
// would take uppercase hex: refused here so one sequence has one spelling).
bool whole_number(std::string_view t, int base, uint64_t& out) {
  if (t.empty()) return false;
  for (char c : t) {
    if (base == 16 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    if (base == 10 && !(c >= '0' && c <= '9')) return false;
  }
  const auto [at, ec] = std::from_chars(t.data(), t.data() + t.size(), out, base);
  return ec == std::errc{} && at == t.data() + t.size();
}
}  // namespace

Result<std::vector<uint64_t>> decode_choices(std::string_view text, size_t max_values) {
  std::vector<uint64_t> values;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view t = text.substr(0, comma);
    uint64_t n = 0;
    if (t.starts_with('z')) {
      if (!whole_number(t.substr(1), 10, n) || n > max_values - values.size()) return fail(errc::invalid_argument);
      values.insert(values.end(), n, 0);
    } else {
      if (!whole_number(t, 16, n) || values.size() >= max_values) return fail(errc::invalid_argument);
      values.push_back(n);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return fail(errc::invalid_argument);  // a trailing comma: an empty token
  }
  return values;
}

std::vector<uint64_t> choice_values(const std::vector<Choice>& choices) {
  std::vector<uint64_t> out;
  out.reserve(choices.size());
  for (const Choice& c : choices) out.push_back(c.value);
  return out;
}

}  // namespace ringo::sim
