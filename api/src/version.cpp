#include "ringo/version.hpp"

namespace ringo {

std::string_view version() noexcept { return RINGO_VERSION_STRING; }

}  // namespace ringo
