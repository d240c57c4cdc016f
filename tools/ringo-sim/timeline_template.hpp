// The timeline page's template (timeline_page.html) and script (timeline_page.js), as
// embedded by CMake from timeline_template.cpp.in.
#pragma once

#include <string_view>

namespace ringo::sim::detail {

std::string_view timeline_page_html();
std::string_view timeline_page_js();

}  // namespace ringo::sim::detail
