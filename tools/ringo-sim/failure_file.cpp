// Failure files (failure_file.hpp): writing and reading the key=value lines.
#include "failure_file.hpp"

#include <fstream>

namespace ringo::sim {

std::vector<uint64_t> trimmed_choices(std::vector<uint64_t> values) {
  while (!values.empty() && values.back() == 0) values.pop_back();
  return values;
}

void write_failure(std::ostream& out, const Scenario& s, const RunOptions& o, const std::vector<std::string>& notes) {
  out << "scenario=" << s.name << "\nseed=" << o.seed << "\nfaults=" << o.faults
      << "\nstrategy=" << strategy_name(o.strategy) << "\ndepth=" << o.pct_depth << "\nbuggify=" << o.buggify_ppm
      << "\n";
  if (o.size != ScenarioSize::full) out << "size=" << size_name(o.size) << "\n";
  if (o.choices) out << "choices=" << encode_choices(*o.choices) << "\n";
  for (const std::string& note : notes) {
    // A multi-line note (a deadlock's blocked routines) stays a note on every line.
    size_t from = 0;
    for (size_t nl = note.find('\n'); from <= note.size(); nl = note.find('\n', from)) {
      const std::string line = note.substr(from, nl == std::string::npos ? std::string::npos : nl - from);
      if (!line.empty()) out << "# " << line << "\n";
      if (nl == std::string::npos) break;
      from = nl + 1;
    }
  }
}

std::string read_failure(const std::string& path, std::map<std::string, std::string>& lines) {
  std::ifstream in(path);
  if (!in) return "cannot read the failure file " + path;
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    // Notes: '#' lines, and indented lines (the rest of a multi-line note in files written
    // before notes were prefixed line by line).
    if (line.empty() || line[0] == '#' || line[0] == ' ' || line[0] == '\t') continue;
    const size_t eq = line.find('=');
    const std::string where = path + ":" + std::to_string(number);
    if (eq == std::string::npos || eq == 0) return where + ": not key=value: \"" + line.substr(0, 60) + "\"";
    if (!lines.emplace(line.substr(0, eq), line.substr(eq + 1)).second) {
      return where + ": " + line.substr(0, eq) + " given twice";
    }
  }
  if (in.bad()) return "cannot read the failure file " + path;
  return "";
}

}  // namespace ringo::sim
