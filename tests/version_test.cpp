// The version is written once, in project(VERSION) of the top CMakeLists.txt: the generated
// header's macros, the linked library's ringo::version() and the build's PROJECT_VERSION
// (passed in as RINGO_PROJECT_VERSION) must all say the same.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ringo/ringo.hpp"

namespace ringo {
namespace {

TEST(Version, LibraryReportsTheVersionOfItsHeaders) { EXPECT_EQ(version(), std::string_view(RINGO_VERSION_STRING)); }

TEST(Version, StringIsMadeOfTheNumericMacros) {
  const std::string parts = std::to_string(RINGO_VERSION_MAJOR) + "." + std::to_string(RINGO_VERSION_MINOR) + "." +
                            std::to_string(RINGO_VERSION_PATCH);
  EXPECT_EQ(parts, RINGO_VERSION_STRING);
}

TEST(Version, HeaderComesFromTheProjectVersion) {
  EXPECT_EQ(std::string_view(RINGO_VERSION_STRING), RINGO_PROJECT_VERSION);
}

}  // namespace
}  // namespace ringo
