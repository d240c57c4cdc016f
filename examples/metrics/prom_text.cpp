// The Prometheus text format checker of prom_text.hpp.
#include "prom_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace ringo::promtext {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool valid_metric_name(std::string_view s) {
  if (s.empty() || is_digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == ':'; });
}

bool valid_label_name(std::string_view s) {
  if (s.empty() || is_digit(s[0]) || s.starts_with("__")) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

// The longest prefix of s made of name characters (metric names: with ':').
std::string_view take_name(std::string_view& s, bool metric) {
  size_t n = 0;
  while (n < s.size() && (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '_' || (metric && s[n] == ':'))) ++n;
  std::string_view name = s.substr(0, n);
  s.remove_prefix(n);
  return name;
}

// HELP text: \\ and \n are the only escapes.
std::optional<std::string> unescape_help(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    if (s[i] == '\\') {
      out += '\\';
    } else if (s[i] == 'n') {
      out += '\n';
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// A float as the format writes it: NaN, +Inf, -Inf, or a decimal number.
std::optional<double> parse_value(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s.empty()) return std::nullopt;
  const bool numeric = std::all_of(s.begin(), s.end(), [](char c) {
    return is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
  });
  if (!numeric) return std::nullopt;
  if (s[0] == '+') {
    s.remove_prefix(1);  // from_chars takes no '+'
    if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_timestamp(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s[0] == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

class Parser {
 public:
  std::expected<Exposition, std::string> run(std::string_view text) {
    if (!text.empty() && text.back() != '\n') return std::unexpected("the text does not end in a newline");
    size_t line_no = 0;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl + 1);
      ++line_no;
      if (auto why = parse_line(line); !why.empty())
        return std::unexpected("line " + std::to_string(line_no) + ": " + why);
    }
    for (const Family& f : out_.families) {
      if (f.type.empty()) return std::unexpected("family " + f.name + " has no TYPE");
      if (!help_seen_.contains(f.name)) return std::unexpected("family " + f.name + " has no HELP");
    }
    return std::move(out_);
  }

 private:
  std::string parse_line(std::string_view line) {
    if (line.find('\r') != std::string_view::npos) return "carriage return";
    if (line.empty()) return {};
    if (is_blank(line.front())) return "starts with a blank";
    if (is_blank(line.back())) return "ends with a blank";
    if (line.starts_with("# HELP ")) return parse_help(line.substr(7));
    if (line.starts_with("# TYPE ")) return parse_type(line.substr(7));
    if (line.front() == '#') return {};  // a comment
    return parse_sample(line);
  }

  // The family `name` to add to: the current one, or a new one if it never appeared.
  std::expected<Family*, std::string> family_for(std::string_view name) {
    if (!out_.families.empty() && out_.families.back().name == name) return &out_.families.back();
    if (seen_.contains(std::string(name))) return std::unexpected("family " + std::string(name) + " is not contiguous");
    seen_.emplace(name);
    out_.families.emplace_back();
    out_.families.back().name = std::string(name);
    return &out_.families.back();
  }

  std::string parse_help(std::string_view rest) {
    std::string_view name = take_name(rest, true);
    if (!valid_metric_name(name)) return "bad metric name in HELP";
    if (!rest.empty() && !rest.starts_with(' ')) return "bad metric name in HELP";
    if (!rest.empty()) rest.remove_prefix(1);
    auto f = family_for(name);
    if (!f) return f.error();
    if (!help_seen_.emplace(name).second) return "a second HELP for " + std::string(name);
    if (!(*f)->samples.empty()) return "HELP for " + std::string(name) + " after its samples";
    auto help = unescape_help(rest);
    if (!help) return "bad escape in HELP";
    (*f)->help = std::move(*help);
    return {};
  }

  std::string parse_type(std::string_view rest) {
    std::string_view name = take_name(rest, true);
    if (!valid_metric_name(name)) return "bad metric name in TYPE";
    if (!rest.starts_with(' ')) return "bad metric name in TYPE";
    rest.remove_prefix(1);
    if (rest != "counter" && rest != "gauge" && rest != "untyped") {
      if (rest == "histogram" || rest == "summary") return "type " + std::string(rest) + " is not checked here";
      return "unknown type '" + std::string(rest) + "'";
    }
    auto f = family_for(name);
    if (!f) return f.error();
    if (!(*f)->type.empty()) return "a second TYPE for " + std::string(name);
    if (!(*f)->samples.empty()) return "TYPE for " + std::string(name) + " after its samples";
    if (rest == "counter" && !name.ends_with("_total"))
      return "counter " + std::string(name) + " does not end in _total";
    (*f)->type = std::string(rest);
    return {};
  }

  std::string parse_labels(std::string_view& rest, Sample& s) {
    rest.remove_prefix(1);  // '{'
    while (!rest.starts_with('}')) {
      std::string_view key = take_name(rest, false);
      if (!valid_label_name(key)) return "bad label name";
      if (!rest.starts_with("=\"")) return "label " + std::string(key) + " has no =\"value\"";
      rest.remove_prefix(2);
      std::string value;
      while (true) {
        if (rest.empty()) return "unterminated label value";
        const char c = rest.front();
        rest.remove_prefix(1);
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (rest.empty()) return "unterminated label value";
        const char e = rest.front();
        rest.remove_prefix(1);
        if (e == '\\' || e == '"') {
          value += e;
        } else if (e == 'n') {
          value += '\n';
        } else {
          return "bad escape in label value";
        }
      }
      if (s.label(key)) return "label " + std::string(key) + " appears twice";
      s.labels.emplace_back(std::string(key), std::move(value));
      if (rest.starts_with(',')) {
        rest.remove_prefix(1);
        if (rest.starts_with('}')) return "a comma before '}'";
      } else if (!rest.starts_with('}')) {
        return "expected ',' or '}' after a label";
      }
    }
    rest.remove_prefix(1);  // '}'
    return {};
  }

  std::string parse_sample(std::string_view rest) {
    Sample s;
    s.name = std::string(take_name(rest, true));
    if (!valid_metric_name(s.name)) return "bad metric name";
    if (rest.starts_with('{')) {
      if (auto why = parse_labels(rest, s); !why.empty()) return why;
    }
    if (rest.empty() || !is_blank(rest.front())) return "expected a blank before the value";
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    const size_t end = std::min(rest.find(' '), rest.find('\t'));
    const auto value = parse_value(rest.substr(0, end));
    if (!value) return "value '" + std::string(rest.substr(0, end)) + "' is not a float";
    s.value = *value;
    if (end != std::string_view::npos) {
      rest.remove_prefix(end);
      while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
      s.timestamp_ms = parse_timestamp(rest);
      if (!s.timestamp_ms) return "timestamp '" + std::string(rest) + "' is not an integer";
    }
    if (out_.families.empty() || out_.families.back().name != s.name) {
      return "sample " + s.name + " without HELP and TYPE before it, or apart from its family";
    }
    Family& f = out_.families.back();
    if (f.type.empty() || !help_seen_.contains(f.name)) return "sample " + s.name + " before its HELP and TYPE";
    if (f.type == "counter" && (std::isnan(s.value) || s.value < 0)) return "counter " + s.name + " is not >= 0";
    auto key = s.labels;
    std::sort(key.begin(), key.end());
    std::string series = s.name;
    for (const auto& [k, v] : key) series += '\0' + k + '\0' + v;
    if (!series_.insert(std::move(series)).second) return "series " + s.name + " appears twice";
    f.samples.push_back(std::move(s));
    return {};
  }

  Exposition out_;
  std::set<std::string> seen_;       // family names
  std::set<std::string> help_seen_;  // families with a HELP
  std::set<std::string> series_;     // name and sorted labels of every sample
};

}  // namespace

std::optional<std::string> Sample::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return std::nullopt;
}

const Family* Exposition::family(std::string_view name) const {
  for (const Family& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Sample* Exposition::sample(std::string_view name,
                                 const std::vector<std::pair<std::string, std::string>>& labels) const {
  const Family* f = family(name);
  if (f == nullptr) return nullptr;
  auto want = labels;
  std::sort(want.begin(), want.end());
  for (const Sample& s : f->samples) {
    auto have = s.labels;
    std::sort(have.begin(), have.end());
    if (have == want) return &s;
  }
  return nullptr;
}

std::expected<Exposition, std::string> parse(std::string_view text) { return Parser().run(text); }

}  // namespace ringo::promtext
