// A ringo-sim binary with one scenario whose description and failure text are HTML and
// script, for check_timeline.py: the timeline page must show them as text, run none of it.
#include <ringo/ringo.hpp>
#include <ringo/sim/scenario.hpp>

#include "cli.hpp"

RINGO_SCENARIO(html_probe, 1,
               "</script><script>document.documentElement.dataset.injected='description'</script>"
               "<img src=x onerror=\"document.documentElement.dataset.injected='img'\"> & \u2028 end") {
  co_return ringo::sim::check(false, "probe </script><b id=\"injected\">bold</b><!-- & ' \" \u2029 ${x} {{data}} end");
}

int main(int argc, char** argv) { return ringo::sim::ringo_sim_main(argc, argv); }
