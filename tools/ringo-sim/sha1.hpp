// SHA-1 of a byte string, as 40 lowercase hex digits: the name libFuzzer gives a corpus
// file (its content's SHA-1), so that `ringo-sim explore --corpus` writes entries under
// the names libFuzzer would, and the same input written twice is one file. Not for
// security (SHA-1 is broken for that); only for naming.
#pragma once

#include <string>
#include <string_view>

namespace ringo::sim {

std::string sha1_hex(std::string_view bytes);

}  // namespace ringo::sim
