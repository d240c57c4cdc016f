// A strict checker of the Prometheus text exposition format 0.0.4, written for ringo's
// tests and the metrics_server self-test: it parses a scrape and refuses anything the
// format or its naming conventions do not allow, naming the line.
//
// Refused: a bad metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name ([a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__"); a label value with an escape other than \\ \" \n or without its
// closing quote; a duplicate label in one sample; a value that is not a float (digits,
// NaN, +Inf, -Inf); a sample whose family has no HELP or TYPE before it; a second HELP or
// TYPE for a family, or one after its samples; a family whose lines are not all together;
// a type other than counter, gauge or untyped (histograms and summaries are not checked
// here); a counter whose name does not end in _total, or whose value is negative or NaN;
// two samples of one series (same name and labels); '\r', lines that start with blanks,
// blanks at the end of a line; text that does not end in a newline.
// Allowed as the format says: empty lines, `#` comments other than HELP and TYPE, a
// timestamp (integer milliseconds) after the value.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringo::promtext {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // as written, values unescaped
  double value = 0;
  std::optional<int64_t> timestamp_ms;

  // The value of label `key`, or nullopt.
  std::optional<std::string> label(std::string_view key) const;
};

struct Family {
  std::string name;
  std::string type;  // counter, gauge or untyped
  std::string help;  // unescaped
  std::vector<Sample> samples;
};

struct Exposition {
  std::vector<Family> families;  // in the order of the text

  const Family* family(std::string_view name) const;
  // The sample of family `name` whose labels are exactly `labels` (in any order), or null.
  const Sample* sample(std::string_view name,
                       const std::vector<std::pair<std::string, std::string>>& labels = {}) const;
};

// The exposition in text, or why it is not valid ("line 3: ...").
std::expected<Exposition, std::string> parse(std::string_view text);

}  // namespace ringo::promtext
